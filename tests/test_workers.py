"""Background workers on a PostgreSQL desk: real `factcheck worker` processes against a throwaway database and
local HTTP servers (server-side timestamps), driven through the real command line.

What must hold: two workers never run the same job; a worker killed mid-job (SIGKILL) loses nothing and its
job runs again without a second capture or verdict; the per-host delay holds across workers; a run made of
jobs is running until its last batch, interrupted when one failed for good, and `jobs retry` resumes it; a
SQLite desk refuses --queue with one clear line.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.conftest import FACTCHECK_BIN
from tests.httpserver_util import LocalServer, send

PAGE = "<html><head><title>{title}</title></head><body><article><p>{body}</p></article></body></html>"


def fact(i: int) -> str:
    return f"The council of district {i} approved {i + 3} new parks in 2024."


def write_case(path: Path, urls: list[str]) -> None:
    """One claim per URL, each citing its own source, so a capture re-judges only its own claim."""
    lines = ["sources:"] + [f"  - {{name: Source {i}}}" for i in range(len(urls))]
    lines += ["evidence:"] + [f"  - {{url: '{u}', source: Source {i}}}" for i, u in enumerate(urls)]
    lines += ["claims:"] + [f"  - {{id: C{i}, text: '{fact(i)}', cited: [Source {i}], evidence: ['{u}']}}"
                            for i, u in enumerate(urls)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def serve_facts(server: LocalServer, n: int, delay: float = 0.0) -> list[str]:
    for i in range(n):
        server.static(f"/p{i}", PAGE.format(title=f"District {i}", body=fact(i)).encode(), delay=delay)
    return [server.url(f"/p{i}") for i in range(n)]


def slow_the_first_time(i: int):
    """A handler serving fact i that holds its first request for 6 s: a worker is killed while it waits."""
    hits = {"n": 0}

    def handler(req) -> None:
        hits["n"] += 1
        if hits["n"] == 1:
            time.sleep(6)
        send(req, 200, PAGE.format(title=f"District {i}", body=fact(i)).encode())

    return handler


class Workers:
    """`factcheck worker` processes on one desk, each logging the jobs it starts to its own file."""

    def __init__(self, folder: Path, db: str, env: dict[str, str]) -> None:
        self.folder, self.db, self.env = folder, db, env
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = self.folder / f"worker-{len(self.procs)}.log"
        full = {k: v for k, v in os.environ.items() if not k.startswith("FACTCHECK_")}
        full.update({"FACTCHECK_DB": self.db, "FACTCHECK_NLI": "off", "FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "1",
                     "FACTCHECK_WORKER_STALLED_AFTER": "2", "FACTCHECK_USER": "worker"} | self.env | (env or {}))
        with log.open("wb") as fh:
            p = subprocess.Popen([FACTCHECK_BIN, "worker", "-v", *args], cwd=self.folder, env=full, stdout=fh,
                                 stderr=subprocess.STDOUT)
        self.procs.append((p, log))
        return p

    def wait_registered(self, db: Engine, n: int, timeout: float = 20.0) -> None:
        """Until `n` workers have registered with the queue (their start-up is over)."""
        deadline = time.monotonic() + timeout
        while True:
            with db.connect() as c:
                if c.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar_one() >= n:
                    return
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)

    def started_jobs(self, index: int) -> list[int]:
        """Job ids the index-th worker started, from its log (procrastinate logs each start)."""
        log = self.procs[index][1].read_text(encoding="utf-8", errors="replace")
        return [int(m) for m in re.findall(r"Starting job \S+?\[(\d+)\]", log)]

    def stop(self) -> None:
        for p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _ in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def workers(pg_url: str, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(tmp_path, pg_url, {})
    yield w
    w.stop()


@pytest.fixture
def db(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


def settings_for(pg_url: str, folder: Path, **env: str):
    from factcheck.settings import load_settings

    return load_settings({"db": pg_url}, environ={"FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "1", "FACTCHECK_NLI": "off",
                                                  "FACTCHECK_PER_HOST_DELAY": "0"} | env, desk_dir=folder)


def setup_desk(pg_url: str, folder: Path, urls: list[str]) -> None:
    """A fresh desk with one claim per URL (set up in this process: the commands under test run as the CLI)."""
    from factcheck.desk.cases import import_case
    from factcheck.desk.db import Desk, upgrade

    write_case(folder / "case.yaml", urls)
    desk = Desk(pg_url, check=False)
    upgrade(desk.engine)
    with desk.session() as s:
        import_case(s, settings_for(pg_url, folder), folder / "case.yaml", actor="tester")
    desk.dispose()


def run_states(db: Engine) -> dict[int, str]:
    from sqlalchemy.orm import Session

    from factcheck.desk.models import Run
    from factcheck.desk.runs import run_state

    with Session(db) as s:
        return {r.id: run_state(r) for r in s.query(Run).order_by(Run.id)}


def deciders(db: Engine) -> set[str | None]:
    """Who decided each claim's current verdict ("run N"), by the one current-verdict rule."""
    from sqlalchemy.orm import Session

    from factcheck.desk.claims import current_verdict, decided_by
    from factcheck.desk.models import Claim

    with Session(db) as s:
        out = set()
        for c in s.query(Claim):
            v = current_verdict(s, c.id)
            out.add(decided_by(v) if v is not None else None)
        return out


@pytest.fixture
def pg_cli(cli, pg_url: str):
    def run(*args: str, env: dict[str, str] | None = None):
        return cli(*args, env={"FACTCHECK_DB": pg_url} | (env or {}))

    run.url = pg_url  # type: ignore[attr-defined]
    return run


def wait_idle(db: Engine, timeout: float = 25.0, at_least: int = 1) -> dict[str, int]:
    """Until no job is queued or running (and at least `at_least` exist); the counts by state."""
    deadline = time.monotonic() + timeout
    while True:
        with db.connect() as c:
            counts = dict(c.execute(text("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY 1")).all())
        if sum(counts.values()) >= at_least and not counts.get("todo") and not counts.get("doing"):
            return counts
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs still pending after {timeout}s: {counts}")
        time.sleep(0.2)


def started_events(db: Engine) -> dict[int, int]:
    with db.connect() as c:
        return dict(c.execute(text("SELECT job_id, count(*) FROM procrastinate_events WHERE type = 'started' "
                                   "GROUP BY job_id")).all())


def duplicate_verdicts(db: Engine) -> int:
    with db.connect() as c:
        return c.execute(text("SELECT count(*) FROM (SELECT run_id, claim_id FROM verdict GROUP BY 1, 2 "
                              "HAVING count(*) > 1) d")).scalar_one()


def snapshots_per_url(db: Engine) -> dict[str, int]:
    with db.connect() as c:
        return dict(c.execute(text("SELECT url, count(*) FROM snapshot GROUP BY url")).all())


# ------------------------------------------------------------------ SQLite: one clear line


@pytest.mark.parametrize("args", [("fetch", "--queue"), ("verify", "--queue", "--json"), ("worker",),
                                  ("jobs",), ("jobs", "purge"), ("ingest", "--queue", "article.txt"),
                                  ("claims", "import", "--queue", "case.yaml")])
def test_queue_on_sqlite_says_workers_need_postgresql(cli, tmp_path, args):
    (tmp_path / "article.txt").write_text("Laut Reuters stieg der Umsatz um 12 Prozent.", encoding="utf-8")
    (tmp_path / "case.yaml").write_text("claims:\n  - {id: C1, text: 'Sales rose 12 percent.'}\n", encoding="utf-8")
    assert cli("init").code == 0
    r = cli(*args)
    assert r.code == 1 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "Error: workers need a PostgreSQL desk; this desk is SQLite, which runs everything inline "
        "(drop --queue, or point --db / FACTCHECK_DB at a PostgreSQL desk)"]


# ------------------------------------------------------------------ two workers, one queue


def test_two_workers_drain_fetch_and_verify_jobs_nothing_twice(pg_cli, workers, db, tmp_path):
    with LocalServer() as server:
        urls = serve_facts(server, 12, delay=0.05)
        setup_desk(pg_cli.url, tmp_path, urls)
        batch = {"FACTCHECK_FETCH_JOB_URLS": "3"}
        r = pg_cli("fetch", "--queue", "--json", env=batch)
        assert r.code == 0, r.stderr
        fetch_jobs = json.loads(r.stdout)["jobs"]
        assert len(fetch_jobs) == 4 and all(j["queued"] for j in fetch_jobs)
        assert sorted(u for j in fetch_jobs for u in j["urls"]) == sorted(urls)
        assert {j["target"].split(":", 1)[0] for j in fetch_jobs} == {"3 URLs"}
        # queueing the same URLs again queues nothing twice: each is reported with the job that holds it
        r = pg_cli("fetch", "--queue", env=batch)
        assert r.code == 0 and r.stdout.count("already queued  fetch  3 URLs: ") == 4, r.stdout
        assert r.stdout.strip().endswith("0 job(s) queued for 0 URL(s) (12 URL(s) queued already); "
                                         "`factcheck worker` runs them, `factcheck jobs` shows them."), r.stdout
        again = json.loads(pg_cli("fetch", "--queue", "--json", env=batch).stdout)["jobs"]
        assert {(j["job"], tuple(j["urls"])) for j in again} == {(j["job"], tuple(j["urls"])) for j in fetch_jobs}
        assert not any(j["queued"] for j in again)
        listing = json.loads(pg_cli("jobs", "--json").stdout)["jobs"]
        assert sorted(j["urls"] for j in listing if j["task"] == "fetch") == [3, 3, 3, 3]
        r = pg_cli("verify", "--queue", "--json", env={"FACTCHECK_VERIFY_BATCH": "3"})
        assert r.code == 0, r.stderr
        queued_run = json.loads(r.stdout)
        assert len(queued_run["jobs"]) == 4
        assert run_states(db) == {queued_run["run"]: "running"}

        env = {"FACTCHECK_PER_HOST_DELAY": "0"}
        workers.start("--concurrency", "3", env=env)
        workers.start("--concurrency", "3", env=env)
        workers.wait_registered(db, 2)
        counts = wait_idle(db, at_least=4 + 4 + 4)  # fetches, the verify run's batches, 4 re-judging batches
        assert counts == {"succeeded": 4 + 4 + 4}
        workers.stop()

        a, b = set(workers.started_jobs(0)), set(workers.started_jobs(1))
        assert a and b, "both workers took jobs"
        assert not a & b, f"jobs started by both workers: {sorted(a & b)}"
        assert set(started_events(db).values()) == {1}  # every job started exactly once
        # each page requested once, captured once; one verdict per claim and run
        assert sorted(len(server.hits_for(f"/p{i}")) for i in range(12)) == [1] * 12
        assert set(snapshots_per_url(db).values()) == {1} and len(snapshots_per_url(db)) == 12
        assert duplicate_verdicts(db) == 0
    runs = json.loads(pg_cli("runs", "--json").stdout)
    assert len(runs) == 5 and {x["state"] for x in runs} == {"finished"}  # one re-judging run per fetch job
    queued = next(x for x in runs if x["id"] == queued_run["run"])
    assert sum(queued["counts"].values()) == 12
    with db.connect() as c:  # every claim judged again after its page was captured: verified
        labels = c.execute(text("SELECT DISTINCT label FROM verdict WHERE run_id <> :r"),
                           {"r": queued_run["run"]}).scalars().all()
    assert labels == ["verified"]


# ------------------------------------------------------------------ politeness across workers


def test_per_host_delay_holds_across_two_workers(pg_cli, workers, db, tmp_path):
    delay = 0.4
    with LocalServer() as server:
        urls = serve_facts(server, 10)
        setup_desk(pg_cli.url, tmp_path, urls)
        env = {"FACTCHECK_PER_HOST_DELAY": str(delay)}
        workers.start("--concurrency", "2", env=env)
        workers.start("--concurrency", "2", env=env)
        workers.wait_registered(db, 2)  # both wait for jobs: each takes two at once, the rest go to the other
        assert pg_cli("fetch", "--queue", "--no-rejudge", env={"FACTCHECK_FETCH_JOB_URLS": "2"}).code == 0
        assert wait_idle(db, at_least=5) == {"succeeded": 5}
        workers.stop()
        assert workers.started_jobs(0) and workers.started_jobs(1), "both workers fetched from the host"
        starts = sorted(h.start for h in server.hits)  # the pages and the desk's one robots.txt request
    assert len(starts) >= 11
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= delay - 0.01, f"smallest gap the server saw: {min(gaps):.3f}s < {delay}s"


def test_two_enqueuers_at_once_never_queue_a_url_twice(pg_url, db, tmp_path, monkeypatch):
    """Two `fetch --queue` at the same moment with overlapping URLs: each URL ends up in one job. Both are made
    to read which URLs are queued before either writes (a barrier); the enqueue lock lets the second read only
    after the first has committed, so it finds the shared URLs held (the barrier then times out)."""
    import threading

    from factcheck.desk import jobs
    from factcheck.desk.db import Desk

    urls = [f"http://127.0.0.1:9/p{i}" for i in range(6)]
    setup_desk(pg_url, tmp_path, urls)
    barrier = threading.Barrier(2, timeout=3)
    read = jobs._queued_fetch_urls

    def read_then_wait(s, wanted):
        held = read(s, wanted)
        # broken when the other enqueuer is waiting for the lock: it reads after this one commits
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return held

    monkeypatch.setattr(jobs, "_queued_fetch_urls", read_then_wait)
    desk = Desk(pg_url, check=False)
    settings = settings_for(pg_url, tmp_path)
    out: list[list] = []
    errors: list[BaseException] = []

    def enqueue(part):
        try:
            out.append(jobs.enqueue_fetch(desk, settings, actor="tester", urls=part, per_job=10))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=enqueue, args=(urls[:4],)), threading.Thread(target=enqueue, args=(urls[2:],))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    desk.dispose()
    assert not errors, errors
    with db.connect() as c:
        rows = c.execute(text("SELECT id, args -> 'urls' FROM procrastinate_jobs WHERE status = 'todo'")).all()
    queued = [u for _id, us in rows for u in us]
    assert sorted(queued) == sorted(urls), rows  # every URL queued, none twice
    assert len(out) == 2 and sum(1 for r in out for e in r if not e.queued) >= 1  # one saw the other's job


def test_a_one_url_job_queued_by_the_previous_version_still_runs(pg_cli, workers, db, tmp_path):
    """Jobs queued before fetch jobs held lists of URLs carry one `url`: a worker of this version fetches it,
    and `fetch --queue` sees that URL as queued (not queued twice)."""
    from factcheck.desk import jobs
    from factcheck.desk.db import Desk

    with LocalServer() as server:
        urls = serve_facts(server, 2)
        setup_desk(pg_cli.url, tmp_path, urls)
        desk = Desk(pg_cli.url, check=False)
        settings = settings_for(pg_cli.url, tmp_path)
        app = jobs.make_app(desk, settings)
        with desk.session() as s:  # as the previous version queued it
            jobs._defer(app, s, jobs.TASK_FETCH, lock="fetch:old", queueing_lock="fetch:old", url=urls[0],
                        after_attempt=0, force=False, rejudge=False, claims=[], actor="tester")
        again = pg_cli("fetch", "--queue", "--no-rejudge", "--json")
        assert again.code == 0, again.stderr
        listed = json.loads(again.stdout)["jobs"]
        assert [e["urls"] for e in listed if e["queued"]] == [[urls[1]]]  # only the URL no job held
        assert [e["urls"] for e in listed if not e["queued"]] == [[urls[0]]]  # held by the old job
        desk.dispose()
        workers.start()
        assert wait_idle(db, at_least=2) == {"succeeded": 2}
        assert [len(server.hits_for("/p0")), len(server.hits_for("/p1"))] == [1, 1]
    assert snapshots_per_url(db) == {urls[0]: 1, urls[1]: 1}


# ------------------------------------------------------------------ a worker killed mid-job


def test_worker_killed_mid_fetch_job_runs_again_without_duplicates(pg_cli, workers, db, tmp_path):
    with LocalServer({"/slow": slow_the_first_time(0)}) as server:
        url = server.url("/slow")
        setup_desk(pg_cli.url, tmp_path, [url])
        jobs = json.loads(pg_cli("fetch", "--queue", "--json").stdout)["jobs"]
        env = {"FACTCHECK_PER_HOST_DELAY": "0"}
        first = workers.start(env=env)
        deadline = time.monotonic() + 15
        while not server.hits_for("/slow"):
            assert time.monotonic() < deadline, "the first worker never asked for the page"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        with db.connect() as c:
            assert c.execute(text("SELECT status::text FROM procrastinate_jobs WHERE id = :i"),
                             {"i": jobs[0]["job"]}).scalar_one() == "doing"  # left behind by the dead worker
        workers.start(env=env)
        wait_idle(db, at_least=2)
        assert len(server.hits_for("/slow")) == 2
    assert started_events(db)[jobs[0]["job"]] == 2  # the killed try and the one that finished
    assert snapshots_per_url(db) == {url: 1}
    assert duplicate_verdicts(db) == 0
    listing = json.loads(pg_cli("jobs", "--json").stdout)
    assert listing["counts"]["succeeded"] == 2 and listing["retried"] == 1
    fetch_job = next(j for j in listing["jobs"] if j["id"] == jobs[0]["job"])
    assert fetch_job["state"] == "succeeded" and fetch_job["attempts"] == 2
    assert list(run_states(db).values()) == ["finished"]
    assert deciders(db) == {f"run {next(iter(run_states(db)))}"}


def test_worker_killed_mid_batch_fetch_job_fetches_only_what_was_left(pg_cli, workers, db, tmp_path):
    """A fetch job of three URLs killed while it waits for the third: its first two captures were committed;
    the job runs again, fetches only the third, and re-judges the three claims in one run."""
    with LocalServer({"/slow": slow_the_first_time(2)}) as server:
        urls = [*serve_facts(server, 2), server.url("/slow")]  # one host: fetched in this order
        setup_desk(pg_cli.url, tmp_path, urls)
        # named URLs are fetched even when captured: only the attempts since queueing tell what the killed try did
        r = pg_cli("fetch", "--queue", *(a for u in urls for a in ("--url", u)))
        assert r.code == 0 and re.match(r"queued  job \d+  fetch  3 URLs: .*/p0", r.stdout), r.stdout
        assert "1 job(s) queued for 3 URL(s);" in r.stdout
        [job] = json.loads(pg_cli("jobs", "--json").stdout)["jobs"]
        assert job["target"].startswith("3 URLs: ") and job["urls"] == 3
        env = {"FACTCHECK_PER_HOST_DELAY": "0"}
        first = workers.start(env=env)
        deadline = time.monotonic() + 15
        while True:  # the third page asked for, the first two stored
            with db.connect() as c:
                stored = c.execute(text("SELECT count(*) FROM fetch_attempt")).scalar_one()
            if server.hits_for("/slow") and stored == 2:
                break
            assert time.monotonic() < deadline, "the first worker never got to the third page"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        workers.start(env=env)
        wait_idle(db, at_least=2)  # the fetch job, then its re-judging batch
        assert [len(server.hits_for(p)) for p in ("/p0", "/p1", "/slow")] == [1, 1, 2]
    assert started_events(db)[job["id"]] == 2  # the killed try and the one that finished
    assert snapshots_per_url(db) == {u: 1 for u in urls}
    with db.connect() as c:
        attempts = c.execute(text("SELECT count(*) FROM fetch_attempt")).scalar_one()
        judged = c.execute(text("SELECT run_id, count(*) FROM verdict GROUP BY 1")).all()
    assert attempts == 3
    assert list(run_states(db).values()) == ["finished"] and [n for _, n in judged] == [3]
    assert duplicate_verdicts(db) == 0


def test_a_fetch_job_leaves_a_url_that_another_job_is_fetching(pg_cli, workers, db, tmp_path):
    """A URL whose lock another job holds (it is fetching it right now) is that job's to fetch and record: a
    batch that also holds it fetches only its other URLs."""
    with LocalServer() as server:
        urls = serve_facts(server, 3)
        setup_desk(pg_cli.url, tmp_path, urls)
        assert pg_cli("fetch", "--queue", "--no-rejudge").code == 0
        with db.connect() as other:  # the other job's lock on the second URL, as `_lock_urls` takes it
            assert other.execute(text("SELECT pg_try_advisory_lock(hashtextextended('fetch:' || :u, 0))"),
                                 {"u": urls[1]}).scalar_one()
            other.commit()
            workers.start(env={"FACTCHECK_PER_HOST_DELAY": "0"})
            assert wait_idle(db, at_least=1) == {"succeeded": 1}
            assert [len(server.hits_for(f"/p{i}")) for i in range(3)] == [1, 0, 1]
    assert set(snapshots_per_url(db)) == {urls[0], urls[2]}


def test_job_left_after_its_commit_runs_again_and_adds_nothing(pg_cli, pg_url, workers, db, tmp_path):
    """A worker killed after its work was committed but before the queue heard of it: the job runs again
    and finds the work done (no second request, capture, re-judging run or verdict)."""
    from factcheck.desk.capture import fetch_pending, pending_requests
    from factcheck.desk.db import Desk
    from factcheck.desk.verify import judge_into_run

    with LocalServer() as server:
        urls = serve_facts(server, 3)
        setup_desk(pg_url, tmp_path, urls)
        fetch_job = json.loads(pg_cli("fetch", "--queue", "--json", "--url", urls[0]).stdout)["jobs"][0]["job"]
        queued = json.loads(pg_cli("verify", "--queue", "--json", env={"FACTCHECK_VERIFY_BATCH": "2"}).stdout)
        batch_job = queued["jobs"][0]["job"]

        # what the killed worker had committed: the capture, and the first batch's verdicts
        settings = settings_for(pg_url, tmp_path)
        desk = Desk(pg_url)
        summary = fetch_pending(desk, settings, actor="killed", requests=pending_requests(desk, settings,
                                                                                          urls=[urls[0]]))
        assert [r.outcome for r in summary.rows] == ["fetched"]
        with db.connect() as c:
            first_batch = c.execute(text("SELECT claim_ids FROM run_batch WHERE run_id = :r AND seq = 0"),
                                    {"r": queued["run"]}).scalar_one()
        judge_into_run(desk, settings, queued["run"], first_batch, actor="killed")
        desk.dispose()
        with db.begin() as c:  # both jobs taken by a worker that then died
            dead = c.execute(text("INSERT INTO procrastinate_workers (last_heartbeat) "
                                  "VALUES (now() - interval '1 hour') RETURNING id")).scalar_one()
            c.execute(text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w WHERE id IN (:a, :b)"),
                      {"w": dead, "a": fetch_job, "b": batch_job})

        workers.start("--concurrency", "2", env={"FACTCHECK_PER_HOST_DELAY": "0"})
        wait_idle(db, at_least=4)  # the fetch, the run's two batches and the fetch's re-judging batch
        assert len(server.hits_for("/p0")) == 1
    assert snapshots_per_url(db) == {urls[0]: 1}
    assert duplicate_verdicts(db) == 0
    with db.connect() as c:
        per_run = dict(c.execute(text("SELECT run_id, count(*) FROM verdict GROUP BY 1")).all())
    assert per_run[queued["run"]] == 3
    assert set(run_states(db).values()) == {"finished"} and len(run_states(db)) == 2  # one re-judging run


# ------------------------------------------------------------------ failed for good, then retried


def test_failed_batch_interrupts_its_run_and_jobs_retry_resumes_it(pg_cli, workers, db, tmp_path):
    from factcheck.desk.db import Desk
    from factcheck.desk.verify import verify

    setup_desk(pg_cli.url, tmp_path, ["https://example.invalid/p0", "https://example.invalid/p1"])
    desk = Desk(pg_cli.url)
    assert verify(desk, settings_for(pg_cli.url, tmp_path), actor="tester").run_id == 1  # the current verdicts
    desk.dispose()
    queued = json.loads(pg_cli("verify", "--queue", "--json").stdout)
    job = queued["jobs"][0]["job"]
    # a worker whose reader is missing fails the batch: once, retried after 2 s, then for good
    workers.start(env={"FACTCHECK_NLI": "on", "FACTCHECK_NLI_MODEL": str(tmp_path / "no-reader"),
                       "FACTCHECK_JOB_ATTEMPTS": "1"})
    assert wait_idle(db, at_least=1, timeout=20) == {"failed": 1}
    workers.stop()

    r = pg_cli("jobs")
    assert r.code == 0 and "0 queued, 0 running, 0 succeeded, 1 failed; 1 retried" in r.stdout
    listing = json.loads(pg_cli("jobs", "--json", "--state", "failed").stdout)
    [failed] = listing["jobs"]
    assert failed["id"] == job and failed["task"] == "verify" and failed["attempts"] == 2
    assert failed["error"].startswith("EntailmentUnavailable: nli is on but there is no reader")
    assert run_states(db) == {1: "finished", queued["run"]: "interrupted"}
    assert deciders(db) == {"run 1"}  # the interrupted run's verdicts do not count

    kept = pg_cli("jobs", "purge", "--older-than", "0", "--json")  # a failed job stays for `jobs retry`
    assert kept.code == 0 and json.loads(kept.stdout)["removed"] == 0, kept.stderr
    bad = pg_cli("jobs", "retry", "999")
    assert bad.code == 1 and bad.stderr.strip() == "Error: no job 999 (see `factcheck jobs`)"
    r = pg_cli("jobs", "retry", str(job))
    assert r.code == 0 and r.stdout.strip() == f"Job {job} (verify) queued again."
    assert run_states(db) == {1: "finished", queued["run"]: "running"}
    again = pg_cli("jobs", "retry", str(job))
    assert again.code == 1 and again.stderr.strip() == f"Error: job {job} is queued; only a failed job can be retried"

    workers.start()
    assert wait_idle(db) == {"succeeded": 1}
    assert run_states(db) == {1: "finished", queued["run"]: "finished"}
    assert deciders(db) == {f"run {queued['run']}"}
    assert duplicate_verdicts(db) == 0
    # finished jobs can be cleared from the queue's table; the runs and verdicts are the desk's and stay
    purged = pg_cli("jobs", "purge", "--older-than", "0")
    assert purged.code == 0 and purged.stdout.strip().startswith("1 finished job(s) removed"), purged.stderr
    assert json.loads(pg_cli("jobs", "--json").stdout)["counts"]["succeeded"] == 0
    assert run_states(db) == {1: "finished", queued["run"]: "finished"}
    assert deciders(db) == {f"run {queued['run']}"}


# ------------------------------------------------------------------ the web desk hands new evidence to workers


def test_web_evidence_on_a_worker_desk_is_fetched_and_judged_by_a_worker(pg_desk, workers, db, tmp_path):
    from factcheck.settings import load_settings
    from factcheck.web.app import create_app
    from tests.test_web import build, csrf_of, sign_in

    ids = build(pg_desk, tmp_path)
    cid = ids["cid"]
    body = (b"<html><head><title>Retention survey</title></head><body><article><p>SignalFire ranks Amazon in the "
            b"lower third for retaining engineers, with 61 percent staying two years.</p></article></body></html>")
    with LocalServer() as server:
        server.static("/survey", body)
        settings = load_settings({"db": pg_desk.url, "evidence_dir": str(tmp_path / "evidence")},
                                 environ={"FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "1", "FACTCHECK_WORKERS": "on",
                                          "FACTCHECK_NLI": "off"}, desk_dir=tmp_path)
        c = sign_in(create_app(pg_desk.desk, settings), "cara")
        runs_before = set(run_states(db))
        r = c.post(f"/claims/{cid}/evidence", data={"csrf": csrf_of(c), "url": server.url("/survey"),
                                                    "source": "SignalFire"})
        assert r.status_code == 303 and r.headers["location"] == f"/claims/{cid}#jobs"
        page = c.get(f"/claims/{cid}").text
        assert "fetching and judging it again is queued (job 1)" in page
        assert re.search(r"job 1: fetch .*/survey.* — <strong>queued</strong>", page)
        assert not server.hits and set(run_states(db)) == runs_before  # nothing done inline

        workers.start(env={"FACTCHECK_PER_HOST_DELAY": "0", "FACTCHECK_EVIDENCE_DIR": str(tmp_path / "evidence")})
        wait_idle(db, at_least=2)  # the fetch, then the claim's judging
        assert len(server.hits_for("/survey")) == 1
    page = c.get(f"/claims/{cid}").text
    assert re.search(r"job 1: fetch .* — <strong>succeeded</strong>", page)
    assert re.search(r"job 2: verify .* — <strong>succeeded</strong>", page)
    [new_run] = set(run_states(db)) - runs_before
    assert run_states(db)[new_run] == "finished"
    with db.connect() as conn:
        judged = conn.execute(text("SELECT claim_id FROM verdict WHERE run_id = :r"), {"r": new_run}).scalars().all()
    assert cid in judged


# ------------------------------------------------------------------ ingest and import jobs


def test_ingest_and_import_jobs_run_on_a_worker(pg_cli, workers, db, tmp_path):
    from factcheck.desk.db import Desk, upgrade

    desk = Desk(pg_cli.url, check=False)
    upgrade(desk.engine)
    desk.dispose()
    (tmp_path / "article.txt").write_text(
        "Halvard baut Speicher.\n\nLaut Reuters stieg der Umsatz von Halvard im Jahr 2024 um 12 Prozent.\n",
        encoding="utf-8")
    (tmp_path / "case.yaml").write_text(
        "case: Parks\nsources:\n  - {name: City Hall}\nclaims:\n"
        "  - {id: P1, text: 'The city opened 12 new parks in 2024.', cited: [City Hall]}\n"
        "  - {id: P2, text: 'The city closed 3 pools in 2023.', cited: [City Hall]}\n", encoding="utf-8")
    r = pg_cli("ingest", "--queue", "article.txt", "--language", "de", "--json")
    assert r.code == 0, r.stderr
    [ingest_job] = json.loads(r.stdout)["jobs"]
    assert ingest_job["task"] == "ingest" and ingest_job["target"] == str(tmp_path / "article.txt")
    r = pg_cli("claims", "import", "--queue", "case.yaml")
    assert r.code == 0 and re.match(r"queued  job \d+  import  .*case\.yaml", r.stdout), r.stdout
    again = pg_cli("claims", "import", "--queue", "case.yaml")
    assert again.code == 0 and again.stdout.startswith("already queued  import")
    missing = pg_cli("ingest", "--queue", "nowhere.txt")
    assert missing.code == 1 and missing.stderr.strip() == "Error: nowhere.txt: no such file"

    workers.start("--queue", "ingest")
    assert wait_idle(db, at_least=2) == {"succeeded": 2}
    with db.connect() as c:
        keys = c.execute(text("SELECT key FROM claim ORDER BY key")).scalars().all()
    assert "P1" in keys and "P2" in keys and any(k.startswith("A1-") for k in keys)

    r = pg_cli("verify", "--queue", "--case", "Parks", env={"FACTCHECK_VERIFY_BATCH": "1"})
    assert r.code == 0 and "2 job(s) queued for run 1" in r.stdout
    table = pg_cli("runs")
    assert table.code == 0 and "running (0/2 jobs)" in table.stdout  # the ingest-only worker leaves them
    bad = pg_cli("worker", "--queue", "bogus")
    assert bad.code == 1 and bad.stderr.strip() == "Error: no queue 'bogus'; the desk's queues are fetch, verify, ingest"


# ------------------------------------------------------------------ a worker's batch judges as `verify` does


def test_a_workers_batch_judges_exactly_as_an_inline_run(memory_desk):
    """`judge_into_run` (a worker's batch: judged first, stored after) gives the verdicts `verify` gives."""
    from factcheck.desk.cases import import_case
    from factcheck.desk.models import Run, Verdict, utcnow
    from factcheck.desk.verify import judge_into_run, verify
    from factcheck.resources import sample_case

    env = memory_desk
    with env.desk.session() as s:
        import_case(s, env.settings, sample_case(), actor="t")
    inline = verify(env.desk, env.settings, actor="t")
    with env.desk.session() as s:
        run = Run(version="t", actor="t", started_at=utcnow(), settings={"batches": 1})
        s.add(run)
        s.flush()
        job_run = run.id
    counts = judge_into_run(env.desk, env.settings, job_run, inline.claim_ids, actor="t", batch_size=3)
    assert counts == {k: v for k, v in inline.counts.items() if v}

    def verdicts(run_id: int) -> list[tuple]:
        with env.desk.session() as s:
            return [(v.claim_id, v.label, v.confidence, v.rationale, v.quotes, v.first_hand)
                    for v in s.query(Verdict).filter_by(run_id=run_id).order_by(Verdict.claim_id)]

    assert len(verdicts(job_run)) == 7 and verdicts(job_run) == verdicts(inline.run_id)


def test_queued_fetch_jobs_of_one_host_each_take_turns_between_hosts(pg_url, db, tmp_path):
    """Hosts with more URLs than a job holds: each job holds one host's URLs, and the jobs are queued with the
    hosts taking turns, so the first jobs a worker takes (several at once) are of different hosts, not all of
    the first host's (they would wait for each other at its one request at a time)."""
    from urllib.parse import urlsplit

    from factcheck.desk import jobs
    from factcheck.desk.db import Desk

    hosts = [f"http://127.0.0.{h}:9" for h in (1, 2, 3)]
    urls = [f"{h}/p{i}" for h in hosts for i in range(25)]  # each host's URLs together, as a case lists them
    setup_desk(pg_url, tmp_path, urls)
    desk = Desk(pg_url, check=False)
    try:
        queued = jobs.enqueue_fetch(desk, settings_for(pg_url, tmp_path), actor="tester", per_job=10)
    finally:
        desk.dispose()
    with db.connect() as c:
        rows = c.execute(text("SELECT args -> 'urls' FROM procrastinate_jobs WHERE status = 'todo' ORDER BY id")
                         ).scalars().all()
    assert [e.urls for e in queued] == rows
    assert sorted(u for r in rows for u in r) == sorted(urls)  # every URL once
    leading = [urlsplit(r[0]).netloc for r in rows]
    assert leading[:3] == [urlsplit(h).netloc for h in hosts] and leading[3:6] == leading[:3], leading
    assert [len({urlsplit(u).netloc for u in r}) for r in rows[:6]] == [1] * 6  # one host per job
