"""The FETCH stage: each policy on its own, then the whole fetcher against real servers on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler

import pytest
from pytest_httpserver import HTTPServer

from factcheck.documents.fetch import (
    AddressGuard,
    Fetcher,
    FetchFailure,
    FetchPolicy,
    FetchRequest,
    HostThrottle,
    RetryPolicy,
    RobotsCache,
    RobotsRules,
    content_type_allowed,
    is_public_address,
    looks_binary,
    parse_retry_after,
    parse_url,
)
from factcheck.errors import FactcheckError

try:
    from httpserver_util import LocalServer, send
except ImportError:  # pragma: no cover - when tests/ becomes a package
    from tests.httpserver_util import LocalServer, send

HTML = b"<html><head><title>t</title></head><body><p>SignalFire data shows 600 engineers.</p></body></html>"


def policy(**kw: object) -> FetchPolicy:
    """Fast test policy: local addresses allowed, tiny delays, no robots unless a test wants them."""
    base: dict[str, object] = {
        "allow_private_addresses": True,
        "per_host_delay": 0.0,
        "backoff": 0.01,
        "retries": 2,
        "obey_robots": False,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
    }
    base.update(kw)
    return FetchPolicy(**base)  # type: ignore[arg-type]


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


def _gaps(starts: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(starts)]


# ---------------------------------------------------------------------------------------------------------
# policies, one by one
# ---------------------------------------------------------------------------------------------------------
def test_parse_url_accepts_http_and_https_only() -> None:
    t = parse_url("HTTPS://Www.Example.ORG/a/b?q=1#frag")
    assert t.url == "https://www.example.org/a/b?q=1"  # the desk's one spelling (text.urls.normalise_url)
    assert (t.scheme, t.host, t.port) == ("https", "www.example.org", 443)
    assert t.origin == "https://www.example.org:443"
    assert parse_url("http://127.0.0.1:8080/").origin == "http://127.0.0.1:8080"
    assert parse_url("http://127.0.0.1:8081/").origin != parse_url("http://127.0.0.1:8080/").origin
    assert parse_url("http://[::1]:81/").origin == "http://[::1]:81"
    assert parse_url("http://bücher.example/").host == "xn--bcher-kva.example"
    for bad in [
        "",
        "   ",
        "ftp://example.org/",
        "example.org/page",
        "/relative",
        "http://",
        "http://x:99999/",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://exa mple.org/",
    ]:
        with pytest.raises(FetchFailure) as exc:
            parse_url(bad)
        assert exc.value.reason == "bad-url", bad


def test_fetch_failure_is_a_factcheck_error() -> None:
    assert issubclass(FetchFailure, FactcheckError)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::", False),
        # 6to4 (2002::/16) carries an IPv4 address in bits 16-48: judged by that address
        ("2002:7f00:1::", False),
        ("2002:a00:1::1", False),
        ("2002:c0a8:101::", False),
        ("2002:808:808::1", True),
        # NAT64 (64:ff9b::/96) carries it in the last 32 bits; the local-use prefix is never public
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::127.0.0.1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("64:ff9b::808:808", True),
        ("64:ff9b:1::808:808", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_address_guard_resolves_and_refuses_any_private_address() -> None:
    table = {
        "public.test": ["93.184.216.34"],
        "mixed.test": ["93.184.216.34", "10.0.0.7"],
        "intranet.test": ["192.168.0.10"],
        "sixtofour.test": ["2002:7f00:1::1"],
        "nat64.test": ["64:ff9b::a00:7"],
    }

    def resolver(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    guard = AddressGuard(False, resolver)
    assert guard.check(parse_url("http://public.test/")) == ["93.184.216.34"]
    for url, reason in [
        ("http://mixed.test/", "private-address"),
        ("http://intranet.test/", "private-address"),
        ("http://127.0.0.1/", "private-address"),
        ("http://[::1]/", "private-address"),
        ("http://[2002:7f00:1::]/", "private-address"),
        ("http://[64:ff9b::7f00:1]:8080/", "private-address"),
        ("http://sixtofour.test/", "private-address"),
        ("http://nat64.test/", "private-address"),
        ("http://nowhere.test/", "dns"),
    ]:
        with pytest.raises(FetchFailure) as exc:
            guard.check(parse_url(url))
        assert exc.value.reason == reason, url
    assert AddressGuard(True, resolver).check(parse_url("http://intranet.test/")) == ["192.168.0.10"]


def test_parse_retry_after_seconds_and_http_date() -> None:
    now = datetime(2025, 9, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 0 ", now) == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after("Mon, 01 Sep 2025 11:00:00 GMT", now) == 0.0  # in the past: go now
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-5", now) is None


def test_retry_policy_backs_off_exponentially_and_respects_retry_after() -> None:
    rp = RetryPolicy(retries=3, backoff=0.5, max_retry_after=10.0)
    assert [rp.wait(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, None]
    assert rp.wait(1, retry_after=4.0) == 4.0  # the server's wish wins over a shorter back-off
    assert rp.wait(3, retry_after=0.0) == 2.0
    assert rp.wait(1, retry_after=11.0) is None  # longer than we may wait: give up, do not knock early
    assert RetryPolicy(retries=0).wait(1) is None


def test_content_type_policy() -> None:
    for ok in [
        "text/html",
        "application/xhtml+xml",
        "text/plain",
        "application/pdf",
        "application/xml",
        "text/xml",
        "application/rss+xml",
        "application/atom+xml",
    ]:
        assert content_type_allowed(ok), ok
    for no in [
        "image/png",
        "image/jpeg",
        "application/zip",
        "application/octet-stream",
        "video/mp4",
        "application/json",
    ]:
        assert not content_type_allowed(no), no
    assert looks_binary(b"\x89PNG\r\n\x1a\n....")
    assert looks_binary(b"PK\x03\x04zip")
    assert looks_binary(b"abc\x00def")
    assert not looks_binary(b"%PDF-1.7\n\x00binary stream")
    assert not looks_binary(HTML)


def test_robots_rules_follow_rfc9309_status_handling() -> None:
    rules = RobotsRules.from_response(
        200, b"User-agent: factcheck\nDisallow: /private\nCrawl-delay: 2\n\nUser-agent: *\nDisallow: /\n"
    )
    assert rules.allowed("http://h/public", "factcheck")
    assert not rules.allowed("http://h/private/x", "factcheck")
    assert not rules.allowed("http://h/public", "otherbot")
    assert rules.delay("factcheck") == 2.0
    assert RobotsRules.from_response(200, b"User-agent: *\nRequest-rate: 1/5s\n").delay("factcheck") == 5.0
    for status in (404, 410, 401, 403):
        assert RobotsRules.from_response(status, b"").allowed("http://h/x", "factcheck"), status
    for status in (500, 503, 429):
        r = RobotsRules.from_response(status, b"")
        assert r.status == "unavailable" and not r.allowed("http://h/x", "factcheck"), status


def test_robots_cache_loads_once_per_origin_even_concurrently() -> None:
    calls: list[str] = []

    def loader(target: object) -> RobotsRules:
        calls.append(target.origin)  # type: ignore[attr-defined]
        time.sleep(0.05)
        return RobotsRules.from_response(200, b"User-agent: *\nDisallow: /x\n")

    cache = RobotsCache(loader)
    threads = [threading.Thread(target=cache.get, args=(parse_url(f"http://a.test/p{i}"),)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cache.get(parse_url("http://b.test/"))
    cache.get(parse_url("http://b.test:8080/"))
    assert sorted(calls) == ["http://a.test:80", "http://b.test:80", "http://b.test:8080"]


def test_robots_cache_remembers_network_failures_briefly() -> None:
    now = [0.0]
    calls = []

    def loader(target: object) -> RobotsRules:
        calls.append(1)
        raise FetchFailure("connection", "refused", retryable=True)

    cache = RobotsCache(loader, error_ttl=300, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(FetchFailure) as exc:
            cache.get(parse_url("http://down.test/"))
        assert exc.value.reason == "connection"
    assert len(calls) == 1
    now[0] = 301.0
    with pytest.raises(FetchFailure):
        cache.get(parse_url("http://down.test/"))
    assert len(calls) == 2


def test_host_throttle_spaces_requests_per_host_and_can_be_cancelled() -> None:
    stop = threading.Event()
    throttle = HostThrottle(stop)
    marks: list[tuple[str, float, float]] = []
    for key in ["a", "a", "b"]:
        with throttle.slot(key, 0.15):
            start = time.monotonic()
        marks.append((key, start, time.monotonic()))
    assert marks[1][1] - marks[0][2] >= 0.14  # second "a" waited for the first
    assert marks[2][1] - marks[1][2] < 0.14  # "b" did not wait for "a"
    stop.set()
    with pytest.raises(FetchFailure) as exc, throttle.slot("a", 10.0):
        pass
    assert exc.value.reason == "cancelled" and exc.value.outcome == "skipped"


def test_user_agent_is_honest_and_carries_contact() -> None:
    assert (
        FetchPolicy().user_agent_header() == "factcheck/0.1 (+https://github.com/factcheck; fact-check desk)"
    )
    ua = FetchPolicy(contact="desk@paper.example").user_agent_header()
    assert ua == "factcheck/0.1 (+https://github.com/factcheck; fact-check desk; contact: desk@paper.example)"
    assert FetchPolicy(user_agent="mybot/2", contact="x@y").user_agent_header() == "mybot/2 (contact: x@y)"
    assert FetchPolicy().robots_token() == "factcheck"


# ---------------------------------------------------------------------------------------------------------
# the fetcher against real local servers
# ---------------------------------------------------------------------------------------------------------
def test_fetch_ok_records_everything(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/article").respond_with_data(
        HTML, content_type="text/html; charset=utf-8", headers={"ETag": '"abc"'}
    )
    with Fetcher(policy(contact="desk@paper.example")) as f:
        r = f.fetch(httpserver.url_for("/article#section"))
    assert r.outcome == "fetched" and r.ok and r.reason is None
    assert r.url == httpserver.url_for("/article#section")
    assert r.final_url == httpserver.url_for("/article")
    assert r.http_status == 200
    assert r.body == HTML
    assert r.sha256 == hashlib.sha256(HTML).hexdigest()
    assert r.content_type == "text/html" and r.charset == "utf-8"
    assert r.header("etag") == '"abc"'
    assert r.redirects == [] and r.attempts == 1
    assert r.fetched_at.tzinfo is not None and r.fetched_at.utcoffset() == timedelta(0)
    assert r.elapsed >= 0
    sent = httpserver.log[0][0].headers
    assert sent["User-Agent"].startswith("factcheck/0.1 (+https://github.com/factcheck")
    assert "desk@paper.example" in sent["User-Agent"]
    assert r.request_headers["User-Agent"] == sent["User-Agent"]
    assert r.as_dict()["bytes"] == len(HTML)


def test_redirect_chain_is_followed_and_recorded(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/c?x=1")}
    )
    httpserver.expect_request("/c").respond_with_data(HTML, content_type="text/html")
    r = Fetcher(policy()).fetch(httpserver.url_for("/a"))
    assert r.outcome == "fetched"
    assert r.redirects == [(301, httpserver.url_for("/b")), (302, httpserver.url_for("/c?x=1"))]
    assert r.final_url == httpserver.url_for("/c?x=1")
    assert r.body == HTML
    assert r.attempts == 3


def test_redirect_loop_is_detected(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    r = Fetcher(policy()).fetch(httpserver.url_for("/a"))
    assert (r.outcome, r.reason) == ("failed", "redirect-loop")
    assert r.redirects == [(302, httpserver.url_for("/b")), (302, httpserver.url_for("/a"))]
    assert len(httpserver.log) == 2


def test_too_many_redirects(httpserver: HTTPServer) -> None:
    for i in range(10):
        httpserver.expect_request(f"/r{i}").respond_with_data(
            "", status=307, headers={"Location": f"/r{i + 1}"}
        )
    r = Fetcher(policy(max_redirects=3)).fetch(httpserver.url_for("/r0"))
    assert (r.outcome, r.reason) == ("failed", "too-many-redirects")
    assert len(r.redirects) == 4 and len(httpserver.log) == 4


def test_redirect_to_a_non_http_scheme_is_bad_url(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "ftp://x.test/f"})
    r = Fetcher(policy()).fetch(httpserver.url_for("/a"))
    assert (r.outcome, r.reason) == ("failed", "bad-url")
    assert r.redirects == [(302, "ftp://x.test/f")]


def test_404_fails_without_retry(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/gone").respond_with_data("nope", status=404)
    r = Fetcher(policy(retries=3)).fetch(httpserver.url_for("/gone"))
    assert (r.outcome, r.reason, r.http_status) == ("failed", "http-404", 404)
    assert r.body is None and r.attempts == 1 and len(httpserver.log) == 1


def test_500_then_200_is_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/flaky").respond_with_data("oops", status=500)
    httpserver.expect_request("/flaky").respond_with_data(HTML, content_type="text/html")
    r = Fetcher(policy(retries=2)).fetch(httpserver.url_for("/flaky"))
    assert r.outcome == "fetched" and r.body == HTML
    assert r.attempts == 2 and len(httpserver.log) == 2


def test_persistent_503_gives_up_after_the_retries(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/down").respond_with_data("busy", status=503)
    r = Fetcher(policy(retries=2)).fetch(httpserver.url_for("/down"))
    assert (r.outcome, r.reason, r.http_status) == ("failed", "http-503", 503)
    assert r.attempts == 3 and len(httpserver.log) == 3


def test_429_retry_after_is_honoured(local_server: LocalServer) -> None:
    state = {"n": 0}

    def handler(req: BaseHTTPRequestHandler) -> None:
        state["n"] += 1
        if state["n"] == 1:
            send(req, 429, b"slow down", {"Retry-After": "1"})
        else:
            send(req, 200, HTML)

    local_server.route("/limited", handler)
    r = Fetcher(policy(backoff=0.01)).fetch(local_server.url("/limited"))
    assert r.outcome == "fetched" and r.attempts == 2
    first, second = local_server.hits_for("/limited")
    assert second.start - first.end >= 0.9  # waited as asked (lower bound only), not the 0.01 s back-off


def test_429_asking_longer_than_policy_allows_gives_up(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/limited").respond_with_data("x", status=429, headers={"Retry-After": "3600"})
    r = Fetcher(policy(max_retry_after=5)).fetch(httpserver.url_for("/limited"))
    assert (r.outcome, r.reason, r.attempts) == ("failed", "http-429", 1)


def test_slow_server_times_out(local_server: LocalServer) -> None:
    def slow(req: BaseHTTPRequestHandler) -> None:
        if not local_server.stopping.wait(1.5):
            send(req, 200, HTML)

    local_server.route("/slow", slow)
    r = Fetcher(policy(read_timeout=0.2, retries=0)).fetch(local_server.url("/slow"))
    assert (r.outcome, r.reason) == ("failed", "timeout")
    assert r.attempts == 1


def test_timeouts_are_retried(local_server: LocalServer) -> None:
    def slow(req: BaseHTTPRequestHandler) -> None:
        if len(local_server.hits_for("/slow-once")) == 1:
            local_server.stopping.wait(1.0)
            return
        send(req, 200, HTML)

    local_server.route("/slow-once", slow)
    r = Fetcher(policy(read_timeout=0.2, retries=1)).fetch(local_server.url("/slow-once"))
    assert r.outcome == "fetched" and r.attempts == 2


def test_dripping_body_is_stopped_by_max_time(local_server: LocalServer) -> None:
    def drip(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "text/html")
        req.end_headers()
        while not local_server.stopping.is_set():
            req.wfile.write(b"<p>x</p>")
            req.wfile.flush()
            time.sleep(0.02)

    local_server.route("/drip", drip)
    r = Fetcher(policy(read_timeout=1.0, max_time=0.3, retries=0)).fetch(local_server.url("/drip"))
    assert (r.outcome, r.reason) == ("failed", "timeout")
    assert r.http_status == 200


def test_endless_body_is_cut_at_max_bytes(local_server: LocalServer) -> None:
    def endless(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "text/html")
        req.end_headers()
        chunk = b"<p>" + b"a" * 8000 + b"</p>\n"
        while not local_server.stopping.is_set():
            req.wfile.write(chunk)

    local_server.route("/endless", endless)
    r = Fetcher(policy(max_bytes=64 * 1024)).fetch(local_server.url("/endless"))
    assert (r.outcome, r.reason) == ("failed", "too-large")
    assert r.body is None and r.attempts == 1


def test_declared_content_length_over_the_cap_is_refused_early(local_server: LocalServer) -> None:
    def big(req: BaseHTTPRequestHandler) -> None:
        send(req, 200, b"", {"Content-Length": str(50_000_000)})  # promises far more than it sends

    local_server.route("/big", big)
    r = Fetcher(policy(max_bytes=1000)).fetch(local_server.url("/big"))
    assert (r.outcome, r.reason) == ("failed", "too-large")
    assert "Content-Length" in (r.detail or "")


def test_bytes_pass_through_whatever_the_charset_says(httpserver: HTTPServer) -> None:
    latin1 = "<html><body>Caf\u00e9 M\u00fcller \u00a3600</body></html>".encode("latin-1")
    httpserver.expect_request("/wrong").respond_with_data(
        latin1, headers={"Content-Type": "text/html; charset=utf-8"}
    )
    httpserver.expect_request("/none").respond_with_data(latin1, headers={"Content-Type": "text/html"})
    f = Fetcher(policy())
    wrong, none = f.fetch(httpserver.url_for("/wrong")), f.fetch(httpserver.url_for("/none"))
    assert wrong.body == latin1 and none.body == latin1
    assert wrong.charset == "utf-8" and none.charset is None
    assert wrong.sha256 == hashlib.sha256(latin1).hexdigest()


@pytest.mark.parametrize("ctype", ["image/png", "application/octet-stream", "application/zip", "image/jpeg"])
def test_binary_content_type_is_not_html(httpserver: HTTPServer, ctype: str) -> None:
    httpserver.expect_request("/file").respond_with_data(
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, content_type=ctype
    )
    r = Fetcher(policy()).fetch(httpserver.url_for("/file"))
    assert (r.outcome, r.reason, r.http_status) == ("failed", "not-html", 200)
    assert r.body is None and r.content_type == ctype


@pytest.mark.parametrize(
    ("ctype", "body"),
    [
        ("application/pdf", b"%PDF-1.7\n..."),
        ("text/plain; charset=utf-8", b"plain"),
        ("application/xml", b"<a/>"),
        ("application/xhtml+xml", HTML),
    ],
)
def test_document_types_are_accepted(httpserver: HTTPServer, ctype: str, body: bytes) -> None:
    httpserver.expect_request("/doc").respond_with_data(body, content_type=ctype)
    r = Fetcher(policy()).fetch(httpserver.url_for("/doc"))
    assert r.outcome == "fetched" and r.body == body


def test_missing_content_type_is_sniffed(local_server: LocalServer) -> None:
    local_server.route("/html", lambda req: send(req, 200, HTML, content_type=None))
    local_server.route("/png", lambda req: send(req, 200, b"\x89PNG\r\n\x1a\n\x00\x00", content_type=None))
    f = Fetcher(policy())
    assert f.fetch(local_server.url("/html")).outcome == "fetched"
    r = f.fetch(local_server.url("/png"))
    assert (r.outcome, r.reason) == ("failed", "not-html")


def test_gzip_is_decoded_and_the_cap_counts_decoded_bytes(local_server: LocalServer) -> None:
    page = HTML * 50
    local_server.static("/gz", gzip.compress(page), headers={"Content-Encoding": "gzip"})
    bomb = gzip.compress(b"<p>" + b" " * 2_000_000)
    local_server.static("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    f = Fetcher(policy(max_bytes=100_000))
    r = f.fetch(local_server.url("/gz"))
    assert r.outcome == "fetched" and r.body == page
    assert r.sha256 == hashlib.sha256(page).hexdigest()
    assert "gzip" in local_server.hits_for("/gz")[0].headers.get("Accept-Encoding", "")
    assert len(bomb) < 100_000  # small on the wire...
    b = f.fetch(local_server.url("/bomb"))
    assert (b.outcome, b.reason) == ("failed", "too-large")  # ...but too large decoded


def test_changed_page_gets_a_new_sha(local_server: LocalServer) -> None:
    versions = iter([b"<p>version one</p>", b"<p>version two</p>"])
    local_server.route("/live", lambda req: send(req, 200, next(versions)))
    f = Fetcher(policy())
    a, b = f.fetch(local_server.url("/live")), f.fetch(local_server.url("/live"))
    assert a.outcome == b.outcome == "fetched"
    assert a.sha256 != b.sha256
    assert b.sha256 == hashlib.sha256(b"<p>version two</p>").hexdigest()


def test_conditional_refetch_of_unchanged_page_is_unchanged(local_server: LocalServer) -> None:
    etag, modified = '"v1"', "Mon, 01 Sep 2025 10:00:00 GMT"

    def handler(req: BaseHTTPRequestHandler) -> None:
        if req.headers.get("If-None-Match") == etag or req.headers.get("If-Modified-Since") == modified:
            send(req, 304, b"", {"ETag": etag}, content_type=None)
        else:
            send(req, 200, HTML, {"ETag": etag, "Last-Modified": modified})

    local_server.route("/page", handler)
    f = Fetcher(policy())
    first = f.fetch(local_server.url("/page"))
    assert first.outcome == "fetched"
    again = f.fetch(local_server.url("/page"), etag=first.header("ETag"))
    assert (again.outcome, again.http_status, again.body, again.sha256) == ("unchanged", 304, None, None)
    by_date = f.fetch(local_server.url("/page"), last_modified=first.header("Last-Modified"))
    assert by_date.outcome == "unchanged"
    hits = local_server.hits_for("/page")
    assert "If-None-Match" not in hits[0].headers
    assert hits[1].headers["If-None-Match"] == etag
    assert hits[2].headers["If-Modified-Since"] == modified


def test_304_without_a_conditional_request_is_a_failure(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/odd").respond_with_data("", status=304)
    r = Fetcher(policy()).fetch(httpserver.url_for("/odd"))
    assert (r.outcome, r.reason) == ("failed", "http-304")


def test_private_address_refused_unless_allowed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data(HTML, content_type="text/html")
    r = Fetcher(policy(allow_private_addresses=False)).fetch(httpserver.url_for("/"))
    assert (r.outcome, r.reason) == ("failed", "private-address")
    assert r.attempts == 0 and len(httpserver.log) == 0
    assert FetchPolicy().allow_private_addresses is False  # the default protects the desk


def test_redirect_to_a_private_address_is_refused(local_server: LocalServer) -> None:
    # The guard is told "localhost" is public (as a real site would be); requests still connects locally.
    # The site then redirects to the loopback literal, which must be refused before any request goes out.
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34"] if host == "localhost" else socket.gethostbyname_ex(host)[2]

    local_server.route("/go", lambda req: send(req, 302, b"", {"Location": local_server.url("/secret")}))
    local_server.route("/secret", lambda req: send(req, 200, b"admin panel"))
    start = f"http://localhost:{local_server.port}/go"
    r = Fetcher(policy(allow_private_addresses=False), resolver=resolver).fetch(start)
    assert (r.outcome, r.reason) == ("failed", "private-address")
    assert r.redirects == [(302, local_server.url("/secret"))]
    assert r.final_url == local_server.url("/secret")
    assert len(local_server.hits_for("/go")) == 1
    assert local_server.hits_for("/secret") == []


def test_dns_failure_and_refused_connection_are_results_not_exceptions() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    r = Fetcher(policy(), resolver=resolver).fetch("http://no-such-host.test/")
    assert (r.outcome, r.reason) == ("failed", "dns")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = Fetcher(policy(retries=0)).fetch(f"http://127.0.0.1:{port}/")
    assert (r.outcome, r.reason, r.attempts) == ("failed", "connection", 1)


@pytest.mark.parametrize(
    "url", ["ftp://example.org/x", "not a url", "http://", "mailto:desk@example.org", ""]
)
def test_bad_urls_fail_cleanly(url: str) -> None:
    r = Fetcher(policy()).fetch(url)
    assert (r.outcome, r.reason, r.final_url, r.attempts) == ("failed", "bad-url", None, 0)


# ---------------------------------------------------------------------------------------------------------
# robots.txt
# ---------------------------------------------------------------------------------------------------------
def test_robots_disallow_skips_and_robots_is_fetched_once(local_server: LocalServer) -> None:
    local_server.static(
        "/robots.txt",
        b"User-agent: factcheck\nDisallow: /private\n\nUser-agent: *\nDisallow: /\n",
        headers={"Content-Type": "text/plain"},
    )
    local_server.static("/public", HTML)
    local_server.static("/private/doc", HTML)
    f = Fetcher(policy(obey_robots=True))
    pub = f.fetch(local_server.url("/public"))
    priv = f.fetch(local_server.url("/private/doc"))
    pub2 = f.fetch(local_server.url("/public"))
    assert pub.outcome == pub2.outcome == "fetched"
    assert (priv.outcome, priv.reason, priv.attempts) == ("skipped", "robots", 0)
    assert local_server.hits_for("/private/doc") == []
    assert len(local_server.hits_for("/robots.txt")) == 1
    assert local_server.hits_for("/robots.txt")[0].headers["User-Agent"].startswith("factcheck/")


def test_redirect_into_a_disallowed_path_is_skipped(local_server: LocalServer) -> None:
    local_server.static(
        "/robots.txt", b"User-agent: *\nDisallow: /members\n", headers={"Content-Type": "text/plain"}
    )
    local_server.route("/teaser", lambda req: send(req, 301, b"", {"Location": "/members/story"}))
    local_server.static("/members/story", HTML)
    r = Fetcher(policy(obey_robots=True)).fetch(local_server.url("/teaser"))
    assert (r.outcome, r.reason) == ("skipped", "robots")
    assert r.redirects == [(301, local_server.url("/members/story"))]
    assert local_server.hits_for("/members/story") == []


def test_crawl_delay_raises_the_per_host_delay(local_server: LocalServer) -> None:
    local_server.static(
        "/robots.txt", b"User-agent: *\nCrawl-delay: 0.3\n", headers={"Content-Type": "text/plain"}
    )
    for i in range(3):
        local_server.static(f"/p{i}", HTML)
    f = Fetcher(policy(obey_robots=True, per_host_delay=0.01))
    results = f.fetch_many([local_server.url(f"/p{i}") for i in range(3)])
    assert [r.outcome for r in results] == ["fetched"] * 3
    starts = [local_server.hits_for(f"/p{i}")[0].start for i in range(3)]
    assert min(_gaps(starts)) >= 0.3 - 0.02  # lower bound only; slack for clock granularity


def test_excessive_crawl_delay_skips_the_origin(local_server: LocalServer) -> None:
    local_server.static(
        "/robots.txt", b"User-agent: *\nCrawl-delay: 3600\n", headers={"Content-Type": "text/plain"}
    )
    local_server.static("/p", HTML)
    r = Fetcher(policy(obey_robots=True, max_crawl_delay=30)).fetch(local_server.url("/p"))
    assert (r.outcome, r.reason) == ("skipped", "crawl-delay")
    assert local_server.hits_for("/p") == []


def test_missing_robots_allows_all_and_server_error_is_conservative(local_server: LocalServer) -> None:
    local_server.static("/p", HTML)
    assert (
        Fetcher(policy(obey_robots=True)).fetch(local_server.url("/p")).outcome == "fetched"
    )  # robots.txt 404

    local_server.static("/robots.txt", b"error", status=503)
    before = len(local_server.hits_for("/robots.txt"))
    r = Fetcher(policy(obey_robots=True, retries=1)).fetch(local_server.url("/p"))
    assert (r.outcome, r.reason) == ("skipped", "robots-unavailable")
    assert len(local_server.hits_for("/robots.txt")) - before == 2  # robots.txt itself was retried
    assert len(local_server.hits_for("/p")) == 1  # only the first Fetcher's request

    r = Fetcher(policy(obey_robots=False)).fetch(local_server.url("/p"))
    assert r.outcome == "fetched"


def test_robots_network_failure_reports_the_network_reason() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = Fetcher(policy(obey_robots=True, retries=0)).fetch(f"http://127.0.0.1:{port}/x")
    assert (r.outcome, r.reason) == ("failed", "connection")
    assert "robots.txt" in (r.detail or "")


# ---------------------------------------------------------------------------------------------------------
# fetch_many
# ---------------------------------------------------------------------------------------------------------
def test_fetch_many_keeps_order_meta_and_calls_back_in_caller_thread() -> None:
    servers = [LocalServer().start() for _ in range(3)]
    try:
        reqs = []
        for s_i, srv in enumerate(servers):
            for p in range(4):
                srv.static(f"/p{p}", f"<p>server {s_i} page {p}</p>".encode())
                reqs.append(FetchRequest(srv.url(f"/p{p}"), meta=(s_i, p)))
        reqs.append(FetchRequest("not a url", meta="bad"))
        seen_threads: set[int] = set()
        seen: list[object] = []

        def on_result(r: object) -> None:
            seen_threads.add(threading.get_ident())
            seen.append(r.meta)  # type: ignore[attr-defined]

        results = Fetcher(policy(per_host_delay=0.05, concurrency=3)).fetch_many(reqs, on_result=on_result)
        assert [r.meta for r in results] == [q.meta for q in reqs]
        assert [r.url for r in results] == [q.url for q in reqs]
        assert sorted(map(str, seen)) == sorted(str(q.meta) for q in reqs)
        assert seen_threads == {threading.get_ident()}
        assert results[-1].reason == "bad-url"
        for s_i, srv in enumerate(servers):
            assert [r.body for r in results[s_i * 4 : (s_i + 1) * 4]] == [
                f"<p>server {s_i} page {p}</p>".encode() for p in range(4)
            ]
            hits = sorted(srv.hits, key=lambda h: h.start)
            for a, b in itertools.pairwise(hits):
                assert b.start >= a.end  # never two requests at once on one host
                assert b.start - a.start >= 0.05 - 0.01  # and the delay between them
    finally:
        for srv in servers:
            srv.stop()


def test_fetch_many_runs_different_hosts_in_parallel() -> None:
    # Each host's handler waits at a barrier for the other host's request: only parallel fetching passes.
    barrier = threading.Barrier(2, timeout=3)
    status = {}

    def meet(name: str) -> Callable[[BaseHTTPRequestHandler], None]:
        def handler(req: BaseHTTPRequestHandler) -> None:
            try:
                barrier.wait()
                status[name] = "met"
            except threading.BrokenBarrierError:
                status[name] = "alone"
            send(req, 200, HTML)

        return handler

    with LocalServer({"/x": meet("a")}) as a, LocalServer({"/x": meet("b")}) as b:
        results = Fetcher(policy(concurrency=2)).fetch_many([a.url("/x"), b.url("/x")])
    assert [r.outcome for r in results] == ["fetched", "fetched"]
    assert status == {"a": "met", "b": "met"}


def test_fetch_many_stops_when_the_callback_fails(local_server: LocalServer) -> None:
    for i in range(5):
        local_server.static(f"/p{i}", HTML)

    def on_result(r: object) -> None:
        raise RuntimeError("database is gone")

    f = Fetcher(policy(per_host_delay=0.5))
    with pytest.raises(RuntimeError, match="database is gone"):
        f.fetch_many([local_server.url(f"/p{i}") for i in range(5)], on_result=on_result)
    time.sleep(0.2)
    assert (
        len(local_server.hits) <= 2
    )  # the remaining work was cancelled (the wait is interrupted, not sat out)


def test_fetch_many_of_nothing() -> None:
    assert Fetcher(policy()).fetch_many([]) == []
