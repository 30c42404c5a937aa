"""The audit trail is append-only and hash-chained: edits and deletions are detected."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from factcheck.desk import audit
from factcheck.desk.models import AuditEvent


def _three_events(desk):
    with desk.desk.session() as s:
        for i in range(3):
            audit.record(s, actor="ana", action="test.event", entity="claim", entity_id=i, before={"n": i},
                         after={"n": i + 1, "text": "Vergütung über 600 — „Zitat“"})


def test_chain_verifies(desk):
    _three_events(desk)
    with desk.desk.session() as s:
        report = audit.verify_session(s)
        events = list(s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())
    assert report.ok and report.checked == 3
    assert events[0].prev_hash == audit.GENESIS
    assert events[1].prev_hash == events[0].hash


def test_edited_row_is_detected(desk):
    _three_events(desk)
    with desk.desk.session() as s:
        second = s.execute(select(AuditEvent.id).order_by(AuditEvent.id).offset(1)).scalar()
        s.execute(text("UPDATE audit_event SET actor='mallory' WHERE id=:i"), {"i": second})
    with desk.desk.session() as s:
        report = audit.verify_session(s)
    assert not report.ok and report.first_bad_id == second
    assert "edited" in (report.problem or "")


def test_deleted_row_is_detected(desk):
    _three_events(desk)
    with desk.desk.session() as s:
        ids = list(s.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars())
        s.execute(text("DELETE FROM audit_event WHERE id=:i"), {"i": ids[1]})
    with desk.desk.session() as s:
        report = audit.verify_session(s)
    assert not report.ok and report.first_bad_id == ids[2]


TAMPERS = {
    "at": lambda ev: setattr(ev, "at", ev.at.replace(microsecond=(ev.at.microsecond + 1) % 1_000_000)),
    "actor": lambda ev: setattr(ev, "actor", "mallory"),
    "action": lambda ev: setattr(ev, "action", "test.other"),
    "entity": lambda ev: setattr(ev, "entity", "source"),
    "entity_id": lambda ev: setattr(ev, "entity_id", 99),
    "claim_id": lambda ev: setattr(ev, "claim_id", 7),
    "before": lambda ev: setattr(ev, "before", {"n": 42}),
    "after": lambda ev: setattr(ev, "after", {"n": 2, "text": "Vergütung über 601 — „Zitat“"}),
    "prev_hash": lambda ev: setattr(ev, "prev_hash", "f" * 64),
    "hash": lambda ev: setattr(ev, "hash", "e" * 64),
}


@pytest.mark.parametrize("field", sorted(TAMPERS))
def test_every_hashed_field_is_covered(desk, field):
    """Editing any one stored field of an event breaks the chain at that event: a field left out of
    `event_hash` would let this edit pass."""
    _three_events(desk)
    with desk.desk.session() as s:
        second = s.execute(select(AuditEvent).order_by(AuditEvent.id).offset(1).limit(1)).scalar_one()
        victim = second.id
        TAMPERS[field](second)
    with desk.desk.session() as s:
        report = audit.verify_session(s)
    assert not report.ok, f"editing {field!r} went unnoticed"
    assert report.first_bad_id == victim


def test_deleted_row_with_its_successor_relinked_is_detected(desk):
    """Deleting an event and pointing the next one's prev_hash over the gap must still fail: the hash covers
    prev_hash, so the relinked event no longer matches its own hash."""
    _three_events(desk)
    with desk.desk.session() as s:
        first, second, third = s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        third.prev_hash = first.hash
        s.delete(second)
    with desk.desk.session() as s:
        report = audit.verify_session(s)
    assert not report.ok and report.first_bad_id == third.id and "edited" in (report.problem or "")


def test_tamper_list_names_every_column():
    """A new audit column must be added to the hash and to TAMPERS (id is the row's position, not content)."""
    assert set(TAMPERS) == {c.name for c in AuditEvent.__table__.columns} - {"id"}
