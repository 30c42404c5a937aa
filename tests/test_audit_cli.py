"""`factcheck audit verify` / `audit log` through the real entry point, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from factcheck.desk.cases import import_case
from factcheck.desk.models import AuditEvent
from factcheck.desk.triage import next_claim, review
from factcheck.desk.verify import verify

CASE_DIR = Path(__file__).parent / "fixtures" / "cases"
BI = "https://www.businessinsider.com/report"


@pytest.fixture(params=["sqlite-file", "postgresql"])
def shared_desk(request: pytest.FixtureRequest) -> Iterator[object]:
    yield request.getfixturevalue("sqlite_desk" if request.param == "sqlite-file" else "pg_desk")


def build(env, tmp_path: Path) -> str:
    """Import, verify, and have ana take and review the first claim; returns that claim's id."""
    shutil.copytree(CASE_DIR, tmp_path / "case")
    with env.desk.session() as s:
        import_case(s, env.settings, tmp_path / "case" / "case.yaml", actor="importer")
    verify(env.desk, env.settings, actor="robot")
    with env.desk.session() as s:
        got = next_claim(s, by="ana", minutes=30)
        assert got is not None
        key = got.key
    with env.desk.session() as s:
        review(s, key, label="verified", note="the document says so", by="ana", quotes=[f"{BI}#0-40"])
    return key


def test_verify_passes_then_names_the_edited_event(shared_desk, cli, tmp_path):
    build(shared_desk, tmp_path)
    ok = cli("--db", shared_desk.url, "audit", "verify")
    assert ok.code == 0 and "Audit chain intact" in ok.stdout, ok.stderr
    with shared_desk.desk.session() as s:
        ids = list(s.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars())
        victim = ids[len(ids) // 2]
        s.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = :i"), {"i": victim})
    bad = cli("--db", shared_desk.url, "audit", "verify")
    assert bad.code == 1
    assert bad.stderr.startswith(f"Error: audit chain broken at event {victim}:") and "edited" in bad.stderr
    assert "Traceback" not in bad.stderr
    js = cli("--db", shared_desk.url, "audit", "verify", "--json")
    assert js.code == 1
    report = json.loads(js.stdout)
    assert report["ok"] is False and report["first_bad_id"] == victim


def test_deleted_event_is_named(shared_desk, cli, tmp_path):
    build(shared_desk, tmp_path)
    with shared_desk.desk.session() as s:
        ids = list(s.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars())
        s.execute(text("DELETE FROM audit_event WHERE id = :i"), {"i": ids[3]})
    bad = cli("--db", shared_desk.url, "audit", "verify")
    assert bad.code == 1 and f"event {ids[4]}" in bad.stderr


def test_expect_head_catches_events_cut_off_the_end(shared_desk, cli, tmp_path):
    build(shared_desk, tmp_path)
    head = json.loads(cli("--db", shared_desk.url, "audit", "verify", "--json").stdout)["head"]
    assert cli("--db", shared_desk.url, "audit", "verify", "--expect-head", head).code == 0
    with shared_desk.desk.session() as s:
        last = s.execute(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)).scalar()
        s.execute(text("DELETE FROM audit_event WHERE id = :i"), {"i": last})
    assert cli("--db", shared_desk.url, "audit", "verify").code == 0  # the chain alone cannot see a cut tail
    cut = cli("--db", shared_desk.url, "audit", "verify", "--expect-head", head)
    assert cut.code == 1 and "no longer in the chain" in cut.stderr


def test_log_traces_a_verdict_to_who_and_what(shared_desk, cli, tmp_path):
    key = build(shared_desk, tmp_path)
    r = cli("--db", shared_desk.url, "audit", "log", "--claim", key, "--json")
    assert r.code == 0, r.stderr
    events = json.loads(r.stdout)
    assert all(e["claim"] == key for e in events)
    assert [e["action"] for e in events] == [
        "claim.create", "verdict.machine", "claim.assign", "claim.release", "verdict.human"]
    assert [e["actor"] for e in events] == ["importer", "robot", "ana", "ana", "ana"]
    decided = events[-1]
    assert decided["after"]["label"] == "verified" and decided["after"]["note"] == "the document says so"
    assert decided["after"]["quotes"][0]["url"] == BI and len(decided["after"]["quotes"][0]["snapshot_sha256"]) == 64
    assert decided["before"]["kind"] == "machine"
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    table = cli("--db", shared_desk.url, "audit", "log", "--claim", key)
    assert table.code == 0 and "verdict.human" in table.stdout and "ana" in table.stdout
    tail = json.loads(cli("--db", shared_desk.url, "audit", "log", "--limit", "2", "--json").stdout)
    assert [e["action"] for e in tail] == ["claim.release", "verdict.human"]
    missing = cli("--db", shared_desk.url, "audit", "log", "--claim", "C99")
    assert missing.code == 1 and "no claim 'C99'" in missing.stderr


def test_triage_listing_cli(shared_desk, cli, tmp_path):
    key = build(shared_desk, tmp_path)
    rows = json.loads(cli("--db", shared_desk.url, "triage", "--json").stdout)
    assert key not in [r["id"] for r in rows]  # reviewed: out of the queue
    assert rows and {"id", "status", "reasons", "assignee", "age_seconds", "last_action", "revision"} <= set(rows[0])
    table = cli("--db", shared_desk.url, "triage")
    assert table.code == 0 and "Triage queue" in table.stdout
    none = cli("--db", shared_desk.url, "triage", "next", "--json", env={"FACTCHECK_USER": ""})
    assert none.code == 1 and "who is taking the claim" in none.stderr
