"""The desk's data model (SQLAlchemy 2 typed ORM). Alembic migrations mirror it exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
    literal_column,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from factcheck.settings import VERDICT_LABELS  # the three labels (the desk's rating scale maps onto them)

__all__ = ["VERDICT_LABELS"]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the desk stores UTC-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Source(Base):
    __tablename__ = "source"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    domains: Mapped[list[Any]] = mapped_column(default=list)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Case(Base):
    __tablename__ = "case_file"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str | None] = mapped_column(String(500))
    path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Article(Base):
    __tablename__ = "article"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    url: Mapped[str | None] = mapped_column(Text, index=True)
    file: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    outlet: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16))
    published: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Claim(Base):
    __tablename__ = "claim"
    __table_args__ = (UniqueConstraint("case_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("article.id"), index=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    # an ingested claim's sentence hash ("c-" + 8 hex): how re-ingest finds it again, and its id before
    # short per-article ids ("A3-7") were given, still accepted wherever an id is
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    statement: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    checkworthiness: Mapped[float | None] = mapped_column(Float)
    expected: Mapped[str | None] = mapped_column(String(16))
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    assignee: Mapped[str | None] = mapped_column(String(200), index=True)
    assigned_until: Mapped[datetime | None] = mapped_column()
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The triage queue's verdict on this claim, kept by `desk.queue` (never written elsewhere): whether it
    # is out of the queue, the current verdict's label ("unchecked": none), whether a source changed, the
    # urgency parts that come from the verdict, and since when it waits. The defaults are a claim no verdict
    # has reached yet, so a new claim is in the queue correctly without being refreshed.
    queue_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    queue_status: Mapped[str] = mapped_column(String(16), default="unchecked", server_default="unchecked")
    queue_changed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    queue_rank: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    queue_flag: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    queue_conf: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    queue_confidence: Mapped[float | None] = mapped_column(Float)
    queue_since: Mapped[datetime | None] = mapped_column()

    citations: Mapped[list[Citation]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="Citation.id"
    )
    evidence_links: Mapped[list[ClaimEvidence]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimEvidence.id"
    )
    case: Mapped[Case | None] = relationship()
    tags: Mapped[list[ClaimTag]] = relationship(
        back_populates="claim", cascade="all, delete-orphan", order_by="ClaimTag.tag"
    )


QUEUE_WORTH = -func.coalesce(Claim.checkworthiness, literal_column("-1.0"))
"""The queue's check-worthiness key (most worthy first; none counts as -1), over the claim's own column."""
QUEUE_SINCE = func.coalesce(Claim.queue_since, Claim.created_at)
"""Since when a claim waits in the queue: its verdict's (or newest change's) time, else its creation."""
QUEUE_CONFIDENCE = func.coalesce(Claim.queue_confidence, literal_column("-1.0"))
"""The current verdict's confidence for the lowest-confidence sort (none counts as -1)."""
QUEUE_URGENCY = (Claim.queue_rank, Claim.queue_flag, QUEUE_WORTH, Claim.queue_conf, Claim.id)
"""The queue's default order, as `desk.queue` documents it; every other sort ends with it."""


class CodePoint(ColumnElement[str]):
    """A text column compared by code point, as Python compares text: `COLLATE "C"` on PostgreSQL (whose
    default collation follows the locale), the column itself on SQLite (whose BINARY collation is already
    code point order). One construct, so an index and the queries it serves render the same expression."""

    inherit_cache = True
    _traverse_internals: ClassVar[Any] = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any) -> None:
        self.column = column
        self.type = column.type


@compiles(CodePoint)
def _code_point(element: CodePoint, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(CodePoint, "postgresql")
def _code_point_pg(element: CodePoint, compiler: Any, **kw: Any) -> str:
    return f'{compiler.process(element.column, **kw)} COLLATE "C"'


QUEUE_KEY = CodePoint(Claim.key)
"""The claim id sort's key within a case (`queue.sort_terms("id")`)."""

# One index per queue order, each led by queue_out so a page of the queue is an index range.
Index("ix_claim_queue", Claim.queue_out, *QUEUE_URGENCY)
Index("ix_claim_queue_since", Claim.queue_out, QUEUE_SINCE, *QUEUE_URGENCY)
Index("ix_claim_queue_worth", Claim.queue_out, QUEUE_WORTH, Claim.queue_rank, Claim.queue_flag, Claim.queue_conf,
      Claim.id)
Index("ix_claim_queue_confidence", Claim.queue_out, QUEUE_CONFIDENCE, *QUEUE_URGENCY)
# The id sort (case key, claim key): read case by case, each case's claims a range of this index. Migration
# 0010 creates both keys as QUEUE_KEY and CodePoint render them (COLLATE "C" on PostgreSQL); they are
# declared here by column because that is how the database reports them (an index's collation is not
# reflected), so the schema check compares the rest.
Index("ix_claim_queue_key", Claim.queue_out, Claim.case_id, Claim.key, *QUEUE_URGENCY)
Index("ix_case_file_key_code_point", Case.key)


class QueueWatch(Base):
    """A URL that a claim's current verdict quotes: a new capture of it can put the claim back in the triage
    queue. Kept by `desk.queue` beside the claim's queue columns (the evidence tied to a claim is found
    through `claim_evidence`)."""

    __tablename__ = "queue_watch"
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(Text, primary_key=True, index=True)


class ClaimTag(Base):
    """A desk's own label on a claim ("election", "health"): for filtering, never for verdicts."""

    __tablename__ = "claim_tag"
    __table_args__ = (UniqueConstraint("claim_id", "tag"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim: Mapped[Claim] = relationship(back_populates="tags")


class ClaimComment(Base):
    """One message in a claim's discussion thread. Append-only, like verdicts."""

    __tablename__ = "claim_comment"
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Citation(Base):
    __tablename__ = "citation"
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("source.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phrase: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default="named")
    second_hand: Mapped[bool] = mapped_column(Boolean, default=False)
    via: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    claim: Mapped[Claim] = relationship(back_populates="citations")
    source: Mapped[Source | None] = relationship()


class EvidenceUrl(Base):
    """A URL known as evidence: queued for fetching until it has a snapshot."""

    __tablename__ = "evidence_url"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("source.id"), index=True)
    file: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    last_outcome: Mapped[str | None] = mapped_column(String(20))
    last_reason: Mapped[str | None] = mapped_column(String(100))
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[Source | None] = relationship()


class ClaimEvidence(Base):
    __tablename__ = "claim_evidence"
    __table_args__ = (UniqueConstraint("claim_id", "evidence_url_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id", ondelete="CASCADE"), index=True)
    evidence_url_id: Mapped[int] = mapped_column(ForeignKey("evidence_url.id"), index=True)
    claim: Mapped[Claim] = relationship(back_populates="evidence_links")
    evidence_url: Mapped[EvidenceUrl] = relationship()


class Snapshot(Base):
    """One immutable capture of a URL. Never updated after insert."""

    __tablename__ = "snapshot"
    __table_args__ = (Index("ix_snapshot_url_fetched", "url", "fetched_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_url_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_url.id"), index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("source.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    redirects: Mapped[list[Any]] = mapped_column(default=list)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    origin: Mapped[str] = mapped_column(String(20), default="fetch")
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    warc_path: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(200))
    encoding: Mapped[str | None] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[Source | None] = relationship()
    evidence_url: Mapped[EvidenceUrl | None] = relationship()


class FetchAttempt(Base):
    __tablename__ = "fetch_attempt"
    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_url_id: Mapped[int] = mapped_column(ForeignKey("evidence_url.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(100))
    http_status: Mapped[int | None] = mapped_column(Integer)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id"))
    elapsed: Mapped[float | None] = mapped_column(Float)


class Passage(Base):
    __tablename__ = "passage"
    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    features: Mapped[str | None] = mapped_column(Text, nullable=True)
    """What judging reads of the text alone, worked out when stored (judge.match.passage_features)."""
    snapshot: Mapped[Snapshot] = relationship()


class Run(Base):
    """One verification run. Its machine verdicts count only once `finished_at` is set; a run whose process
    died before that is shown as interrupted (see `desk.runs.run_state`)."""

    __tablename__ = "run"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    """Last sign of life of the process doing the run (set at the start and after every batch)."""
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    interrupted_at: Mapped[datetime | None] = mapped_column()
    """Set when the run's own process stopped it on an error or Ctrl-C (a killed process cannot)."""
    version: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str | None] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Verdict(Base):
    """Append-only: a claim's current verdict is its newest human verdict, else its newest machine one."""

    __tablename__ = "verdict"
    __table_args__ = (Index("ix_verdict_claim_created", "claim_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "machine" | "human"
    reviewer: Mapped[str | None] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(16))
    rating: Mapped[str | None] = mapped_column(String(64))  # the desk rating a reviewer chose (settings)
    confidence: Mapped[float | None] = mapped_column(Float)
    rationale: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str | None] = mapped_column(Text)
    first_hand: Mapped[bool | None] = mapped_column(Boolean)
    quotes: Mapped[list[Any]] = mapped_column(default=list)
    signals: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Append-only, hash-chained: each row's hash covers its content and the previous row's hash."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50), index=True)
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    claim_id: Mapped[int | None] = mapped_column(Integer, index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class User(Base):
    """A person who signs in to the web desk. The name is what the audit trail records."""

    __tablename__ = "desk_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # "viewer" | "checker" | "editor"
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Raised when the person signs out: every web session signed in before then stops working."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginAttempt(Base):
    """Recent sign-in attempts, kept only to rate-limit guessing (the audit trail keeps the history)."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_name_ip_at", "name", "ip", "at"),
                      Index("ix_login_attempt_ip_at", "ip", "at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)


class DeskSecret(Base):
    """Secrets generated once per desk (e.g. the key that signs web session cookies)."""

    __tablename__ = "desk_secret"
    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(50), unique=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TermStat(Base):
    """How many passages contain each term: lets retrieval pick the rarest terms of a claim in one lookup."""

    __tablename__ = "term_stat"
    term: Mapped[str] = mapped_column(String(100), primary_key=True)
    df: Mapped[int] = mapped_column(Integer, default=0)


# ---- background workers (PostgreSQL desks; the tables exist on every desk, so one schema fits both)


class RunBatch(Base):
    """One batch of claims of a verification run made of worker jobs (`factcheck verify --queue`).

    The run finishes when its last batch is done; a batch whose job failed for good marks the run
    interrupted. A batch is judged in the transaction that marks it done, so a worker killed half-way
    leaves it queued and the retried job judges it once."""

    __tablename__ = "run_batch"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    claim_ids: Mapped[list[Any]] = mapped_column(default=list)
    state: Mapped[str] = mapped_column(String(20), default="queued")  # queued | done | failed
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column()


class HostSlot(Base):
    """Politeness for the desk as a whole: when the next request to an origin may start (the database's
    clock), held under a row lock by the worker that is talking to that origin."""

    __tablename__ = "host_slot"
    origin: Mapped[str] = mapped_column(String(300), primary_key=True)
    next_at: Mapped[datetime] = mapped_column()


class RobotsTxt(Base):
    """robots.txt for the desk as a whole: each origin's answer (the text, or why there is none) and when it
    runs out, by the database's clock. The worker that finds no live answer locks the row while it asks the
    site, so the desk asks once per origin and lifetime and every worker obeys the same rules."""

    __tablename__ = "robots_txt"
    origin: Mapped[str] = mapped_column(String(300), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # ok | missing | unavailable | failed | asking (no answer yet)
    body: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str | None] = mapped_column(String(20))
    fetched_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


class JobNote(Base):
    """What the desk remembers about a worker job besides the queue's own row: the last error (the queue
    keeps only the state), and the follow-up it started (a fetch's re-judging run), so a retried job never
    starts it twice."""

    __tablename__ = "job_note"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    job_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    run_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
