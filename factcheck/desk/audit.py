"""Append-only, hash-chained audit trail: who changed what, when, before → after.

Each event's hash covers its content and the previous event's hash, so editing or deleting
any row breaks the chain at that row (`verify_chain` names it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from factcheck.desk.models import AuditEvent, utcnow

GENESIS = "0" * 64
_LOCK_KEY = 0x66616374  # PostgreSQL advisory lock id for appending to the chain ("fact")


def _canonical(value: Any) -> Any:
    """JSON-safe, deterministic form (datetimes as ISO strings)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def event_hash(
    *, prev_hash: str, at: datetime, actor: str, action: str, entity: str,
    entity_id: int | None, claim_id: int | None, before: Any, after: Any,
) -> str:
    body = json.dumps(
        {
            "prev": prev_hash, "at": at.isoformat(), "actor": actor, "action": action, "entity": entity,
            "entity_id": entity_id, "claim_id": claim_id, "before": before, "after": after,
        },
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(
    session: Session, *, actor: str, action: str, entity: str, entity_id: int | None = None,
    claim_id: int | None = None, before: Any = None, after: Any = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction (it commits or rolls back with the change)."""
    if session.get_bind().dialect.name == "postgresql":
        # serialise appends so two writers never chain onto the same predecessor
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    session.flush()
    prev = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    at = utcnow()
    before, after = _canonical(before), _canonical(after)
    ev = AuditEvent(
        at=at, actor=actor or "unknown", action=action, entity=entity, entity_id=entity_id,
        claim_id=claim_id, before=before, after=after, prev_hash=prev or GENESIS,
    )
    ev.hash = event_hash(
        prev_hash=ev.prev_hash, at=at, actor=ev.actor, action=action, entity=entity,
        entity_id=entity_id, claim_id=claim_id, before=before, after=after,
    )
    session.add(ev)
    session.flush()
    return ev


@dataclass
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str | None = None


def verify_chain(events: Iterable[AuditEvent]) -> ChainReport:
    prev = GENESIS
    n = 0
    for ev in events:
        n += 1
        if ev.prev_hash != prev:
            return ChainReport(False, n, ev.id, "does not link to the event before it (a row was deleted or edited)")
        expected = event_hash(
            prev_hash=ev.prev_hash, at=ev.at, actor=ev.actor, action=ev.action, entity=ev.entity,
            entity_id=ev.entity_id, claim_id=ev.claim_id, before=ev.before, after=ev.after,
        )
        if expected != ev.hash:
            return ChainReport(False, n, ev.id, "content does not match its hash (the row was edited)")
        prev = ev.hash
    return ChainReport(True, n)


def verify_session(session: Session) -> ChainReport:
    return verify_chain(session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())
