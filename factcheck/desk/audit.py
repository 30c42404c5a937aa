"""Append-only, hash-chained audit trail: who changed what, when, before → after.

Each event's hash covers its content and the previous event's hash, so editing or deleting
any row breaks the chain at that row (`verify_chain` names it). The chain alone cannot show that its
newest events were cut off, or that someone with database access rewrote all of it: so the newest
event (the head) is also recorded in a file outside the database after every change (`record_head`,
optionally signed with a key kept outside the database), and `check_recorded_head` compares the two.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from factcheck.desk.bulk import insert_in_order
from factcheck.desk.models import AuditEvent, utcnow
from factcheck.errors import FactcheckError

GENESIS = "0" * 64
_LOCK_KEY = 0x66616374  # PostgreSQL advisory lock id for appending to the chain ("fact")
_HEAD_KEY = "audit_head"  # session.info: (transaction, hash of the newest event appended in it)


ACTION_WORDS = {
    "verdict.machine": "machine verdict", "verdict.human": "review", "verify.run": "verification run",
    "claim.create": "claim added", "claim.update": "claim edited", "claim.assign": "assignment",
    "claim.release": "released", "claim.tag": "tagged", "claim.untag": "tag removed", "comment.add": "comment",
    "case.create": "case created", "article.create": "article added", "article.update": "article updated",
    "article.ingest": "article read", "article.capture": "article archived", "evidence.queue": "page queued",
    "evidence.update": "page updated", "evidence.capture": "page archived", "evidence.fetch": "page fetched",
    "source.create": "source added", "source.update": "source updated", "user.create": "account created",
    "user.role": "role changed", "user.password": "password changed", "user.disable": "account disabled",
    "auth.login": "signed in", "auth.logout": "signed out", "auth.failed": "failed sign-in",
}
"""What each audit action is called on screen (the stored action names are for machines and auditors)."""


def describe_action(action: str) -> str:
    return ACTION_WORDS.get(action, action.replace(".", " ").replace("_", " "))


_PLAIN = (str, int, float, bool, type(None))


def _canonical(value: Any) -> Any:
    """JSON-safe, deterministic form (datetimes as ISO strings)."""
    if type(value) in _PLAIN:
        return value
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


def _chain_end(session: Session) -> tuple[str, bool]:
    """The hash the next event chains onto, and whether it was kept from earlier in this transaction.

    The chain's head is read once per transaction (under the PostgreSQL lock that serialises appends, or
    SQLite's write lock, both held until commit) and then kept in `session.info`. A savepoint gets its own
    reading, so a rolled-back savepoint cannot leave a head behind that the database no longer holds."""
    txn = session.get_nested_transaction() or session.get_transaction()
    cached = session.info.get(_HEAD_KEY)
    if cached is not None and cached[0] is txn:
        return cached[1], True
    if session.get_bind().dialect.name == "postgresql":
        # serialise appends so two writers never chain onto the same predecessor
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    session.flush()
    prev = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    return prev or GENESIS, False


def hold_appends(session: Session) -> None:
    """Take now the PostgreSQL lock that serialises audit appends (held until the transaction ends), for a
    transaction that will append after taking other row locks: taken late, two writers could each hold rows
    the other wants (two batches of captures upserting the same terms) and deadlock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def _keep_end(session: Session, digest: str) -> None:
    session.info[_HEAD_KEY] = (session.get_nested_transaction() or session.get_transaction(), digest)
    session.info["audited"] = True  # the desk records the new head once this transaction commits


def record(
    session: Session, *, actor: str, action: str, entity: str, entity_id: int | None = None,
    claim_id: int | None = None, before: Any = None, after: Any = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction (it commits or rolls back with the change).

    A big import appends thousands of events without reading the head back each time (`_chain_end`)."""
    prev, kept = _chain_end(session)
    at = utcnow()
    before, after = _canonical(before), _canonical(after)
    ev = AuditEvent(
        at=at, actor=actor or "unknown", action=action, entity=entity, entity_id=entity_id,
        claim_id=claim_id, before=before, after=after, prev_hash=prev,
    )
    ev.hash = event_hash(
        prev_hash=ev.prev_hash, at=at, actor=ev.actor, action=action, entity=entity,
        entity_id=entity_id, claim_id=claim_id, before=before, after=after,
    )
    session.add(ev)
    if not kept:
        # the first event of a transaction is written at once: from then on SQLite's write lock is held too
        session.flush()
    _keep_end(session, ev.hash)
    return ev


class Entry(NamedTuple):
    """One event for `append_many`: what `record` takes."""

    actor: str
    action: str
    entity: str
    entity_id: int | None = None
    claim_id: int | None = None
    before: Any = None
    after: Any = None


def append_many(session: Session, entries: Sequence[Entry]) -> None:
    """Append `entries` in order, as `record` would one by one, in one INSERT (a bulk import's events).

    The hashes are chained here in Python; the rows' ids are checked to rise in the order given
    (`bulk.insert_in_order`), so the chain `verify_chain` walks by id is the chain made."""
    if not entries:
        return
    prev, _ = _chain_end(session)
    session.flush()  # events `record` added before these come first
    rows = []
    for e in entries:
        at = utcnow()
        actor = e.actor or "unknown"
        before, after = _canonical(e.before), _canonical(e.after)
        digest = event_hash(prev_hash=prev, at=at, actor=actor, action=e.action, entity=e.entity,
                            entity_id=e.entity_id, claim_id=e.claim_id, before=before, after=after)
        rows.append({"at": at, "actor": actor, "action": e.action, "entity": e.entity, "entity_id": e.entity_id,
                     "claim_id": e.claim_id, "before": before, "after": after, "prev_hash": prev, "hash": digest})
        prev = digest
    insert_in_order(session, AuditEvent.__table__, rows, "hash")  # ids rising along the chain, or an error
    _keep_end(session, prev)


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


# ------------------------------------------------------------------ the head, recorded outside the database


class AuditHeadError(FactcheckError):
    pass


HEAD_FORMAT = "factcheck-audit-head/1"


@dataclass(frozen=True)
class Head:
    """The newest event of the chain (`event_id` None and GENESIS for an empty chain)."""

    event_id: int | None
    hash: str
    at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "hash": self.hash, "at": self.at.isoformat() if self.at else None}


def chain_head(session: Session) -> Head:
    row = session.execute(
        select(AuditEvent.id, AuditEvent.hash, AuditEvent.at).order_by(AuditEvent.id.desc()).limit(1)).first()
    return Head(None, GENESIS) if row is None else Head(row.id, row.hash, row.at)


def hash_in_chain(session: Session, digest: str) -> bool:
    """A head hash noted down earlier must still be in the chain, or newer events were cut off."""
    return session.execute(select(AuditEvent.id).where(AuditEvent.hash == digest)).scalar() is not None


def _mac(key: bytes, database: str, head: Head) -> str:
    msg = f"{HEAD_FORMAT}\n{database}\n{head.event_id}\n{head.hash}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class RecordedHead:
    head: Head
    database: str
    recorded_at: str | None
    mac: str | None


def read_head_file(path: Path) -> RecordedHead | None:
    """The head recorded in `path`, None when there is no such file yet."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditHeadError(f"cannot read the audit head file {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != HEAD_FORMAT:
            raise ValueError("not a head file")
        eid = data["event_id"]
        digest = data["hash"]
        if (eid is not None and (not isinstance(eid, int) or isinstance(eid, bool) or eid < 1)) \
                or not isinstance(digest, str) or len(digest) != 64 or not isinstance(data["database"], str):
            raise ValueError("bad fields")
        mac = data.get("mac")
        return RecordedHead(Head(eid, digest, None), data["database"], data.get("recorded_at"),
                            mac if isinstance(mac, str) else None)
    except (ValueError, KeyError, TypeError):
        raise AuditHeadError(f"{path} is not an audit head file (damaged or edited by hand)") from None


def record_head(path: Path, head: Head, *, database: str, key: bytes | None = None, force: bool = False) -> bool:
    """Write `head` to `path` (atomically); returns whether it was written.

    Never moves the recorded head backwards (a slower process finishing after a faster one), unless
    `force` (a brand-new desk). A head file of another database is replaced; a damaged one is left for
    `audit verify` to report (it is written atomically, so damage is not an accident of this code).
    """
    if not force:
        old = read_head_file(path)
        if (old is not None and old.database == database and old.head.event_id is not None
                and (head.event_id is None or head.event_id <= old.head.event_id)):
            return False
    data: dict[str, Any] = {"format": HEAD_FORMAT, "database": database, "event_id": head.event_id,
                            "hash": head.hash, "at": head.at.isoformat() if head.at else None,
                            "recorded_at": utcnow().isoformat()}
    if key is not None:
        data["mac"] = _mac(key, database, head)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return True


def check_recorded_head(session: Session, recorded: RecordedHead, *, database: str, key: bytes | None = None,
                        where: str = "the head file") -> str | None:
    """What is wrong between the chain and the head recorded outside the database, or None."""
    if recorded.database != database:
        return None  # a head of another desk: nothing to compare (the caller says so)
    if key is not None and (recorded.mac is None
                            or not hmac.compare_digest(recorded.mac, _mac(key, database, recorded.head))):
        return f"{where} is not signed with this desk's key (edited, or signed with another key)"
    if recorded.head.event_id is None:
        return None
    found = session.execute(select(AuditEvent.hash).where(AuditEvent.id == recorded.head.event_id)).scalar()
    if found != recorded.head.hash:
        last = chain_head(session).event_id
        return (f"the chain no longer holds the head recorded in {where} (event {recorded.head.event_id}, "
                f"{recorded.head.hash[:16]}…; the chain now ends at event {last or 'none'}): events were cut off "
                "or the chain was rewritten")
    return None


def read_key(path: Path) -> bytes:
    """The desk's signing key (kept outside the database)."""
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise AuditHeadError(f"cannot read the audit key file {path}: {exc.strerror}") from None
    if len(key) < 32:
        raise AuditHeadError(f"the audit key file {path} is too short (make one with `factcheck audit keygen`)")
    return key


def make_key(path: Path) -> None:
    """A new random signing key in `path` (readable by its owner only); refuses to replace one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AuditHeadError(f"{path} already exists; a key is never replaced in place") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
