"""Attaching evidence to claims: a URL (captured through the fetcher) or a saved file (archived and
extracted like a case file's saved pages), tied to the claim and, through the page's source, to the
claim's citation of that source.

`attach` ties one page to claims inside the caller's transaction (a URL is only queued: fetching stays
with `factcheck.desk.capture`, so every fetch goes through the same policies and records); `add_evidence`
is the whole `factcheck evidence add`: tie, capture, then judge the claim again in a new run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from factcheck.desk import audit, records
from factcheck.desk.capture import FetchRow, fetch_pending, pending_requests
from factcheck.desk.claims import claim_dict, find_claim
from factcheck.desk.db import Desk
from factcheck.desk.evidence import EvidenceError, latest_snapshot, read_file_capped, store_capture
from factcheck.desk.models import Claim, ClaimEvidence, EvidenceUrl, Snapshot, Source, Verdict
from factcheck.desk.sources import find_source, merge_source, source_for_domain
from factcheck.desk.sources import name_key as _norm
from factcheck.documents.fetch import Fetcher
from factcheck.settings import Settings

__all__ = ["AddResult", "Attached", "EvidenceError", "QueuedAdd", "add_evidence", "add_evidence_queued", "attach",
           "cites", "is_url", "local_file"]

VIA = "evidence-add"  # how records written here name their path in the audit trail


def is_url(ref: str) -> bool:
    return ref.startswith(("http://", "https://"))


def local_file(ref: str) -> Path:
    """The saved page `ref` names, refused with one clear line when it is not a readable file."""
    p = Path(ref)
    if not p.exists():
        raise EvidenceError(f"{ref}: no such file (evidence is a URL starting with http:// or https://, or a file)")
    if not p.is_file():
        raise EvidenceError(f"{ref}: not a file")
    return p.resolve()


def cites(claim: Claim, source: Source) -> bool:
    """Whether the claim cites `source`: by name, by the registry link, or as the outlet it came through."""
    names = {_norm(source.name), *(_norm(a) for a in source.aliases or [])}
    return any(ci.source_id == source.id or _norm(ci.name) in names or (ci.via and _norm(ci.via) in names)
               for ci in claim.citations)


@dataclass
class Attached:
    """One page tied to claims: its evidence URL, the source it speaks for and what was stored."""

    url: str
    source: str | None
    file: str | None
    claims: list[str] = field(default_factory=list)  # claim keys newly tied
    snapshot_sha256: str | None = None  # a file's capture (a URL's comes with the fetch)
    snapshot_created: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "source": self.source, "file": self.file, "claims": self.claims,
                "snapshot_sha256": self.snapshot_sha256}


def _source_for(session: Session, settings: Settings, name: str | None, url: str, title: str | None,
                claims: Sequence[Claim], actor: str) -> Source | None:
    """The source a page speaks for: the one named (looked up, else added to the registry unreviewed),
    else the registry source of the URL's domain, else the one cited source of `claims` the page's title
    names. None when none of these says; the page can then support a claim only by naming its source."""
    if name:
        src = find_source(session, name)
        if src is None:
            src, _ = merge_source(session, name=name.strip()[:200], actor=actor, reviewed=False)
        return src
    host = urlparse(url).hostname if is_url(url) else None
    if host:
        by_domain = source_for_domain(session, host)
        if by_domain is not None:
            return by_domain
    if title:
        t = _norm(title)
        named = {ci.source_id for c in claims for ci in c.citations if ci.source_id is not None}
        hits = [s for s in (session.get(Source, i) for i in sorted(named))
                if s is not None and any(f" {n} " in f" {t} " for n in {_norm(s.name), *map(_norm, s.aliases or [])})]
        if len(hits) == 1:
            return hits[0]
    return None


def attach(session: Session, settings: Settings, claims: Sequence[Claim], ref: str, *, actor: str,
           source: str | None = None, only_citing: bool = False, via: str = VIA) -> Attached:
    """Tie the page `ref` (URL or local file) to `claims`, inside the caller's transaction.

    A file is stored at once (archive, extraction, passages) under its file:// URL; a URL is queued for the
    fetcher. With `source`, the page speaks for that source (its evidence URL and captures carry the
    source, which is how a claim's citation of it finds the page first-hand); with `only_citing`, only the
    claims that cite it are tied. Claim changes go through `records.upsert_claim`, so they are audited
    like every other claim change."""
    path = None if is_url(ref) else local_file(ref)
    url = path.as_uri() if path else ref
    title = None
    body = None
    if path is not None:
        body = read_file_capped(path, settings.max_bytes)
        known = latest_snapshot(session, url)
        title = known.title if known is not None else _peek_title(body, path)
    src = _source_for(session, settings, source, url, title, claims, actor)
    targets = [c for c in claims if src is not None and cites(c, src)] if only_citing else list(claims)
    eu = records.queue_evidence_url(session, url, src.id if src else None, actor, str(path) if path else None,
                                    via=via)
    if eu.source_id is not None:
        # captures made before the page's source was known speak for it from now on (retrieval reads the
        # source off the snapshot); the evidence URL's gain was audited by queue_evidence_url
        session.execute(update(Snapshot).where(Snapshot.evidence_url_id == eu.id, Snapshot.source_id.is_(None))
                        .values(source_id=eu.source_id))
    speaks_for = session.get(Source, eu.source_id) if eu.source_id is not None else None
    done = Attached(url=url, source=speaks_for.name if speaks_for else None, file=str(path) if path else None)
    if path is not None and body is not None:
        snap, created = store_capture(session, settings, url=url, body=body, origin="file", evidence_url=eu,
                                      filename=path.name)
        if created:
            audit.record(session, actor=actor, action="evidence.capture", entity="evidence_url",
                         entity_id=eu.id, after={"url": url, "file": str(path), "sha256": snap.sha256})
        eu.status = "captured"
        done.snapshot_sha256, done.snapshot_created = snap.sha256, created
    for claim in targets:
        if _tie(session, claim, eu, actor, via):
            done.claims.append(claim.key)
    return done


def _peek_title(body: bytes, path: Path) -> str | None:
    from factcheck.documents.extract import ExtractionError, extract_bytes  # heavy: only for files

    try:
        return extract_bytes(body, filename=path.name).title
    except ExtractionError as exc:
        raise EvidenceError(f"{path}: {exc}") from None


def _tie(session: Session, claim: Claim, eu: EvidenceUrl, actor: str, via: str) -> bool:
    """Link the claim to the evidence URL (audited as a claim change); False if it was linked already."""
    state = records.claim_state(claim, session)
    if eu.url in state["evidence"]:
        return False
    assert claim.case is not None
    records.upsert_claim(
        session, claim.case, claim.key, claim.text, actor=actor, citations=state["cited"],
        evidence_urls=[records.EvidenceRef(u) for u in [*state["evidence"], eu.url]], via=via)
    return True


@dataclass
class AddResult:
    """What `evidence add` did: the page tied, its capture, and the claim's new verdict."""

    claim: dict[str, Any]
    attached: Attached
    fetch: FetchRow | None
    run_id: int

    def as_dict(self) -> dict[str, Any]:
        return {"claim": self.claim, "evidence": self.attached.as_dict()
                | {"snapshot_sha256": self.snapshot_sha256, "fetch": self.fetch.as_dict() if self.fetch else None},
                "run": self.run_id}

    @property
    def snapshot_sha256(self) -> str | None:
        return self.fetch.snapshot_sha256 if self.fetch else self.attached.snapshot_sha256


def _tie_one(desk: Desk, settings: Settings, claim_ref: str, ref: str, *, actor: str,
             source: str | None) -> tuple[int, Attached]:
    """Tie `ref` to one claim in its own transaction: (the claim's row id, what was tied)."""
    with desk.session() as s:
        claim = s.execute(select(Claim).where(Claim.id == find_claim(s, claim_ref).id)
                          .options(selectinload(Claim.citations), selectinload(Claim.evidence_links),
                                   selectinload(Claim.case))).scalar_one()
        if claim.case is None:
            raise EvidenceError(f"claim {claim_ref!r} belongs to no case; evidence cannot be tied to it")
        claim_id = claim.id
        attached = attach(s, settings, [claim], ref, actor=actor, source=source)
        if not attached.claims:
            linked = s.execute(select(ClaimEvidence).join(EvidenceUrl).where(
                ClaimEvidence.claim_id == claim_id, EvidenceUrl.url == attached.url)).scalar()
            if linked is None:  # pragma: no cover - attach ties every claim given without only_citing
                raise EvidenceError(f"{ref}: could not be tied to claim {claim_ref!r}")
    return claim_id, attached


@dataclass
class QueuedAdd:
    """What `add_evidence_queued` did: the page tied, and the job that fetches it and judges the claim."""

    claim_key: str
    attached: Attached
    job: Any  # desk.jobs.Enqueued

    def as_dict(self) -> dict[str, Any]:
        return {"claim": self.claim_key, "evidence": self.attached.as_dict(), "job": self.job.as_dict()}


def add_evidence_queued(desk: Desk, settings: Settings, claim_ref: str, ref: str, *, actor: str,
                        source: str | None = None) -> QueuedAdd:
    """`add_evidence` on a desk with workers: tie the page here, queue its fetch and the claim's judging
    (`desk.jobs`); a saved file is archived here and only the judging is queued."""
    from factcheck.desk.jobs import enqueue_claim_evidence

    claim_id, attached = _tie_one(desk, settings, claim_ref, ref, actor=actor, source=source)
    job = enqueue_claim_evidence(desk, settings, claim_id, attached.url, actor=actor)
    with desk.session() as s:
        c = s.get(Claim, claim_id)
        key = c.key if c is not None else claim_ref
    return QueuedAdd(claim_key=key, attached=attached, job=job)


def add_evidence(desk: Desk, settings: Settings, claim_ref: str, ref: str, *, actor: str,
                 source: str | None = None, fetcher: Fetcher | None = None) -> AddResult:
    """Tie `ref` to one claim, capture it (a URL through the fetcher's policies: robots, delays, size cap,
    address guard), then judge the claim again in a new verification run."""
    from factcheck.desk.verify import verify

    claim_id, attached = _tie_one(desk, settings, claim_ref, ref, actor=actor, source=source)
    row = None
    if is_url(attached.url):
        reqs = [r for r in pending_requests(desk, settings) if r.url == attached.url]
        if reqs:
            summary = fetch_pending(desk, settings, actor=actor, requests=reqs, fetcher=fetcher)
            row = summary.rows[0] if summary.rows else None
            if row is not None and row.outcome in ("failed", "skipped"):
                detail = f": {row.detail}" if row.detail else ""
                raise EvidenceError(f"{attached.url}: fetch {row.outcome} ({row.reason or 'no body'}){detail}; "
                                    "the page stays tied to the claim and queued (`factcheck fetch` retries it)")
    result = verify(desk, settings, actor=actor, claim_ids=[claim_id])
    with desk.session() as s:
        c = s.get(Claim, claim_id)
        assert c is not None
        v = s.execute(select(Verdict).where(Verdict.claim_id == claim_id, Verdict.run_id == result.run_id)).scalar()
        d = claim_dict(s, c, verdict=v)
    return AddResult(claim=d, attached=attached, fetch=row, run_id=result.run_id)
