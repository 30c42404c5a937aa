"""Interrupted verification runs: a run whose process died is listed as interrupted, and its verdicts never
become a claim's current verdict (in listings, triage and reports), on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from factcheck.desk import runs, triage
from factcheck.desk.cases import import_case
from factcheck.desk.claims import current_verdict
from factcheck.desk.models import Claim, Run, Verdict, utcnow
from factcheck.desk.verify import verify

CASE_DIR = Path(__file__).parent / "fixtures" / "cases"

# `factcheck verify` in a child process, one claim per batch, that stops for good while judging its second
# claim (after the first claim's verdict was committed) and says so in a marker file
PAUSING_VERIFY = """
import sys, time
from pathlib import Path
import factcheck.desk.verify as v
marker, calls, real = Path(sys.argv[1]), [], v.judge_many
def judge_many(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
        marker.write_text("paused")
        time.sleep(600)
    return real(*args, **kwargs)
v.judge_many = judge_many
v.verify.__kwdefaults__["batch_size"] = 1
from factcheck.cli import run
sys.argv = ["factcheck", *sys.argv[2:]]
run()
"""


@pytest.fixture(params=["sqlite-file", "postgresql"])
def shared_desk(request: pytest.FixtureRequest) -> Iterator[object]:
    """A desk a separate process can open: a SQLite file or a PostgreSQL database."""
    yield request.getfixturevalue("sqlite_desk" if request.param == "sqlite-file" else "pg_desk")


def _import(env, tmp_path: Path) -> None:
    shutil.copytree(CASE_DIR, tmp_path / "case")
    with env.desk.session() as s:
        import_case(s, env.settings, tmp_path / "case" / "case.yaml", actor="importer")


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTCHECK_")}
    env.update({"FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "1", "FACTCHECK_USER": "killer", "FACTCHECK_NLI": "off"})
    return env


def test_killed_verify_is_interrupted_and_its_verdicts_do_not_count(shared_desk, cli, tmp_path):
    env = shared_desk
    _import(env, tmp_path)
    first = verify(env.desk, env.settings, actor="robot")  # a finished run: its verdicts are current
    marker = tmp_path / "paused"
    child = subprocess.Popen([sys.executable, "-c", PAUSING_VERIFY, str(marker), "--db", env.url, "verify"],
                             cwd=tmp_path, env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.communicate()[1].decode()
            assert time.monotonic() < deadline, "the child verify never reached its second claim"
            time.sleep(0.1)
        with env.desk.session() as s:  # while it runs: listed as running, its verdict not yet current
            live = s.execute(select(Run).order_by(Run.id.desc())).scalars().first()
            assert live is not None and live.id != first.run_id and live.pid == child.pid
            assert runs.run_state(live) == "running"
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    killed = live.id

    listed = cli("--db", env.url, "runs", "--json")
    assert listed.code == 0, listed.stderr
    states = {r["id"]: r["state"] for r in json.loads(listed.stdout)}
    assert states == {first.run_id: "finished", killed: "interrupted"}
    table = cli("--db", env.url, "runs")
    assert table.code == 0 and "interrupted" in table.stdout and "finished" in table.stdout

    with env.desk.session() as s:
        c1 = s.execute(select(Claim).where(Claim.key == "C1")).scalar_one()
        orphan = s.execute(select(Verdict).where(Verdict.run_id == killed)).scalars().all()
        assert [v.claim_id for v in orphan] == [c1.id]  # the first claim's verdict was committed ...
        cur = current_verdict(s, c1.id)
        assert cur is not None and cur.run_id == first.run_id  # ... but the finished run's stands
        assert triage.current_verdicts(s, [c1.id])[c1.id].run_id == first.run_id

    claims = {c["id"]: c for c in json.loads(cli("--db", env.url, "claims", "list", "--json").stdout)}
    assert claims["C1"]["decided_by"] == f"run {first.run_id}"
    rep = cli("--db", env.url, "report", "--format", "json", "-o", str(tmp_path / "r.json"))
    assert rep.code == 0, rep.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    by_key = {c["id"]: c for c in report["claims"]}
    assert by_key["C1"]["decided_by"] == f"machine run {first.run_id}"
    assert {r["id"]: r["state"] for r in report["runs"]} == {first.run_id: "finished", killed: "interrupted"}


def test_a_run_that_fails_marks_itself_interrupted(desk, tmp_path, monkeypatch):
    _import(desk, tmp_path)
    import factcheck.desk.verify as verify_mod

    def broken(*_args, **_kwargs):
        raise RuntimeError("reader crashed")

    monkeypatch.setattr(verify_mod, "judge_many", broken)
    with pytest.raises(RuntimeError):
        verify(desk.desk, desk.settings, actor="robot")
    with desk.desk.session() as s:
        run = s.execute(select(Run)).scalar_one()
        assert run.interrupted_at is not None and run.finished_at is None
        assert runs.run_state(run) == "interrupted"


@pytest.mark.parametrize(
    ("row", "state"),
    [
        ({"finished_at": 0}, "finished"),
        ({"heartbeat_at": 0, "host": "this", "pid": "mine"}, "running"),
        ({"heartbeat_at": 0, "host": "this", "pid": "dead"}, "interrupted"),  # its process is gone
        ({"heartbeat_at": 0, "host": "elsewhere", "pid": "dead"}, "running"),  # another host: heartbeat decides
        ({"heartbeat_at": -runs.STALE_AFTER * 2, "host": "elsewhere", "pid": 1}, "interrupted"),
        ({"heartbeat_at": -runs.STALE_AFTER * 2, "host": "this", "pid": "mine"}, "interrupted"),  # stuck
        ({"heartbeat_at": 0, "host": "this", "pid": "mine", "interrupted_at": 0}, "interrupted"),
        ({}, "interrupted"),  # from before runs had a heartbeat: started long ago, never finished
    ],
)
def test_run_state(row, state):
    now = utcnow()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    values = {"this": runs.this_host(), "mine": os.getpid(), "dead": dead.pid}
    fields = {k: (now + (v if isinstance(v, timedelta) else timedelta(0)) if k.endswith("_at") else values.get(v, v))
              for k, v in row.items()}
    run = Run(version="t", started_at=now - timedelta(days=1), **fields)
    assert runs.run_state(run, now) == state
