"""The one rule for the web addresses the desk stores, queues and fetches.

Every place a URL comes in (case files, ingested articles and their links, the evidence queue, the fetcher,
the command line) goes through `normalise_url`, so a URL the desk accepts in one place is accepted in all,
and is stored in one spelling. The parsing itself is urllib3's (the library requests fetches with); the
checks on top are what urllib3 lets through but no fetch could use: spaces and control characters, a
missing or malformed host name, port 0.

The normal form changes only what does not change the address: surrounding whitespace is dropped and the
scheme and host are lowercased (`HTTPS://Example.org/A` → `https://example.org/A`). Path, query and fragment
are kept exactly as given.
"""

from __future__ import annotations

import functools
import ipaddress
import re

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from factcheck.errors import FactcheckError
from factcheck.settings import FIELD_LIMITS
from factcheck.text.display import BIDI_CONTROLS

__all__ = ["BadUrl", "looks_like_url", "normalise_url", "url_problem"]

SCHEMES = ("http", "https")
_SCHEME_START = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_HTTP_START = re.compile(r"^https?://", re.IGNORECASE)
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_AUTHORITY_END = re.compile(r"[/?#]")


class BadUrl(FactcheckError):
    """A URL the desk cannot store or fetch; `reason` says why in a few words."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url!r} is not a usable web address: {reason}")
        self.url, self.reason = url, reason


def looks_like_url(text: str) -> bool:
    """True when `text` is meant as a web address (starts with http:// or https://, any case), so
    commands that take a path or a URL know which it is before checking it."""
    return bool(_HTTP_START.match(text.strip())) if isinstance(text, str) else False


def _host_problem(host: str) -> str | None:
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1].split("%", 1)[0])
        except ValueError:
            return "the IPv6 address in brackets is malformed"
        return None
    name = host.rstrip(".")
    if not name or len(name) > 253:
        return "the host name is empty or too long"
    labels = name.split(".")
    if all(label.isdigit() for label in labels):
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return f"{host!r} is not a valid IPv4 address"
        return None
    if not all(_LABEL.match(label) for label in labels):
        return f"{host!r} is not a valid host name"
    return None


def url_problem(url: object) -> str | None:
    """Why `url` cannot be used, or None when it can (see `normalise_url`)."""
    try:
        normalise_url(url)
    except BadUrl as exc:
        return exc.reason
    return None


def normalise_url(url: object) -> str:
    """`_normalise_url` remembered per text: a big case file names the same few hundred pages thousands of
    times (a refusal is not remembered; it raises each time)."""
    return _normalise_cached(url) if isinstance(url, str) else _normalise_url(url)


@functools.lru_cache(maxsize=8192)
def _normalise_cached(url: str) -> str:
    return _normalise_url(url)


def _normalise_url(url: object) -> str:
    """`url` in the desk's one spelling, or `BadUrl` saying what is wrong with it.

    Accepted: absolute http(s) URLs with a valid host (name, IPv4, or IPv6 in brackets), an optional port
    from 1 to 65535, and no whitespace or control characters anywhere (encode a space as %20)."""
    if not isinstance(url, str):
        raise BadUrl(repr(url), "not text")
    raw = url
    url = url.strip()
    if not url:
        raise BadUrl(raw, "it is empty")
    limit = FIELD_LIMITS["url"].chars
    if len(url) > limit:
        raise BadUrl(url[:60] + "…", f"it is {len(url):,} characters long; the most is {limit:,}")
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in BIDI_CONTROLS
           or 0xD800 <= ord(ch) < 0xE000 for ch in url):
        raise BadUrl(url, "it contains spaces or control characters (write a space as %20)")
    m = _SCHEME_START.match(url)
    if not m or m.group(1).lower() not in SCHEMES:
        raise BadUrl(url, f"it must start with http:// or https:// (not {m.group(1)}:)" if m
                     else "it must start with http:// or https://")
    scheme = m.group(1).lower()
    rest = url[m.end():]
    if not rest.startswith("//"):
        raise BadUrl(url, f"{scheme}: must be followed by //")
    try:
        parsed = parse_url(url)
    except (LocationParseError, ValueError):
        raise BadUrl(url, _parse_reason(url, "it cannot be parsed")) from None
    if not parsed.host:
        raise BadUrl(url, "it has no host name")
    problem = _host_problem(parsed.host)
    if problem:
        raise BadUrl(url, problem)
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise BadUrl(url, "the port must be a number from 1 to 65535")
    authority_and_more = rest[2:]
    end = _AUTHORITY_END.search(authority_and_more)
    authority = authority_and_more[: end.start()] if end else authority_and_more
    tail = authority_and_more[len(authority):]
    userinfo, at, hostport = authority.rpartition("@")
    return f"{scheme}://{userinfo}{at}{hostport.lower()}{tail}"


def normalise_evidence_url(url: object) -> str:
    """An evidence page's address: a web URL by `normalise_url`, or the `file:///…` URI a saved page attached
    from disk is recorded under (an absolute path, as `Path.as_uri` writes it; never fetched)."""
    if isinstance(url, str) and url[:8].lower() == "file:///":
        if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in BIDI_CONTROLS
               or 0xD800 <= ord(ch) < 0xE000 for ch in url) or len(url) > FIELD_LIMITS["url"].chars:
            raise BadUrl(url[:60], "a file:// address must be an absolute path with no spaces or control "
                                   "characters")
        return "file:///" + url[8:]
    return normalise_url(url)


def _parse_reason(url: str, fallback: str) -> str:
    """A plainer reason than urllib3's "Failed to parse" for the usual mistakes."""
    authority = _AUTHORITY_END.split(url.split("//", 1)[-1], maxsplit=1)[0].rpartition("@")[2]
    if authority.startswith("[") and "]" not in authority:
        return "the IPv6 address has no closing bracket"
    if authority.startswith("["):
        problem = _host_problem(authority[: authority.index("]") + 1])
        if problem:
            return problem
    port = authority.rpartition("]")[2] if authority.startswith("[") else authority
    if ":" in port:
        digits = port.rpartition(":")[2]
        if not digits.isdigit() or not 0 < int(digits) < 65536:
            return "the port must be a number from 1 to 65535"
    return fallback
