"""One verification run for one article: the job `factcheck check` does in a newsroom pipeline.

Ingest the article (file or URL), tie the evidence given to its claims, fetch what its claims point at and
is not captured yet (politely, through `factcheck.desk.capture`), judge every claim of the article in a new
run, and say whether a person must look. Each step is the desk's own (ingest, attach, capture, verify), so
a `check` leaves the same rows and audit events as the five commands it replaces, and running it again on
the same article re-uses the archive (nothing already captured is fetched again) and records a new run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from factcheck.desk.attach import Attached, attach
from factcheck.desk.capture import FetchSummary, fetch_pending, pending_requests
from factcheck.desk.claims import claim_dict
from factcheck.desk.db import Desk
from factcheck.desk.ingest import IngestSummary, ingest
from factcheck.desk.models import Claim, ClaimEvidence, EvidenceUrl, Run, Verdict
from factcheck.desk.verify import verify
from factcheck.documents.fetch import Fetcher
from factcheck.errors import FactcheckError
from factcheck.settings import Settings

__all__ = ["FAIL_ON", "CheckResult", "DemoJob", "EvidenceGiven", "check_article", "fails", "load_demo"]

FAIL_ON = ("contested", "unverified", "never")
"""`--fail-on` levels: contested (a contested claim needs a person), unverified (so does any claim not
verified), never."""


@dataclass(frozen=True)
class EvidenceGiven:
    """A page given on the command line: for every claim of the article (`source` None), or as the page of
    the source `source`, tied to the claims that cite it."""

    ref: str
    source: str | None = None


@dataclass
class CheckResult:
    ingest: IngestSummary
    run_id: int | None  # None when the article makes no claim to judge
    settings: dict[str, Any]
    claims: list[dict[str, Any]]
    counts: dict[str, int]
    attached: list[Attached] = field(default_factory=list)
    fetch: FetchSummary = field(default_factory=FetchSummary)
    notes: list[str] = field(default_factory=list)

    @property
    def fetch_failed(self) -> list[str]:
        """Evidence URLs the fetcher could not get (network, HTTP errors): their claims were judged without them."""
        return [r.url for r in self.fetch.rows if r.outcome == "failed"]

    def as_dict(self) -> dict[str, Any]:
        s = self.ingest
        return {
            "article": {"id": s.article_id, "case": s.case, "title": s.title, "outlet": s.outlet,
                        "language": s.language, "published": s.published, "snapshot_sha256": s.snapshot_sha256},
            "run": self.run_id,
            "settings": self.settings,
            "counts": dict(self.counts),
            "claims": [{"id": c["id"], "verdict": c["verdict"], "confidence": c["confidence"],
                        "cited": c["cited"], "quotes": c["evidence"]} for c in self.claims],
            "evidence": [a.as_dict() for a in self.attached],
            "fetch": [r.as_dict() for r in self.fetch.rows],
            "notes": list(self.notes),
        }


def fails(counts: dict[str, int], fail_on: str) -> bool:
    """Whether a claim reached the `fail_on` level (see FAIL_ON)."""
    if fail_on not in FAIL_ON:
        raise FactcheckError(f"fail-on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    if fail_on == "never":
        return False
    if counts.get("contested", 0):
        return True
    return fail_on == "unverified" and counts.get("unverified", 0) > 0


def check_article(
    desk: Desk, settings: Settings, article: str, *, actor: str, evidence: Sequence[EvidenceGiven] = (),
    case: str | None = None, fetcher: Fetcher | None = None,
) -> CheckResult:
    """Ingest, tie, fetch, judge (see the module docstring). The desk must exist (the CLI creates it)."""
    summary = ingest(desk, settings, article, actor=actor, case=case, fetcher=fetcher)
    keys = [c.id for c in summary.claims]
    notes: list[str] = []
    attached: list[Attached] = []
    with desk.session() as s:
        rows = list(s.execute(
            select(Claim).where(Claim.article_id == summary.article_id, Claim.key.in_(keys))
            .options(selectinload(Claim.citations), selectinload(Claim.evidence_links), selectinload(Claim.case))
            .order_by(Claim.start, Claim.id)
        ).scalars())
        for given in evidence:
            done = attach(s, settings, rows, given.ref, actor=actor, source=given.source,
                          only_citing=given.source is not None, via="check")
            attached.append(done)
            if given.source is not None and not any(
                    row.key in done.claims or _tied(s, row.id, done.url) for row in rows):
                notes.append(f"no claim of the article cites {given.source!r}; {given.ref} was not tied to any")
        ids = [c.id for c in rows]
        urls = set(s.execute(
            select(EvidenceUrl.url).join(ClaimEvidence, ClaimEvidence.evidence_url_id == EvidenceUrl.id)
            .where(ClaimEvidence.claim_id.in_(ids))
        ).scalars()) if ids else set()
    reqs = [r for r in pending_requests(desk, settings) if r.url in urls]
    fetched = fetch_pending(desk, settings, actor=actor, requests=reqs, fetcher=fetcher) if reqs else FetchSummary()
    if not ids:
        notes.append("the article makes no claim worth checking (nothing to judge)")
    run = verify(desk, settings, actor=actor, claim_ids=ids) if ids else None
    claims: list[dict[str, Any]] = []
    settings_used: dict[str, Any] = {}
    if run is not None:
        with desk.session() as s:
            run_row = s.get(Run, run.run_id)
            settings_used = dict(run_row.settings or {}) if run_row else {}
            verdicts = {v.claim_id: v for v in s.execute(
                select(Verdict).where(Verdict.run_id == run.run_id)).scalars()}
            for cid in ids:
                c = s.get(Claim, cid)
                assert c is not None
                d = claim_dict(s, c, verdict=verdicts.get(cid))
                d["start"], d["end"] = c.start, c.end
                claims.append(d)
    counts = dict(run.counts) if run else {"verified": 0, "unverified": 0, "contested": 0}
    return CheckResult(ingest=summary, run_id=run.run_id if run else None, settings=settings_used, claims=claims,
                       counts=counts, attached=attached, fetch=fetched, notes=notes)


def _tied(session: Any, claim_id: int, url: str) -> bool:
    return session.execute(select(ClaimEvidence.id).join(EvidenceUrl).where(
        ClaimEvidence.claim_id == claim_id, EvidenceUrl.url == url)).first() is not None


@dataclass
class DemoJob:
    """The bundled demo (claims/demo.yaml): an article, its sources' saved pages, the verdicts expected."""

    article: Path
    evidence: list[EvidenceGiven]
    expected: dict[str, str]  # words of a claim -> verdict


def load_demo(path: Path) -> DemoJob:
    """Read the demo's job file; its paths are relative to it (a wheel carries them as package data)."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    base = path.parent

    def resolved(rel: str) -> Path:
        p = (base / rel).resolve()
        if not p.is_file():
            raise FactcheckError(f"this factcheck install lacks the demo file {rel} (reinstall the package)")
        return p

    return DemoJob(
        article=resolved(data["article"]),
        evidence=[EvidenceGiven(str(resolved(f)), name) for name, f in (data.get("sources") or {}).items()],
        expected={str(k): str(v) for k, v in (data.get("expected") or {}).items()},
    )
