"""FETCH stage: polite, bounded, never-raising HTTP fetching of evidence pages.

The fetcher is a pipeline of small policies, each testable on its own:

* :func:`parse_url` — only absolute ``http``/``https`` URLs; anything else is ``failed``/``bad-url``.
* :class:`AddressGuard` — resolves the host and refuses private, loopback, link-local, reserved and other
  non-global addresses (``private-address``) unless the policy allows them. It runs again on **every redirect
  hop**, which is why redirects are followed by hand (``allow_redirects=False``). Known gap: the address is
  checked before requests connects and requests resolves again itself, so a DNS answer that changes between
  the two (DNS rebinding) is not caught; the desk fetches URLs chosen by fact-checkers, not by attackers.
* :class:`RobotsCache` / :class:`RobotsRules` — robots.txt (parsed with protego) fetched once per origin
  (scheme, host, port) and cached (a day for answers, five minutes for failures). Choices, following
  RFC 9309: 2xx → parse; 4xx (including 401/403) or too many redirects → no rules, allow all; 5xx/429 after
  the retries → the site is *unavailable* and we are conservative: nothing on that origin is fetched
  (``skipped``/``robots-unavailable``), and the next try after five minutes asks again. A network error on
  robots.txt fails the page with that network reason (``connection``, ``timeout``, ``dns``), since the host
  could not be reached at all. ``Crawl-delay`` and ``Request-rate`` raise the per-host delay; a delay above
  ``max_crawl_delay`` skips the origin (``crawl-delay``) rather than silently ignoring the site's wish.
  With a :class:`SharedRobots` store (``Fetcher(robots_store=…)``) the answer is kept outside the process for
  its lifetime, so every process that shares the store asks each origin once (the desk's workers pass one
  kept in their database); each process still keeps a parsed copy until the stored answer runs out.
* :class:`HostThrottle` — one request at a time per origin, and at least the delay between the end of one
  request and the start of the next (so start-to-start gaps are at least the delay too). Within one
  process by itself; with a :class:`SharedHostSlots` store (``Fetcher(host_slots=…)``) the same rule holds
  across every process that shares the store (the desk's workers pass one kept in their database).
* :class:`RetryPolicy` — 408/429/500/502/503/504, connection errors and timeouts are retried with exponential
  back-off (``backoff * 2**(n-1)``); ``Retry-After`` (seconds or HTTP date) is honoured, and if the server
  asks for longer than ``max_retry_after`` we give up instead of knocking earlier than asked.
* redirects — at most ``max_redirects`` hops (``too-many-redirects``), a URL seen twice in one chain is a
  ``redirect-loop``; the chain is recorded as ``(status, absolute location)``. Each hop is checked against
  the guard and robots.txt again.
* size cap — refused early when ``Content-Length`` exceeds ``max_bytes``; otherwise reading stops after
  ``max_bytes`` (``too-large``). The cap counts **decoded** bytes (after gzip/deflate/br), i.e. what
  ``body`` holds and what gets archived: that bounds memory and stops decompression bombs. The early
  ``Content-Length`` check compares the wire size, which for compressed bodies is the smaller number.
  ``max_time`` bounds the whole body download, so a server dripping bytes cannot hold a worker forever.
* content type — HTML, XHTML, plain text, PDF and XML (also ``+xml`` types) are accepted; anything else
  (images, archives, octet-stream …) is ``not-html`` and its body is not downloaded. A response without a
  ``Content-Type`` is accepted unless its first bytes look binary.
* conditional requests — ``etag``/``last_modified`` become ``If-None-Match``/``If-Modified-Since``;
  a 304 is ``unchanged``.

Bodies are returned as bytes exactly as the server sent them (content-encoding removed, charset untouched):
decoding text is the extract stage's job.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
import urllib3.exceptions
from protego import Protego
from requests.adapters import HTTPAdapter

from factcheck.errors import FactcheckError
from factcheck.text.urls import BadUrl, normalise_url

__all__ = [
    "ACCEPTED_CONTENT_TYPES",
    "RETRY_STATUSES",
    "AddressGuard",
    "FetchFailure",
    "FetchPolicy",
    "FetchRequest",
    "FetchResult",
    "Fetcher",
    "HostThrottle",
    "RetryPolicy",
    "RobotsCache",
    "RobotsRecord",
    "RobotsRules",
    "SharedHostSlots",
    "SharedRobots",
    "Target",
    "content_type_allowed",
    "is_public_address",
    "looks_binary",
    "parse_retry_after",
    "parse_url",
]

log = logging.getLogger(__name__)

ACCEPTED_CONTENT_TYPES: tuple[str, ...] = (
    "text/html",
    "application/xhtml+xml",
    "text/plain",
    "application/pdf",
    "application/xml",
    "text/xml",
)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_TTL = 24 * 3600.0
ROBOTS_ERROR_TTL = 300.0
ROBOTS_MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
_DRAIN_LIMIT = 64 * 1024
_ACCEPT = (
    "text/html,application/xhtml+xml;q=0.9,application/xml;q=0.8,text/plain;q=0.8,"
    "application/pdf;q=0.8,*/*;q=0.1"
)


# --------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FetchPolicy:
    """How politely and how far the fetcher goes. Defaults suit a newsroom desk on the public web."""

    user_agent: str = "factcheck/0.1 (+https://github.com/factcheck; fact-check desk)"
    contact: str | None = None  # e-mail or URL, added to the User-Agent so site owners can reach the desk
    connect_timeout: float = 5.0
    read_timeout: float = 20.0  # per socket read
    max_bytes: int = 10 * 1024 * 1024  # decoded body bytes
    max_redirects: int = 10
    retries: int = 3
    backoff: float = 0.5
    max_retry_after: float = 60.0
    per_host_delay: float = 1.0
    concurrency: int = 8
    obey_robots: bool = True
    allow_private_addresses: bool = False
    max_time: float = 120.0  # whole body download of one response
    max_crawl_delay: float = 60.0  # robots.txt asking for more than this skips the origin
    robots_max_bytes: int = 512 * 1024  # robots.txt beyond this is truncated (RFC 9309 asks for >= 500 KiB)
    accept_types: tuple[str, ...] = ACCEPTED_CONTENT_TYPES

    def user_agent_header(self) -> str:
        """The User-Agent sent: the honest product string, with the contact inside its comment when set."""
        if not self.contact:
            return self.user_agent
        if self.user_agent.endswith(")"):
            return f"{self.user_agent[:-1]}; contact: {self.contact})"
        return f"{self.user_agent} (contact: {self.contact})"

    def robots_token(self) -> str:
        """The product token robots.txt groups are matched against (``factcheck``)."""
        return self.user_agent.split("/", 1)[0].split()[0] if self.user_agent.strip() else "*"


@dataclass(frozen=True)
class FetchRequest:
    """One URL to fetch; ``meta`` is carried to the result untouched (e.g. the caller's evidence id)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    meta: Any = None


@dataclass
class FetchResult:
    """What happened to one URL. Never an exception: failures are ``outcome="failed"`` with a ``reason``.

    outcome: ``fetched`` (2xx, ``body`` set) | ``unchanged`` (304 to a conditional request) |
    ``failed`` | ``skipped`` (we chose not to ask: robots.txt, crawl delay, cancelled).
    ``final_url`` is the last URL of the redirect chain (None only when the URL itself is unusable).
    ``content_type`` is the bare media type (``text/html``); the charset stays in ``headers``.
    ``attempts`` counts HTTP requests sent for this URL: retries and redirect hops, not robots.txt.
    ``elapsed`` is wall time including politeness waits. ``detail`` is a human sentence for logs.

    reason words: ``bad-url``, ``dns``, ``private-address``, ``connection``, ``timeout``, ``tls``,
    ``decode-error``, ``too-large``, ``not-html``, ``redirect-loop``, ``too-many-redirects``, ``http-<status>``,
    ``error`` (a bug, logged) for failed; ``robots``, ``robots-unavailable``, ``crawl-delay``, ``cancelled``
    for skipped. To archive a fetched result: ``Archive.store(url=r.final_url, body=r.body,
    status=r.http_status, headers=r.headers, fetched_at=r.fetched_at, request_headers=r.request_headers)``.
    """

    url: str
    final_url: str | None
    outcome: str
    reason: str | None
    http_status: int | None
    headers: dict[str, str]
    body: bytes | None
    content_type: str | None
    redirects: list[tuple[int, str]]
    fetched_at: datetime
    elapsed: float
    attempts: int
    sha256: str | None
    detail: str | None = None
    request_headers: dict[str, str] = field(default_factory=dict)
    meta: Any = None

    @property
    def ok(self) -> bool:
        return self.outcome == "fetched"

    @property
    def charset(self) -> str | None:
        """The charset the server declared (may be wrong or missing; the bytes are untouched)."""
        for name, value in self.headers.items():
            if name.lower() == "content-type":
                for param in value.split(";")[1:]:
                    key, _, val = param.partition("=")
                    if key.strip().lower() == "charset" and val.strip():
                        return val.strip().strip("\"'")
        return None

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lname = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lname), None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary without the body (for ``--json`` output and logs)."""
        return {
            "url": self.url,
            "final_url": self.final_url,
            "outcome": self.outcome,
            "reason": self.reason,
            "detail": self.detail,
            "http_status": self.http_status,
            "content_type": self.content_type,
            "redirects": [list(r) for r in self.redirects],
            "fetched_at": self.fetched_at.isoformat(),
            "elapsed": round(self.elapsed, 3),
            "attempts": self.attempts,
            "sha256": self.sha256,
            "bytes": None if self.body is None else len(self.body),
        }


class FetchFailure(FactcheckError):
    """A policy's refusal or a network failure; the fetcher turns it into a :class:`FetchResult`."""

    def __init__(
        self,
        reason: str,
        detail: str | None = None,
        *,
        outcome: str = "failed",
        http_status: int | None = None,
        headers: dict[str, str] | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.outcome = outcome
        self.http_status = http_status
        self.headers = headers or {}
        self.retryable = retryable


# --------------------------------------------------------------------------------------------------------
# URL and address guard
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """A checked absolute URL: the URL to request (fragment removed) and its origin key."""

    url: str
    scheme: str
    host: str  # lowercase, ASCII (IDNA) form
    port: int

    @property
    def origin(self) -> str:
        """Per-host key for politeness and robots.txt; includes the port (two ports = two servers)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_url(url: str) -> Target:
    """Accept only URLs that pass the desk's one URL rule (:func:`factcheck.text.urls.normalise_url`:
    absolute http(s), a valid host and port, no spaces); raise ``FetchFailure('bad-url')`` otherwise."""
    try:
        url = normalise_url(url)
    except BadUrl as exc:
        raise FetchFailure("bad-url", exc.reason) from None
    parts = urlsplit(url)
    port = parts.port
    scheme = parts.scheme
    host = parts.hostname
    if not host:
        raise FetchFailure("bad-url", "URL has no host")
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise FetchFailure("bad-url", f"invalid host name {host!r}") from None
    return Target(
        url=urldefrag(url).url,
        scheme=scheme,
        host=ascii_host.lower().rstrip("."),
        port=port or (443 if scheme == "https" else 80),
    )


NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
"""RFC 6052: the last 32 bits are the IPv4 address a NAT64 gateway connects to."""
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
"""RFC 8215: a site's own translation prefix; where it leads cannot be told from the address."""


def is_public_address(address: str) -> bool:
    """True for globally routable unicast addresses; False for private, loopback, link-local, reserved,
    shared (CGN), multicast, unspecified, and for IPv6 forms that carry such an IPv4 address inside
    (IPv4-mapped, 6to4, NAT64): a gateway would forward those to the private host."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL_USE:
            return False
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip in NAT64_WELL_KNOWN:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return bool(ip.is_global) and not ip.is_multicast


Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the system resolver returns for ``host`` (raises ``socket.gaierror``)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class AddressGuard:
    """Refuses hosts that resolve to non-public addresses (any of them), unless private ones are allowed."""

    def __init__(self, allow_private: bool = False, resolver: Resolver | None = None) -> None:
        self.allow_private = allow_private
        self.resolver = resolver or system_resolver

    def _resolve(self, target: Target) -> list[str]:
        try:
            return [str(ipaddress.ip_address(target.host.strip("[]")))]
        except ValueError:
            pass  # a name, not an address literal
        try:
            addresses = self.resolver(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            raise FetchFailure("dns", f"cannot resolve {target.host}: {exc}") from None
        if not addresses:
            raise FetchFailure("dns", f"no addresses for {target.host}")
        return addresses

    def check(self, target: Target) -> list[str]:
        """Resolve and vet ``target``; returns the addresses or raises ``dns``/``private-address``."""
        addresses = self._resolve(target)
        if not self.allow_private:
            bad = [a for a in addresses if not is_public_address(a)]
            if bad:
                raise FetchFailure(
                    "private-address", f"{target.host} resolves to non-public {', '.join(bad)}"
                )
        return addresses


# --------------------------------------------------------------------------------------------------------
# robots.txt
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RobotsRecord:
    """One origin's robots.txt answer in plain fields, as a store shared between processes keeps it.

    ``status``: ``ok`` (``body`` holds the text), ``missing``, ``unavailable``, or ``failed`` when robots.txt
    could not be asked for at all (``reason``/``outcome`` of that failure, e.g. ``connection``)."""

    status: str
    body: str | None = None
    detail: str | None = None
    reason: str | None = None
    outcome: str | None = None

    @classmethod
    def of(cls, value: RobotsRules | FetchFailure) -> RobotsRecord:
        if isinstance(value, FetchFailure):
            return cls("failed", detail=value.detail, reason=value.reason, outcome=value.outcome)
        return cls(value.status, body=value.body, detail=value.detail)

    def value(self) -> RobotsRules | FetchFailure:
        """The rules (parsed again from the text) or the failure this record stands for."""
        if self.status == "failed":
            return FetchFailure(self.reason or "error", self.detail, outcome=self.outcome or "failed")
        parser = Protego.parse(self.body) if self.status == "ok" and self.body is not None else None
        return RobotsRules(self.status, parser, self.detail, self.body)


@dataclass
class RobotsRules:
    """The robots.txt verdict for one origin: ``ok`` (parsed), ``missing`` (allow all), ``unavailable``.
    ``body`` keeps the text ``parser`` was built from, so the answer can be stored and parsed again."""

    status: str
    parser: Protego | None = None
    detail: str | None = None
    body: str | None = None

    @classmethod
    def from_response(cls, status: int, body: bytes | None) -> RobotsRules:
        """Map a robots.txt HTTP answer to rules (RFC 9309 §2.3.1)."""
        if 200 <= status < 300:
            text = (body or b"").decode("utf-8", errors="replace")
            return cls("ok", Protego.parse(text), body=text)
        if status == 429 or status >= 500:
            return cls("unavailable", detail=f"robots.txt answered HTTP {status}")
        return cls("missing", detail=f"robots.txt answered HTTP {status}")

    def allowed(self, url: str, token: str) -> bool:
        if self.status == "unavailable":
            return False
        if self.parser is None:
            return True
        return bool(self.parser.can_fetch(url, token))

    def delay(self, token: str) -> float:
        """Seconds between requests the site asks for (Crawl-delay or Request-rate), 0 if none."""
        if self.parser is None:
            return 0.0
        delays = [0.0]
        cd = self.parser.crawl_delay(token)
        if cd is not None:
            delays.append(float(cd))
        rate = self.parser.request_rate(token)
        if rate is not None and rate.requests:
            delays.append(float(rate.seconds) / float(rate.requests))
        return max(delays)


class SharedRobots(Protocol):
    """robots.txt shared between processes: one answer per origin, kept for its lifetime.

    ``answer(origin, load, stop)`` returns the stored record and the seconds of its lifetime left, if any
    are left. Otherwise it holds the origin against the store's other users (they wait, then read the new
    answer: the origin is asked once), calls ``load()`` for ``(record, lifetime in seconds)``, keeps that and
    returns it. Waiting gives up with a ``cancelled`` :class:`FetchFailure` when ``stop`` is set."""

    def answer(
        self, origin: str, load: Callable[[], tuple[RobotsRecord, float]], stop: threading.Event
    ) -> tuple[RobotsRecord, float]: ...


class RobotsCache:
    """Fetches robots.txt once per origin (concurrent callers wait for the first) and remembers it; with
    ``shared``, once per origin for every process that shares that store (and for the stored lifetime)."""

    def __init__(
        self,
        loader: Callable[[Target], RobotsRules],
        *,
        ttl: float = ROBOTS_TTL,
        error_ttl: float = ROBOTS_ERROR_TTL,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedRobots | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self._loader = loader
        self._ttl = ttl
        self._error_ttl = error_ttl
        self._clock = clock
        self._shared = shared
        self._stop = stop or threading.Event()
        self._entries: dict[str, tuple[float, RobotsRules | FetchFailure]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, target: Target) -> RobotsRules:
        """Rules for ``target``'s origin; re-raises a cached network failure of the robots.txt fetch."""
        key = target.origin
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= self._clock():
                value: RobotsRules | FetchFailure
                if self._shared is None:
                    value = self._load(target)
                    lifetime = self._lifetime(value)
                else:
                    record, lifetime = self._shared.answer(key, lambda: self._load_record(target), self._stop)
                    value = record.value()
                entry = (self._clock() + lifetime, value)
                self._entries[key] = entry
        value = entry[1]
        if isinstance(value, FetchFailure):
            raise FetchFailure(value.reason, f"robots.txt: {value.detail}", outcome=value.outcome)
        return value

    def _load(self, target: Target) -> RobotsRules | FetchFailure:
        try:
            return self._loader(target)
        except FetchFailure as exc:
            return exc

    def _lifetime(self, value: RobotsRules | FetchFailure) -> float:
        """A day for an answer; five minutes for an unavailable site or a failed request (ask again soon)."""
        ok = isinstance(value, RobotsRules) and value.status != "unavailable"
        return self._ttl if ok else self._error_ttl

    def _load_record(self, target: Target) -> tuple[RobotsRecord, float]:
        value = self._load(target)
        if isinstance(value, FetchFailure) and value.reason == "cancelled":
            raise value  # this process is stopping: nothing the other processes should go by
        return RobotsRecord.of(value), self._lifetime(value)


# --------------------------------------------------------------------------------------------------------
# politeness and retries
# --------------------------------------------------------------------------------------------------------
class SharedHostSlots(Protocol):
    """Politeness shared between processes: the "next allowed time" of each origin kept outside the process.

    ``hold(origin, interval, stop)`` waits (giving up with a ``cancelled`` :class:`FetchFailure` when
    ``stop`` is set) until no other holder of the store talks to ``origin`` and ``interval`` seconds have
    passed since the last one finished; it is held while the request runs, and on leaving it the origin's
    next allowed time becomes now + ``interval``."""

    def hold(self, origin: str, interval: float, stop: threading.Event) -> AbstractContextManager[None]: ...


class HostThrottle:
    """One request at a time per origin, with at least ``interval`` seconds from the end of the previous one;
    with ``shared``, also across the processes that share that store."""

    def __init__(
        self, stop: threading.Event | None = None, clock: Callable[[], float] = time.monotonic,
        shared: SharedHostSlots | None = None,
    ) -> None:
        self._stop = stop or threading.Event()
        self._clock = clock
        self._shared = shared
        self._locks: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}
        self._guard = threading.Lock()

    @contextmanager
    def slot(self, key: str, interval: float) -> Iterator[None]:
        """Hold the origin for one request; waits (interruptibly) until ``interval`` has passed."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            last = self._last.get(key)
            if last is not None:
                remaining = last + interval - self._clock()
                if remaining > 0 and self._stop.wait(remaining):
                    raise FetchFailure("cancelled", "fetching was cancelled", outcome="skipped")
            if self._stop.is_set():
                raise FetchFailure("cancelled", "fetching was cancelled", outcome="skipped")
            with self._shared.hold(key, interval, self._stop) if self._shared is not None else nullcontext():
                try:
                    yield
                finally:
                    self._last[key] = self._clock()


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP date); None if absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before asking again."""

    retries: int = 3
    backoff: float = 0.5
    max_retry_after: float = 60.0

    def wait(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1`` after attempt ``attempt`` failed; None = give up."""
        if attempt > self.retries:
            return None
        base = min(self.backoff * (2 ** (attempt - 1)), self.max_retry_after)
        if retry_after is None:
            return base
        if retry_after > self.max_retry_after:
            return None  # the server wants more patience than the policy allows; do not ask earlier
        return max(base, retry_after)


# --------------------------------------------------------------------------------------------------------
# content
# --------------------------------------------------------------------------------------------------------
def _media_type(value: str | None) -> str | None:
    if not value:
        return None
    media = value.split(";", 1)[0].strip().lower()
    return media or None


def content_type_allowed(media_type: str, accepted: Iterable[str] = ACCEPTED_CONTENT_TYPES) -> bool:
    """Whether a bare media type is a document the desk can extract text from."""
    accepted = tuple(accepted)
    if media_type in accepted:
        return True
    return media_type.endswith("+xml") and "application/xml" in accepted


_BINARY_MAGIC = (
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"RIFF",
    b"\x00\x00\x01\x00",
)


def looks_binary(head: bytes) -> bool:
    """Sniff a body that came without a Content-Type: images/archives/NUL bytes are binary, PDF is not."""
    if head.startswith(b"%PDF"):
        return False
    if head.startswith(_BINARY_MAGIC):
        return True
    return b"\x00" in head[:1024]


def _read_capped(raw: Any, limit: int, deadline: float, *, truncate: bool = False) -> bytes:
    """Read decoded bytes up to ``limit``; too-large (or truncate) beyond it, timeout after ``deadline``."""
    buf = bytearray()
    while True:
        chunk = raw.read1(_CHUNK, decode_content=True)
        if not chunk:
            return bytes(buf)
        buf += chunk
        if len(buf) > limit:
            if truncate:
                return bytes(buf[:limit])
            raise FetchFailure("too-large", f"body exceeds {limit} bytes (decoded)")
        if time.monotonic() > deadline:
            raise FetchFailure("timeout", "body download took longer than max_time", retryable=True)


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        for nxt in (e.__cause__, e.__context__, getattr(e, "reason", None), *e.args):
            if isinstance(nxt, BaseException):
                stack.append(nxt)


def _is_timeout(exc: BaseException) -> bool:
    # urllib3's NewConnectionError (refused, unreachable) subclasses ConnectTimeoutError for old
    # compatibility reasons; it is a connection failure, not a timeout.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return False
    return isinstance(exc, requests.exceptions.Timeout | urllib3.exceptions.TimeoutError | TimeoutError)


def _network_failure(exc: BaseException) -> FetchFailure:
    """Classify requests/urllib3 exceptions into stable reasons; mark the transient ones retryable."""
    chain = list(_exception_chain(exc))
    text = str(exc) or type(exc).__name__
    if any(isinstance(e, urllib3.exceptions.NameResolutionError | socket.gaierror) for e in chain):
        return FetchFailure("dns", text)
    if any(_is_timeout(e) for e in chain):
        return FetchFailure("timeout", text, retryable=True)
    if any(isinstance(e, requests.exceptions.SSLError | urllib3.exceptions.SSLError) for e in chain):
        return FetchFailure("tls", text)
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema
        | requests.exceptions.InvalidHeader
        | ValueError,
    ) and not isinstance(exc, requests.exceptions.ContentDecodingError):
        return FetchFailure("bad-url", text)
    if any(
        isinstance(e, requests.exceptions.ContentDecodingError | urllib3.exceptions.DecodeError)
        for e in chain
    ):
        return FetchFailure("decode-error", text)
    return FetchFailure("connection", text, retryable=True)


# --------------------------------------------------------------------------------------------------------
# the fetcher
# --------------------------------------------------------------------------------------------------------
@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes | None
    received_at: datetime

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "location"), None)

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lname), None)


@dataclass
class _Trace:
    """Mutable record of one fetch while it runs, so failures still report what happened."""

    final_url: str | None = None
    redirects: list[tuple[int, str]] = field(default_factory=list)
    attempts: int = 0
    request_headers: dict[str, str] = field(default_factory=dict)
    received_at: datetime | None = None


class Fetcher:
    """Fetches evidence URLs under a :class:`FetchPolicy`. Thread-safe; one instance per desk run.

    ``fetch`` never raises for network or server problems; ``fetch_many`` runs hosts in parallel.
    ``resolver`` replaces DNS resolution for the address guard (tests). One ``requests.Session`` is shared
    by the worker threads (urllib3's pool is thread-safe; each origin is used by one thread at a time).
    ``host_slots`` makes the per-origin delay hold across processes (see :class:`SharedHostSlots`), and
    ``robots_store`` robots.txt (asked once per origin and lifetime by all of them; see :class:`SharedRobots`).
    ``robots_cache``: the robots.txt answers of another fetcher in this process, read instead of keeping (and
    asking the store for) its own; that fetcher asks for robots.txt when it is missing.
    """

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        session: requests.Session | None = None,
        *,
        resolver: Resolver | None = None,
        host_slots: SharedHostSlots | None = None,
        robots_store: SharedRobots | None = None,
        robots_cache: RobotsCache | None = None,
    ) -> None:
        self.policy = policy or FetchPolicy()
        self._own_session = session is None
        self.session = session or self._make_session(self.policy)
        self._stop = threading.Event()
        self.guard = AddressGuard(self.policy.allow_private_addresses, resolver)
        self.throttle = HostThrottle(self._stop, shared=host_slots)
        self.retry = RetryPolicy(self.policy.retries, self.policy.backoff, self.policy.max_retry_after)
        self.robots = robots_cache or RobotsCache(self._load_robots, shared=robots_store, stop=self._stop)

    @staticmethod
    def _make_session(policy: FetchPolicy) -> requests.Session:
        session = requests.Session()
        size = max(10, policy.concurrency * 2)
        adapter = HTTPAdapter(pool_connections=size, pool_maxsize=size, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    # -- lifecycle ------------------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop: waiting requests are skipped with reason ``cancelled``. Final for this instance."""
        self._stop.set()

    def close(self) -> None:
        if self._own_session:
            self.session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API -----------------------------------------------------------------------------------------
    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, meta: Any = None
    ) -> FetchResult:
        """Fetch one URL following the policy; every failure comes back as a result, never an exception."""
        started = time.monotonic()
        trace = _Trace()
        try:
            result = self._fetch(url, etag, last_modified, trace, started)
        except FetchFailure as exc:
            result = self._result(url, trace, started, exc.outcome, exc.reason, exc.http_status, exc.headers)
            result.detail = exc.detail
        except Exception as exc:  # a bug must not sink a batch; it is logged and reported
            log.exception("unexpected error fetching %s", url)
            result = self._result(url, trace, started, "failed", "error", None, {})
            result.detail = f"{type(exc).__name__}: {exc}"
        result.meta = meta
        log.debug("%s -> %s %s (%s)", url, result.outcome, result.reason or "", result.detail or "")
        return result

    def fetch_many(
        self,
        items: Iterable[FetchRequest | str],
        on_result: Callable[[FetchResult], None] | None = None,
    ) -> list[FetchResult]:
        """Fetch many URLs: origins in parallel (up to ``concurrency`` workers), each origin's URLs in order.

        Results come back in input order. ``on_result`` is called once per result **in the calling thread**
        as results arrive, so a caller can store each one (e.g. in a SQLite session that must stay on its
        thread) and advance a progress bar. If ``on_result`` raises or the caller is interrupted, the
        remaining work is cancelled and the exception propagates.
        """
        reqs = [FetchRequest(i) if isinstance(i, str) else i for i in items]
        results: list[FetchResult | None] = [None] * len(reqs)
        if not reqs:
            return []
        groups: dict[str, list[int]] = {}
        for idx, req in enumerate(reqs):
            try:
                key = parse_url(req.url).origin
            except FetchFailure:
                key = f"invalid:{idx}"
            groups.setdefault(key, []).append(idx)
        # Largest origins first: the run can end no sooner than its busiest host.
        work: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
        for group in sorted(groups.values(), key=len, reverse=True):
            work.put(group)
        done: queue.SimpleQueue[tuple[int, FetchResult] | None] = queue.SimpleQueue()

        def worker() -> None:
            try:
                while True:
                    try:
                        group = work.get_nowait()
                    except queue.Empty:
                        return
                    for idx in group:
                        req = reqs[idx]
                        if self._stop.is_set():
                            res = self._cancelled(req)
                        else:
                            res = self.fetch(
                                req.url, etag=req.etag, last_modified=req.last_modified, meta=req.meta
                            )
                        done.put((idx, res))
            finally:
                done.put(None)

        n_workers = max(1, min(self.policy.concurrency, len(groups)))
        threads = [
            threading.Thread(target=worker, name=f"factcheck-fetch-{i}", daemon=True)
            for i in range(n_workers)
        ]
        for t in threads:
            t.start()
        finished = 0
        try:
            while finished < n_workers:
                item = done.get()
                if item is None:
                    finished += 1
                    continue
                idx, res = item
                results[idx] = res
                if on_result is not None:
                    on_result(res)
        except BaseException:
            self.cancel()
            for t in threads:
                t.join(timeout=1.0)
            raise
        return [r if r is not None else self._cancelled(reqs[i]) for i, r in enumerate(results)]

    # -- pipeline -------------------------------------------------------------------------------------------
    def _base_headers(self) -> dict[str, str]:
        return {"User-Agent": self.policy.user_agent_header(), "Accept": _ACCEPT}

    def _fetch(
        self, url: str, etag: str | None, last_modified: str | None, trace: _Trace, started: float
    ) -> FetchResult:
        policy = self.policy
        headers = self._base_headers()
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        conditional = bool(etag or last_modified)
        token = policy.robots_token()
        visited: set[str] = set()
        current = url
        while True:
            target = parse_url(current)
            trace.final_url = target.url
            visited.add(target.url)
            self.guard.check(target)
            interval = policy.per_host_delay
            if policy.obey_robots:
                rules = self.robots.get(target)
                if rules.status == "unavailable":
                    raise FetchFailure("robots-unavailable", rules.detail, outcome="skipped")
                if not rules.allowed(target.url, token):
                    raise FetchFailure("robots", f"robots.txt disallows {target.url}", outcome="skipped")
                asked = rules.delay(token)
                if asked > policy.max_crawl_delay:
                    raise FetchFailure(
                        "crawl-delay",
                        f"robots.txt asks for {asked:g}s between requests (max_crawl_delay {policy.max_crawl_delay:g}s)",
                        outcome="skipped",
                    )
                interval = max(interval, asked)
            trace.request_headers = dict(headers)
            resp = self._request_with_retries(
                target, headers, interval, trace, limit=policy.max_bytes, truncate=False, check_type=True
            )
            trace.received_at = resp.received_at
            status = resp.status
            if status in REDIRECT_STATUSES:
                location = resp.location
                if not location:
                    raise FetchFailure(
                        f"http-{status}",
                        "redirect without Location",
                        http_status=status,
                        headers=resp.headers,
                    )
                nxt = urldefrag(urljoin(target.url, location.strip())).url
                trace.redirects.append((status, nxt))
                if nxt in visited:
                    raise FetchFailure(
                        "redirect-loop",
                        f"{nxt} was already visited",
                        http_status=status,
                        headers=resp.headers,
                    )
                if len(trace.redirects) > policy.max_redirects:
                    raise FetchFailure(
                        "too-many-redirects",
                        f"more than {policy.max_redirects} redirects",
                        http_status=status,
                        headers=resp.headers,
                    )
                current = nxt
                continue
            if status == 304:
                if not conditional:
                    raise FetchFailure("http-304", "304 without a conditional request", http_status=304)
                return self._result(url, trace, started, "unchanged", None, status, resp.headers)
            if 200 <= status < 300:
                result = self._result(url, trace, started, "fetched", None, status, resp.headers)
                result.body = resp.body if resp.body is not None else b""
                result.sha256 = hashlib.sha256(result.body).hexdigest()
                return result
            raise FetchFailure(f"http-{status}", None, http_status=status, headers=resp.headers)

    def _result(
        self,
        url: str,
        trace: _Trace,
        started: float,
        outcome: str,
        reason: str | None,
        status: int | None,
        headers: dict[str, str],
    ) -> FetchResult:
        return FetchResult(
            url=url,
            final_url=trace.final_url,
            outcome=outcome,
            reason=reason,
            http_status=status,
            headers=dict(headers),
            body=None,
            content_type=_media_type(
                next((v for k, v in headers.items() if k.lower() == "content-type"), None)
            ),
            redirects=list(trace.redirects),
            fetched_at=trace.received_at or datetime.now(UTC),
            elapsed=time.monotonic() - started,
            attempts=trace.attempts,
            sha256=None,
            request_headers=dict(trace.request_headers),
        )

    def _cancelled(self, req: FetchRequest) -> FetchResult:
        trace = _Trace()
        res = self._result(req.url, trace, time.monotonic(), "skipped", "cancelled", None, {})
        res.detail = "fetching was cancelled"
        res.meta = req.meta
        return res

    def _request_with_retries(
        self,
        target: Target,
        headers: dict[str, str],
        interval: float,
        trace: _Trace | None,
        *,
        limit: int,
        truncate: bool,
        check_type: bool,
    ) -> _Response:
        """One hop: request, retrying transient failures; returns the last response (maybe a 5xx)."""
        attempt = 0
        wait = 0.0
        while True:
            attempt += 1
            if trace is not None:
                trace.attempts += 1
            try:
                with self.throttle.slot(target.origin, max(interval, wait)):
                    resp = self._request_once(
                        target, headers, limit=limit, truncate=truncate, check_type=check_type
                    )
            except FetchFailure as exc:
                next_wait = self.retry.wait(attempt) if exc.retryable else None
                if next_wait is None:
                    raise
                log.debug("retrying %s after %s in %.2fs", target.url, exc.reason, next_wait)
                wait = next_wait
                continue
            if resp.status in RETRY_STATUSES:
                retry_after = parse_retry_after(resp.header("Retry-After"))
                next_wait = self.retry.wait(attempt, retry_after)
                if next_wait is not None:
                    log.debug("retrying %s after HTTP %s in %.2fs", target.url, resp.status, next_wait)
                    wait = next_wait
                    continue
            return resp

    def _request_once(
        self, target: Target, headers: dict[str, str], *, limit: int, truncate: bool, check_type: bool
    ) -> _Response:
        """Send one GET and, for a 2xx, read the body under the size/time caps. Runs inside the host slot."""
        policy = self.policy
        try:
            resp = self.session.get(
                target.url,
                headers=headers,
                timeout=(policy.connect_timeout, policy.read_timeout),
                allow_redirects=False,
                stream=True,
            )
        except Exception as exc:
            raise _network_failure(exc) from None
        received_at = datetime.now(UTC)
        fully_read = False
        try:
            status = resp.status_code
            hdrs = dict(resp.headers)
            body: bytes | None = None
            if 200 <= status < 300:
                media = _media_type(resp.headers.get("Content-Type"))
                if check_type and media is not None and not content_type_allowed(media, policy.accept_types):
                    raise FetchFailure("not-html", f"content type {media}", http_status=status, headers=hdrs)
                length = resp.headers.get("Content-Length", "")
                if not truncate and length.isdigit() and int(length) > limit:
                    raise FetchFailure(
                        "too-large",
                        f"Content-Length {length} exceeds {limit} bytes",
                        http_status=status,
                        headers=hdrs,
                    )
                try:
                    body = _read_capped(
                        resp.raw, limit, time.monotonic() + policy.max_time, truncate=truncate
                    )
                except FetchFailure as exc:
                    exc.http_status, exc.headers = status, hdrs
                    raise
                except Exception as exc:
                    raise _network_failure(exc) from None
                fully_read = True
                if check_type and media is None and looks_binary(body[:1024]):
                    raise FetchFailure(
                        "not-html", "binary body without Content-Type", http_status=status, headers=hdrs
                    )
            else:
                fully_read = self._drain(resp)
            return _Response(status, hdrs, body, received_at)
        finally:
            if fully_read:
                resp.raw.release_conn()  # keep-alive: the next request to this host reuses the socket
            else:
                resp.close()

    @staticmethod
    def _drain(resp: requests.Response) -> bool:
        """Read a small non-2xx body so the connection can be reused; False if it is large or broken."""
        length = resp.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > _DRAIN_LIMIT:
            return False
        with suppress(Exception):
            _read_capped(resp.raw, _DRAIN_LIMIT, time.monotonic() + 2.0)
            return True
        return False

    def _load_robots(self, origin_target: Target) -> RobotsRules:
        """Fetch and interpret ``/robots.txt`` for an origin, following up to five redirects."""
        headers = {"User-Agent": self.policy.user_agent_header(), "Accept": "text/plain,*/*;q=0.1"}
        current = f"{origin_target.scheme}://{urlsplit(origin_target.url).netloc}/robots.txt"
        for _ in range(ROBOTS_MAX_REDIRECTS + 1):
            target = parse_url(current)
            try:
                self.guard.check(target)
            except FetchFailure as exc:
                if exc.reason == "private-address":
                    return RobotsRules(
                        "unavailable", detail=f"robots.txt redirected to a refused address ({exc.detail})"
                    )
                raise
            resp = self._request_with_retries(
                target,
                headers,
                self.policy.per_host_delay,
                None,
                limit=self.policy.robots_max_bytes,
                truncate=True,
                check_type=False,
            )
            location = resp.location
            if resp.status in REDIRECT_STATUSES and location:
                current = urljoin(target.url, location.strip())
                continue
            return RobotsRules.from_response(resp.status, resp.body)
        return RobotsRules("missing", detail="robots.txt redirected too often")
