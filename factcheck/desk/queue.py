"""The triage queue's membership and order, kept on the claim rows so the database can page it.

The rule (`evaluate`) reads each claim's current verdict and the captures made after it: contested first,
then unverified (and never-checked) claims by check-worthiness, then verified claims with low confidence or a
changed source; a claim a person settled leaves the queue unless a source changed after the review. SQL
cannot index that, so its outcome is stored on the claim (`Claim.queue_*`) and the queue is read by keyset
over indexes on those columns (`ordered`, `page`): a page of a 100,000-claim queue reads its 50 rows.

What the rule reads from the claim itself (check-worthiness, creation time) is not copied: the indexes hold
expressions over those columns (`models.QUEUE_URGENCY`), and the columns' defaults are the outcome for a
claim no verdict has reached. So a new or edited claim needs no refresh; only what changes a claim's
current verdict or its sources does:

- a verdict added (a person's, or a machine's in a finished run), or a run finishing;
- a capture of a URL tied to the claim (`claim_evidence`) or quoted by its current verdict (`queue_watch`);
- an evidence link added or removed.

`track` attaches this to a desk's sessions: each flush notes the claims such writes touch, and before the
transaction commits (or before the queue is read inside it) `apply_pending` recomputes them with the same
`evaluate`, in the same transaction. No writer has to call anything. Statements sent on a bare connection
(bypassing the session) are not seen: such bulk writers call `refresh` or `rebuild` themselves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    event,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from factcheck.desk import counts
from factcheck.desk.claims import finished_run_ids, pick_current
from factcheck.desk.models import (
    QUEUE_CONFIDENCE,
    QUEUE_KEY,
    QUEUE_SINCE,
    QUEUE_URGENCY,
    QUEUE_WORTH,
    Case,
    Claim,
    ClaimEvidence,
    CodePoint,
    EvidenceUrl,
    QueueWatch,
    Run,
    Snapshot,
    Verdict,
)
from factcheck.errors import FactcheckError

LOW_CONFIDENCE = 0.7
"""Machine verdicts labelled verified below this confidence still go to a person."""

RANK = {"contested": 0, "unverified": 1, "unchecked": 1, "verified": 2}
WHY = {"contested": "the evidence disagrees", "unverified": "the evidence does not settle it",
       "unchecked": "not judged yet"}
CHUNK = 500


class QueueError(FactcheckError):
    pass


# ---------------------------------------------------------------- the rule


@dataclass
class SourceChange:
    """A verdict rests on a snapshot that is no longer the newest capture of its URL (or new evidence came)."""

    url: str
    kind: str  # "changed": a quoted page has a newer, different capture; "new": a linked URL was captured later
    quoted_sha256: str | None
    latest_sha256: str
    latest_fetched_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "kind": self.kind, "quoted_sha256": self.quoted_sha256,
                "latest_sha256": self.latest_sha256, "latest_fetched_at": self.latest_fetched_at.isoformat()}


@dataclass
class Entry:
    """The rule's outcome for one claim: whether it needs a person, why, and its place in the queue."""

    claim_id: int
    in_queue: bool
    status: str  # the current verdict's label, "unchecked" when none counts
    verdict: Any  # the current verdict's row (id, kind, run_id, label, rating, confidence, reviewer, quotes,
    # created_at), or None
    changes: list[SourceChange]
    reasons: list[str]
    since: datetime
    sort_key: tuple[Any, ...]  # (rank, changed-verified flag, -worth, confidence if verified, claim id)
    quoted: set[str] = field(default_factory=set)  # URLs the current verdict quotes

    def columns(self) -> dict[str, Any]:
        """The claim's stored queue columns (`Claim.queue_*`) for this outcome."""
        v = self.verdict
        return {"queue_out": not self.in_queue, "queue_status": self.status, "queue_changed": bool(self.changes),
                "queue_rank": self.sort_key[0], "queue_flag": self.sort_key[1], "queue_conf": self.sort_key[3],
                "queue_confidence": v.confidence if v is not None else None,
                "queue_since": self.since if v is not None else None}


def current_verdict_rows(session: Session, claim_ids: Sequence[int] | None) -> dict[int, Any]:
    """Each claim's current verdict (the rule of `claims.pick_current`) as a row of the columns the queue
    reads, for the claims given (in chunks) or the whole desk (None) in one query, without ORM objects;
    whether a verdict's run finished comes with it (no list of every run on the desk)."""
    q = (select(Verdict.id, Verdict.claim_id, Verdict.kind, Verdict.run_id, Verdict.label, Verdict.rating,
                Verdict.confidence, Verdict.reviewer, Verdict.quotes, Verdict.created_at,
                Run.finished_at.is_not(None).label("run_finished"))
         .outerjoin(Run, Verdict.run_id == Run.id))
    by_claim: dict[int, list[Any]] = {}
    finished: set[int] = set()
    chunks = [None] if claim_ids is None else [claim_ids[i : i + CHUNK] for i in range(0, len(claim_ids), CHUNK)]
    for chunk in chunks:
        for row in session.execute(q if chunk is None else q.where(Verdict.claim_id.in_(chunk))):
            by_claim.setdefault(row.claim_id, []).append(row)
            if row.run_finished and row.run_id is not None:
                finished.add(row.run_id)
    out: dict[int, Any] = {}
    for cid, rows in by_claim.items():
        chosen = pick_current(rows, finished_runs=finished)
        if chosen is not None:
            out[cid] = chosen
    return out


def latest_snapshots(session: Session, urls: set[str]) -> dict[str, tuple[str, datetime]]:
    """url -> (sha256, fetched_at) of its newest capture (same order as evidence.latest_snapshot)."""
    best: dict[str, tuple[datetime, int, str]] = {}
    url_list = sorted(urls)
    for i in range(0, len(url_list), CHUNK):
        rows = session.execute(
            select(Snapshot.url, Snapshot.fetched_at, Snapshot.id, Snapshot.sha256)
            .where(Snapshot.url.in_(url_list[i : i + CHUNK]))
        )
        for url, at, sid, sha in rows:
            if url not in best or (at, sid) > best[url][:2]:
                best[url] = (at, sid, sha)
    return {u: (sha, at) for u, (at, _sid, sha) in best.items()}


def linked_urls(session: Session, claim_ids: Sequence[int] | None) -> dict[int, set[str]]:
    q = select(ClaimEvidence.claim_id, EvidenceUrl.url).join(EvidenceUrl, ClaimEvidence.evidence_url_id == EvidenceUrl.id)
    out: dict[int, set[str]] = {}
    chunks = [None] if claim_ids is None else [claim_ids[i : i + CHUNK] for i in range(0, len(claim_ids), CHUNK)]
    for chunk in chunks:
        for cid, url in session.execute(q if chunk is None else q.where(ClaimEvidence.claim_id.in_(chunk))):
            out.setdefault(cid, set()).add(url)
    return out


def quoted_urls(v: Any) -> set[str]:
    return {q["url"] for q in v.quotes or [] if isinstance(q, dict) and q.get("url")}


def source_changes(session: Session, verdicts: dict[int, Any], claim_ids: Sequence[int] | None
                   ) -> dict[int, list[SourceChange]]:
    """Claims whose current verdict quotes a page that a newer, different capture replaced ("changed"), or
    whose tied evidence was captured after the verdict ("new")."""
    linked = linked_urls(session, claim_ids)
    urls: set[str] = set()
    for cid, v in verdicts.items():
        urls.update(quoted_urls(v))
        urls.update(linked.get(cid, ()))
    latest = latest_snapshots(session, urls)
    out: dict[int, list[SourceChange]] = {}
    for cid, v in verdicts.items():
        changes: list[SourceChange] = []
        quoted: dict[str, set[str]] = {}
        for q in v.quotes or []:
            if q.get("url") and q.get("snapshot_sha256"):
                quoted.setdefault(q["url"], set()).add(q["snapshot_sha256"])
        for url, shas in sorted(quoted.items()):
            if url in latest and latest[url][0] not in shas:
                changes.append(SourceChange(url, "changed", sorted(shas)[0], *latest[url]))
        for url in sorted(linked.get(cid, set()) - set(quoted)):
            # evidence tied to the claim that was captured (or re-captured) after the verdict was made
            if url in latest and latest[url][1] > v.created_at:
                changes.append(SourceChange(url, "new", None, *latest[url]))
        if changes:
            out[cid] = changes
    return out


def decide(claim_id: int, created_at: datetime, checkworthiness: float | None, v: Any,
           changes: list[SourceChange]) -> Entry:
    """The rule for one claim, given its current verdict (None: none counts) and its source changes."""
    label = v.label if v is not None else "unchecked"
    reasons: list[str] = []
    if changes:
        reasons.append("source changed" if any(x.kind == "changed" for x in changes) else "new evidence")
    in_queue = True
    if v is not None and v.kind == "human":
        in_queue = bool(changes)  # a person settled it: back only when a source changed since
    elif label == "verified":
        if v is not None and v.confidence is not None and v.confidence < LOW_CONFIDENCE:
            reasons.append(f"low confidence {v.confidence:.2f}")
        elif not changes:
            in_queue = False
    else:
        reasons.insert(0, WHY[label])  # why it needs a person, in words the status column does not repeat
    since = v.created_at if v is not None else created_at
    if changes:
        since = max([since, *(x.latest_fetched_at for x in changes)])
    cw = checkworthiness if checkworthiness is not None else -1.0
    conf = v.confidence if v is not None and v.confidence is not None else 0.0
    sort_key = (RANK.get(label, 1), 0 if changes and label == "verified" else 1, -cw,
                conf if label == "verified" else 0.0, claim_id)
    return Entry(claim_id=claim_id, in_queue=in_queue, status=label, verdict=v, changes=changes,
                 reasons=reasons, since=since, sort_key=sort_key, quoted=quoted_urls(v) if v is not None else set())


def evaluate(session: Session, claim_ids: Sequence[int] | None = None, *, rows: Sequence[Any] | None = None
             ) -> dict[int, Entry]:
    """The rule for the claims given (or every claim on the desk: None), computed from the verdicts and
    captures themselves, never from the stored columns. `rows`: the claims' id, created_at and
    checkworthiness when the caller read them already."""
    if rows is None:
        q = select(Claim.id, Claim.created_at, Claim.checkworthiness).order_by(Claim.id)
        rows = []
        if claim_ids is None:
            rows = list(session.execute(q))
        else:
            ids = sorted(set(claim_ids))
            for i in range(0, len(ids), CHUNK):
                rows += session.execute(q.where(Claim.id.in_(ids[i : i + CHUNK])))
    scope = None if claim_ids is None else [r.id for r in rows]
    verdicts = current_verdict_rows(session, scope)
    changes = source_changes(session, verdicts, scope)
    return {r.id: decide(r.id, r.created_at, r.checkworthiness, verdicts.get(r.id), changes.get(r.id, []))
            for r in rows}


def rule_order(session: Session) -> list[int]:
    """The whole queue's claim ids in the rule's order, computed from scratch (what the stored columns must
    always give; `factcheck triage --check` and the tests compare the two)."""
    entries = [e for e in evaluate(session).values() if e.in_queue]
    return [e.claim_id for e in sorted(entries, key=lambda e: e.sort_key)]


# ---------------------------------------------------------------- keeping the stored outcome current


STORED = ("queue_out", "queue_status", "queue_changed", "queue_rank", "queue_flag", "queue_conf",
          "queue_confidence", "queue_since")


def refresh(session: Session, claim_ids: Iterable[int] | None) -> int:
    """Recompute the stored queue columns (and quoted URLs) of these claims, or of every claim (None);
    returns how many claims changed. Writes only the rows whose outcome differs."""
    ids = None if claim_ids is None else sorted(set(claim_ids))
    if ids is not None and not ids:
        return 0
    parts: list[Sequence[int] | None] = [None] if ids is None else [ids[i : i + 5000] for i in range(0, len(ids), 5000)]
    changed = 0
    postgres = session.get_bind().dialect.name == "postgresql"
    for part in parts:
        if postgres and part is not None:
            # hold the rows first (in id order), then read what the rule needs: a concurrent transaction
            # refreshing the same claims (a review while a fetch stores a page it quotes) waits here and then
            # reads the other's committed verdicts, instead of overwriting them with what it read before
            for i in range(0, len(part), CHUNK):
                session.execute(select(Claim.id).where(Claim.id.in_(part[i : i + CHUNK])).order_by(Claim.id)
                                .with_for_update(key_share=True))
        entries = evaluate(session, part)
        stored: dict[int, tuple[Any, ...]] = {}
        watched: dict[int, set[str]] = {}
        q = select(Claim.id, *(getattr(Claim, c) for c in STORED))
        w = select(QueueWatch.claim_id, QueueWatch.url)
        keys = [None] if part is None else [list(part[i : i + CHUNK]) for i in range(0, len(part), CHUNK)]
        for chunk in keys:
            for row in session.execute(q if chunk is None else q.where(Claim.id.in_(chunk))):
                stored[row[0]] = tuple(row[1:])
            for cid, url in session.execute(w if chunk is None else w.where(QueueWatch.claim_id.in_(chunk))):
                watched.setdefault(cid, set()).add(url)
        rows = []
        gone: list[tuple[int, str]] = []
        new: list[dict[str, Any]] = []
        for cid, e in entries.items():
            cols = e.columns()
            if stored.get(cid) != tuple(cols[c] for c in STORED):
                rows.append({"id": cid, **cols})
            have = watched.get(cid, set())
            gone += [(cid, u) for u in have - e.quoted]
            new += [{"claim_id": cid, "url": u} for u in sorted(e.quoted - have)]
        for i in range(0, len(rows), 1000):
            session.execute(update(Claim), rows[i : i + 1000])
        for cid, url in gone:
            session.execute(delete(QueueWatch).where(QueueWatch.claim_id == cid, QueueWatch.url == url))
        for i in range(0, len(new), 1000):
            session.execute(insert(QueueWatch), new[i : i + 1000])
        changed += len(rows)
    return changed


def rebuild(session: Session) -> int:
    """Recompute the whole desk's queue columns (after a bulk load on a bare connection, or to repair)."""
    return refresh(session, None)


def claims_watching(session: Session, urls: Iterable[str]) -> set[int]:
    """Claims whose queue place a new capture of one of `urls` can change: tied to it, or quoting it."""
    out: set[int] = set()
    url_list = sorted(set(urls))
    for i in range(0, len(url_list), CHUNK):
        chunk = url_list[i : i + CHUNK]
        out.update(session.execute(
            select(ClaimEvidence.claim_id).join(EvidenceUrl, ClaimEvidence.evidence_url_id == EvidenceUrl.id)
            .where(EvidenceUrl.url.in_(chunk))).scalars())
        out.update(session.execute(select(QueueWatch.claim_id).where(QueueWatch.url.in_(chunk))).scalars())
    return out


PENDING = "factcheck.queue.pending"


@dataclass
class _Pending:
    claims: set[int] = field(default_factory=set)  # recompute these
    maybe: set[tuple[int, int | None]] = field(default_factory=set)  # (claim, run): recompute once the run finished
    runs: set[int] = field(default_factory=set)  # runs that finished: recompute the claims they judged
    urls: set[str] = field(default_factory=set)  # new captures: recompute the claims that watch them
    everything: bool = False  # a write the session could not read: recompute the whole desk

    def __bool__(self) -> bool:
        return bool(self.claims or self.maybe or self.runs or self.urls or self.everything)


def _pending(session: Session) -> _Pending:
    p = session.info.get(PENDING)
    if p is None:
        p = session.info[PENDING] = _Pending()
    return p


def _note_verdict(p: _Pending, claim_id: Any, kind: Any, run_id: Any) -> None:
    if not isinstance(claim_id, int):
        p.everything = True
    elif kind == "machine":
        p.maybe.add((claim_id, run_id if isinstance(run_id, int) else None))
    else:
        p.claims.add(claim_id)


WROTE = "factcheck.queue.wrote"
UNCOUNTED = frozenset({"login_attempt", "desk_user", "desk_secret", "fetch_attempt", "term_stat",
                       "claim_comment"})
"""Tables no kept total (`desk.counts`) depends on: writing them (a sign-in attempt) keeps the totals."""


def _after_flush(session: Session, _ctx: Any) -> None:
    from sqlalchemy import inspect

    p = _pending(session)
    for obj in [*session.new, *session.dirty, *session.deleted]:
        if getattr(obj, "__tablename__", None) not in UNCOUNTED:
            session.info[WROTE] = True
        if isinstance(obj, Verdict):
            _note_verdict(p, obj.claim_id, obj.kind, obj.run_id)
        elif isinstance(obj, Snapshot):
            p.urls.add(obj.url)
        elif isinstance(obj, ClaimEvidence):
            if isinstance(obj.claim_id, int):
                p.claims.add(obj.claim_id)
            else:
                p.everything = True
        elif (isinstance(obj, Run) and obj.finished_at is not None and isinstance(obj.id, int)
              and (obj in session.new or inspect(obj).attrs.finished_at.history.added)):
            p.runs.add(obj.id)


def _on_execute(state: Any) -> None:
    """Writes sent as statements through the session (bulk inserts, UPDATE … WHERE): note what they touch."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table not in UNCOUNTED:
        state.session.info[WROTE] = True
    if table not in ("verdict", "snapshot", "claim_evidence", "run"):
        return
    p = _pending(state.session)
    stmt = state.statement
    params = state.parameters
    rows: list[dict[str, Any]] = (params if isinstance(params, list) else [params] if isinstance(params, dict)
                                  else [])
    if state.is_insert:
        if not rows or getattr(stmt, "select", None) is not None or getattr(stmt, "_values", None):
            p.everything = True  # INSERT … SELECT or .values(): rows this listener cannot read
            return
        for r in rows:
            if table == "verdict":
                _note_verdict(p, r.get("claim_id"), r.get("kind"), r.get("run_id"))
            elif table == "snapshot" and isinstance(r.get("url"), str):
                p.urls.add(r["url"])
            elif table == "claim_evidence" and isinstance(r.get("claim_id"), int):
                p.claims.add(r["claim_id"])
            elif table == "run" and r.get("finished_at") is None:
                continue
            elif table == "run" and isinstance(r.get("id"), int):
                p.runs.add(r["id"])
            else:
                p.everything = True
        return
    # UPDATE or DELETE: which rows, from the WHERE clause or the primary keys of a bulk update
    if state.is_update:
        changed = {getattr(k, "key", k) for k in (getattr(stmt, "_values", None) or {})}
        for r in rows:
            changed.update(r)
        relevant = {"run": {"finished_at"}, "snapshot": {"url", "fetched_at", "sha256"}}.get(table)
        if relevant is not None and not changed & relevant:
            return  # a heartbeat, a snapshot's source: nothing the queue reads
        if table == "snapshot" and "url" in changed:
            p.everything = True
            return
    table_obj = {"verdict": Verdict, "snapshot": Snapshot, "claim_evidence": ClaimEvidence, "run": Run}[table]
    where = getattr(stmt, "whereclause", None)
    if rows and all(isinstance(r.get("id"), int) for r in rows):
        pk = table_obj.id.in_([r["id"] for r in rows])  # type: ignore[attr-defined]
        where = pk if where is None else and_(where, pk)
    if where is None:
        p.everything = True
        return
    column = {"verdict": Verdict.claim_id, "snapshot": Snapshot.url, "claim_evidence": ClaimEvidence.claim_id,
              "run": Run.id}[table]
    found = list(state.session.execute(select(column).where(where),
                                       execution_options={"autoflush": False}).scalars())
    if table == "snapshot":
        p.urls.update(found)
    elif table == "run":
        p.runs.update(found)  # checked again when applied: only those finished by then count
    else:
        p.claims.update(found)


def apply_pending(session: Session) -> None:
    """Recompute the claims this transaction's writes touched (see the module's notes); idempotent."""
    for _ in range(5):
        session.flush()
        p = session.info.pop(PENDING, None)
        if not p:
            return
        if p.everything:
            refresh(session, None)
            continue
        ids = set(p.claims)
        finished = finished_run_ids(session) if (p.maybe or p.runs) else set()
        ids.update(cid for cid, run in p.maybe if run in finished)
        runs = sorted(p.runs & finished)
        for i in range(0, len(runs), CHUNK):
            ids.update(session.execute(select(Verdict.claim_id).where(Verdict.run_id.in_(runs[i : i + CHUNK]))
                                       .distinct()).scalars())
        if p.urls:
            ids |= claims_watching(session, p.urls)
        refresh(session, ids)
    session.flush()  # pragma: no cover - a write that keeps touching claims; its last round stays pending


def _before_commit(session: Session) -> None:
    apply_pending(session)


def _after_commit(session: Session) -> None:
    if session.info.pop(WROTE, False):
        counts.forget()  # totals this process keeps may have changed


def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(PENDING, None)  # committed (applied before) or rolled back (nothing to apply)
        session.info.pop(WROTE, None)


def track(sessions: sessionmaker[Session]) -> None:
    """Keep the queue columns current in every session `sessions` makes (a desk's)."""
    event.listen(sessions, "after_flush", _after_flush)
    event.listen(sessions, "do_orm_execute", _on_execute)
    event.listen(sessions, "before_commit", _before_commit)
    event.listen(sessions, "after_commit", _after_commit)
    event.listen(sessions, "after_transaction_end", _after_transaction_end)


# ---------------------------------------------------------------- reading the queue


@dataclass(frozen=True)
class Term:
    expr: Any
    desc: bool
    kind: type  # the cursor's type for this part (datetime travels as ISO text)


def _urgency() -> list[Term]:
    kinds = (int, int, float, float, int)
    return [Term(e, False, k) for e, k in zip(QUEUE_URGENCY, kinds, strict=True)]


CASE_KEY = CodePoint(func.coalesce(Case.key, literal_column("''")))
"""The id sort's lead: the claim's case key ('' for a claim without a case), by code point."""


def sort_terms(sort: str, dialect: str) -> list[Term]:
    """The ORDER BY of a queue sort: its lead, then the urgency order (which ends in the claim id, so every
    row has one place). Mirrors the Python keys of `triage.SORTS` exactly, ties included."""
    u = _urgency()
    if sort == "urgency":
        return u
    if sort == "oldest":
        return [Term(QUEUE_SINCE, False, str), *u]
    if sort == "newest":
        return [Term(QUEUE_SINCE, True, str), *u]
    if sort == "confidence":
        return [Term(QUEUE_CONFIDENCE, False, float), *u]
    if sort == "worth":  # (-worth, urgency): the urgency's own worth part repeats the lead, so it is left out
        return [Term(QUEUE_WORTH, False, float), *(t for t in u if t.expr is not QUEUE_WORTH)]
    if sort == "id":  # case id, then claim id, compared by code point as Python compares text
        return [Term(CASE_KEY, False, str), Term(QUEUE_KEY, False, str), *u]
    raise QueueError(f"unknown queue order {sort!r}")


def shape(sort: str) -> tuple[type, ...]:
    """The types of a page cursor of this sort."""
    return tuple(t.kind for t in sort_terms(sort, "sqlite"))


@dataclass
class Filters:
    status: str | None = None
    article: str | None = None
    source: str | None = None
    assignee: str | None = None  # only claims this person holds now
    within: Any = None  # a SELECT of claim ids, or a collection of them (a search's, a tag's), or None
    free_at: datetime | None = None  # only claims nobody holds at this time (taking the next claim)


STATUSES = ("contested", "unverified", "unchecked", "verified", "source-changed")


def _where(session: Session, f: Filters, now: datetime) -> list[ColumnElement[bool]]:
    from factcheck.desk.models import Article, Citation, Source

    conds: list[ColumnElement[bool]] = [Claim.queue_out == false()]
    if f.status is not None:
        if f.status not in STATUSES:
            raise QueueError(f"unknown status {f.status!r}; use one of {', '.join(STATUSES)}")
        if f.status == "source-changed":
            conds.append(Claim.queue_changed == true())
        else:
            conds.append(Claim.queue_status == f.status)
            conds.append(Claim.queue_rank == RANK[f.status])  # the same rows; lets the index narrow them
    if f.article:
        a = f.article
        arts = select(Article.id).outerjoin(Case, Article.case_id == Case.id).where(
            (Article.url == a) | (Article.file == a) | (Article.title == a) | (Case.key == a)
            | (Article.id == (int(a) if a.isdigit() and len(a) < 10 else -1))
        )
        conds.append(Claim.article_id.in_(arts))
    if f.source:
        wanted = f.source.casefold()
        names = {s.name for s in session.execute(select(Source)).scalars()
                 if wanted == s.name.casefold() or wanted in {str(x).casefold() for x in s.aliases or []}}
        names.add(f.source)
        conds.append(Claim.id.in_(select(Citation.claim_id).where(
            func.lower(Citation.name).in_(sorted({n.lower() for n in names})))))
    if f.assignee:
        conds += [Claim.assignee == f.assignee, Claim.assigned_until > now]
    if f.free_at is not None:
        conds.append(or_(Claim.assignee.is_(None), Claim.assigned_until.is_(None), Claim.assigned_until <= f.free_at))
    if f.within is not None:
        if isinstance(f.within, Select):
            conds.append(Claim.id.in_(f.within))
        else:
            conds.append(Claim.id.in_(sorted(f.within)) if f.within else false())
    return conds


def _beyond(terms: list[Term], key: Sequence[Any], forward: bool, strict: bool = True) -> ColumnElement[bool]:
    """Rows after (forward) or before `key` in the order of `terms`: a row comparison per run of terms with
    one direction, so an index on the terms serves it as a range."""
    groups: list[list[int]] = []
    for i, t in enumerate(terms):
        if groups and terms[groups[-1][0]].desc == t.desc:
            groups[-1].append(i)
        else:
            groups.append([i])

    def side(idx: list[int], is_strict: bool) -> ColumnElement[bool]:
        up = (not terms[idx[0]].desc) == forward
        exprs = [terms[i].expr for i in idx]
        vals = [literal(key[i], type_=terms[i].expr.type) for i in idx]
        lhs: Any = exprs[0] if len(idx) == 1 else tuple_(*exprs)
        rhs: Any = vals[0] if len(idx) == 1 else tuple_(*vals)
        if up:
            return lhs > rhs if is_strict else lhs >= rhs
        return lhs < rhs if is_strict else lhs <= rhs

    def build(g: int) -> ColumnElement[bool]:
        if g == len(groups) - 1:
            return side(groups[g], strict)
        return and_(side(groups[g], False), or_(side(groups[g], True), build(g + 1)))

    return build(0)


def _from_cursor(terms: list[Term], key: Sequence[Any]) -> list[Any]:
    """A cursor's parts as the values its terms compare with (ISO text back to a time)."""
    out: list[Any] = []
    for t, v in zip(terms, key, strict=True):
        if t.expr is QUEUE_SINCE:
            try:
                v = datetime.fromisoformat(v)
            except ValueError:
                raise QueueError("this page link is damaged or out of date") from None
            if v.tzinfo is None:
                raise QueueError("this page link is damaged or out of date")
        elif isinstance(v, float) and not math.isfinite(v):
            raise QueueError("this page link is damaged or out of date")
        out.append(v)
    return out


def _to_cursor(terms: list[Term], row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(v.isoformat() if isinstance(v, datetime) else (float(v) if t.kind is float else v)
                 for t, v in zip(terms, row, strict=True))


def _base(session: Session, f: Filters, sort: str, now: datetime) -> tuple[list[Term], Select[Any]]:
    terms = sort_terms(sort, session.get_bind().dialect.name)
    q = select(Claim.id, *(t.expr for t in terms)).where(*_where(session, f, now))
    if sort == "id":
        q = q.outerjoin(Case, Claim.case_id == Case.id)
    return terms, q


def _ordered(terms: list[Term], forward: bool) -> list[Any]:
    return [t.expr.desc() if t.desc == forward else t.expr.asc() for t in terms]


@dataclass
class Page:
    ids: list[int]
    after: tuple[Any, ...] | None  # cursor key of the next page (None: nothing after)
    before: tuple[Any, ...] | None  # cursor key of the previous page
    first: int  # position of the first row in the whole (filtered) queue, 0-based
    total: int


def page(session: Session, f: Filters, *, sort: str = "urgency", after: Sequence[Any] | None = None,
         before: Sequence[Any] | None = None, size: int = 50, now: datetime, count: bool = True) -> Page:
    """One page of the queue by keyset on the stored order: the page's ids, cursors, position and total.
    Every statement is an index range (`_rows`, `_position`); the totals and positions are kept a moment."""
    apply_pending(session)
    terms, q = _base(session, f, sort, now)
    cursor = after if after is not None else before
    key = _from_cursor(terms, cursor) if cursor is not None else None
    forward = before is None
    rows = _rows(session, f, sort, terms, q, key, forward, size + 1, now)
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    total = _count(session, f, now) if count else 0
    if not rows:
        return Page([], None, None, 0, total)
    first_key, last_key = list(rows[0][1:]), list(rows[-1][1:])
    if forward:
        has_next = more
        first = _position(session, f, sort, terms, q, first_key, now) if key is not None else 0
        has_prev = first > 0  # the rows before this page, counted anyway for its position
    else:
        has_prev = more
        has_next = bool(_rows(session, f, sort, terms, q, last_key, True, 1, now))
        first = _position(session, f, sort, terms, q, first_key, now) if has_prev else 0
    return Page(ids=[r[0] for r in rows], after=_to_cursor(terms, rows[-1][1:]) if has_next else None,
                before=_to_cursor(terms, rows[0][1:]) if has_prev else None, first=first, total=total)


def _rows(session: Session, f: Filters, sort: str, terms: list[Term], q: Select[Any], key: Sequence[Any] | None,
          forward: bool, limit: int, now: datetime) -> list[Any]:
    """Up to `limit` rows (id, then the sort's terms) after `key` (forward) or before it, nearest first."""
    if sort == "id":
        return _id_rows(session, f, terms, key, forward, limit, now)
    sel = q if key is None else q.where(_beyond(terms, key, forward))
    return list(session.execute(sel.order_by(*_ordered(terms, forward)).limit(limit)))


def _position(session: Session, f: Filters, sort: str, terms: list[Term], q: Select[Any], key: Sequence[Any],
              now: datetime) -> int:
    """How many rows of the (filtered) queue come before `key`: an index range count, kept a moment as the
    totals are (pages read one after another, by many people, ask for the same positions)."""
    def run() -> int:
        if sort == "id":
            return _id_position(session, f, terms, key, now)
        return int(session.execute(q.with_only_columns(func.count()).where(_beyond(terms, key, False))
                                   .order_by(None)).scalar_one())

    name = _kept_name(f)
    if name is None:
        return run()
    return counts.total(session, ("queue-position", sort, name, tuple(key)), run)


# ---------------------------------------------------------------- the id sort, case by case


def _case_groups(session: Session, conds: list[ColumnElement[bool]], start: str | None, forward: bool,
                 batch: int) -> tuple[list[tuple[str, list[int | None]]], bool]:
    """The next case keys after `start` (None: from the first or the last) in code point order, up to
    `batch` of those that hold queue rows under `conds`, each with its case ids, and whether more may
    follow. Claims without a case sort as the key '', one group with a case keyed '' (if any). One query
    for the cases: a walk of their key index with an indexed probe of the claims for each."""
    key = CodePoint(Case.key)
    has_rows = select(Claim.id).where(*conds, Claim.case_id == Case.id).exists()
    q = select(Case.id, Case.key).where(Case.key != "", has_rows)
    if start is not None:
        bound = literal(start, type_=Case.key.type)
        q = q.where(key > bound if forward else key < bound)
    rows = list(session.execute(q.order_by(key.asc() if forward else key.desc()).limit(batch)))
    groups: list[tuple[str, list[int | None]]] = [(k, [i]) for i, k in rows]
    more = len(rows) == batch
    blank_next = start is None if forward else (not more and (start is None or start > ""))
    if not blank_next:
        return groups, more
    blank: list[tuple[str, list[int | None]]] = [("", [None, *session.execute(
        select(Case.id).where(Case.key == "")).scalars()])]
    return (blank + groups if forward else groups + blank), more


def _id_rows(session: Session, f: Filters, terms: list[Term], key: Sequence[Any] | None, forward: bool,
             limit: int, now: datetime) -> list[Any]:
    """The id sort's rows after (or before) `key`: the cases in key order, and in each case its claims as a
    range of `ix_claim_queue_key` (no index can order a join by both keys)."""
    conds = _where(session, f, now)
    tail = terms[1:]  # the claim key, then the urgency order
    out: list[Any] = []

    def take(case_key: str, case_ids: list[int | None], after: Sequence[Any] | None) -> None:
        found: list[tuple[Any, ...]] = []
        for cid in case_ids:
            q = select(Claim.id, *(t.expr for t in tail)).where(
                *conds, Claim.case_id.is_(None) if cid is None else Claim.case_id == cid)
            if after is not None:
                q = q.where(_beyond(tail, after, forward))
            # the case id leads the order too: for `case_id IS NULL` the database does not take the column
            # as fixed, and would sort the rows instead of reading them in the index's order
            lead = Claim.case_id.asc() if forward else Claim.case_id.desc()
            q = q.order_by(lead, *_ordered(tail, forward)).limit(limit - len(out))
            found += [(r[0], case_key, *r[1:]) for r in session.execute(q)]
        if len(case_ids) > 1:  # claims without a case and a case keyed '': one group, merged by the tail
            found.sort(key=lambda r: r[2:], reverse=not forward)
        out.extend(found[: limit - len(out)])

    start: str | None = None
    if key is not None:
        start = str(key[0])
        take(start, _same_case(session, start), key[1:])
    while len(out) < limit:
        groups, more = _case_groups(session, conds, start, forward, 8)
        for case_key, ids in groups:
            take(case_key, ids, None)
            start = case_key
            if len(out) >= limit:
                break
        if not more:
            break
    return out[:limit]


def _same_case(session: Session, case_key: str) -> list[int | None]:
    """The case ids of one place in the id sort: the case with this key, and claims without a case for ''."""
    ids: list[int | None] = list(session.execute(select(Case.id).where(Case.key == case_key)).scalars())
    return [None, *ids] if case_key == "" else ids


def _id_position(session: Session, f: Filters, terms: list[Term], key: Sequence[Any], now: datetime) -> int:
    """How many rows of the id sort come before `key`: those of the cases keyed lower (an indexed count per
    case), then those before it in its own case (an index range)."""
    conds = _where(session, f, now)
    start = str(key[0])
    n = 0
    lower = sorted(session.execute(select(Case.id).where(CodePoint(Case.key) < literal(start, type_=Case.key.type))
                                   ).scalars())  # the cases first: a join invites a scan of every claim
    for i in range(0, len(lower), CHUNK):
        n += int(session.execute(select(func.count()).select_from(Claim).where(
            *conds, Claim.case_id.in_(lower[i : i + CHUNK]))).scalar_one())
    if start > "":
        n += int(session.execute(select(func.count()).select_from(Claim)
                                 .where(*conds, Claim.case_id.is_(None))).scalar_one())
    tail = terms[1:]
    for cid in _same_case(session, start):
        n += int(session.execute(select(func.count()).select_from(Claim).where(
            *conds, Claim.case_id.is_(None) if cid is None else Claim.case_id == cid,
            _beyond(tail, key[1:], False))).scalar_one())
    return n


def ordered(session: Session, f: Filters, *, sort: str = "urgency", limit: int | None = None,
            now: datetime, after: Sequence[Any] | None = None) -> list[tuple[int, tuple[Any, ...]]]:
    """The queue's claim ids in order (from `after`, a cursor key), with each row's cursor key."""
    apply_pending(session)
    terms, q = _base(session, f, sort, now)
    if sort == "id" and limit is not None:  # the first rows: case by case on the index, as a page reads them
        key = _from_cursor(terms, after) if after is not None else None
        return [(r[0], _to_cursor(terms, r[1:])) for r in _id_rows(session, f, terms, key, True, limit, now)]
    if after is not None:
        q = q.where(_beyond(terms, _from_cursor(terms, after), True))
    q = q.order_by(*_ordered(terms, True))
    if limit is not None:
        q = q.limit(limit)
    return [(r[0], _to_cursor(terms, r[1:])) for r in session.execute(q)]


def _kept_name(f: Filters) -> tuple[Any, ...] | None:
    """What names a filtered queue among the kept totals (`desk.counts`); None for one person's or one
    search's queue (small, and not worth keeping)."""
    if f.assignee or f.free_at is not None or (f.within is not None and not isinstance(f.within, Select)):
        return None
    within = None
    if f.within is not None:
        within = str(f.within.compile(compile_kwargs={"literal_binds": True}))
    return (f.status, f.article, f.source, within)


def _count(session: Session, f: Filters, now: datetime) -> int:
    def run() -> int:
        return int(session.execute(select(func.count()).select_from(Claim).where(*_where(session, f, now)))
                   .scalar_one())

    name = _kept_name(f)
    return run() if name is None else counts.total(session, ("queue", *name), run)


def count(session: Session, f: Filters, *, now: datetime) -> int:
    """How many claims the (filtered) queue holds: an indexed count (kept a moment, see `desk.counts`)."""
    apply_pending(session)
    return _count(session, f, now)
