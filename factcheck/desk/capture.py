"""Fetching the desk's evidence: pending URLs go through the fetcher's policies, every result is recorded.

Each result is committed on its own, so an interrupted or failing batch keeps everything fetched so far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from factcheck import __version__
from factcheck.desk import audit
from factcheck.desk.db import Desk
from factcheck.desk.evidence import EvidenceError, latest_snapshot, store_capture
from factcheck.desk.models import EvidenceUrl, FetchAttempt, Snapshot, utcnow
from factcheck.documents.fetch import Fetcher, FetchPolicy, FetchRequest, FetchResult
from factcheck.settings import Settings
from factcheck.text.urls import normalise_url


def policy_from_settings(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        user_agent=str(settings.user_agent).replace("{version}", __version__),
        contact=settings.contact or None,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_bytes=settings.max_bytes,
        max_redirects=settings.max_redirects,
        retries=settings.retries,
        backoff=settings.backoff,
        per_host_delay=settings.per_host_delay,
        concurrency=max(1, settings.concurrency),
        obey_robots=settings.obey_robots,
        allow_private_addresses=settings.allow_private_addresses,
    )


@dataclass
class FetchRow:
    url: str
    outcome: str
    http_status: int | None
    reason: str | None
    snapshot_sha256: str | None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "outcome": self.outcome, "http_status": self.http_status,
                "reason": self.reason, "snapshot_sha256": self.snapshot_sha256}


@dataclass
class FetchSummary:
    rows: list[FetchRow] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out

    def failures_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            if r.outcome in ("failed", "skipped"):
                out[r.reason or "unknown"] = out.get(r.reason or "unknown", 0) + 1
        return out


def pending_requests(desk: Desk, settings: Settings, *, refresh: bool = False,
                     urls: list[str] | None = None) -> list[FetchRequest]:
    """URLs with no capture yet; with refresh also captures older than stale_after_days (fetched ones)."""
    with desk.session() as s:
        q = select(EvidenceUrl).order_by(EvidenceUrl.id)
        if urls:  # in the spelling the desk stores them in (a malformed one is a clear error)
            q = q.where(EvidenceUrl.url.in_([normalise_url(u) for u in urls]))
        reqs = []
        cutoff = utcnow() - timedelta(days=settings.stale_after_days)
        for eu in s.execute(q).scalars():
            snap = latest_snapshot(s, eu.url)
            if snap is None:
                reqs.append(FetchRequest(eu.url, meta=eu.id))
            elif urls or (refresh and snap.origin == "fetch" and snap.fetched_at <= cutoff):
                reqs.append(FetchRequest(eu.url, etag=_hdr(snap.headers, "etag"),
                                         last_modified=_hdr(snap.headers, "last-modified"), meta=eu.id))
        return reqs


def _hdr(headers: dict[str, Any] | None, name: str) -> str | None:
    for k, v in (headers or {}).items():
        if k.lower() == name:
            return str(v)
    return None


def record_result(desk: Desk, settings: Settings, res: FetchResult, *, actor: str) -> FetchRow:
    """Store one fetch result in its own transaction (snapshot if new bytes, always an attempt row)."""
    outcome, reason, sha = res.outcome, res.reason, None
    with desk.session() as s:
        eu = s.get(EvidenceUrl, res.meta) if res.meta is not None else None
        if eu is None:
            eu = s.execute(select(EvidenceUrl).where(EvidenceUrl.url == res.url)).scalar_one()
        snapshot_id = None
        if res.outcome == "fetched" and res.body is not None:
            try:
                snap, created = store_capture(
                    s, settings, url=eu.url, body=res.body, origin="fetch", evidence_url=eu,
                    fetched_at=res.fetched_at, status=res.http_status, headers=res.headers,
                    final_url=res.final_url, redirects=[list(r) for r in res.redirects],
                    content_type=res.headers.get("Content-Type") or res.content_type,
                )
            except EvidenceError as exc:
                outcome, reason = "failed", "unreadable"
                res.detail = str(exc)
            else:
                snapshot_id, sha = snap.id, snap.sha256
                if not created:
                    outcome = "unchanged"
                else:
                    audit.record(s, actor=actor, action="evidence.fetch", entity="snapshot", entity_id=snap.id,
                                 after={"url": eu.url, "sha256": snap.sha256, "status": res.http_status,
                                        "final_url": res.final_url})
        elif res.outcome == "unchanged":
            snap0 = latest_snapshot(s, eu.url)
            if snap0 is not None:
                snapshot_id, sha = snap0.id, snap0.sha256
        s.add(FetchAttempt(evidence_url_id=eu.id, at=res.fetched_at, outcome=outcome, reason=reason,
                           http_status=res.http_status, snapshot_id=snapshot_id, elapsed=res.elapsed))
        eu.last_outcome, eu.last_reason, eu.last_attempt_at = outcome, reason, res.fetched_at
        has_snapshot = s.execute(
            select(func.count()).select_from(Snapshot).where(Snapshot.url == eu.url)
        ).scalar_one() > 0
        eu.status = "captured" if has_snapshot else ("failed" if outcome == "failed" else "skipped"
                                                     if outcome == "skipped" else eu.status)
    return FetchRow(res.url, outcome, res.http_status, reason, sha, res.detail)


def fetch_pending(
    desk: Desk, settings: Settings, *, actor: str, refresh: bool = False, urls: list[str] | None = None,
    on_row: Callable[[FetchRow], None] | None = None, fetcher: Fetcher | None = None,
    requests: list[FetchRequest] | None = None,
) -> FetchSummary:
    """Fetch and record `requests` (default: what `pending_requests` finds)."""
    reqs = pending_requests(desk, settings, refresh=refresh, urls=urls) if requests is None else requests
    summary = FetchSummary()
    own = fetcher is None
    fetcher = fetcher or Fetcher(policy_from_settings(settings))

    def handle(res: FetchResult) -> None:
        row = record_result(desk, settings, res, actor=actor)
        summary.rows.append(row)
        if on_row:
            on_row(row)

    try:
        fetcher.fetch_many(reqs, on_result=handle)
    finally:
        if own:
            fetcher.close()
    return summary
