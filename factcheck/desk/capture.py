"""Fetching the desk's evidence: pending URLs go through the fetcher's policies, every result is recorded.

Fetching, preparing captures (extraction, WARC records, passages) and storing them run side by side;
results are committed in small batches as they are ready, so an interrupted or failing run keeps
everything stored before the interruption or the failure.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from factcheck import __version__
from factcheck.desk import audit
from factcheck.desk.db import Desk
from factcheck.desk.evidence import (
    Capture,
    EvidenceError,
    PreparedCapture,
    latest_snapshot_ids,
    latest_snapshots,
    prepare_capture,
    store_captures,
)
from factcheck.desk.models import EvidenceUrl, FetchAttempt, Snapshot, utcnow
from factcheck.desk.politeness import desk_fetcher
from factcheck.documents.archive import sha256_hex
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
        evidence = list(s.execute(q).scalars())
        latest = _latest_snapshots(s, [eu.url for eu in evidence])
        reqs = []
        cutoff = utcnow() - timedelta(days=settings.stale_after_days)
        for eu in evidence:
            snap = latest.get(eu.url)
            if snap is None:
                reqs.append(FetchRequest(eu.url, meta=eu.id))
            elif urls or (refresh and snap.origin == "fetch" and snap.fetched_at <= cutoff):
                reqs.append(FetchRequest(eu.url, etag=_hdr(snap.headers, "etag"),
                                         last_modified=_hdr(snap.headers, "last-modified"), meta=eu.id))
        return reqs


_latest_ids = latest_snapshot_ids
_latest_snapshots = latest_snapshots


def _hdr(headers: dict[str, Any] | None, name: str) -> str | None:
    for k, v in (headers or {}).items():
        if k.lower() == name:
            return str(v)
    return None


def record_result(desk: Desk, settings: Settings, res: FetchResult, *, actor: str,
                  prepared: PreparedCapture | EvidenceError | None = None) -> FetchRow:
    """Store one fetch result in its own transaction (snapshot if new bytes, always an attempt row)."""
    with desk.session() as s:
        return _record(s, settings, res, actor=actor, prepared=prepared)


def _record(s: Session, settings: Settings, res: FetchResult, *, actor: str,
            prepared: PreparedCapture | EvidenceError | None) -> FetchRow:
    """One fetch result inside the caller's transaction. `prepared`: the capture's extraction and WARC
    record made beforehand (`prepare_result`), or the EvidenceError that making them raised."""
    return _record_many(s, settings, [(res, prepared)], actor=actor)[0]


def _record_many(s: Session, settings: Settings, items: list[tuple[FetchResult, PreparedCapture | EvidenceError | None]],
                 *, actor: str) -> list[FetchRow]:
    """`_record` of several results, in order, in a fixed number of statements per batch rather than about ten
    per result (their evidence URLs, their latest snapshots, the new snapshots, passages and terms at once:
    `store_captures`). The desk-wide audit lock (PostgreSQL) is taken once the snapshots and their passages
    are written, before their term counts: every writer on the desk, inline or worker, waits for what a batch
    does under it, and rows only this transaction can see need no lock (term rows are shared: counted under
    it, so that two writers never deadlock)."""
    eus = _evidence_urls(s, [res for res, _ in items])
    urls = sorted({eus[i].url for i in range(len(items))})
    latest: dict[str, Snapshot | None] = dict(latest_snapshots(s, urls))
    plans: list[tuple[str, str | None, int | None]] = []  # outcome, reason, index into `captures`
    captures: list[Capture] = []
    for i, (res, prepared) in enumerate(items):
        eu = eus[i]
        outcome, reason, at = res.outcome, res.reason, None
        if res.outcome == "fetched" and res.body is not None:
            if isinstance(prepared, EvidenceError) and _unchanged(latest.get(eu.url), res.body):
                prepared = None  # the same bytes as the latest capture: nothing is extracted
            if isinstance(prepared, EvidenceError):
                outcome, reason = "failed", "unreadable"
                res.detail = str(prepared)
            else:
                at = len(captures)
                captures.append(Capture(
                    url=eu.url, body=res.body, origin="fetch", evidence_url=eu, fetched_at=res.fetched_at,
                    status=res.http_status, headers=res.headers, final_url=res.final_url,
                    redirects=[list(r) for r in res.redirects], content_type=_content_type(res), prepared=prepared))
        plans.append((outcome, reason, at))
    stored = store_captures(s, settings, captures, latest=latest, before_terms=lambda: audit.hold_appends(s))
    rows = []
    for i, (res, _) in enumerate(items):
        eu = eus[i]
        outcome, reason, at = plans[i]
        snapshot_id, sha = None, None
        if at is not None:
            got = stored[at]
            if isinstance(got, EvidenceError):
                outcome, reason = "failed", "unreadable"
                res.detail = str(got)
            else:
                snap, created = got
                snapshot_id, sha = snap.id, snap.sha256
                if not created:
                    outcome = "unchanged"
                else:
                    audit.record(s, actor=actor, action="evidence.fetch", entity="snapshot", entity_id=snap.id,
                                 after={"url": eu.url, "sha256": snap.sha256, "status": res.http_status,
                                        "final_url": res.final_url})
        elif res.outcome == "unchanged":
            snap0 = latest.get(eu.url)
            if snap0 is not None:
                snapshot_id, sha = snap0.id, snap0.sha256
        s.add(FetchAttempt(evidence_url_id=eu.id, at=res.fetched_at, outcome=outcome, reason=reason,
                           http_status=res.http_status, snapshot_id=snapshot_id, elapsed=res.elapsed))
        eu.last_outcome, eu.last_reason, eu.last_attempt_at = outcome, reason, res.fetched_at
        has_snapshot = latest.get(eu.url) is not None
        eu.status = "captured" if has_snapshot else ("failed" if outcome == "failed" else "skipped"
                                                     if outcome == "skipped" else eu.status)
        rows.append(FetchRow(res.url, outcome, res.http_status, reason, sha, res.detail))
    return rows


def _evidence_urls(s: Session, results: list[FetchResult]) -> list[EvidenceUrl]:
    """Each result's evidence URL (by the id the request carried, else by its URL), in one query or two."""
    ids = sorted({r.meta for r in results if r.meta is not None})
    by_id = {eu.id: eu for eu in s.execute(select(EvidenceUrl).where(EvidenceUrl.id.in_(ids))).scalars()} if ids else {}
    rest = sorted({r.url for r in results if r.meta is None or r.meta not in by_id})
    by_url = {eu.url: eu for eu in s.execute(select(EvidenceUrl).where(EvidenceUrl.url.in_(rest))).scalars()} if rest else {}
    out = []
    for r in results:
        eu = by_id.get(r.meta) if r.meta is not None else None
        if eu is None:
            eu = by_url.get(r.url)
        if eu is None:  # as before: a result for a URL the desk does not hold is an error
            eu = s.execute(select(EvidenceUrl).where(EvidenceUrl.url == r.url)).scalar_one()
        out.append(eu)
    return out


def _content_type(res: FetchResult) -> str | None:
    return res.headers.get("Content-Type") or res.content_type


def _unchanged(latest: Snapshot | None, body: bytes) -> bool:
    return latest is not None and latest.sha256 == sha256_hex(body)


def prepare_result(archive_root: Path, res: FetchResult, latest_sha256: str | None = None
                   ) -> PreparedCapture | EvidenceError | None:
    """The database-free part of storing a fetched page (extraction, WARC record, passages), for a worker.

    None when there is nothing to prepare: no body, or the same bytes as `latest_sha256` (the URL's latest
    capture when the fetch began; the writer checks again). An EvidenceError (the bytes do not extract) is
    returned, not raised: the writer records it as the failure it is. Any other exception is a bug and
    propagates."""
    if res.outcome != "fetched" or res.body is None:
        return None
    if latest_sha256 is not None and (res.sha256 or sha256_hex(res.body)) == latest_sha256:
        return None
    try:
        return prepare_capture(archive_root, url=res.url, body=res.body, origin="fetch",
                               fetched_at=res.fetched_at, status=res.http_status, headers=res.headers,
                               final_url=res.final_url, content_type=_content_type(res))
    except EvidenceError as exc:
        return exc


def _latest_sha256(desk: Desk, urls: list[str]) -> dict[str, str]:
    """Each URL's latest capture hash."""
    with desk.session() as s:
        ids = _latest_ids(s, urls)
        by_id = list(ids.values())
        out: dict[str, str] = {}
        for i in range(0, len(by_id), 500):
            q = select(Snapshot.url, Snapshot.sha256).where(Snapshot.id.in_(by_id[i : i + 500]))
            out.update({url: sha for url, sha in s.execute(q)})
        return out


CAPTURE_WORKERS = 2
"""Workers that extract, archive and split fetched pages while the fetch goes on (see fetch_pending)."""
WRITE_BATCH = 50
"""At most this many results are stored in one transaction."""
WRITE_WAIT = 0.1
"""Seconds the writer waits for more results once one is ready, so that results arriving one by one still
share transactions (each commit also re-reads and records the audit chain's head)."""

_DONE = object()


def _capture_pool(workers: int, processes: bool) -> Executor:
    if not processes:
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="factcheck-capture")
    # not fork: this process runs threads (the fetcher's), and a forked child could inherit a held lock
    if "forkserver" in multiprocessing.get_all_start_methods():
        server = multiprocessing.get_context("forkserver")
        server.set_forkserver_preload(["factcheck.desk.capture", "factcheck.documents.extract", "trafilatura"])
        return ProcessPoolExecutor(max_workers=workers, mp_context=server)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def fetch_pending(
    desk: Desk, settings: Settings, *, actor: str, refresh: bool = False, urls: list[str] | None = None,
    on_row: Callable[[FetchRow], None] | None = None, fetcher: Fetcher | None = None,
    requests: list[FetchRequest] | None = None, capture_workers: int = CAPTURE_WORKERS,
    capture_processes: bool = False, capture_pool: Executor | None = None,
) -> FetchSummary:
    """Fetch and record `requests` (default: what `pending_requests` finds), with `fetcher` or one of the desk's
    (`politeness.desk_fetcher`: on PostgreSQL the per-host delay and robots.txt hold across every process
    fetching for the desk, inline or worker).

    Three stages run side by side: the fetcher's workers fetch (politeness as the fetcher keeps it), a
    small pool of `capture_workers` threads prepares each fetched page (extraction, WARC record,
    passages: no database; threads, or with `capture_processes` worker processes), and the calling thread is the one writer, storing results in batched
    transactions of whatever is ready (SQLite has one writer; one writer also keeps the audit chain in
    order). `on_row` is called in the calling thread after each result is committed. A result whose
    storing fails raises after every result before it is committed; a page that does not extract is a
    `failed`/`unreadable` row like any other failure, and the others are stored. `capture_pool`: threads that
    prepare pages for other calls too (a worker's jobs share the process's), used instead of a pool of this
    call's own: jobs side by side then prepare pages on as many threads as one inline fetch, not as many each."""
    reqs = pending_requests(desk, settings, refresh=refresh, urls=urls) if requests is None else requests
    if not reqs:
        return FetchSummary()
    if fetcher is None:  # the desk's politeness: on PostgreSQL shared with every process fetching for the desk
        with desk_fetcher(desk, policy_from_settings(settings)) as own:
            return _fetch_and_store(desk, settings, reqs, own, actor=actor, on_row=on_row,
                                    capture_workers=capture_workers, capture_processes=capture_processes,
                                    capture_pool=capture_pool)
    return _fetch_and_store(desk, settings, reqs, fetcher, actor=actor, on_row=on_row,
                            capture_workers=capture_workers, capture_processes=capture_processes,
                            capture_pool=capture_pool)


def _fetch_and_store(desk: Desk, settings: Settings, reqs: list[FetchRequest], fetcher: Fetcher, *, actor: str,
                     on_row: Callable[[FetchRow], None] | None, capture_workers: int,
                     capture_processes: bool, capture_pool: Executor | None = None) -> FetchSummary:
    summary = FetchSummary()
    latest = _latest_sha256(desk, sorted({r.url for r in reqs}))
    archive_root = settings.evidence_path
    ready: queue.SimpleQueue[Any] = queue.SimpleQueue()  # (result, prepared | error | Future) or _DONE
    pool = capture_pool or _capture_pool(max(1, capture_workers), capture_processes)
    fetch_error: list[BaseException] = []
    handing = threading.Condition()
    unhanded = [0]  # pages given to the pool and not yet in `ready`

    def on_result(res: FetchResult) -> None:  # in the fetch thread: hand the page to a capture worker
        fut = pool.submit(prepare_result, archive_root, res, latest.get(res.url))
        with handing:  # (counted after the submit, which may raise; the end is waited for after the last one)
            unhanded[0] += 1

        def hand(f: Future[Any]) -> None:
            ready.put((res, f))
            with handing:
                unhanded[0] -= 1
                handing.notify_all()

        fut.add_done_callback(hand)

    def fetch_all() -> None:
        try:
            fetcher.fetch_many(reqs, on_result=on_result)
        except BaseException as exc:  # handed to the calling thread
            fetch_error.append(exc)
        finally:
            if capture_pool is None:
                pool.shutdown(wait=True)
            with handing:  # every prepared page is in `ready` before the end mark
                handing.wait_for(lambda: unhanded[0] == 0)
            ready.put(_DONE)

    def write(batch: list[tuple[FetchResult, Future[Any]]]) -> None:
        items: list[tuple[FetchResult, Any]] = []
        bug: BaseException | None = None
        for res, fut in batch:
            try:
                items.append((res, fut.result()))
            except Exception as exc:  # a bug in a capture worker: what came before it is still stored
                bug = exc
                break
        rows: list[FetchRow] | None = None
        if items:
            try:
                with desk.session() as s:
                    rows = _record_many(s, settings, items, actor=actor)
            except Exception:
                if len(items) == 1:
                    raise
        if rows is None:  # one of them failed: store them one by one, raising at the failing one
            rows = []
            for res, p in items:
                _emit(record_result(desk, settings, res, actor=actor, prepared=p))
        for row in rows:
            _emit(row)
        if bug is not None:
            raise bug

    def _emit(row: FetchRow) -> None:
        summary.rows.append(row)
        if on_row:
            on_row(row)

    driver = threading.Thread(target=fetch_all, name="factcheck-fetch-driver", daemon=True)
    driver.start()
    finished = False
    try:
        while not finished:
            batch = [ready.get()]
            deadline = time.monotonic() + WRITE_WAIT
            while batch[-1] is not _DONE and len(batch) < WRITE_BATCH:
                try:
                    batch.append(ready.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            if batch[-1] is _DONE:
                finished = True
                batch.pop()
            if batch:
                write(batch)
    except BaseException:
        fetcher.cancel()
        driver.join(timeout=2.0)  # as the fetcher does: requests in flight are not waited for
        raise
    driver.join()
    if fetch_error:
        raise fetch_error[0]
    return summary
