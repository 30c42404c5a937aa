"""Accounts for the web desk: people, their roles, their passwords (argon2), and sign-in rate limits.

Why it is built this way:
- The account name is the identity the audit trail records, so names are short, plain and lower-case.
- Passwords are stored only as argon2id hashes (argon2-cffi's defaults); a wrong name costs the same
  time as a wrong password, so the login form does not reveal which names exist.
- Failed sign-ins are counted in the database (not in process memory), so the limit holds across
  server restarts and across several server processes sharing one desk.
- Every change to an account is an audit event; password hashes never enter the audit trail.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from factcheck.desk import audit
from factcheck.desk.models import DeskSecret, LoginAttempt, User, utcnow
from factcheck.errors import FactcheckError

ROLES = ("viewer", "checker", "editor")
"""Each role can do everything the roles before it can: viewers read, checkers review, editors manage."""
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")

FAILURE_LIMIT = 5
"""Failed sign-ins allowed per name and address within FAILURE_WINDOW before further tries are refused."""
ADDRESS_FAILURE_LIMIT = 30
"""Failed sign-ins allowed from one address (any names) within FAILURE_WINDOW."""
FAILURE_WINDOW = timedelta(minutes=15)

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserError(FactcheckError):
    pass


class UnknownUser(UserError):
    pass


class UserExists(UserError):
    pass


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    blocked: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None


def normalise_name(name: str) -> str:
    """Names are compared and stored lower-case, without surrounding spaces."""
    return (name or "").strip().lower()


def check_name(name: str) -> str:
    n = normalise_name(name)
    if not NAME_RE.match(n):
        raise UserError(f"user name {name!r} is not allowed: use 1–64 letters, digits, '.', '_', '@' or '-', "
                        "starting with a letter or digit")
    return n


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password must have at most {MAX_PASSWORD} characters")
    return password


def role_allows(role: str | None, needed: str) -> bool:
    """True when `role` includes the rights of `needed` (viewer < checker < editor)."""
    if role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(check_role(needed))


def user_dict(u: User) -> dict[str, Any]:
    return {"name": u.name, "role": u.role, "disabled": u.disabled, "created_at": u.created_at.isoformat(),
            "updated_at": u.updated_at.isoformat()}


def find_user(session: Session, name: str) -> User | None:
    return session.execute(select(User).where(User.name == normalise_name(name))).scalar()


def get_user(session: Session, name: str) -> User:
    u = find_user(session, name)
    if u is None:
        raise UnknownUser(f"no user {name!r} on this desk (see `factcheck users list`)")
    return u


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.name)).scalars())


def add_user(session: Session, name: str, *, role: str, password: str, actor: str) -> User:
    """Create an account; refused if the name is taken."""
    n = check_name(name)
    check_role(role)
    check_password(password)
    if find_user(session, n) is not None:
        raise UserExists(f"user {n!r} already exists")
    now = utcnow()
    u = User(name=n, role=role, password_hash=_hasher.hash(password), disabled=False, created_at=now,
             updated_at=now)
    session.add(u)
    try:
        session.flush()
    except IntegrityError:
        raise UserExists(f"user {n!r} already exists") from None
    audit.record(session, actor=actor, action="user.create", entity="user", entity_id=u.id,
                 after={"name": n, "role": role})
    return u


def set_role(session: Session, name: str, role: str, *, actor: str) -> User:
    u = get_user(session, name)
    check_role(role)
    if u.role != role:
        before = u.role
        u.role, u.updated_at = role, utcnow()
        session.flush()
        audit.record(session, actor=actor, action="user.role", entity="user", entity_id=u.id,
                     before={"name": u.name, "role": before}, after={"name": u.name, "role": role})
    return u


def set_disabled(session: Session, name: str, disabled: bool, *, actor: str) -> User:
    """Disabled accounts cannot sign in, and their open sessions stop working at the next request."""
    u = get_user(session, name)
    if u.disabled != disabled:
        u.disabled, u.updated_at = disabled, utcnow()
        session.flush()
        audit.record(session, actor=actor, action="user.disable" if disabled else "user.enable", entity="user",
                     entity_id=u.id, before={"name": u.name, "disabled": not disabled},
                     after={"name": u.name, "disabled": disabled})
    return u


def set_password(session: Session, name: str, password: str, *, actor: str) -> User:
    u = get_user(session, name)
    check_password(password)
    u.password_hash, u.updated_at = _hasher.hash(password), utcnow()
    session.flush()
    audit.record(session, actor=actor, action="user.password", entity="user", entity_id=u.id,
                 after={"name": u.name})
    return u


def credential_stamp(u: User) -> str:
    """A short fingerprint of the account's current password hash and session epoch. A web session keeps
    the stamp it was signed in with; once the password changes or the person signs out (`end_sessions`),
    the stamps differ and the session ends, also for a copy of its cookie kept elsewhere."""
    import hashlib

    return hashlib.sha256(f"{u.session_epoch or 0}:{u.password_hash}".encode()).hexdigest()[:16]


def end_sessions(session: Session, user_id: int) -> None:
    """End every web session of this account signed in so far (signing out ends them all: the cookie is
    signed, not stored, so the server can only refuse it by changing what it must match)."""
    session.execute(update(User).where(User.id == user_id)
                    .values(session_epoch=func.coalesce(User.session_epoch, 0) + 1))


def verify_password(session: Session, name: str, password: str) -> User | None:
    """The enabled user whose password this is, else None (same work whether or not the name exists)."""
    u = find_user(session, name)
    if u is None or len(password or "") > MAX_PASSWORD:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, "x" + (password or "")[:MAX_PASSWORD])
        return None
    try:
        _hasher.verify(u.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(u.password_hash):
        u.password_hash = _hasher.hash(password)
        session.flush()
    return None if u.disabled else u


# ------------------------------------------------------------------ sign-in with rate limiting


def failures(session: Session, *, name: str | None, ip: str, now: datetime | None = None) -> int:
    """Failed sign-ins within the window: for this name from this address, or (name None) from the address."""
    since = (now or utcnow()) - FAILURE_WINDOW
    q = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.ip == ip[:64], LoginAttempt.at > since, LoginAttempt.ok.is_(False))
    if name is not None:
        q = q.where(LoginAttempt.name == normalise_name(name)[:64])
    return int(session.execute(q).scalar_one())


def login_blocked(session: Session, name: str, ip: str, now: datetime | None = None) -> bool:
    return (failures(session, name=name, ip=ip, now=now) >= FAILURE_LIMIT
            or failures(session, name=None, ip=ip, now=now) >= ADDRESS_FAILURE_LIMIT)


def sign_in(session: Session, name: str, password: str, *, ip: str) -> LoginResult:
    """Check a sign-in; records the attempt and an audit event (auth.login / auth.failed).

    When too many recent attempts failed, the password is not even checked.
    """
    n = normalise_name(name)[:64]
    now = utcnow()
    ip = (ip or "unknown")[:64]
    # forget attempts older than the window: they no longer count, and the audit trail keeps the record
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - FAILURE_WINDOW * 4))
    if login_blocked(session, n, ip, now):
        # not audited: a guessing script would otherwise fill the trail; the failures before it are there
        return LoginResult(None, blocked=True)
    u = verify_password(session, n, password)
    session.add(LoginAttempt(name=n, ip=ip, at=now, ok=u is not None))
    session.flush()
    if u is None:
        audit.record(session, actor=n or "-", action="auth.failed", entity="user", after={"ip": ip})
        return LoginResult(None)
    audit.record(session, actor=u.name, action="auth.login", entity="user", entity_id=u.id, after={"ip": ip})
    return LoginResult(u)


# ------------------------------------------------------------------ per-desk secrets


def desk_secret(session: Session, purpose: str) -> str:
    """A random secret made once per desk and kept in its database (shared by every server process)."""
    found = session.execute(select(DeskSecret.value).where(DeskSecret.purpose == purpose)).scalar()
    if found:
        return found
    value = secrets.token_urlsafe(48)
    try:
        with session.begin_nested():
            session.add(DeskSecret(purpose=purpose, value=value))
    except IntegrityError:  # another process made it first
        pass
    return str(session.execute(select(DeskSecret.value).where(DeskSecret.purpose == purpose)).scalar_one())
