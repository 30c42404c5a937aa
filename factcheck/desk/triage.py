"""The human loop: the triage queue, assignments that expire, and reviews that never overwrite blindly.

Why it is built this way:
- The queue's rule (`desk.queue.evaluate`) reads the append-only verdicts and snapshots; its outcome is kept on
  the claim rows by `desk.queue` inside the very transaction that changes what it reads (a re-fetched page
  that changed puts a claim back in the queue without any call in fetch), and pages are read by keyset over
  indexes on it, so a page of a 100k-claim queue reads 50 claims.
- `next_claim` claims one row atomically: `FOR NO KEY UPDATE SKIP LOCKED` on PostgreSQL (the weaker row lock
  of the FOR UPDATE family, so it does not block verdict inserts that reference the claim), `BEGIN IMMEDIATE`
  plus a guarded UPDATE on SQLite.
- Reviews use optimistic concurrency on `claim.revision`: the UPDATE only succeeds when the revision is the
  one the reviewer saw, otherwise nothing is written and the reviewer is told who changed the claim.
- Every assignment, release and review is an audit event in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from factcheck.desk import audit, queue
from factcheck.desk.claims import (
    claim_dict,
    claim_evidence_urls,
    current_verdict,
    decided_by,
    find_claim,
    finished_run_ids,
    pick_current,
)
from factcheck.desk.models import (
    VERDICT_LABELS,
    AuditEvent,
    Case,
    Citation,
    Claim,
    Snapshot,
    Verdict,
    utcnow,
)
from factcheck.desk.queue import LOW_CONFIDENCE as LOW_CONFIDENCE  # re-exported: the rule's threshold
from factcheck.desk.queue import STATUSES, SourceChange
from factcheck.errors import FactcheckError
from factcheck.settings import FieldError, Rating, check_field
from factcheck.text.urls import BadUrl, normalise_url

VIEW_ACTIONS = ("claim.assign", "verdict.human")
"""Events that record which revision of a claim a person last saw."""


class TriageError(FactcheckError):
    pass


class NoIdentity(TriageError):
    """Reviews and assignments must say who acted."""


class ReviewConflict(TriageError):
    """The claim changed after the reviewer looked at it; nothing was written."""


class BadQuote(TriageError):
    pass


# ---------------------------------------------------------------- data shapes


@dataclass
class QueueItem:
    claim_id: int
    key: str
    case: str | None
    text: str
    cited: list[str]
    status: str  # current label, or "unchecked" when no verdict exists
    kind: str | None  # "machine" | "human" | None
    decided_by: str | None
    confidence: float | None
    checkworthiness: float | None
    reasons: list[str]
    changes: list[SourceChange]
    assignee: str | None  # only a live (unexpired) assignment
    assigned_until: datetime | None
    revision: int
    since: datetime
    last_action: dict[str, Any] | None = None
    sort_key: tuple[Any, ...] = field(default=(), repr=False)

    @property
    def source_changed(self) -> bool:
        return bool(self.changes)

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or utcnow()
        return {
            "id": self.key, "case": self.case, "text": self.text, "cited": self.cited,
            "status": self.status, "verdict": None if self.status == "unchecked" else self.status,
            "kind": self.kind, "decided_by": self.decided_by, "confidence": self.confidence,
            "checkworthiness": self.checkworthiness, "reasons": self.reasons,
            "source_changed": self.source_changed, "changes": [c.as_dict() for c in self.changes],
            "assignee": self.assignee,
            "assigned_until": self.assigned_until.isoformat() if self.assigned_until else None,
            "revision": self.revision, "since": self.since.isoformat(),
            "age_seconds": max(0, int((now - self.since).total_seconds())),
            "last_action": self.last_action,
        }


@dataclass
class Assignment:
    claim_id: int
    key: str
    assignee: str
    assigned_until: datetime
    revision: int
    took_over_from: str | None
    item: QueueItem
    detail: dict[str, Any]


@dataclass
class ReviewResult:
    claim_id: int
    key: str
    verdict_id: int
    label: str
    reviewer: str
    revision: int
    previous: dict[str, Any] | None
    released: str | None
    quotes: list[dict[str, Any]]
    rating: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.key, "verdict_id": self.verdict_id, "verdict": self.label, "rating": self.rating,
                "reviewer": self.reviewer,
                "revision": self.revision, "previous": self.previous, "released": self.released,
                "evidence": self.quotes}


# ---------------------------------------------------------------- helpers


def live_assignee(claim: Claim, now: datetime | None = None) -> str | None:
    """The assignee while the assignment holds; an expired assignment counts as none."""
    now = now or utcnow()
    if claim.assignee and claim.assigned_until is not None and claim.assigned_until > now:
        return claim.assignee
    return None


def lock_for_writing(session: Session) -> None:
    """On SQLite, take the write lock first (BEGIN IMMEDIATE), so read-then-write never races another writer.

    Must run before the session has written anything; PostgreSQL uses row locks instead.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    dbapi = session.connection().connection.dbapi_connection
    if dbapi is not None and not getattr(dbapi, "in_transaction", False):
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def current_verdicts(session: Session, claim_ids: list[int] | None = None) -> dict[int, Verdict]:
    """Each claim's current verdict (the rule of `claims.pick_current`) in two queries."""
    q = select(Verdict.claim_id, Verdict.id, Verdict.kind, Verdict.run_id)
    if claim_ids is not None:
        q = q.where(Verdict.claim_id.in_(claim_ids))
    by_claim: dict[int, list[Any]] = {}
    for row in session.execute(q):
        by_claim.setdefault(row.claim_id, []).append(row)
    finished = finished_run_ids(session)
    wanted = [pick_current(rows, finished_runs=finished) for rows in by_claim.values()]
    ids = [v.id for v in wanted if v is not None]
    out: dict[int, Verdict] = {}
    for i in range(0, len(ids), 500):
        for v in session.execute(select(Verdict).where(Verdict.id.in_(ids[i : i + 500]))).scalars():
            out[v.claim_id] = v
    return out


def claims_with_changed_sources(session: Session, claim_ids: list[int] | None = None) -> dict[int, list[SourceChange]]:
    """Claims whose current verdict rests on a snapshot that a newer capture of the same URL replaced.

    Also reports evidence URLs linked to the claim that were captured after the verdict ("new").
    """
    return queue.source_changes(session, queue.current_verdict_rows(session, claim_ids), claim_ids)


def last_actions(session: Session, claim_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each claim's newest audit event (action, actor, time), for the claims asked about only."""
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(claim_ids), 500):
        chunk = claim_ids[i : i + 500]
        newest = (
            select(func.max(AuditEvent.id)).where(AuditEvent.claim_id.in_(chunk)).group_by(AuditEvent.claim_id)
        )
        for ev in session.execute(select(AuditEvent).where(AuditEvent.id.in_(newest))).scalars():
            if ev.claim_id is not None:
                out[ev.claim_id] = {"action": ev.action, "actor": ev.actor, "at": ev.at.isoformat()}
    return out


# ---------------------------------------------------------------- the queue


SORTS: dict[str, tuple[str, Callable[[QueueItem], tuple[Any, ...]] | None]] = {
    "urgency": ("most urgent first", None),
    "oldest": ("waiting longest", lambda it: (it.since.timestamp(),)),
    "newest": ("newest first", lambda it: (-it.since.timestamp(),)),
    "confidence": ("lowest confidence",
                   lambda it: (float(it.confidence) if it.confidence is not None else -1.0,)),
    "worth": ("most check-worthy",
              lambda it: (-(float(it.checkworthiness) if it.checkworthiness is not None else -1.0),)),
    "id": ("claim id", lambda it: (it.case or "", it.key)),
}
"""Queue orders: label and the key's leading part over a queue item, the rule the database's order
(`queue.sort_terms`) follows. Ties keep the urgency order, which ends in the claim id, so every row has one
place (sorting urgency-ordered items stably by the lead gives the whole order)."""


def _filters(session: Session, *, article: str | None, source: str | None, status: str | None,
             assignee: str | None, within: Any = None, free_at: datetime | None = None) -> queue.Filters:
    if status is not None and status not in STATUSES:
        raise TriageError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    return queue.Filters(status=status, article=article, source=source, assignee=assignee, within=within,
                         free_at=free_at)


def _fill_cited(session: Session, items: list[QueueItem]) -> None:
    """The cited sources of the items shown (one query per 500)."""
    ids = [it.claim_id for it in items]
    cited: dict[int, list[str]] = {}
    for i in range(0, len(ids), 500):
        for cid, name in session.execute(select(Citation.claim_id, Citation.name)
                                         .where(Citation.claim_id.in_(ids[i : i + 500])).order_by(Citation.id)):
            cited.setdefault(cid, []).append(name)
    for it in items:
        it.cited = cited.get(it.claim_id, [])


def queue_items(session: Session, ids: list[int], *, now: datetime, with_last_action: bool = True,
                details: bool = True) -> list[QueueItem]:
    """The queue items of these claims, in the order given: the rule's reasons, changes and verdict for each
    (computed for these claims only), their text, citations and last action."""
    rows: dict[int, Any] = {}
    q = (select(Claim.id, Claim.key, Claim.case_id, Case.key.label("case_key"), Claim.checkworthiness,
                Claim.created_at, Claim.assignee, Claim.assigned_until, Claim.revision, Claim.text)
         .outerjoin(Case, Claim.case_id == Case.id))
    for i in range(0, len(ids), 500):
        for r in session.execute(q.where(Claim.id.in_(ids[i : i + 500]))):
            rows[r.id] = r
    entries = queue.evaluate(session, ids, rows=list(rows.values()))
    items: list[QueueItem] = []
    for cid in ids:
        e, c = entries.get(cid), rows.get(cid)
        if e is None or c is None or not e.in_queue:
            continue  # gone, or left the queue since the order was read
        v = e.verdict
        held = live_assignee(c, now)  # type: ignore[arg-type]  # a row of the claim's columns
        items.append(QueueItem(
            claim_id=cid, key=c.key, case=c.case_key, text=c.text,
            cited=[], status=e.status, kind=v.kind if v is not None else None,
            decided_by=decided_by(v) if v is not None else None,
            confidence=v.confidence if v is not None else None,
            checkworthiness=c.checkworthiness, reasons=e.reasons, changes=e.changes,
            assignee=held, assigned_until=c.assigned_until if held else None,
            revision=c.revision, since=e.since, sort_key=e.sort_key,
        ))
    if details:
        _fill_cited(session, items)
    if with_last_action and items:
        last = last_actions(session, [it.claim_id for it in items])
        for it in items:
            it.last_action = last.get(it.claim_id)
    return items


def triage_queue(
    session: Session,
    *,
    article: str | None = None,
    source: str | None = None,
    status: str | None = None,
    assignee: str | None = None,
    with_last_action: bool = True,
    now: datetime | None = None,
    sort: str = "urgency",
    limit: int | None = None,
    within: Any = None,
) -> list[QueueItem]:
    """Claims that need a person, most urgent first (or in another of `SORTS`), the first `limit` of them.

    Contested first, then unverified (and never-checked) claims by check-worthiness, then verified claims
    with low confidence or a changed source. A claim whose current verdict is a person's leaves the queue
    unless its source changed after that review. The order and the filters are the database's (stored by
    `desk.queue`); only the claims returned are read in full.
    """
    now = now or utcnow()
    f = _filters(session, article=article, source=source, status=status, assignee=assignee, within=within)
    ids = [cid for cid, _key in queue.ordered(session, f, sort=sort, limit=limit, now=now)]
    return queue_items(session, ids, now=now, with_last_action=with_last_action)


@dataclass
class QueuePage:
    items: list[QueueItem]
    after: tuple[Any, ...] | None
    before: tuple[Any, ...] | None
    first: int
    total: int


def queue_page(
    session: Session,
    *,
    article: str | None = None,
    source: str | None = None,
    status: str | None = None,
    assignee: str | None = None,
    within: Any = None,
    sort: str = "urgency",
    after: tuple[Any, ...] | None = None,
    before: tuple[Any, ...] | None = None,
    size: int = 50,
    now: datetime | None = None,
) -> QueuePage:
    """One page of the queue (the web desk's): the rows after (or before) a cursor key of `queue.shape(sort)`,
    the cursors to the neighbouring pages, the first row's position and the filtered queue's size."""
    now = now or utcnow()
    if sort not in SORTS:
        raise TriageError(f"unknown queue order {sort!r}; use one of {', '.join(SORTS)}")
    f = _filters(session, article=article, source=source, status=status, assignee=assignee, within=within)
    pg = queue.page(session, f, sort=sort, after=after, before=before, size=size, now=now)
    return QueuePage(items=queue_items(session, pg.ids, now=now), after=pg.after, before=pg.before,
                     first=pg.first, total=pg.total)


def queue_count(session: Session, *, article: str | None = None, source: str | None = None,
                status: str | None = None, assignee: str | None = None, now: datetime | None = None) -> int:
    """How many claims the (filtered) queue holds (those `assignee` holds now, when given): an indexed count."""
    return queue.count(session, _filters(session, article=article, source=source, status=status,
                                         assignee=assignee), now=now or utcnow())


# ---------------------------------------------------------------- assignment


def claim_ref(session: Session, claim: Claim) -> str:
    """The shortest reference `find_claim` resolves: `ID`, or `CASE:ID` when several cases share the id."""
    n = session.execute(select(func.count()).select_from(Claim).where(Claim.key == claim.key)).scalar_one()
    return f"{claim.case.key}:{claim.key}" if n > 1 and claim.case is not None else claim.key


def _need_identity(who: str | None, what: str) -> str:
    who = (who or "").strip()
    if not who:
        raise NoIdentity(f"who is {what}? pass --by NAME or set FACTCHECK_USER")
    return who


def claim_detail(session: Session, claim: Claim) -> dict[str, Any]:
    """What a reviewer needs on screen: the claim, its current verdict with quotes, and its evidence."""
    d = claim_dict(session, claim)
    evidence = []
    for eu in claim_evidence_urls(session, claim):
        snap = session.execute(
            select(Snapshot).where(Snapshot.url == eu.url)
            .order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc()).limit(1)
        ).scalar()
        evidence.append({
            "url": eu.url, "status": eu.status,
            "snapshot_sha256": snap.sha256 if snap else None,
            "fetched_at": snap.fetched_at.isoformat() if snap else None,
            "chars": len(snap.text) if snap else None,
        })
    d["evidence_urls"] = evidence
    d["ref"] = claim_ref(session, claim)
    d["revision"] = claim.revision
    d["assignee"] = live_assignee(claim)
    d["assigned_until"] = claim.assigned_until.isoformat() if d["assignee"] and claim.assigned_until else None
    return d


def _try_take(
    session: Session, claim_id: int, who: str, until: datetime, now: datetime
) -> tuple[Claim, str | None] | None:
    """Take one claim if it is free; None if someone else holds or is taking it right now."""
    free = (Claim.assignee.is_(None)) | (Claim.assigned_until.is_(None)) | (Claim.assigned_until <= now)
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(
            select(Claim.id).where(Claim.id == claim_id, free)
            .with_for_update(skip_locked=True, key_share=True)
        ).scalar()
        if row is None:
            return None
    claim = session.get(Claim, claim_id, populate_existing=True)
    if claim is None:
        return None
    previous = claim.assignee
    previous_until = claim.assigned_until
    res = session.execute(
        update(Claim).where(Claim.id == claim_id, free)
        .values(assignee=who, assigned_until=until).execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        return None
    if previous:
        audit.record(session, actor=who, action="claim.release", entity="claim", entity_id=claim_id,
                     claim_id=claim_id, before={"assignee": previous, "assigned_until": previous_until},
                     after={"assignee": None, "reason": "expired"})
    session.refresh(claim)
    audit.record(session, actor=who, action="claim.assign", entity="claim", entity_id=claim_id, claim_id=claim_id,
                 before={"assignee": previous, "assigned_until": previous_until},
                 after={"assignee": who, "assigned_until": until, "revision": claim.revision})
    return claim, previous


def next_claim(
    session: Session,
    *,
    by: str | None,
    minutes: int,
    article: str | None = None,
    source: str | None = None,
    status: str | None = None,
    within: Any = None,
    sort: str = "urgency",
) -> Assignment | None:
    """Atomically assign the most urgent claim nobody holds (or whose assignment expired) to `by`: the first
    of the queue as filtered and sorted (`within`: only these claim ids, a search's or a tag's).

    Two callers at the same moment never get the same claim. Returns None when nothing is left.
    """
    who = _need_identity(by, "taking the claim")
    if minutes <= 0:
        raise TriageError("assignment_minutes must be at least 1")
    if sort not in SORTS:
        raise TriageError(f"unknown queue order {sort!r}; use one of {', '.join(SORTS)}")
    lock_for_writing(session)
    now = utcnow()
    until = now + timedelta(minutes=minutes)
    f = _filters(session, article=article, source=source, status=status, assignee=None, within=within, free_at=now)
    cursor: tuple[Any, ...] | None = None
    while True:
        batch = queue.ordered(session, f, sort=sort, limit=20, now=now, after=cursor)
        if not batch:
            return None
        for cid, _key in batch:
            taken = _try_take(session, cid, who, until, now)
            if taken is None:
                continue
            claim, previous = taken
            got = queue_items(session, [cid], now=now, with_last_action=False)
            if not got:  # pragma: no cover - the stored order and the rule disagree (a bug)
                raise TriageError(f"claim {claim.key} is not in the queue by the rule; run `factcheck triage --check`")
            item = got[0]
            item.assignee, item.assigned_until = who, until
            return Assignment(
                claim_id=claim.id, key=claim.key, assignee=who, assigned_until=until, revision=claim.revision,
                took_over_from=previous, item=item,
                detail=claim_detail(session, claim) | {"reasons": item.reasons,
                                                       "changes": [c.as_dict() for c in item.changes]},
            )
        cursor = batch[-1][1]


def release(session: Session, ref: str, *, by: str | None, force: bool = False) -> Claim:
    """Give a claim back to the queue. Only its holder may, unless forced (recorded either way)."""
    who = _need_identity(by, "releasing the claim")
    lock_for_writing(session)
    claim = find_claim(session, ref)
    holder = live_assignee(claim)
    if holder is None and claim.assignee is None:
        raise TriageError(f"claim {ref} is not assigned to anyone")
    if holder is not None and holder != who and not force:
        raise TriageError(f"claim {ref} is assigned to {holder}, not you; pass --force to release it anyway")
    before = {"assignee": claim.assignee, "assigned_until": claim.assigned_until}
    res = session.execute(
        update(Claim).where(Claim.id == claim.id, Claim.assignee == claim.assignee)
        .values(assignee=None, assigned_until=None).execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        raise TriageError(f"claim {ref} changed hands while releasing it; look again with `factcheck triage`")
    audit.record(session, actor=who, action="claim.release", entity="claim", entity_id=claim.id, claim_id=claim.id,
                 before=before, after={"assignee": None, "reason": "released" if holder in (None, who) else "forced"})
    session.refresh(claim)
    return claim


def assign_claims(
    session: Session, refs: list[str] | tuple[str, ...], *, to: str | None, by: str | None, hours: int,
) -> list[Claim]:
    """Hand claims to a named person (several at once: the queue's bulk assign), for `hours`.

    All or nothing: an unknown id assigns none. One audit event per claim (`claim.assign`, by the person who
    assigned, naming the assignee), so each claim's own trail says who gave it to whom, as for `triage next`.
    Taking a claim from someone who holds it is allowed (that is what reassigning is) and the event keeps
    the previous holder.
    """
    who = _need_identity(by, "assigning")
    target = " ".join((to or "").split())
    if not target:
        raise TriageError("assign to whom? pass --to NAME")
    if len(target) > 200:
        raise TriageError("an assignee name holds at most 200 characters")
    if hours <= 0:
        raise TriageError("handoff_hours must be at least 1")
    if not refs:
        raise TriageError("name at least one claim to assign")
    lock_for_writing(session)
    now = utcnow()
    until = now + timedelta(hours=hours)
    claims = list({c.id: c for c in (find_claim(session, r) for r in refs)}.values())
    if session.get_bind().dialect.name == "postgresql":  # hold the rows so `before` is what we replace
        session.execute(select(Claim.id).where(Claim.id.in_([c.id for c in claims]))
                        .with_for_update(key_share=True))
    for claim in claims:
        session.refresh(claim)
        before = {"assignee": live_assignee(claim, now), "assigned_until": claim.assigned_until
                  if live_assignee(claim, now) else None}
        claim.assignee, claim.assigned_until = target, until
        session.flush()
        audit.record(session, actor=who, action="claim.assign", entity="claim", entity_id=claim.id,
                     claim_id=claim.id, before=before,
                     after={"assignee": target, "assigned_until": until, "revision": claim.revision,
                            "assigned_by": who})
    return claims


# ---------------------------------------------------------------- review


def parse_quote(spec: str) -> tuple[str, int, int]:
    """`URL#start-end` (the last '#' splits, so URLs may carry their own fragment)."""
    url, sep, span = spec.rpartition("#")
    start_s, dash, end_s = span.partition("-")
    if not sep or not url or not dash or not start_s.strip().isdigit() or not end_s.strip().isdigit():
        raise BadQuote(f"quote {spec!r} must look like URL#start-end, e.g. https://example.com/page#120-245")
    try:
        url = normalise_url(url)
    except BadUrl as exc:
        raise BadQuote(f"quote {spec!r}: {exc.reason}") from None
    return url, int(start_s), int(end_s)


def resolve_quote(session: Session, spec: str, *, role: str, claim: Claim | None = None) -> dict[str, Any]:
    """A reviewer's quote: `N`, the claim's Nth quote as `claims show` numbers them (kept on the snapshot it
    was read from), or `URL#start-end` pinned to the newest capture of the URL."""
    if spec.strip().isdigit():
        return _numbered_quote(session, claim, int(spec), role=role)
    url, start, end = parse_quote(spec)
    snap = session.execute(
        select(Snapshot).where((Snapshot.url == url) | (Snapshot.final_url == url))
        .order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc()).limit(1)
    ).scalar()
    if snap is None:
        raise BadQuote(f"no capture of {url} on this desk; fetch or import it first")
    n = len(snap.text or "")
    if not 0 <= start < end <= n:
        raise BadQuote(f"quote {start}-{end} is outside the capture of {url} (its text has {n} characters)")
    quote = snap.text[start:end]
    if not quote.strip():
        raise BadQuote(f"quote {start}-{end} of {url} is only whitespace")
    src = snap.source.name if snap.source else None
    return {"url": snap.url, "snapshot_sha256": snap.sha256, "quote": quote, "start": start, "end": end,
            "source": src, "role": role}


def _numbered_quote(session: Session, claim: Claim | None, n: int, *, role: str) -> dict[str, Any]:
    current = current_verdict(session, claim.id) if claim is not None else None
    quotes = list(current.quotes or []) if current is not None else []
    if not quotes:
        raise BadQuote(f"quote {n}: the claim has no numbered quotes; give URL#start-end instead")
    if not 1 <= n <= len(quotes):
        raise BadQuote(f"quote {n}: the claim lists quotes 1 to {len(quotes)} (see `factcheck claims show`)")
    q = quotes[n - 1]
    return {"url": q["url"], "snapshot_sha256": q["snapshot_sha256"], "quote": q["quote"], "start": q["start"],
            "end": q["end"], "source": q.get("source"), "role": role}


def _seen_revision(session: Session, claim: Claim, who: str) -> int | None:
    """The revision this person last saw: from their newest assignment or review of the claim."""
    ev = session.execute(
        select(AuditEvent).where(AuditEvent.claim_id == claim.id, AuditEvent.actor == who,
                                 AuditEvent.action.in_(VIEW_ACTIONS))
        .order_by(AuditEvent.id.desc()).limit(1)
    ).scalar()
    if ev is None or not isinstance(ev.after, dict) or not isinstance(ev.after.get("revision"), int):
        return None
    return int(ev.after["revision"])


def _who_changed(session: Session, claim: Claim) -> str:
    ev = session.execute(
        select(AuditEvent).where(AuditEvent.claim_id == claim.id,
                                 AuditEvent.action.in_(("verdict.human", "claim.update")))
        .order_by(AuditEvent.id.desc()).limit(1)
    ).scalar()
    if ev is None:
        return "was changed"
    verb = "was reviewed" if ev.action == "verdict.human" else "was edited"
    return f"{verb} by {ev.actor} at {ev.at.strftime('%Y-%m-%d %H:%M:%S')} UTC"


def rated_label(label: str | None, rating: Rating | None) -> str:
    """The verdict a review records: the label given, or the one the desk's rating maps to (they must agree)."""
    if rating is None:
        return label or ""
    if label and label != rating.label:
        raise TriageError(f"rating {rating.name!r} means {rating.label}, not {label}; give one or make them agree")
    return rating.label


def review(
    session: Session,
    ref: str,
    *,
    label: str | None,
    note: str,
    by: str | None,
    quotes: list[str] | tuple[str, ...] = (),
    expect_revision: int | None = None,
    rating: Rating | None = None,
) -> ReviewResult:
    """Record a person's verdict, which from now on is the claim's verdict; the machine's stays in history.

    With a `rating` of the desk's scale, the verdict is the label it maps to and the rating is kept with it
    (reports and ClaimReview show it). Refused (nothing written) when the claim changed since the reviewer's
    view: `expect_revision`, else the revision at their assignment or last review of the claim.
    """
    who = _need_identity(by, "reviewing")
    label = rated_label(label, rating)
    if label not in VERDICT_LABELS:
        raise TriageError(f"unknown verdict {label!r}; use one of {', '.join(VERDICT_LABELS)}")
    if not (note or "").strip():
        raise TriageError("a review needs a note that says why (--note TEXT)")
    try:
        check_field("note", note)
    except FieldError as exc:  # a TriageError, so the web form shows it beside the note
        raise TriageError(str(exc)) from None
    lock_for_writing(session)
    claim = find_claim(session, ref)
    session.refresh(claim)
    now = utcnow()
    holder = live_assignee(claim, now)
    seen = expect_revision if expect_revision is not None else _seen_revision(session, claim, who)
    old = current_verdict(session, claim.id)
    if seen is None:
        if holder is not None and holder != who:
            raise ReviewConflict(
                f"claim {ref} is assigned to {holder} until {claim.assigned_until:%Y-%m-%d %H:%M} UTC; "
                f"pass --expect-revision {claim.revision} to review it anyway"
            )
        if old is not None and old.kind == "human" and old.reviewer != who:
            # a review that cannot say which revision it saw must not silently replace another person's
            raise ReviewConflict(
                f"claim {ref} {_who_changed(session, claim)} and you have not seen that revision; nothing was "
                f"saved. Run `factcheck claims show {ref}` and review again with --expect-revision {claim.revision}"
            )
        seen = claim.revision
    role = {"verified": "supports", "contested": "contradicts"}.get(label, "context")
    resolved = [resolve_quote(session, q, role=role, claim=claim) for q in quotes]
    previous = None
    if old is not None:
        previous = {"verdict_id": old.id, "kind": old.kind, "label": old.label,
                    "by": old.reviewer or f"run {old.run_id}"}
    res = session.execute(
        update(Claim).where(Claim.id == claim.id, Claim.revision == seen)
        .values(revision=Claim.revision + 1, assignee=None, assigned_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        fresh = find_claim(session, ref)
        session.refresh(fresh)
        raise ReviewConflict(
            f"claim {ref} {_who_changed(session, fresh)} since you looked (revision {fresh.revision}, you saw "
            f"{seen}); nothing was saved. Run `factcheck claims show {ref}` and review again with "
            f"--expect-revision {fresh.revision}"
        )
    held_until = claim.assigned_until
    session.refresh(claim)
    v = Verdict(claim_id=claim.id, run_id=None, kind="human", reviewer=who, label=label,
                rating=rating.name if rating else None, confidence=None,
                rationale=note.strip(), note=note.strip(), first_hand=None, quotes=resolved,
                signals={"revision": claim.revision}, created_at=now)
    session.add(v)
    session.flush()
    released = holder
    if holder is not None:
        audit.record(session, actor=who, action="claim.release", entity="claim", entity_id=claim.id,
                     claim_id=claim.id, before={"assignee": holder, "assigned_until": held_until},
                     after={"assignee": None, "reason": "reviewed"})
    audit.record(
        session, actor=who, action="verdict.human", entity="verdict", entity_id=v.id, claim_id=claim.id,
        before=previous,
        after={"label": label, **({"rating": rating.name} if rating else {}), "note": v.note, "revision": claim.revision, "seen_revision": seen,
               "quotes": [{k: q[k] for k in ("url", "snapshot_sha256", "start", "end")} for q in resolved]},
    )
    return ReviewResult(claim_id=claim.id, key=claim.key, verdict_id=v.id, label=label, reviewer=who,
                        revision=claim.revision, previous=previous, released=released, quotes=resolved,
                        rating=v.rating)


def review_many(
    session: Session,
    seen: list[tuple[str, int | None]],
    *,
    label: str | None,
    note: str,
    by: str | None,
    rating: Rating | None = None,
    take_over: bool = False,
) -> list[ReviewResult]:
    """One verdict on several claims (the queue's bulk verdict): `seen` pairs each claim with the revision the
    reviewer looked at. All or nothing, one `verdict.human` event per claim; a claim someone else holds is
    refused unless `take_over`."""
    who = _need_identity(by, "reviewing")
    if not seen:
        raise TriageError("select at least one claim")
    results = []
    for ref, revision in seen:
        claim = find_claim(session, ref)
        holder = live_assignee(claim)
        if holder is not None and holder != who and not take_over:
            raise TriageError(f"{ref} is assigned to {holder}; nothing was saved. Tick “review anyway” to record "
                              "your verdict on claims others hold")
        results.append(review(session, ref, label=label, note=note, by=who, expect_revision=revision,
                              rating=rating))
    return results


# ---------------------------------------------------------------- audit log


def audit_events(session: Session, *, claim: str | None = None, limit: int | None = None,
                 claim_id: int | None = None) -> list[dict[str, Any]]:
    """Events oldest first (the last `limit` if given), with the claim's key for people to read; only those of
    one claim when `claim` (a reference) or `claim_id` (its row id) is given."""
    q = select(AuditEvent)
    if claim:
        claim_id = find_claim(session, claim).id
    if claim_id is not None:
        q = q.where(AuditEvent.claim_id == claim_id)
    if limit:
        q = q.order_by(AuditEvent.id.desc()).limit(limit)
        events = list(reversed(list(session.execute(q).scalars())))
    else:
        events = list(session.execute(q.order_by(AuditEvent.id)).scalars())
    return event_dicts(session, events)


def event_dicts(session: Session, events: list[AuditEvent]) -> list[dict[str, Any]]:
    """Audit events as plain dicts, each with its claim's key for people to read (one query per 500)."""
    keys: dict[int, str] = {}
    cids = sorted({e.claim_id for e in events if e.claim_id is not None})
    for i in range(0, len(cids), 500):
        for cid, key in session.execute(select(Claim.id, Claim.key).where(Claim.id.in_(cids[i : i + 500]))):
            keys[cid] = key
    return [
        {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "entity": e.entity,
         "entity_id": e.entity_id, "claim": keys.get(e.claim_id) if e.claim_id is not None else None,
         "before": e.before, "after": e.after, "hash": e.hash, "prev_hash": e.prev_hash}
        for e in events
    ]
