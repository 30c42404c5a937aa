"""Big case imports in batches: idempotent, one change touches one claim, the audit chain stays whole, and a
SQLite desk keeps serving readers while an import runs (WAL)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select, text

from factcheck.desk import audit, cases
from factcheck.desk.cases import import_case
from factcheck.desk.db import Desk
from factcheck.desk.models import AuditEvent, Citation, Claim, ClaimEvidence, EvidenceUrl

N = 300
TABLES = (Claim, Citation, ClaimEvidence, EvidenceUrl, AuditEvent)


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several batches in a file small enough for a quick test."""
    monkeypatch.setattr(cases, "CLAIM_BATCH", 64)


def big_case(folder: Path, n: int = N) -> tuple[Path, dict]:
    urls = [f"https://s{i % 5}.example/page/{i}" for i in range(40)]
    data = {
        "case": "big", "sources": [{"name": f"Source {i}", "domains": [f"s{i}.example"]} for i in range(5)],
        "evidence": [{"url": u, "source": f"Source {i % 5}"} for i, u in enumerate(urls[:20])],
        "claims": [{"id": f"C{k}", "text": f"Claim number {k} says the rate rose by {k % 97} percent.",
                    "cited": [f"Source {k % 5}"], "evidence": [urls[k % 40], urls[(k * 7 + 1) % 40]]}
                   for k in range(n)],
    }
    path = folder / "big.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path, data


def counts(desk) -> dict[str, int]:
    with desk.desk.session() as s:
        return {t.__tablename__: s.execute(select(func.count()).select_from(t)).scalar_one() for t in TABLES}


def do_import(desk, path: Path, actor: str = "tester") -> cases.ImportSummary:
    with desk.desk.session() as s:
        return import_case(s, desk.settings, path, actor=actor)


def chain_ok(desk) -> audit.ChainReport:
    with desk.desk.session() as s:
        return audit.verify_session(s)


def test_big_import_writes_every_claim_with_its_event_in_order(desk, tmp_path):
    path, _ = big_case(tmp_path)
    summary = do_import(desk, path)
    assert summary.claims == {"created": N, "updated": 0, "unchanged": 0}
    report = chain_ok(desk)
    assert report.ok, report
    with desk.desk.session() as s:
        created = list(s.execute(select(AuditEvent.entity_id, AuditEvent.after)
                                 .where(AuditEvent.action == "claim.create").order_by(AuditEvent.id)))
        claims = {c.id: c for c in s.execute(select(Claim)).scalars()}
        assert [claims[eid].key for eid, _ in created] == [f"C{k}" for k in range(N)]  # one event each, in order
        c7 = next(c for c in claims.values() if c.key == "C7")
        after = dict(created[7].after)
        assert after["evidence"] == [e.url for e in
                                     (s.get(EvidenceUrl, link.evidence_url_id) for link in c7.evidence_links)]
        assert [ci.name for ci in c7.citations] == ["Source 2"] and after["cited"][0]["name"] == "Source 2"
        assert s.execute(select(func.count()).select_from(EvidenceUrl)).scalar_one() == 40


def test_reimport_of_big_file_writes_nothing(desk, tmp_path):
    path, _ = big_case(tmp_path)
    do_import(desk, path)
    first = counts(desk)
    summary = do_import(desk, path)
    assert summary.claims == {"created": 0, "updated": 0, "unchanged": N}
    assert counts(desk) == first


def test_one_changed_claim_in_big_file_updates_only_it(desk, tmp_path):
    path, data = big_case(tmp_path)
    do_import(desk, path)
    with desk.desk.session() as s:
        revisions = dict(s.execute(select(Claim.key, Claim.revision)).all())
    first = counts(desk)
    data["claims"][150]["text"] = "Claim number 150 now says the rate fell."
    data["claims"][150]["evidence"] = ["https://s1.example/new-page"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    summary = do_import(desk, path, actor="editor")
    assert summary.claims == {"created": 0, "updated": 1, "unchanged": N - 1}
    now = counts(desk)
    assert now["audit_event"] == first["audit_event"] + 2  # the new URL queued, the claim updated
    assert now["claim"] == first["claim"] and now["evidence_url"] == first["evidence_url"] + 1
    with desk.desk.session() as s:
        after = dict(s.execute(select(Claim.key, Claim.revision)).all())
        assert {k for k in after if after[k] != revisions[k]} == {"C150"}
        last = s.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
        assert last.action == "claim.update" and last.actor == "editor"
        assert last.after["evidence"] == ["https://s1.example/new-page"]
    report = chain_ok(desk)
    assert report.ok, report


def test_rolled_back_savepoint_leaves_no_head_behind(desk):
    """The head kept per transaction must not outlive a savepoint that was rolled back (mutation-checked:
    keying the kept head on the outer transaction only makes the event after the savepoint chain onto
    the rolled-back one, and this test fails)."""
    with desk.desk.session() as s:
        audit.record(s, actor="t", action="test.a", entity="test")
        sp = s.begin_nested()
        audit.record(s, actor="t", action="test.b", entity="test")
        sp.rollback()
        audit.record(s, actor="t", action="test.c", entity="test")
        audit.record(s, actor="t", action="test.d", entity="test")
    report = chain_ok(desk)
    assert report.ok and report.checked == 3, report


def test_events_of_separate_transactions_chain(desk):
    for action in ("test.a", "test.b"):
        with desk.desk.session() as s:
            audit.record(s, actor="t", action=action, entity="test")
            audit.record(s, actor="t", action=action + "2", entity="test")
    report = chain_ok(desk)
    assert report.ok and report.checked == 4, report


def test_sqlite_file_desk_uses_wal_and_serves_readers_during_an_import(sqlite_desk, tmp_path):
    path, _ = big_case(tmp_path)
    with sqlite_desk.desk.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    reader = Desk(sqlite_desk.url)
    try:
        with sqlite_desk.desk.session() as s:
            import_case(s, sqlite_desk.settings, path, actor="tester")
            # the import has written but not committed: a reader sees the desk as it was, without waiting
            with reader.engine.connect() as c:
                c.execute(text("PRAGMA busy_timeout=100"))
                assert c.execute(select(func.count()).select_from(Claim)).scalar_one() == 0
        with reader.engine.connect() as c:
            assert c.execute(select(func.count()).select_from(Claim)).scalar_one() == N
    finally:
        reader.dispose()
