"""Claims written by hand on the desk: a claim an ingest missed, and a checker's restatement of a claim.

Both go through `records.upsert_claim`, so they write the same rows and audit events (`claim.create`,
`claim.update` with before → after) as case import and ingest, and an edit bumps the claim's revision
(a reviewer who looked at the old wording is then asked to look again).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from factcheck.desk import records
from factcheck.desk.claims import find_claim
from factcheck.desk.models import Article, Case, Claim
from factcheck.desk.sources import find_source, merge_source
from factcheck.errors import FactcheckError
from factcheck.text.language import detect_language

VIA = "manual"  # how records written by hand name their path in the audit trail
MANUAL_CASE = "desk"  # the case hand-written claims go to on a desk that has no case yet


class AuthoringError(FactcheckError):
    pass


def _case_for(session: Session, article: Article | None, case: str | None, actor: str) -> Case:
    if article is not None:
        found = session.get(Case, article.case_id) if article.case_id else None
        if found is None:
            raise AuthoringError(f"article {article.id} belongs to no case")
        if case and found.key != case:
            raise AuthoringError(f"article {article.id} is in case {found.key!r}, not {case!r}")
        return found
    if case:
        found = session.execute(select(Case).where(Case.key == case)).scalar()
        if found is None:
            raise AuthoringError(f"no case {case!r} on this desk (see `factcheck claims list`)")
        return found
    cases = list(session.execute(select(Case).order_by(Case.id).limit(2)).scalars())
    if len(cases) > 1:
        raise AuthoringError("this desk holds several cases; say which with --case or --article")
    if cases:
        return cases[0]
    return records.ensure_case(session, MANUAL_CASE, "Claims added by hand", actor, via=VIA)[0]


def _citations(session: Session, cited: Sequence[str], actor: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for raw in cited:
        name = " ".join(raw.split())
        if not name:
            raise AuthoringError("a cited source needs a name")
        src = find_source(session, name)
        if src is None:  # a new name: an unreviewed registry entry, as ingest makes them
            src, _ = merge_source(session, name=name[:200], actor=actor, reviewed=False)
        row = records.citation_row(src.name, source_id=src.id)
        if row not in rows:
            rows.append(row)
    return rows


def add_claim(
    session: Session, text: str, *, cited: Sequence[str], actor: str, article: int | None = None,
    case: str | None = None, statement: str | None = None,
) -> Claim:
    """A new claim, numbered after its article's claims (`A3-8`) or, without an article, `M1`, `M2`… in its
    case. Refused when the case already holds the same sentence (its id is named)."""
    text = text.strip()
    if not text:
        raise AuthoringError("a claim needs its text")
    art = session.get(Article, article) if article is not None else None
    if article is not None and art is None:
        raise AuthoringError(f"no article {article} on this desk")
    case_row = _case_for(session, art, case, actor)
    fingerprint = records.claim_fingerprint(text)
    taken_rows = session.execute(select(Claim.key, Claim.fingerprint, Claim.text)
                                 .where(Claim.case_id == case_row.id)).all()
    for key, fp, other in taken_rows:
        if fp == fingerprint or records.claim_fingerprint(other) == fingerprint:
            raise AuthoringError(f"case {case_row.key!r} already has this claim as {key}")
    key = records.next_claim_key({k for k, _, _ in taken_rows}, f"A{art.id}-" if art else "M")
    claim, _, _ = records.upsert_claim(
        session, case_row, key, text, actor=actor, article_id=art.id if art else None,
        statement=(statement or "").strip() or None, language=detect_language(text),
        fingerprint=fingerprint, citations=_citations(session, cited, actor), via=VIA)
    return claim


def edit_claim(session: Session, ref: str, *, actor: str, statement: str | None) -> tuple[Claim, bool]:
    """Set (or, with an empty text, clear) the claim's restatement: the English wording the judge reads
    beside the claim's own. Returns (claim, changed)."""
    claim = find_claim(session, ref)
    if claim.case is None:
        raise AuthoringError(f"claim {ref} belongs to no case")
    value = (statement or "").strip() or None
    cited = [records.citation_row(**{k: getattr(ci, k) for k in records.CITATION_FIELDS}) for ci in claim.citations]
    evidence = [records.EvidenceRef(link.evidence_url.url, link.evidence_url.source_id)
                for link in claim.evidence_links]
    claim, _, changed = records.upsert_claim(session, claim.case, claim.key, claim.text, actor=actor,
                                             statement=value, citations=cited, evidence_urls=evidence, via=VIA)
    return claim, changed
