"""Who is signed in, what their role allows, and the CSRF check every form post goes through."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from factcheck.desk.db import Desk
from factcheck.desk.users import role_allows
from factcheck.settings import FIELD_LIMITS
from factcheck.text.display import shorten

CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class Person:
    """The signed-in user as the pages need it (not an ORM object: it outlives the DB session)."""

    id: int
    name: str
    role: str

    def can(self, needed: str) -> bool:
        return role_allows(self.role, needed)


class SignInRequired(Exception):
    """Raised by handlers for signed-out visitors; answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (signed-out visitors get one for the sign-in form)."""
    tok = request.session.get(CSRF_FIELD)
    if not isinstance(tok, str) or len(tok) < 32:
        tok = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = tok
    return tok


def _same_origin(request: Request) -> bool:
    """A browser's Origin (or Referer) header, when sent, must name this server."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin != "null"
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def checked_form(request: Request) -> FormData:
    """The posted form, only if it carries this session's CSRF token and comes from this site (else 403)."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get(CSRF_FIELD)
    if (not isinstance(sent, str) or not isinstance(expected, str) or not expected
            or not hmac.compare_digest(sent.encode(), expected.encode())):
        raise HTTPException(403, "This form has expired or did not come from this desk (missing or wrong "
                                 "CSRF token). Go back, reload the page and try again.")
    if not _same_origin(request):
        raise HTTPException(403, "This form was posted from another site; refused.")
    return form


def _load_person(desk: Desk, uid: Any, name: Any, stamp: Any) -> Person | None:
    from factcheck.desk.models import User
    from factcheck.desk.users import credential_stamp

    if not isinstance(uid, int) or not isinstance(name, str) or not isinstance(stamp, str):
        return None
    # one SELECT on a connection of its own, outside any transaction: every page asks this first, and a
    # transaction around a single read costs two more round trips (BEGIN, COMMIT) for nothing
    cols = (User.id, User.name, User.role, User.disabled, User.password_hash, User.session_epoch)
    with desk.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        u = conn.execute(select(*cols).where(User.id == uid)).first()
    if u is None or u.disabled or u.name != name:
        return None
    if not hmac.compare_digest(stamp, credential_stamp(u)):  # type: ignore[arg-type]  # a sha256, no password hashing
        return None  # the password changed since this session signed in
    return Person(u.id, u.name, u.role)


async def signed_in(request: Request) -> Person | None:
    """The signed-in person, re-read from the desk on every request (a disabled account stops at once)."""
    cached = request.scope.get("factcheck.person")
    if cached is not None:
        return cached if isinstance(cached, Person) else None
    uid, name = request.session.get("uid"), request.session.get("user")
    person = None
    if uid is not None:
        person = await run_in_threadpool(_load_person, request.app.state.desk, uid, name,
                                         request.session.get("stamp"))
        if person is None:
            request.session.clear()
    request.scope["factcheck.person"] = person or False
    return person


async def require(request: Request, role: str = "viewer") -> Person:
    """The signed-in person if their role allows `role`; else redirect to sign in (signed out) or 403."""
    person = await signed_in(request)
    if person is None:
        path = request.url.path
        if request.method == "GET" and request.url.query:
            path += "?" + request.url.query
        raise SignInRequired(path)
    if not person.can(role):
        raise HTTPException(403, f"Your role ({person.role}) cannot do this; it needs {role} rights.")
    return person


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")


def safe_next(value: str | None) -> str:
    """Only local paths: never send a person off-site after signing in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/queue"
    return value


def flash(request: Request, text: str, kind: str = "ok") -> None:
    """A one-time message shown on the next page (after a redirect). It travels in the signed session
    cookie, so it is cut hard to a short length: user text echoed in a message can never grow the cookie
    past what browsers accept (which would lock that browser out of the desk)."""
    msgs = list(request.session.get("flash", []))
    msgs.append({"kind": kind, "text": shorten(text, FIELD_LIMITS["flash"].chars)})
    request.session["flash"] = msgs[-5:]
