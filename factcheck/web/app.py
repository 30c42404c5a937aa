"""The web desk: server-rendered pages over the same library the command line uses.

Why it is built this way:
- Every change goes through the library (`triage.next_claim`, `triage.review`, `triage.release`,
  `sources.merge_source`, `users.*`) with the signed-in name as the actor, so the web writes exactly the
  audit events the command line writes; no queue, verdict or audit logic lives here.
- Database work runs in Starlette's thread pool, one desk session (one transaction) per action.
- Safety: Jinja2 autoescape on every template, a strict Content-Security-Policy (no scripts at all, no
  inline styles, nothing from other origins), a CSRF token checked on every POST, signed HttpOnly
  SameSite cookies keyed by a secret made once per desk, and a capture viewer that shows extracted text
  only, never a captured page's own markup.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from factcheck.desk.audit import describe_action
from factcheck.desk.db import Desk
from factcheck.desk.users import desk_secret
from factcheck.settings import Settings
from factcheck.web import routes
from factcheck.web.auth import Person, SignInRequired, csrf_token, flash, login_url, signed_in

HERE = Path(__file__).resolve().parent
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
SESSION_HOURS = 12
LABEL_CLASSES = ("verified", "contested", "unverified", "unchecked")


class SecurityHeaders:
    """Adds the security headers to every response (pages, static files, errors, downloads)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                if "content-security-policy" not in h:
                    h["Content-Security-Policy"] = CSP
                h["X-Content-Type-Options"] = "nosniff"
                h["Referrer-Policy"] = "same-origin"
                h["X-Frame-Options"] = "DENY"
                h["Cross-Origin-Opener-Policy"] = "same-origin"
                h["Cross-Origin-Resource-Policy"] = "same-origin"
                h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
                if not scope["path"].startswith("/static/"):
                    h["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                      autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["when"] = lambda dt: dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "—"
    env.filters["conf"] = lambda x: f"{x:.2f}" if isinstance(x, int | float) else "—"
    env.filters["short"] = lambda s, n=12: (s or "")[:n]
    env.filters["label_class"] = lambda s: s if s in LABEL_CLASSES else "unchecked"
    env.filters["event"] = describe_action
    return env


class Pages:
    """Renders templates with what every page needs: who is signed in, the CSRF token, flash messages."""

    def __init__(self) -> None:
        self.templates = Jinja2Templates(env=_environment())

    async def render(self, request: Request, name: str, context: dict[str, Any] | None = None, *,
                     status: int = 200) -> Response:
        person = await signed_in(request)
        flashes = request.session.pop("flash", []) if "flash" in request.session else []
        ctx = {"me": person, "csrf": csrf_token(request), "flashes": flashes, "path": request.url.path,
               **(context or {})}
        return self.templates.TemplateResponse(request, name, ctx, status_code=status)


RETRY_AFTER = 2
"""Seconds a 503 (database busy) asks the browser to wait before trying again."""
log = logging.getLogger("uvicorn.error")
"""The server's own error log (uvicorn's, as `factcheck serve` configures it): a 503 is one line there."""


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
WILDCARD_HOSTS = ("0.0.0.0", "::")  # listen everywhere: not a name a request can carry


def allowed_hosts(settings: Settings, *extra: str) -> list[str]:
    """Host headers the desk answers: localhost, the address it listens on, and the web_hosts setting. Any
    other name is refused, so a page elsewhere cannot point its own domain at this desk (DNS rebinding)."""
    names = [*LOCAL_HOSTS, *extra, *(h.strip() for h in str(settings.web_hosts or "").split(","))]
    return list(dict.fromkeys(h for h in names if h and h not in WILDCARD_HOSTS))


def create_app(desk: Desk, settings: Settings, *, secure_cookies: bool = False,
               hosts: list[str] | None = None) -> Starlette:
    """The ASGI app for one desk. The session-signing secret is made once per desk and kept in it.
    `hosts`: the Host names answered (default: allowed_hosts(settings))."""
    with desk.session() as s:
        secret = desk_secret(s, "web-session")
    pages = Pages()

    async def on_sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        titles = {400: "Not possible", 403: "Not allowed", 404: "Not found", 405: "Not allowed",
                  429: "Too many attempts"}
        return await pages.render(request, "error.html", {
            "title": titles.get(exc.status_code, "Error"), "message": exc.detail, "code": exc.status_code,
        }, status=exc.status_code)

    async def on_database_busy(request: Request, exc: Exception) -> Response:
        # the database refused a connection (at its limit, restarting) or this process's connections stayed
        # busy past POOL_WAIT: the same request can succeed in a moment. Said plainly, with Retry-After,
        # without touching the database again (the page is drawn as for a signed-out visitor).
        log.warning("%s %s answered 503: %s", request.method, request.url.path, _first_line(exc))
        ctx = {"me": None, "csrf": "", "flashes": [], "path": request.url.path, "title": "Busy", "code": 503,
               "message": "The desk's database is busy or could not be reached. Try again in a moment (if you "
                          "were saving a change, reload its page first to see whether it was saved)."}
        return pages.templates.TemplateResponse(request, "error.html", ctx, status_code=503,
                                                headers={"Retry-After": str(RETRY_AFTER)})

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        SignInRequired: on_sign_in_required, HTTPException: on_http_error,
        OperationalError: on_database_busy, PoolTimeout: on_database_busy,
    }
    app = Starlette(
        routes=[*routes.ROUTES, Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")],
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=hosts or allowed_hosts(settings)),
            Middleware(SecurityHeaders),
            Middleware(SessionMiddleware, secret_key=secret, session_cookie="factcheck_session",
                       max_age=SESSION_HOURS * 3600, same_site="lax", https_only=secure_cookies),
        ],
        exception_handlers=handlers,
    )
    app.state.desk = desk
    app.state.settings = settings
    app.state.pages = pages
    return app


WORKER_ENV = "FACTCHECK_WEB_WORKER"
"""How `factcheck serve --workers N` tells each worker process what the parent resolved (JSON: the options
that are not settings); the settings themselves travel as FACTCHECK_* variables the parent sets."""


def worker_app() -> Starlette:
    """The app of one `serve --workers` process (a uvicorn factory): the desk and settings the parent
    resolved, read back from the environment it passed down."""
    import json

    from factcheck.desk.audit import read_key
    from factcheck.settings import load_settings

    opts = json.loads(os.environ.get(WORKER_ENV) or "{}")
    settings = load_settings()
    key_path = settings.audit_key_path
    desk = Desk(settings.db, head_file=settings.audit_head_path,
                head_key=read_key(key_path) if key_path is not None else None, pool=settings.web_connections)
    return create_app(desk, settings, secure_cookies=bool(opts.get("secure_cookies")),
                      hosts=list(opts.get("hosts") or []) or None)


__all__ = ["Person", "Route", "create_app", "flash", "worker_app"]
