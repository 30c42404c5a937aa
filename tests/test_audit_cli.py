"""`factcheck audit verify` / `audit log` through the real entry point, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from factcheck.desk import audit
from factcheck.desk.cases import import_case
from factcheck.desk.models import AuditEvent, Snapshot
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


# ------------------------------------------------------------------ the head recorded outside the database

HEAD_LINE = re.compile(r"^Audit head: event (\d+) ([0-9a-f]{64})$", re.MULTILINE)


def _import_by_cli(env, cli, tmp_path: Path) -> tuple[int, str]:
    """The fixture case imported through the CLI (which records the head); returns the printed head."""
    shutil.copytree(CASE_DIR, tmp_path / "case")
    r = cli("--db", env.url, "claims", "import", str(tmp_path / "case" / "case.yaml"))
    assert r.code == 0, r.stderr
    m = HEAD_LINE.search(r.stderr)
    assert m, r.stderr
    return int(m.group(1)), m.group(2)


def test_changes_record_the_head_in_a_file_and_audit_head_prints_it(shared_desk, cli, tmp_path):
    event_id, digest = _import_by_cli(shared_desk, cli, tmp_path)
    recorded = json.loads((tmp_path / "audit-head.json").read_text())
    assert (recorded["event_id"], recorded["hash"]) == (event_id, digest)
    head = json.loads(cli("--db", shared_desk.url, "audit", "head", "--json").stdout)
    assert (head["event_id"], head["hash"]) == (event_id, digest) and head["recorded"]["hash"] == digest
    assert digest in cli("--db", shared_desk.url, "audit", "head").stdout
    listed = cli("--db", shared_desk.url, "claims", "list")  # reading changes nothing and prints no head
    assert listed.code == 0 and "Audit head" not in listed.stderr
    v = cli("--db", shared_desk.url, "verify", "--json")
    assert v.code == 0 and json.loads(v.stdout)  # stdout stays pure JSON; the head goes to stderr
    newer = int(HEAD_LINE.search(v.stderr).group(1))
    assert newer > event_id and json.loads((tmp_path / "audit-head.json").read_text())["event_id"] == newer
    ok = cli("--db", shared_desk.url, "audit", "verify")
    assert ok.code == 0 and "head file: ok" in ok.stdout and "snapshots: 1 match" in ok.stdout, ok.stderr


def test_events_cut_off_the_end_are_caught_by_the_head_file(shared_desk, cli, tmp_path):
    event_id, _digest = _import_by_cli(shared_desk, cli, tmp_path)
    with shared_desk.desk.session() as s:
        s.execute(text("DELETE FROM audit_event WHERE id = :i"), {"i": event_id})
    cut = cli("--db", shared_desk.url, "audit", "verify")
    assert cut.code == 1 and "events were cut off" in cut.stderr and f"event {event_id}" in cut.stderr
    js = json.loads(cli("--db", shared_desk.url, "audit", "verify", "--json").stdout)
    assert js["ok"] is False and js["head_file"]["state"] == "mismatch"


def test_a_rewritten_chain_is_caught_by_the_head_file(shared_desk, cli, tmp_path):
    """Someone with database access edits an event and recomputes every hash after it: the chain verifies,
    the head recorded outside the database does not match any more."""
    _import_by_cli(shared_desk, cli, tmp_path)
    with shared_desk.desk.session() as s:
        prev = audit.GENESIS
        for ev in s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
            if ev.id == 1:
                ev.actor = "mallory"
            ev.prev_hash = prev
            ev.hash = audit.event_hash(prev_hash=prev, at=ev.at, actor=ev.actor, action=ev.action,
                                       entity=ev.entity, entity_id=ev.entity_id, claim_id=ev.claim_id,
                                       before=ev.before, after=ev.after)
            prev = ev.hash
    with shared_desk.desk.session() as s:
        assert audit.verify_session(s).ok  # the chain alone cannot tell
    bad = cli("--db", shared_desk.url, "audit", "verify")
    assert bad.code == 1 and "rewritten" in bad.stderr and "Traceback" not in bad.stderr


def test_signed_head_file_cannot_be_edited_without_the_key(sqlite_desk, cli, tmp_path):
    _import_by_cli(sqlite_desk, cli, tmp_path)
    made = cli("--db", sqlite_desk.url, "audit", "keygen")
    assert made.code == 0, made.stderr
    key = tmp_path / "audit.key"
    assert key.is_file() and (key.stat().st_mode & 0o077) == 0
    assert 'audit_key_file = "audit.key"' in (tmp_path / "factcheck.toml").read_text()
    assert cli("--db", sqlite_desk.url, "audit", "keygen").code == 1  # never replaced in place
    assert cli("--db", sqlite_desk.url, "audit", "verify").code == 0
    head_file = tmp_path / "audit-head.json"
    data = json.loads(head_file.read_text())
    assert len(data["mac"]) == 64
    with sqlite_desk.desk.session() as s:  # cut the newest event and forge the file to match
        s.execute(text("DELETE FROM audit_event WHERE id = :i"), {"i": data["event_id"]})
        prev = s.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
    data.update(event_id=prev.id, hash=prev.hash)
    head_file.write_text(json.dumps(data))
    forged = cli("--db", sqlite_desk.url, "audit", "verify")
    assert forged.code == 1 and "not signed with this desk's key" in forged.stderr


def test_a_new_desk_starts_its_head_file_afresh(cli, tmp_path):
    (tmp_path / "audit-head.json").write_text(json.dumps({
        "format": "factcheck-audit-head/1", "database": "sqlite:///factcheck.db", "event_id": 500,
        "hash": "a" * 64, "at": None, "recorded_at": None}))
    assert cli("init").code == 0
    assert json.loads((tmp_path / "audit-head.json").read_text())["event_id"] is None
    ok = cli("audit", "verify")
    assert ok.code == 0 and "head file: ok" in ok.stdout


def test_snapshot_edited_in_the_database_or_its_warc_lost_is_named(shared_desk, cli, tmp_path):
    build(shared_desk, tmp_path)
    assert cli("--db", shared_desk.url, "audit", "verify").code == 0
    with shared_desk.desk.session() as s:
        snap = s.execute(select(Snapshot)).scalars().first()
        snap.text = snap.text.replace("e", "3", 1)
        sid, warc = snap.id, shared_desk.settings.evidence_path / snap.warc_path
    bad = cli("--db", shared_desk.url, "audit", "verify")
    assert bad.code == 1 and f"snapshot {sid}" in bad.stderr and "stored text differs" in bad.stderr
    js = json.loads(cli("--db", shared_desk.url, "audit", "verify", "--json").stdout)
    assert [p["snapshot"] for p in js["snapshots"]["problems"]] == [sid]
    assert cli("--db", shared_desk.url, "audit", "verify", "--no-snapshots").code == 0
    warc.unlink()
    lost = cli("--db", shared_desk.url, "audit", "verify")
    assert lost.code == 1 and "no archived capture" in lost.stderr


def test_a_damaged_head_file_is_kept_and_reported(sqlite_desk, cli, tmp_path):
    _import_by_cli(sqlite_desk, cli, tmp_path)
    head_file = tmp_path / "audit-head.json"
    head_file.write_text("{ not json")
    r = cli("--db", sqlite_desk.url, "verify")
    assert r.code == 0 and "Warning: the audit head was not recorded" in r.stderr
    assert head_file.read_text() == "{ not json"  # evidence is not overwritten
    bad = cli("--db", sqlite_desk.url, "audit", "verify")
    assert bad.code == 1 and "is not an audit head file" in bad.stderr and "Traceback" not in bad.stderr
