"""Reading claims back: the stable JSON shape that listings, verify, triage and reports share."""

from __future__ import annotations

from collections.abc import Callable, Container, Hashable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from factcheck.desk.models import Case, Claim, EvidenceUrl, Run, Verdict
from factcheck.errors import FactcheckError


class UnknownClaim(FactcheckError):
    pass


class VerdictRef(Protocol):
    """What the current-verdict rule looks at: a `Verdict` row, a report's `ReportVerdict`, a query row."""

    @property
    def id(self) -> int: ...

    @property
    def kind(self) -> str: ...

    @property
    def run_id(self) -> int | None: ...


V = TypeVar("V", bound=VerdictRef)

VERDICT_PRECEDENCE = {"human": 1, "machine": 0}
"""Verdict kinds that can be a claim's current verdict, the higher outranking the lower."""


def verdict_precedence(v: VerdictRef, finished_runs: Container[int]) -> tuple[int, int] | None:
    """Sort key of the one rule for a claim's current verdict (greatest wins), None for one that never counts.

    A reviewer's verdict stands over every machine verdict, also over machine runs made after the review
    (a changed source puts the claim back in the triage queue; it does not undo the review); among
    verdicts of the same kind the newest (highest id: verdicts are append-only) wins. A machine verdict
    counts only once its run has finished: a run still going, or interrupted (its process killed), has
    judged only part of what it set out to, with nobody to vouch for the rest.
    """
    rank = VERDICT_PRECEDENCE.get(v.kind)
    if rank is None:
        return None
    if v.kind == "machine" and (v.run_id is None or v.run_id not in finished_runs):
        return None
    return (rank, v.id)


def pick_current(verdicts: Iterable[V], *, finished_runs: Container[int]) -> V | None:
    """The claim's current verdict among `verdicts` (all of one claim, any order), or None when none counts.

    `finished_runs` holds the ids of the runs that finished (`finished_run_ids`). The only place the rule is
    applied: `current_verdict`, triage's `current_verdicts` and the report's model all call this.
    """
    best: V | None = None
    best_key: tuple[int, int] | None = None
    for v in verdicts:
        key = verdict_precedence(v, finished_runs)
        if key is not None and (best_key is None or key > best_key):
            best, best_key = v, key
    return best


def finished_run_ids(session: Session) -> set[int]:
    """Ids of the runs whose machine verdicts may count (see `verdict_precedence`)."""
    return set(session.execute(select(Run.id).where(Run.finished_at.is_not(None))).scalars())


def current_verdict(session: Session, claim_id: int) -> Verdict | None:
    """The claim's current verdict (see `pick_current`): the newest human one, else the newest machine one."""
    rows = session.execute(
        select(Verdict.id, Verdict.kind, Verdict.run_id).where(Verdict.claim_id == claim_id)).all()
    chosen = pick_current(rows, finished_runs=finished_run_ids(session))
    return session.get(Verdict, chosen.id) if chosen is not None else None


def quote_spans(quotes: Iterable[Any] | None) -> tuple[tuple[Any, Any, Any], ...]:
    """Where a verdict's quotes sit (snapshot, start, end), whether quotes are stored dicts or report objects."""
    out = []
    for q in quotes or ():
        get = q.get if isinstance(q, dict) else (lambda k, q=q: getattr(q, k, None))
        out.append((get("snapshot_sha256"), get("start"), get("end")))
    return tuple(out)


def repeat_key(kind: str, label: str, rationale: str | None, quotes: Iterable[Any] | None) -> Hashable | None:
    """What makes two verdicts in a row "the same reading": machine runs with one label, one rationale and the
    same quoted spans. Human verdicts never fold (each is somebody's decision). None means "never folds"."""
    if kind != "machine":
        return None
    return (label, rationale, quote_spans(quotes))


T = TypeVar("T")


def fold_repeats(history: Sequence[T], key: Callable[[T], Hashable | None]) -> list[tuple[T, T, int]]:
    """The history with runs in a row that said the same thing (`repeat_key`) shown once: (first, last, count)
    per row, oldest first; nothing is dropped, only folded (the counts add up to the history's length)."""
    out: list[tuple[T, T, int]] = []
    last_key: Hashable | None = None
    for item in history:
        k = key(item)
        if out and k is not None and k == last_key:
            first, _, n = out[-1]
            out[-1] = (first, item, n + 1)
            continue
        out.append((item, item, 1))
        last_key = k
    return out


def verdict_repeat_key(v: Verdict) -> Hashable | None:
    return repeat_key(v.kind, v.label, v.rationale, v.quotes)


def verdict_history(session: Session, claim_id: int) -> list[Verdict]:
    return list(session.execute(select(Verdict).where(Verdict.claim_id == claim_id).order_by(Verdict.id)).scalars())


def find_claim(session: Session, ref: str) -> Claim:
    """`ID` (the case's claim id, or an ingested claim's older hash id) or `CASE:ID` when several cases share
    an id. Ids and case names may hold colons themselves: the whole ref is tried as an id first, then each
    colon as the split."""
    splits = [("", ref)] + [(ref[:i], ref[i + 1:]) for i, ch in enumerate(ref) if ch == ":"]
    found: list[Claim] = []
    for column in (Claim.key, Claim.fingerprint):  # the fingerprint: an ingested claim's id before short ids
        for case_key, key in splits:
            if column is Claim.fingerprint and not key.startswith("c-"):
                continue
            q = select(Claim).where(column == key).options(selectinload(Claim.citations))
            if case_key:
                q = q.join(Case, Claim.case_id == Case.id).where(Case.key == case_key)
            found = list(session.execute(q).scalars())
            if found:
                break
        if found:
            break
    if not found and ref.isascii() and ref.isdigit() and len(ref) <= 9:  # a row id (as the web desk shows)
        c = session.get(Claim, int(ref))
        if c is not None:
            return c
    if not found:
        raise UnknownClaim(f"no claim {ref!r} on this desk (see `factcheck claims list`)")
    if len(found) > 1:
        keys = ", ".join(f"{c.case.key}:{c.key}" if c.case else c.key for c in found)
        raise UnknownClaim(f"claim id {ref!r} is in several cases; say which: {keys}")
    return found[0]


def decided_by(v: Any) -> str:
    """Who a verdict is by, in words: the reviewer for a person's, the run for the machine's."""
    return f"reviewer {v.reviewer}" if v.kind == "human" else f"run {v.run_id}"


def verdict_dict(v: Verdict | None) -> dict[str, Any]:
    if v is None:
        return {"verdict": None, "rating": None, "confidence": None, "rationale": None, "evidence": [], "decided_by": None}
    return {
        "verdict": v.label,
        "rating": v.rating,
        "confidence": v.confidence,
        "rationale": v.rationale,
        "evidence": [
            {k: q.get(k) for k in ("url", "snapshot_sha256", "quote", "start", "end", "source", "role")}
            for q in v.quotes or []
        ],
        "decided_by": decided_by(v),
    }


def claim_dict(session: Session, c: Claim, *, verdict: Verdict | None = None, with_verdict: bool = True) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": c.key,
        "case": c.case.key if c.case else None,
        "text": c.text,
        "statement": c.statement,
        "cited": [ci.name for ci in c.citations],
        "attribution": [ci.phrase for ci in c.citations if ci.phrase],
        "checkworthiness": c.checkworthiness,
        "expected": c.expected,
        "tags": [t.tag for t in c.tags],
    }
    if with_verdict:
        d.update(verdict_dict(verdict if verdict is not None else current_verdict(session, c.id)))
    return d


def case_claim_ids(session: Session, *, case: str | None = None) -> list[int]:
    """The ids of list_claims(case=case), without loading the claims (what a verification run starts from)."""
    q = select(Claim.id).order_by(Claim.id)
    if case:
        q = q.where(Claim.case_id == _case_id(session, case))
    return list(session.execute(q).scalars())


def _case_id(session: Session, case: str) -> int:
    found = session.execute(select(Case.id).where(Case.key == case)).scalar()
    if found is None:
        raise UnknownClaim(f"no case {case!r} on this desk")
    return found


def list_claims(session: Session, *, case: str | None = None, ids: Iterable[int] | None = None,
                limit: int | None = None) -> list[Claim]:
    """Claims in id order: all, one case's, and/or only those with the given ids (a search's or a tag's);
    with `limit`, only the first that many."""
    q = (select(Claim).options(selectinload(Claim.citations), selectinload(Claim.case), selectinload(Claim.tags))
         .order_by(Claim.id))
    if case:
        q = q.where(Claim.case_id == _case_id(session, case))
    if ids is not None:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        out: list[Claim] = []
        for i in range(0, len(wanted), 500):
            out += session.execute(q.where(Claim.id.in_(wanted[i : i + 500]))).scalars()
            if limit is not None and len(out) >= limit:
                break
        return sorted(out, key=lambda c: c.id)[:limit]
    return list(session.execute(q.limit(limit)).scalars())


def claim_evidence_urls(session: Session, c: Claim) -> list[EvidenceUrl]:
    out = []
    for link in c.evidence_links:
        eu = session.get(EvidenceUrl, link.evidence_url_id)
        if eu is not None:
            out.append(eu)
    return out
