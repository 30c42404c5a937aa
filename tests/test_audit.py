"""The audit trail is append-only and hash-chained: edits and deletions are detected."""

from __future__ import annotations

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
