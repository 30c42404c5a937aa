"""Inline `factcheck fetch` keeps the desk's politeness: on a PostgreSQL desk, two terminals fetching at once
share the per-host delay and robots.txt with each other (and with the workers), as the server's own timestamps
show; a SQLite desk keeps both in its one process.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

from sqlalchemy import select, text

from factcheck.desk.models import AuditEvent
from tests.conftest import FACTCHECK_BIN
from tests.httpserver_util import LocalServer
from tests.test_robots_shared import Robots, serve
from tests.test_workers import setup_desk


def fetch_in_terminal(pg_url: str, folder: Path, delay: float, urls: list[str]) -> subprocess.Popen[bytes]:
    """`factcheck fetch --url …` as a second terminal runs it: its own process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTCHECK_")} | {
        "FACTCHECK_DB": pg_url, "FACTCHECK_NLI": "off", "FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "1",
        "FACTCHECK_PER_HOST_DELAY": str(delay), "FACTCHECK_USER": "tester", "FACTCHECK_REJUDGE": "0"}
    args = [a for u in urls for a in ("--url", u)]
    return subprocess.Popen([FACTCHECK_BIN, "fetch", "--json", *args], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_inline_fetches_on_one_postgresql_desk_keep_one_per_host_delay(pg_url, tmp_path):
    delay = 0.4
    with LocalServer() as server:
        urls = serve(server, Robots(delay=0.3), [f"/p{i}" for i in range(8)])
        setup_desk(pg_url, tmp_path, urls)
        terminals = [fetch_in_terminal(pg_url, tmp_path, delay, urls[k::2]) for k in range(2)]
        for p in terminals:
            out, errs = p.communicate(timeout=60)
            assert p.returncode == 0, errs.decode()
            assert out.decode().count('"outcome": "fetched"') == 4
        assert len(server.hits_for("/robots.txt")) == 1  # asked once for the desk, not once per terminal
        starts = sorted(h.start for h in server.hits)  # the eight pages and the one robots.txt request
    assert len(starts) == 9
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= delay - 0.01, f"smallest gap the server saw: {min(gaps):.3f}s < {delay}s"


def test_desk_fetcher_is_desk_wide_on_postgresql_and_in_process_on_sqlite(pg_url, tmp_path):
    from factcheck.desk.db import Desk
    from factcheck.desk.politeness import PgHostSlots, PgRobots, desk_fetcher
    from factcheck.documents.fetch import FetchPolicy

    for url, shared in ((pg_url, True), (f"sqlite:///{tmp_path / 'desk.db'}", False)):
        desk = Desk(url, check=False)
        try:
            with desk_fetcher(desk, FetchPolicy()) as f:
                assert isinstance(f.throttle._shared, PgHostSlots) is shared
                assert isinstance(f.robots._shared, PgRobots) is shared
                assert (f.throttle._shared is None) is not shared and (f.robots._shared is None) is not shared
        finally:
            desk.dispose()


def _holds_audit_lock(session) -> bool:
    """Whether this session's PostgreSQL connection holds the audit chain's advisory lock now."""
    from factcheck.desk import audit

    return session.execute(text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
        "AND classid = 0 AND objid = :k AND objsubid = 1 AND granted"), {"k": audit._LOCK_KEY}).scalar_one() == 1


def test_a_batch_of_captures_takes_the_audit_lock_before_any_term_count(pg_url, tmp_path, monkeypatch):
    """Two processes storing batches of captures on one PostgreSQL desk must not deadlock: each capture upserts
    its terms (row locks) and every transaction ends up taking the audit chain's lock, so that lock is taken
    first (else one writer holds terms the other wants while waiting for the lock the other holds)."""
    from factcheck.desk import retrieve

    held = _fetch_four_noting_the_audit_lock(pg_url, tmp_path, monkeypatch, retrieve, "count_terms")
    assert held and all(held), held  # one term count per stored batch (not per capture), each under the lock


def _fetch_four_noting_the_audit_lock(pg_url, tmp_path, monkeypatch, module, name: str) -> list[bool]:
    """Fetch four pages onto a PostgreSQL desk with `module.name` (a step of storing captures) noting, each
    time it is called, whether the transaction holds the audit lock; the audit chain must verify after."""
    from factcheck.desk import audit
    from factcheck.desk.capture import fetch_pending
    from factcheck.desk.db import Desk
    from tests.test_workers import serve_facts, settings_for

    held: list[bool] = []
    real = getattr(module, name)

    def noting(session, *args) -> None:
        held.append(_holds_audit_lock(session))
        real(session, *args)

    monkeypatch.setattr(module, name, noting)
    with LocalServer() as server:
        urls = serve_facts(server, 4)
        setup_desk(pg_url, tmp_path, urls)
        desk = Desk(pg_url)
        try:
            summary = fetch_pending(desk, settings_for(pg_url, tmp_path), actor="tester")
            with desk.session() as s:
                assert audit.verify_chain(list(s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())).ok
        finally:
            desk.dispose()
    assert summary.counts() == {"fetched": 4}
    return held


def test_a_host_slot_held_by_another_process_waits_for_it_and_hears_a_stop(pg_url, tmp_path):
    """The slot of an origin whose row another connection holds is waited for, not taken beside it; a fetcher
    told to stop meanwhile hears it within about a second (the row is asked for with a lock timeout), and
    the next taker then finds the delay the last holder left."""
    import threading
    import time

    from sqlalchemy import create_engine

    from factcheck.desk.db import Desk, upgrade
    from factcheck.desk.politeness import PgHostSlots
    from factcheck.documents.fetch import FetchFailure

    desk = Desk(pg_url, check=False)
    upgrade(desk.engine)
    desk.dispose()
    engine = create_engine(pg_url)
    slots, stop = PgHostSlots(engine), threading.Event()
    try:
        with slots.hold("http://a.example", 0.3, stop):
            pass
        holder = engine.connect()  # another process talking to the origin
        holder.execute(text("SELECT 1 FROM host_slot WHERE origin = 'http://a.example' FOR UPDATE"))
        outcome: list[str] = []

        def take() -> None:
            try:
                with slots.hold("http://a.example", 0.3, stop):
                    outcome.append("taken")
            except FetchFailure as exc:
                outcome.append(exc.reason)

        taker = threading.Thread(target=take, daemon=True)
        taker.start()
        taker.join(1.5)
        assert taker.is_alive() and not outcome  # waiting for the holder
        stop.set()
        taker.join(3.0)
        stopped = not taker.is_alive()
        holder.rollback()
        holder.close()
        taker.join(5.0)
        assert stopped and outcome == ["cancelled"], outcome
        stop.clear()
        with slots.hold("http://a.example", 0.3, stop):
            pass
        t0 = time.monotonic()
        with slots.hold("http://a.example", 0.3, stop):
            waited = time.monotonic() - t0
        assert waited >= 0.25, waited
    finally:
        engine.dispose()


def test_a_batch_writes_its_snapshots_and_passages_before_it_takes_the_audit_lock(pg_url, tmp_path, monkeypatch):
    """What only the batch's own transaction can see (new snapshots, their passages) is written before the
    desk-wide audit lock is taken, so writers on the desk wait for each other only for what they share (term
    counts, the audit chain); the term counts still come under the lock (the test above)."""
    from factcheck.desk import evidence

    held = _fetch_four_noting_the_audit_lock(pg_url, tmp_path, monkeypatch, evidence, "insert_passages")
    assert held and not any(held), held
