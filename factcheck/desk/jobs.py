"""Background workers on a PostgreSQL desk: jobs in procrastinate's queue, kept in the desk's own database.

A job is small and idempotent: fetch a few URLs (`fetch_job_urls` of them: capture, record, then queue the
re-judging of the claims their new captures belong to), judge one batch of a verification run, ingest one
article, import one case file. A fetch job holds several URLs (of one host, as far as they go) because a job has
a fixed cost (taking it from the queue, locks, a fetcher, transactions) that one URL's fetch does not pay off;
its URLs are fetched as an inline `factcheck fetch` fetches (results stored in batched transactions).

- **Never twice at once.** Every job holds a PostgreSQL advisory lock on what it works on (each of its URLs,
  the run's batch, the article, the case file) for as long as it runs; a second job on the same thing finds
  it taken and is retried later (a fetch job leaves a URL that another job holds to that job). procrastinate's
  own `lock` and `queueing_lock` keep a second copy from starting or from being queued beside the first, and
  `enqueue_fetch` queues no URL that a queued job holds already.
- **Retried with back-off.** A job that raises is run again after 2, 4, 8, … seconds, up to the
  `job_attempts` setting; its error is kept (`job_note`) for `factcheck jobs`. A fetch that the server
  refused is not a job failure: it is recorded like every fetch outcome.
- **A killed worker loses nothing.** Workers renew a heartbeat; every worker requeues the jobs of workers
  whose heartbeat is older than `worker_stalled_after` seconds when it starts and then every half of that.
  The requeued job runs again and finds what the killed one committed: a fetch job checks each URL for a
  fetch attempt made after the job was queued and fetches only the others (no second capture); a verification batch judges only the claims that have
  no verdict in its run yet and is marked done in its own transaction; a fetch's re-judging run is noted
  under the job's id in the transaction that queues it, so it is started once.
- **A run made of many jobs is one run.** `enqueue_verify` writes the run, its batches (`run_batch`) and their
  jobs in one transaction. The run is running while batches remain, finished (its verdicts count) when the
  worker that judged the last batch marks it so, and interrupted when a batch failed for good
  (`retry` puts it back on the way).

A SQLite desk runs everything inline: asking it to queue fails with `WorkersNeedPostgres`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, func, select, text, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session

from factcheck import __version__
from factcheck.desk import audit
from factcheck.desk.db import Desk
from factcheck.desk.models import EvidenceUrl, FetchAttempt, JobNote, Run, RunBatch, Snapshot, Verdict, utcnow
from factcheck.desk.politeness import PgHostSlots, PgRobots
from factcheck.desk.verify import run_plan
from factcheck.documents.fetch import Fetcher, FetchPolicy, FetchRequest, parse_url
from factcheck.errors import FactcheckError
from factcheck.settings import Settings, SettingsError

log = logging.getLogger(__name__)

QUEUES = ("fetch", "verify", "ingest")
TASK_FETCH = "factcheck.fetch_url"
TASK_VERIFY = "factcheck.verify_batch"
TASK_INGEST = "factcheck.ingest_article"
TASK_IMPORT = "factcheck.import_case"
TASK_WORDS = {TASK_FETCH: "fetch", TASK_VERIFY: "verify", TASK_INGEST: "ingest", TASK_IMPORT: "import"}
WORKER_MODES = ("auto", "on", "off")


class JobError(FactcheckError):
    pass


class WorkersNeedPostgres(JobError):
    """Queueing and workers on a desk that is not PostgreSQL."""


class Busy(JobError):
    """Another worker is working on the same thing right now (the job is retried later)."""


def require_postgres(desk: Desk) -> None:
    if desk.dialect != "postgresql":
        name = {"sqlite": "SQLite"}.get(desk.dialect, desk.dialect)
        raise WorkersNeedPostgres(
            f"workers need a PostgreSQL desk; this desk is {name}, which runs everything inline "
            "(drop --queue, or point --db / FACTCHECK_DB at a PostgreSQL desk)")


def workers_mode(settings: Settings) -> str:
    mode = str(settings.workers).strip().lower()
    if mode not in WORKER_MODES:
        raise SettingsError(f"workers must be auto, on or off, not {settings.workers!r}")
    return mode


def conninfo(desk: Desk) -> str:
    """The desk's database as libpq (and so procrastinate's psycopg connector) spells it."""
    return make_url(desk.url).set(drivername="postgresql").render_as_string(hide_password=False)


# ------------------------------------------------------------------ the queue app


def make_app(desk: Desk, settings: Settings) -> Any:
    """A procrastinate app on the desk's database with the desk's tasks (imported here: only desks that
    use workers pay for it)."""
    import procrastinate
    from procrastinate.psycopg_connector import PsycopgConnector
    from procrastinate.sync_psycopg_connector import SyncPsycopgConnector

    class DeskConnector(PsycopgConnector):  # type: ignore[misc]
        """The async connector runs the worker loop; the desk defers jobs synchronously on its own connection
        (inside its transaction), also from a task running in a worker's thread, where the async pool is
        open and procrastinate would otherwise hand back the async connector."""

        def __init__(self, info: str) -> None:
            super().__init__(conninfo=info, min_size=1, max_size=4)
            self._desk_sync = SyncPsycopgConnector(conninfo=info)

        def get_sync_connector(self) -> Any:
            return self._desk_sync

    app = procrastinate.App(connector=DeskConnector(conninfo(desk)))
    attempts = int(settings.job_attempts)  # procrastinate reads max_attempts 0 as "for ever": 0 is no retry here
    retry: Any = procrastinate.RetryStrategy(max_attempts=attempts, exponential_wait=2) if attempts > 0 else False
    for name, queue, fn in ((TASK_FETCH, "fetch", _fetch_task), (TASK_VERIFY, "verify", _verify_task),
                            (TASK_INGEST, "ingest", _ingest_task), (TASK_IMPORT, "ingest", _import_task)):
        app.task(name=name, queue=queue, pass_context=True, retry=retry)(_guarded(name, fn))
    return app


def _defer(app: Any, session: Session, task: str, *, lock: str | None, queueing_lock: str | None,
           **args: Any) -> int:
    """Queue one job inside `session`'s transaction (it is queued if and only if that commits)."""
    raw = session.connection().connection.driver_connection
    return int(app.tasks[task].configure(connection=raw, lock=lock, queueing_lock=queueing_lock).defer(**args))


def _already_queued(exc: BaseException) -> bool:
    return type(exc).__name__ == "AlreadyEnqueued"


# ------------------------------------------------------------------ queueing (the command line, the web desk)


@dataclass
class Enqueued:
    """One job queued (or found queued already: `queued` False); a fetch job's URLs in `urls`."""

    task: str
    target: str
    job: int | None
    queued: bool = True
    run: int | None = None
    urls: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {"task": self.task, "target": self.target, "job": self.job, "queued": self.queued, "run": self.run}
        return d | ({"urls": self.urls} if self.urls is not None else {})


def fetch_target(urls: Sequence[str]) -> str:
    """How a fetch job is named in listings: its URL, or how many URLs and the first."""
    if len(urls) == 1:
        return urls[0]
    return f"{len(urls)} URLs: {urls[0]} …" if urls else "no URL"


def _origin(url: str) -> str:
    try:
        return parse_url(url).origin
    except Exception:  # a malformed URL fails in the job like any other fetch
        return url


def by_host(urls: Sequence[str]) -> list[str]:
    """`urls` grouped by host (each host's in their order): a job of N of them holds one host's URLs (or the
    end of one host's and the start of the next), so jobs running side by side seldom wait for the same host
    (one request at a time per host, desk-wide) and a worker fetches as many hosts at once as it runs jobs.
    (Measured against jobs whose hosts take turns, which each span many hosts: the same throughput within the
    noise of a shared machine; see the README's worker figures.)"""
    hosts: dict[str, list[str]] = {}
    for url in urls:
        hosts.setdefault(_origin(url), []).append(url)
    return [u for group in hosts.values() for u in group]


def fetch_jobs(urls: Sequence[str], size: int) -> list[list[str]]:
    """`urls` in jobs of `size`, each of one host as far as they go (`by_host`), queued hosts taking turns: a
    host's first job, the next host's first job, …, then each host's second job. A worker takes jobs in the
    order they were queued, several at once; a host with more URLs than a job holds would otherwise fill
    consecutive jobs, and the jobs a worker runs side by side would wait for each other at that one host
    (one request at a time per host, desk-wide): 2,000 URLs on 20 hosts, 4 jobs at once, fetched one host at a
    time."""
    todo = by_host(urls)
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    seen: dict[str, int] = {}
    turn = []
    for chunk in chunks:
        host = _origin(chunk[0])
        turn.append(seen.get(host, 0))
        seen[host] = turn[-1] + 1
    return [chunk for _, _, chunk in sorted(zip(turn, range(len(chunks)), chunks, strict=True))]


def enqueue_fetch(desk: Desk, settings: Settings, *, actor: str, urls: Sequence[str] | None = None,
                  refresh: bool = False, rejudge: bool = True, claims: Sequence[int] = (),
                  app: Any = None, per_job: int | None = None) -> list[Enqueued]:
    """Fetch jobs of `per_job` (default `fetch_job_urls`) URLs each for what `factcheck fetch` would fetch now
    (the same selection); a URL that a queued fetch job holds already is reported with that job, not queued
    twice. `claims`: judged again after a new capture besides those the URLs belong to (the web desk's claim)."""
    from factcheck.desk.capture import pending_requests

    require_postgres(desk)
    app = app or make_app(desk, settings)
    size = max(1, int(per_job or settings.fetch_job_urls))
    reqs = pending_requests(desk, settings, refresh=refresh, urls=list(urls) if urls else None)
    done: list[Enqueued] = []
    with desk.session() as s:
        # one enqueuer at a time, so two `fetch --queue` at once cannot both find a URL free and queue it twice
        s.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('factcheck:enqueue-fetch', 0))"))
        held = _queued_fetch_urls(s, {r.url for r in reqs})
        after = int(s.execute(select(func.max(FetchAttempt.id))).scalar() or 0)
        for chunk in fetch_jobs([r.url for r in reqs if r.url not in held], size):
            key = "fetch:" + hashlib.sha256(json.dumps(sorted(chunk)).encode()).hexdigest()[:32]
            try:
                with s.begin_nested():
                    job = _defer(app, s, TASK_FETCH, lock=key, queueing_lock=key, urls=chunk, after_attempt=after,
                                 force=bool(urls or refresh), rejudge=rejudge, claims=list(claims), actor=actor)
                done.append(Enqueued("fetch", fetch_target(chunk), job, urls=chunk))
            except Exception as exc:
                if not _already_queued(exc):
                    raise
                done.append(Enqueued("fetch", fetch_target(chunk), None, queued=False, urls=chunk))
        by_job: dict[int, list[str]] = {}
        for req in reqs:
            if req.url in held:
                by_job.setdefault(held[req.url], []).append(req.url)
        done += [Enqueued("fetch", fetch_target(u), job, queued=False, urls=u) for job, u in sorted(by_job.items())]
    return done


def _queued_fetch_urls(s: Session, wanted: set[str]) -> dict[str, int]:
    """The URLs of `wanted` that a queued (not yet started) fetch job holds, with that job's id (jobs queued
    by an older version hold one `url`)."""
    if not wanted:
        return {}
    rows = s.execute(text(
        "SELECT j.id, u.url FROM procrastinate_jobs j CROSS JOIN LATERAL jsonb_array_elements_text("
        "coalesce(j.args -> 'urls', jsonb_build_array(j.args ->> 'url'))) AS u(url) "
        "WHERE j.task_name = :t AND j.status = 'todo' AND u.url = ANY(:w)"), {"t": TASK_FETCH, "w": sorted(wanted)}
    ).all()
    return {url: int(job) for job, url in rows}


def enqueue_verify(desk: Desk, settings: Settings, *, actor: str, claim_refs: Sequence[str] = (),
                   claim_ids: Sequence[int] = (), case: str | None = None, batch_size: int | None = None,
                   app: Any = None) -> tuple[int, list[Enqueued]]:
    """A verification run of the claims `verify` would judge, as one job per batch: (run id, jobs)."""
    from factcheck.desk.claims import case_claim_ids, find_claim

    require_postgres(desk)
    app = app or make_app(desk, settings)
    with desk.session() as s:
        if claim_refs or claim_ids:
            ids = list(dict.fromkeys([*claim_ids, *(find_claim(s, ref).id for ref in claim_refs)]))
        else:
            ids = case_claim_ids(s, case=case)
        run_id, jobs = create_job_run(s, app, settings, ids, actor=actor, case=case, batch_size=batch_size)
    return run_id, jobs


def create_job_run(session: Session, app: Any, settings: Settings, ids: Sequence[int], *, actor: str,
                   case: str | None = None, batch_size: int | None = None) -> tuple[int, list[Enqueued]]:
    """Inside the caller's transaction: the run row, its batches and one queued job per batch."""
    size = max(1, int(batch_size or settings.verify_batch))
    plan = run_plan(settings)
    chunks = [list(ids[i : i + size]) for i in range(0, len(ids), size)]
    now = utcnow()
    run = Run(version=__version__, actor=actor, started_at=now, heartbeat_at=now, host=None, pid=None,
              settings=plan.stored(claims=len(ids), case=case) | {"batches": len(chunks), "batch_size": size})
    session.add(run)
    session.flush()
    jobs: list[Enqueued] = []
    if not chunks:  # nothing to judge: finished at once, like an inline run of no claims
        run.finished_at = now
        run.counts = {"verified": 0, "unverified": 0, "contested": 0}
        return run.id, jobs
    for seq, chunk in enumerate(chunks):
        batch = RunBatch(run_id=run.id, seq=seq, claim_ids=chunk, state="queued")
        session.add(batch)
        session.flush()
        key = f"run:{run.id}:{seq}"
        batch.job_id = _defer(app, session, TASK_VERIFY, lock=key, queueing_lock=key, run_id=run.id, seq=seq,
                              actor=actor)
        jobs.append(Enqueued("verify", f"run {run.id} batch {seq + 1}/{len(chunks)} ({len(chunk)} claims)",
                             batch.job_id, run=run.id))
    return run.id, jobs


def enqueue_ingest(desk: Desk, settings: Settings, path_or_url: str, *, actor: str, outlet: str | None = None,
                   language: str | None = None, case: str | None = None, threshold: float | None = None,
                   app: Any = None) -> Enqueued:
    """One ingest job. A file is named by its absolute path: the worker must be able to read it there."""
    require_postgres(desk)
    ref = path_or_url if path_or_url.startswith(("http://", "https://")) else str(_readable(path_or_url))
    app = app or make_app(desk, settings)
    return _enqueue_one(desk, app, TASK_INGEST, f"ingest:{ref}", "ingest", ref, path_or_url=ref, actor=actor,
                        outlet=outlet, language=language, case=case, threshold=threshold)


def enqueue_import(desk: Desk, settings: Settings, path: str | Path, *, actor: str, app: Any = None) -> Enqueued:
    """One case-file import job (by absolute path: the worker must be able to read the file and its pages)."""
    require_postgres(desk)
    ref = str(_readable(str(path)))
    app = app or make_app(desk, settings)
    return _enqueue_one(desk, app, TASK_IMPORT, f"import:{ref}", "import", ref, path=ref, actor=actor)


def _readable(ref: str) -> Path:
    p = Path(ref).expanduser()
    if not p.is_file():
        raise JobError(f"{ref}: no such file")
    return p.resolve()


def _enqueue_one(desk: Desk, app: Any, task: str, key: str, word: str, target: str, **args: Any) -> Enqueued:
    try:
        with desk.session() as s:
            job = _defer(app, s, task, lock=key, queueing_lock=key, **args)
    except Exception as exc:
        if not _already_queued(exc):
            raise
        return Enqueued(word, target, None, queued=False)
    return Enqueued(word, target, job)


def enqueue_claim_evidence(desk: Desk, settings: Settings, claim_id: int, url: str, *, actor: str) -> Enqueued:
    """The web desk's new evidence on a worker desk: fetch the page, then judge the claim (and the others
    the page belongs to) again; a page captured already is judged at once (a verification job)."""
    from factcheck.desk.evidence import latest_snapshot

    app = make_app(desk, settings)
    with desk.session() as s:
        captured = latest_snapshot(s, url) is not None
    if not captured and url.startswith(("http://", "https://")):
        fetches = enqueue_fetch(desk, settings, actor=actor, urls=[url], claims=[claim_id], app=app)
        if fetches:
            return fetches[0]
    run_id, jobs = enqueue_verify(desk, settings, actor=actor, claim_ids=[claim_id], app=app)
    return jobs[0] if jobs else Enqueued("verify", f"run {run_id}", None, queued=False, run=run_id)


def use_workers(desk: Desk, settings: Settings) -> bool:
    """Whether the web desk hands new evidence to workers: `workers` on (a PostgreSQL desk), or auto and a
    worker has shown a sign of life lately; off, or a SQLite desk: inline."""
    mode = workers_mode(settings)
    if mode == "off" or desk.dialect != "postgresql":
        return False
    if mode == "on":
        return True
    return live_workers(desk, settings) > 0


def live_workers(desk: Desk, settings: Settings) -> int:
    if desk.dialect != "postgresql":
        return 0
    with desk.session() as s:
        return int(s.execute(text(
            "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - make_interval(secs => :t)"),
            {"t": float(settings.worker_stalled_after)}).scalar_one())


# ------------------------------------------------------------------ the jobs, as workers run them


@dataclass
class _WorkerState:
    desk: Desk
    settings: Settings
    concurrency: int = 1
    _fetcher: Fetcher | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _engines: dict[str, Engine] = field(default_factory=dict)
    _capture_pool: ThreadPoolExecutor | None = None

    def job_policy(self) -> FetchPolicy:
        """The fetch policy of one fetch job: the `concurrency` setting's threads shared out between the jobs
        the worker runs at once, so a worker fetches as many hosts at once as an inline `factcheck fetch`."""
        from factcheck.desk.capture import policy_from_settings

        policy = policy_from_settings(self.settings)
        return dataclasses.replace(policy, concurrency=max(1, -(-policy.concurrency // self.concurrency)))

    def engine(self, purpose: str) -> Engine:
        """Connections apart from the desk's pool: the jobs' advisory locks (held for a whole job), the host
        slots (held for a request) and robots.txt rows (held while a site is asked), enough for every fetching
        thread of every running job (running out would fail fetches that only wait their turn)."""
        with self._lock:
            if purpose not in self._engines:
                threads = self.concurrency * self.job_policy().concurrency
                self._engines[purpose] = create_engine(self.desk.url, pool_size=threads + 1,
                                                       max_overflow=self.concurrency)
            return self._engines[purpose]

    def capture_pool(self) -> ThreadPoolExecutor:
        """The threads that prepare fetched pages (extraction, WARC record, passages) for all of the process's
        fetch jobs: as many as one inline fetch has, not as many per job (each job's own measured 15-25% more
        CPU for the same pages, threads contending for the interpreter)."""
        from factcheck.desk.capture import CAPTURE_WORKERS

        with self._lock:
            if self._capture_pool is None:
                self._capture_pool = ThreadPoolExecutor(max_workers=CAPTURE_WORKERS,
                                                        thread_name_prefix="factcheck-capture")
            return self._capture_pool

    def fetcher(self) -> Fetcher:
        """One fetcher for the whole worker process, with the desk-wide per-host slots and robots.txt."""
        with self._lock:
            if self._fetcher is None:
                from factcheck.desk.capture import policy_from_settings

                self._fetcher = Fetcher(policy_from_settings(self.settings),
                                        host_slots=PgHostSlots(self.engine("host slots")),
                                        robots_store=PgRobots(self.engine("robots")))
            return self._fetcher

    def job_fetcher(self) -> Fetcher:
        """A fetcher for one fetch job, on the process's HTTP session, its robots.txt answers (read from the
        desk's once per process, not once per job) and the desk-wide host slots: its own, since a job that
        fails cancels its fetcher for good and the process's next jobs must not inherit that."""
        shared = self.fetcher()
        return Fetcher(self.job_policy(), session=shared.session, host_slots=PgHostSlots(self.engine("host slots")),
                       robots_cache=shared.robots)


_STATE: _WorkerState | None = None


def _state() -> _WorkerState:
    if _STATE is None:
        raise JobError("this process is not a factcheck worker (start one with `factcheck worker`)")
    return _STATE


@contextlib.contextmanager
def exclusive(engine: Engine, key: str) -> Iterator[None]:
    """Hold a session advisory lock on `key` (released when done, or by PostgreSQL when the process dies);
    `Busy` when another process holds it."""
    with engine.connect() as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"), {"k": key}).scalar()
        conn.commit()
        if not got:
            raise Busy(f"{key} is being worked on by another worker")
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), {"k": key})
            conn.commit()


def _guarded(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a task with the worker's state; on an error, note it, and when no retry is left, tell the desk."""

    @functools.wraps(fn)
    def run(context: Any, **kwargs: Any) -> Any:
        st = _state()
        job = context.job
        try:
            return fn(st, job.id, **kwargs)
        except Exception as exc:
            strategy = context.app.tasks[name].retry_strategy
            final = strategy is None or strategy.get_retry_decision(exception=exc, job=job) is None
            with contextlib.suppress(Exception):
                note_error(st.desk, job.id, exc)
                if final and name == TASK_VERIFY:
                    batch_failed(st.desk, int(kwargs["run_id"]), int(kwargs["seq"]), _one_line(exc))
            raise

    return run


def _one_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}"[:500]


def note_error(desk: Desk, job_id: int, exc: BaseException) -> None:
    with desk.session() as s:
        key = f"error:{job_id}"
        note = s.get(JobNote, key) or JobNote(key=key, job_id=job_id)
        note.error, note.at = _one_line(exc), utcnow()
        s.add(note)


def _fetch_task(st: _WorkerState, job_id: int, *, urls: Sequence[str] = (), url: str | None = None,
                after_attempt: int = 0, force: bool = False, rejudge: bool = True, claims: Sequence[int] = (),
                actor: str = "worker") -> dict[str, Any]:
    """Fetch a job's URLs (`url`: one, as jobs queued by an older version hold it) as `fetch_pending` does.
    Run again after a kill, it fetches only the URLs with no fetch attempt since the job was queued."""
    from factcheck.desk.capture import fetch_pending, pending_requests

    wanted = list(dict.fromkeys([*urls, *([url] if url else [])]))
    with st.engine("locks").connect() as conn:
        mine = _lock_urls(conn, wanted)
        try:
            with st.desk.session() as s:
                since: dict[str, list[str]] = {}
                for u, outcome in s.execute(select(EvidenceUrl.url, FetchAttempt.outcome).join(EvidenceUrl).where(
                        EvidenceUrl.url.in_(mine), FetchAttempt.id > after_attempt).order_by(FetchAttempt.id)):
                    since.setdefault(u, []).append(outcome)
                captured = set(s.execute(select(Snapshot.url).where(Snapshot.url.in_(mine)).distinct()).scalars())
            # fetched since the job was queued: by an earlier try of this job (killed before it was marked
            # done), or by another fetch
            outcomes = {u: "fetched" if "fetched" in o else o[-1] for u, o in since.items()}
            fetch = [u for u in mine if u not in since and (force or u not in captured)]
            reqs = pending_requests(st.desk, st.settings, urls=fetch) if fetch else []  # with conditional headers
            reqs = _hosts_shuffled(reqs, job_id)
            if reqs:
                fetcher = st.job_fetcher()
                try:
                    summary = fetch_pending(st.desk, st.settings, actor=actor, requests=reqs, fetcher=fetcher,
                                            capture_pool=st.capture_pool())
                finally:
                    fetcher.close()
                outcomes.update({row.url: row.outcome for row in summary.rows})
            fetched = [u for u in mine if outcomes.get(u) == "fetched"]
            run_id = _rejudge_once(st, job_id, fetched, claims, actor) if rejudge and fetched else None
        finally:
            _unlock_urls(conn, mine)
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return {"urls": len(wanted), "held_elsewhere": len(wanted) - len(mine), "outcomes": counts, "run": run_id}


def _hosts_shuffled(reqs: list[FetchRequest], seed: int) -> list[FetchRequest]:
    """The job's hosts in an order of its own (each host's URLs in theirs): the fetcher takes hosts in the
    order it meets them, and jobs running side by side that met them in one order would wait for each other
    at every host (one request at a time per host, desk-wide)."""
    hosts: dict[str, list[FetchRequest]] = {}
    for req in reqs:
        hosts.setdefault(_origin(req.url), []).append(req)
    groups = list(hosts.values())
    random.Random(seed).shuffle(groups)
    return [req for group in groups for req in group]


def _lock_urls(conn: Connection, urls: Sequence[str]) -> list[str]:
    """Take a session advisory lock on each URL (released by `_unlock_urls`, or by PostgreSQL when the process
    dies); the URLs whose lock another job holds are left out: that job fetches and records them."""
    if not urls:
        return []
    got = conn.execute(text("SELECT k FROM unnest(CAST(:k AS text[])) AS k "
                            "WHERE pg_try_advisory_lock(hashtextextended('fetch:' || k, 0))"), {"k": list(urls)})
    mine = set(got.scalars())
    conn.commit()
    return [u for u in urls if u in mine]


def _unlock_urls(conn: Connection, urls: Sequence[str]) -> None:
    if urls:
        conn.execute(text("SELECT pg_advisory_unlock(hashtextextended('fetch:' || k, 0)) "
                          "FROM unnest(CAST(:k AS text[])) AS k"), {"k": list(urls)})
        conn.commit()


def _rejudge_once(st: _WorkerState, job_id: int, urls: Sequence[str], claims: Sequence[int],
                  actor: str) -> int | None:
    """The claims new captures of `urls` belong to, judged again in a run of jobs: started once per fetch
    job (the note and the run are written in one transaction)."""
    from factcheck.desk.verify import claims_for_evidence

    key = f"rejudge:{job_id}"
    with st.desk.session() as s:
        note = s.get(JobNote, key)
        if note is not None:
            return note.run_id
        touched = sorted(set(claims_for_evidence(s, list(urls))) | {int(c) for c in claims})
        run_id = None
        if touched:
            run_id, _ = create_job_run(s, _app_for_defer(st), st.settings, touched, actor=actor)
        s.add(JobNote(key=key, job_id=job_id, run_id=run_id))
    return run_id


@functools.cache
def _app_cache(url: str) -> Any:
    assert _STATE is not None
    return make_app(_STATE.desk, _STATE.settings)


def _app_for_defer(st: _WorkerState) -> Any:
    return _app_cache(st.desk.url)


def _verify_task(st: _WorkerState, job_id: int, *, run_id: int, seq: int, actor: str = "worker") -> dict[str, Any]:
    from factcheck.desk.verify import judge_into_run

    with exclusive(st.engine("locks"), f"run:{run_id}:{seq}"):
        with st.desk.session() as s:
            batch = s.execute(select(RunBatch).where(RunBatch.run_id == run_id, RunBatch.seq == seq)).scalar()
            if batch is None or batch.state == "done":
                return {"run": run_id, "batch": seq, "judged": 0}
            ids = [int(i) for i in batch.claim_ids]
            judged = set(s.execute(select(Verdict.claim_id).where(Verdict.run_id == run_id,
                                                                   Verdict.claim_id.in_(ids))).scalars())
        left = [i for i in ids if i not in judged]
        if left:  # one transaction for the batch: killed half-way, nothing of it is kept
            judge_into_run(st.desk, st.settings, run_id, left, actor=actor, batch_size=len(left))
        finished = batch_done(st.desk, run_id, seq, actor=actor)
    return {"run": run_id, "batch": seq, "judged": len(left), "finished": finished}


def batch_done(desk: Desk, run_id: int, seq: int, *, actor: str) -> bool:
    """Mark the batch done; the batch that leaves none undone finishes the run (True)."""
    with desk.session() as s:
        run = s.execute(select(Run).where(Run.id == run_id).with_for_update()).scalar_one()
        s.execute(update(RunBatch).where(RunBatch.run_id == run_id, RunBatch.seq == seq)
                  .values(state="done", done_at=utcnow(), error=None))
        run.heartbeat_at = utcnow()
        undone = s.execute(select(func.count()).select_from(RunBatch)
                           .where(RunBatch.run_id == run_id, RunBatch.state != "done")).scalar_one()
        if undone or run.finished_at is not None:
            return False
        counts = {"verified": 0, "unverified": 0, "contested": 0}
        counts |= dict(s.execute(select(Verdict.label, func.count()).where(Verdict.run_id == run_id)
                                 .group_by(Verdict.label)).all())
        run.finished_at, run.interrupted_at, run.counts = utcnow(), None, counts
        audit.record(s, actor=actor, action="verify.run", entity="run", entity_id=run_id,
                     after={"counts": counts, "version": __version__})
        return True


def batch_failed(desk: Desk, run_id: int, seq: int, error: str) -> None:
    """A batch whose job failed for good: the run is interrupted (its verdicts never count unless it is
    resumed with `jobs retry`)."""
    with desk.session() as s:
        run = s.execute(select(Run).where(Run.id == run_id).with_for_update()).scalar_one_or_none()
        if run is None:
            return
        s.execute(update(RunBatch).where(RunBatch.run_id == run_id, RunBatch.seq == seq)
                  .values(state="failed", error=error))
        if run.finished_at is None:
            run.interrupted_at = utcnow()


def _ingest_task(st: _WorkerState, job_id: int, *, path_or_url: str, actor: str = "worker",
                 outlet: str | None = None, language: str | None = None, case: str | None = None,
                 threshold: float | None = None) -> dict[str, Any]:
    from factcheck.desk.ingest import ingest

    with exclusive(st.engine("locks"), f"ingest:{path_or_url}"):
        summary = ingest(st.desk, st.settings, path_or_url, actor=actor, outlet=outlet, language=language,
                         case=case, threshold=threshold, fetcher=st.fetcher())
    return {"case": summary.case, "claims": len(summary.claims)}


def _import_task(st: _WorkerState, job_id: int, *, path: str, actor: str = "worker") -> dict[str, Any]:
    from factcheck.desk.cases import import_case

    with exclusive(st.engine("locks"), f"import:{path}"), st.desk.session() as s:
        summary = import_case(s, st.settings, Path(path), actor=actor)
    return {"case": summary.case}


# ------------------------------------------------------------------ the worker


def run_worker(desk: Desk, settings: Settings, *, concurrency: int = 1, queues: Sequence[str] = (),
               name: str | None = None, on_start: Callable[[], None] | None = None) -> None:
    """Run jobs until stopped (SIGINT or SIGTERM: running jobs finish first)."""
    global _STATE
    require_postgres(desk)
    unknown = [q for q in queues if q not in QUEUES]
    if unknown:
        raise JobError(f"no queue {unknown[0]!r}; the desk's queues are {', '.join(QUEUES)}")
    if concurrency < 1:
        raise JobError("--concurrency must be at least 1")
    _STATE = _WorkerState(desk, settings, concurrency=concurrency)
    app = make_app(desk, settings)
    stalled = max(1.0, float(settings.worker_stalled_after))

    async def main() -> None:
        async with app.open_async():
            requeue = asyncio.create_task(_requeue_stalled(app, stalled))
            if on_start:
                on_start()
            try:
                await app.run_worker_async(
                    queues=list(queues) or None, concurrency=concurrency, name=name or f"worker-{os.getpid()}",
                    update_heartbeat_interval=stalled / 3, stalled_worker_timeout=stalled)
            finally:
                requeue.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await requeue

    asyncio.run(main())


async def _requeue_stalled(app: Any, stalled: float) -> None:
    """Put the jobs of dead workers (no heartbeat for `stalled` seconds) back in the queue, now and then
    every half of that."""
    while True:
        try:
            for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled):
                log.warning("job %s (%s) was left by a worker that stopped; queued again", job.id, job.task_name)
                with contextlib.suppress(Exception):
                    await app.job_manager.retry_job(job)
        except Exception:  # the database away for a moment: try again next round
            log.exception("could not look for stalled jobs")
        await asyncio.sleep(stalled / 2)


# ------------------------------------------------------------------ listing and retrying


def list_jobs(desk: Desk, *, status: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Counts by state, live workers and the newest jobs with attempts and their last error."""
    require_postgres(desk)
    with desk.session() as s:
        counts: dict[str, int] = dict(s.execute(text(
            "SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status")).all())
        # attempts counts the tries that ended (a finished job has one more than the times it was retried)
        retried = s.execute(text(
            "SELECT count(*) FROM procrastinate_jobs WHERE attempts > CASE WHEN status IN ('todo', 'doing') "
            "THEN 0 ELSE 1 END")).scalar_one()
        workers = s.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar_one()
        rows = s.execute(text(
            "SELECT j.id, j.queue_name, j.task_name, j.status::text AS status, j.attempts, j.args, "
            "j.scheduled_at, (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) AS changed_at, "
            "n.error FROM procrastinate_jobs j LEFT JOIN job_note n ON n.key = 'error:' || j.id "
            "WHERE (CAST(:status AS text) IS NULL OR j.status::text = :status) ORDER BY j.id DESC LIMIT :limit"),
            {"status": status, "limit": limit}).mappings().all()
    return {"counts": {k: int(counts.get(k, 0)) for k in ("todo", "doing", "succeeded", "failed", "cancelled",
                                                          "aborted")},
            "retried": int(retried), "workers": int(workers),
            "jobs": [_job_dict(r) for r in rows]}


def _job_dict(r: Any) -> dict[str, Any]:
    args = dict(r["args"] or {})
    task = TASK_WORDS.get(r["task_name"], r["task_name"])
    urls = [str(u) for u in args.get("urls") or [args.get("url")]]  # a job queued by an older version: `url`
    target: str | None
    if task == "fetch":
        target = fetch_target(urls)
    elif task == "verify":
        target = f"run {args.get('run_id')} batch {int(args.get('seq', 0)) + 1}"
    else:
        target = args.get("path_or_url") or args.get("path")
    state = {"todo": "queued", "doing": "running"}.get(r["status"], r["status"])
    return {"id": r["id"], "task": task, "queue": r["queue_name"], "target": target, "state": state,
            **({"urls": len(urls)} if task == "fetch" else {}),
            "attempts": r["attempts"], "scheduled_at": r["scheduled_at"].isoformat() if r["scheduled_at"] else None,
            "changed_at": r["changed_at"].isoformat() if r["changed_at"] else None,
            "error": r["error"]}


def retry_job(desk: Desk, job_id: int) -> dict[str, Any]:
    """Queue a failed job again with its full number of attempts (a verification batch's run runs again)."""
    require_postgres(desk)
    with desk.session() as s:
        row = s.execute(text("SELECT id, status::text AS status, task_name, args FROM procrastinate_jobs "
                             "WHERE id = :id FOR UPDATE"), {"id": job_id}).mappings().first()
        if row is None:
            raise JobError(f"no job {job_id} (see `factcheck jobs`)")
        if row["status"] != "failed":
            state = {"todo": "queued", "doing": "running"}.get(row["status"], row["status"])
            raise JobError(f"job {job_id} is {state}; only a failed job can be retried")
        try:
            with s.begin_nested():
                s.execute(text("SELECT procrastinate_retry_job_v2(:id, now(), NULL, NULL, NULL)"), {"id": job_id})
        except Exception as exc:
            if "queueing_lock" in str(exc):
                raise JobError(f"job {job_id}: the same work is queued already in another job") from None
            raise
        s.execute(text("UPDATE procrastinate_jobs SET attempts = 0 WHERE id = :id"), {"id": job_id})
        s.execute(delete(JobNote).where(JobNote.key == f"error:{job_id}"))
        args = dict(row["args"] or {})
        if row["task_name"] == TASK_VERIFY:
            run_id = int(args["run_id"])
            s.execute(update(RunBatch).where(RunBatch.run_id == run_id, RunBatch.seq == int(args["seq"]))
                      .values(state="queued", error=None))
            failed = s.execute(select(func.count()).select_from(RunBatch).where(
                RunBatch.run_id == run_id, RunBatch.state == "failed")).scalar_one()
            if not failed:
                s.execute(update(Run).where(Run.id == run_id, Run.finished_at.is_(None)).values(interrupted_at=None))
    return {"id": job_id, "task": TASK_WORDS.get(row["task_name"], row["task_name"]), "state": "queued"}


def purge_jobs(desk: Desk, settings: Settings, *, older_than_hours: int, include_failed: bool = False) -> dict[str, int]:
    """Remove jobs that ended more than `older_than_hours` ago (succeeded, cancelled or aborted; failed ones
    only when asked, since `jobs retry` needs them), through procrastinate's own clean-up, and the desk's
    notes about jobs that are gone. Runs, verdicts and captures are the desk's record and stay."""
    import asyncio

    require_postgres(desk)

    def finished() -> int:
        with desk.session() as s:
            return int(s.execute(text("SELECT count(*) FROM procrastinate_jobs "
                                      "WHERE status NOT IN ('todo', 'doing')")).scalar_one())

    before = finished()
    app = make_app(desk, settings)

    async def clean() -> None:
        async with app.open_async():
            await app.job_manager.delete_old_jobs(nb_hours=older_than_hours, include_failed=include_failed,
                                                  include_cancelled=True, include_aborted=True)

    asyncio.run(clean())
    with desk.session() as s:
        res = s.execute(text("DELETE FROM job_note n WHERE n.job_id IS NOT NULL AND NOT EXISTS "
                             "(SELECT 1 FROM procrastinate_jobs j WHERE j.id = n.job_id)"))
        notes = res.rowcount  # type: ignore[attr-defined]
    return {"removed": before - finished(), "notes_removed": int(notes or 0)}


def claim_jobs(desk: Desk, claim_id: int, *, limit: int = 5) -> list[dict[str, Any]]:
    """The newest jobs about one claim (fetches queued for it from the web desk, batches of runs that judge
    it), for the claim page: among the jobs still queued or running and the newest `RECENT` of the rest, so
    the page costs the same on a desk whose queue has seen millions of jobs. Empty on SQLite."""
    if desk.dialect != "postgresql":
        return []
    with desk.session() as s:
        rows = s.execute(text(
            "WITH runs AS (SELECT DISTINCT run_id FROM run_batch "
            "              WHERE id > (SELECT coalesce(max(id), 0) - :recent FROM run_batch) "
            "                AND CAST(claim_ids AS jsonb) @> to_jsonb(CAST(:cid AS int))) "
            "SELECT j.id, j.queue_name, j.task_name, j.status::text AS status, j.attempts, j.args, j.scheduled_at, "
            "(SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) AS changed_at, n.error "
            "FROM procrastinate_jobs j LEFT JOIN job_note n ON n.key = 'error:' || j.id "
            "WHERE (j.id > (SELECT coalesce(max(id), 0) - :recent FROM procrastinate_jobs) "
            "       OR j.status IN ('todo', 'doing')) "
            "  AND ((j.task_name = :fetch AND j.args -> 'claims' @> to_jsonb(CAST(:cid AS int))) "
            "       OR (j.task_name = :verify AND CAST(j.args ->> 'run_id' AS int) IN (SELECT run_id FROM runs))) "
            "ORDER BY j.id DESC LIMIT :limit"),
            {"fetch": TASK_FETCH, "verify": TASK_VERIFY, "cid": claim_id, "limit": limit, "recent": RECENT}
        ).mappings().all()
    return [_job_dict(r) for r in rows]


RECENT = 5000
"""How far back (in jobs, and in run batches) the claim page looks for a claim's finished jobs."""
