"""The web desk's database connections on PostgreSQL (#15): each server process keeps a bounded set of
connections (no burst connections opened and closed beyond it), a request that finds them all busy waits for
one, a database that is busy or refuses connections gets a 503 with Retry-After (not a 500), and `serve`
refuses a number of processes whose connections the database could never hold.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text

from factcheck.desk import db as db_mod
from factcheck.desk import users
from factcheck.desk.db import Desk
from factcheck.web import create_app
from tests.bench_modules import load_benchmark

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

web_load = load_benchmark("web_load")
PASSWORD = "correct horse battery"


def signed_in_client(app) -> TestClient:
    c = TestClient(app, follow_redirects=False, base_url="http://localhost", raise_server_exceptions=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
    assert csrf
    r = c.post("/login", data={"name": "u0", "password": PASSWORD, "csrf": csrf.group(1), "next": "/queue"})
    assert r.status_code == 303, r.text
    return c


@pytest.fixture
def filled(pg_desk):
    with pg_desk.desk.session() as s:
        web_load.fill_desk(s, 300, events=20)
        for i in range(4):
            users.add_user(s, f"u{i}", role="checker", password=PASSWORD, actor="t")
    return pg_desk


def server_desk(env, pool: int) -> Desk:
    return Desk(env.url, pool=pool)


def test_a_request_that_finds_every_connection_busy_is_a_503_with_retry_after(filled, monkeypatch):
    monkeypatch.setattr(db_mod, "POOL_WAIT", 0.5)
    desk = server_desk(filled, pool=1)
    try:
        c = signed_in_client(create_app(desk, filled.settings))
        assert c.get("/queue").status_code == 200
        with desk.engine.connect() as held:  # the process's one connection, busy elsewhere
            held.execute(text("SELECT 1"))
            r = c.get("/queue")
        assert r.status_code == 503, r.status_code
        assert r.headers["retry-after"] == "2"
        assert "busy" in r.text and "Traceback" not in r.text
        assert desk.engine.pool.checkedout() == 0  # nothing was kept by the refused request
        assert c.get("/queue").status_code == 200  # and the next one is served again
    finally:
        desk.dispose()


def test_a_database_that_refuses_connections_is_a_503_not_a_500(filled, pg_server):
    desk = server_desk(filled, pool=2)
    name = filled.url.rsplit("/", 1)[1]
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    try:
        c = signed_in_client(create_app(desk, filled.settings))
        desk.engine.dispose()  # its connections are gone (the server restarted, say) and new ones are refused
        with admin.connect() as a:
            a.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        try:
            r = c.get("/queue")
        finally:
            with admin.connect() as a:
                a.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        assert r.status_code == 503, r.status_code
        assert r.headers["retry-after"] == "2"
        assert c.get("/queue").status_code == 200
    finally:
        desk.dispose()
        admin.dispose()


def test_many_users_share_the_process_connections_without_opening_more(filled):
    """8 users at once on a process that keeps 2 connections: every page is served (requests wait for a
    connection), and the process never opened a third one nor reopened one it had."""
    desk = server_desk(filled, pool=2)
    opened = []
    event.listen(desk.engine, "connect", lambda *_a: opened.append(1))
    try:
        app = create_app(desk, filled.settings)
        clients = [signed_in_client(app) for _ in range(8)]
        codes: list[int] = []
        lock = threading.Lock()

        def user(c: TestClient, i: int) -> None:
            for n in range(6):
                got = c.get("/queue" if n % 2 else f"/claims?q=Claim {i}").status_code
                with lock:
                    codes.append(got)

        threads = [threading.Thread(target=user, args=(c, i)) for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert codes == [200] * 48
        assert len(opened) <= 2
    finally:
        desk.dispose()


def test_serve_refuses_more_connections_than_the_database_allows(filled, tmp_path: Path):
    with create_engine(filled.url).connect() as conn:
        allowed = int(conn.execute(text("SHOW max_connections")).scalar_one())
    per_process = allowed // 4 + 1  # four processes need more than the database allows
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTCHECK_")}
    env.update({"FACTCHECK_DB": filled.url, "FACTCHECK_WEB_CONNECTIONS": str(per_process)})
    p = subprocess.Popen([sys.executable, "-m", "factcheck", "serve", "--port", str(web_load.free_port()),
                          "--workers", "4"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        _out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # the server and the worker processes it started
        p.communicate()
        pytest.fail("serve started processes needing more connections than the database allows")
    assert p.returncode != 0
    assert err.startswith("Error: ") and "Traceback" not in err
    assert f"= {4 * per_process}" in err and str(allowed) in err


def test_web_load_counts_the_exceptions_in_the_server_log(tmp_path: Path):
    log = tmp_path / "server.log"
    log.write_text(
        "INFO:     Started server process [1]\n"
        "ERROR:    Exception in ASGI application\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in f\n'
        "psycopg.OperationalError: too many clients already\n"
        "\n"
        "The above exception was the direct cause of the following exception:\n"
        "\n"
        "Traceback (most recent call last):\n"
        '  File "y.py", line 2, in g\n'
        "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) too many clients already\n"
        "WARNING:  GET /queue answered 503: too many clients already\n"
        "ERROR:    Exception in ASGI application\n"
        "Traceback (most recent call last):\n"
        '  File "y.py", line 2, in g\n'
        "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) too many clients already\n")
    said = web_load.server_errors(log)
    assert "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) too many clients already x2" in said
    assert "psycopg.OperationalError: too many clients already x1" in said
    assert "WARNING" not in said and "INFO" not in said
    log.write_text("INFO:     Started server process [1]\n")
    assert web_load.server_errors(log) == "server log: no tracebacks (1 lines)"
