"""robots.txt for the desk as a whole: the answer is kept in the desk's PostgreSQL database (`robots_txt`) for
its lifetime, asked for once per origin by all the processes that share the desk, and a rule one process
read is obeyed by the others.

The library level runs two fetchers in one process (each with its own in-process cache, as two processes
have); the worker level runs real `factcheck worker` processes against local HTTP servers that count the
robots.txt requests they get.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from factcheck.documents.fetch import Fetcher, FetchPolicy, RobotsRecord
from tests import test_workers
from tests.httpserver_util import LocalServer, send
from tests.test_workers import PAGE, fact, setup_desk, wait_idle

pg_cli = test_workers.pg_cli  # the worker tests' fixtures: `factcheck` on the test's desk, worker processes
workers = test_workers.workers

DISALLOW = b"User-agent: *\nDisallow: /private\n"
ALLOW_ALL = b"User-agent: *\nAllow: /\n"


class Robots:
    """A robots.txt route whose text can be changed while the server runs (and that answers slowly, so that
    two processes asking at once would both be seen)."""

    def __init__(self, body: bytes = DISALLOW, status: int = 200, delay: float = 0.0) -> None:
        self.body, self.status, self.delay = body, status, delay

    def __call__(self, req) -> None:
        time.sleep(self.delay)
        send(req, self.status, self.body, content_type="text/plain")


def serve(server: LocalServer, robots: Robots, paths: list[str]) -> list[str]:
    server.routes["/robots.txt"] = robots
    for i, path in enumerate(paths):
        server.static(path, PAGE.format(title=f"District {i}", body=fact(i)).encode())
    return [server.url(p) for p in paths]


@pytest.fixture
def desk_engine(pg_url: str) -> Iterator[Engine]:
    from factcheck.desk.db import Desk, upgrade

    desk = Desk(pg_url, check=False)
    upgrade(desk.engine)
    desk.dispose()
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


def fetcher(engine: Engine, **policy: object) -> Fetcher:
    """A fetcher as a worker process has one: its own caches, the desk's host slots and robots.txt."""
    from factcheck.desk.jobs import PgHostSlots, PgRobots

    return Fetcher(FetchPolicy(allow_private_addresses=True, per_host_delay=0.0, retries=0, **policy),
                   host_slots=PgHostSlots(engine), robots_store=PgRobots(engine))


# ------------------------------------------------------------------ the library: fetchers sharing one desk


def test_fetchers_sharing_a_desk_ask_each_origin_once(desk_engine):
    servers = [LocalServer().start() for _ in range(3)]
    try:
        urls = [u for srv in servers for u in serve(srv, Robots(delay=0.3), [f"/p{i}" for i in range(4)])]
        fetchers = [fetcher(desk_engine), fetcher(desk_engine)]  # two processes' worth of caches
        results: list = []
        lock = threading.Lock()

        def run(f: Fetcher, mine: list[str]) -> None:
            for r in f.fetch_many(mine):
                with lock:
                    results.append(r)

        threads = [threading.Thread(target=run, args=(f, urls[k::2])) for k, f in enumerate(fetchers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(r.outcome for r in results) == ["fetched"] * 12
        assert [len(srv.hits_for("/robots.txt")) for srv in servers] == [1, 1, 1]
    finally:
        for srv in servers:
            srv.stop()
    with desk_engine.connect() as c:
        rows = c.execute(text("SELECT status, body, expires_at - fetched_at FROM robots_txt")).all()
    assert len(rows) == 3 and {r.status for r in rows} == {"ok"} and {r.body for r in rows} == {DISALLOW.decode()}
    assert {r[2].total_seconds() for r in rows} == {24 * 3600.0}  # a day for an answer


def test_a_disallow_read_by_one_fetcher_refuses_the_url_in_another(desk_engine):
    robots = Robots(DISALLOW)
    with LocalServer() as server:
        ok, private = serve(server, robots, ["/p0", "/private/p1"])
        assert fetcher(desk_engine).fetch(ok).outcome == "fetched"
        robots.body = ALLOW_ALL  # the site changes its mind; the desk's answer holds for its lifetime
        r = fetcher(desk_engine).fetch(private)
        assert (r.outcome, r.reason) == ("skipped", "robots")
        assert not server.hits_for("/private/p1") and len(server.hits_for("/robots.txt")) == 1


def test_the_stored_answer_is_kept_for_its_lifetime_then_asked_again(desk_engine):
    robots = Robots(DISALLOW)
    with LocalServer() as server:
        a, b = serve(server, robots, ["/p0", "/p1"])
        f = fetcher(desk_engine)
        f.robots._ttl = 1.0  # a short lifetime: the one stored for the desk, and so the process's copy's
        assert f.fetch(a).ok and f.fetch(b).ok
        assert len(server.hits_for("/robots.txt")) == 1
        with desk_engine.connect() as c:
            life = c.execute(text("SELECT expires_at - fetched_at FROM robots_txt")).scalar_one()
        assert life.total_seconds() == 1.0
        assert fetcher(desk_engine).fetch(a).ok and len(server.hits_for("/robots.txt")) == 1  # another process
        time.sleep(1.2)
        assert f.fetch(a).ok and len(server.hits_for("/robots.txt")) == 2  # run out: asked once again
        with desk_engine.begin() as c:  # and when the desk's answer runs out, a fresh process asks again too
            c.execute(text("UPDATE robots_txt SET expires_at = clock_timestamp() - interval '1 second'"))
        assert fetcher(desk_engine).fetch(b).ok and len(server.hits_for("/robots.txt")) == 3


def test_an_unavailable_site_is_stored_for_five_minutes_and_skipped_by_every_process(desk_engine):
    with LocalServer() as server:
        [url] = serve(server, Robots(b"down", status=503), ["/p0"])
        first = fetcher(desk_engine).fetch(url)
        second = fetcher(desk_engine).fetch(url)
        assert (first.outcome, first.reason) == (second.outcome, second.reason) == ("skipped", "robots-unavailable")
        assert len(server.hits_for("/robots.txt")) == 1 and not server.hits_for("/p0")
    with desk_engine.connect() as c:
        status, life = c.execute(text("SELECT status, expires_at - fetched_at FROM robots_txt")).one()
    assert status == "unavailable" and life.total_seconds() == 300.0


def test_a_failed_robots_request_is_stored_as_that_failure(desk_engine):
    from factcheck.desk.jobs import PgRobots

    stop = threading.Event()
    store = PgRobots(desk_engine)
    failed = RobotsRecord("failed", detail="refused", reason="connection", outcome="failed")
    assert store.answer("http://a.example:80", lambda: (failed, 300.0), stop) == (failed, 300.0)
    record, left = store.answer("http://a.example:80", lambda: pytest.fail("asked again"), stop)
    assert record == failed and 299 < left <= 300
    value = record.value()
    assert isinstance(value, Exception) and value.reason == "connection"


def test_a_cancelled_robots_request_is_not_stored_for_the_desk(desk_engine):
    """A process that stops while it asks leaves nothing behind: the next process asks the site itself."""
    from factcheck.desk.jobs import PgRobots
    from factcheck.documents.fetch import FetchFailure, RobotsCache, parse_url

    def stopping(target):
        raise FetchFailure("cancelled", "fetching was cancelled", outcome="skipped")

    with pytest.raises(FetchFailure, match="cancelled"):
        RobotsCache(stopping, shared=PgRobots(desk_engine)).get(parse_url("http://a.example/p"))
    with desk_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM robots_txt WHERE status <> 'asking'")).scalar_one() == 0
    with LocalServer() as server:
        [url] = serve(server, Robots(ALLOW_ALL), ["/p0"])
        assert fetcher(desk_engine).fetch(url).ok and len(server.hits_for("/robots.txt")) == 1


def test_a_robots_txt_with_nul_characters_is_stored(desk_engine):
    with LocalServer() as server:
        ok, private = serve(server, Robots(b"User-agent: *\x00\nDisallow: /private\n"), ["/p0", "/private/p1"])
        assert fetcher(desk_engine).fetch(ok).ok
        assert fetcher(desk_engine).fetch(private).reason == "robots"
        assert len(server.hits_for("/robots.txt")) == 1


# ------------------------------------------------------------------ real workers


def test_two_workers_ask_each_origin_for_robots_txt_once(pg_cli, workers, tmp_path):
    servers = [LocalServer().start() for _ in range(3)]
    db = create_engine(pg_cli.url)
    try:
        urls = [u for srv in servers for u in serve(srv, Robots(delay=0.5), [f"/p{i}" for i in range(6)])]
        setup_desk(pg_cli.url, tmp_path, urls)
        env = {"FACTCHECK_PER_HOST_DELAY": "0"}
        workers.start("--concurrency", "3", env=env)
        workers.start("--concurrency", "3", env=env)
        workers.wait_registered(db, 2)
        # jobs of two URLs (of one host): nine jobs, three per host, shared by the two workers
        assert pg_cli("fetch", "--queue", "--no-rejudge", env={"FACTCHECK_FETCH_JOB_URLS": "2"}).code == 0
        assert wait_idle(db, at_least=9) == {"succeeded": 9}
        workers.stop()
        assert workers.started_jobs(0) and workers.started_jobs(1), "both workers fetched"
        assert [len(srv.hits_for("/robots.txt")) for srv in servers] == [1, 1, 1]
        assert all(len(srv.hits_for(f"/p{i}")) == 1 for srv in servers for i in range(6))
    finally:
        for srv in servers:
            srv.stop()
        db.dispose()


def test_a_disallow_fetched_by_one_worker_refuses_the_url_in_another(pg_cli, workers, tmp_path):
    robots = Robots(DISALLOW)
    db = create_engine(pg_cli.url)
    try:
        with LocalServer() as server:
            ok, private = serve(server, robots, ["/p0", "/private/p1"])
            setup_desk(pg_cli.url, tmp_path, [ok, private])
            env = {"FACTCHECK_PER_HOST_DELAY": "0"}
            workers.start(env=env)  # worker A reads robots.txt with the first page
            assert pg_cli("fetch", "--queue", "--no-rejudge", "--url", ok).code == 0
            assert wait_idle(db, at_least=1) == {"succeeded": 1}
            workers.stop()
            robots.body = ALLOW_ALL  # what worker B would read, were it to ask
            workers.start(env=env)  # worker B, a new process
            assert pg_cli("fetch", "--queue", "--no-rejudge", "--url", private).code == 0
            assert wait_idle(db, at_least=2) == {"succeeded": 2}
            assert not server.hits_for("/private/p1")
            assert len(server.hits_for("/robots.txt")) == 1
        assert len(workers.started_jobs(0)) == 1 and len(workers.started_jobs(1)) == 1
        with db.connect() as c:
            got = c.execute(text("SELECT e.url, a.outcome, a.reason FROM fetch_attempt a "
                                 "JOIN evidence_url e ON e.id = a.evidence_url_id ORDER BY a.id")).all()
        assert [tuple(r) for r in got] == [(ok, "fetched", None), (private, "skipped", "robots")]
    finally:
        db.dispose()


def test_worker_fetcher_uses_the_desks_robots_store(pg_url, tmp_path):
    """The worker's fetcher is built with the desk's stores (what the worker tests above rely on)."""
    from factcheck.desk.db import Desk
    from factcheck.desk.jobs import PgHostSlots, PgRobots, _WorkerState
    from tests.test_workers import settings_for

    desk = Desk(pg_url, check=False)
    try:
        state = _WorkerState(desk, settings_for(pg_url, Path(tmp_path)), concurrency=3)
        f = state.fetcher()
        assert isinstance(f.robots._shared, PgRobots) and isinstance(f.throttle._shared, PgHostSlots)
        # a fetch job's own fetcher reads the process's robots.txt answers and waits for the desk's host slots,
        # with the `concurrency` setting's threads (8) shared out between the worker's three jobs
        job = state.job_fetcher()
        assert job.robots is f.robots and isinstance(job.throttle._shared, PgHostSlots)
        assert job.policy.concurrency == 3 and job.session is f.session
    finally:
        desk.dispose()
