"""Fetching the desk's evidence against a real local HTTP server: snapshots, unchanged, changed, failures."""

from __future__ import annotations

import json
import re

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug.wrappers import Request, Response

from factcheck.desk.capture import fetch_pending
from factcheck.desk.cases import import_case
from factcheck.desk.models import AuditEvent, EvidenceUrl, FetchAttempt, Passage, Snapshot
from factcheck.settings import load_settings

PAGE = "<html><head><title>{title}</title></head><body><article><p>{body}</p></article></body></html>"


def page(title: str, body: str) -> str:
    return PAGE.format(title=title, body=body)


class Site:
    """A tiny mutable site: path -> (status, html, etag)."""

    def __init__(self, server: HTTPServer) -> None:
        self.pages: dict[str, tuple[int, str, str | None]] = {}
        self.server = server
        server.expect_request(re.compile(r".*")).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        if request.path == "/robots.txt":
            return Response("User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        status, html, etag = self.pages.get(request.path, (404, "not here", None))
        if etag and request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        headers = {"ETag": etag} if etag else {}
        return Response(html, status=status, content_type="text/html; charset=utf-8", headers=headers)


def make_case(tmp_path, urls):
    lines = ["sources:", "  - {name: Local News, domains: [127.0.0.1]}", "evidence:"]
    lines += [f"  - {{url: '{u}', source: Local News}}" for u in urls]
    lines += ["claims:", "  - {id: C1, text: 'The mayor said 600 homes were built in 2024.', cited: [Local News]}"]
    path = tmp_path / "case.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def count(desk, model) -> int:
    with desk.desk.session() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def site(httpserver: HTTPServer) -> Site:
    return Site(httpserver)


def test_fetch_stores_snapshots_and_keeps_going_after_failures(desk, site, tmp_path):
    site.pages["/a"] = (200, page("Homes", "The mayor said 600 homes were built in 2024."), '"v1"')
    urls = [site.server.url_for("/a"), site.server.url_for("/missing"), site.server.url_for("/private/x")]
    with desk.desk.session() as s:
        import_case(s, desk.settings, make_case(tmp_path, urls), actor="t")
    summary = fetch_pending(desk.desk, desk.settings, actor="t")
    by_url = {r.url: r for r in summary.rows}
    assert by_url[urls[0]].outcome == "fetched" and by_url[urls[0]].http_status == 200
    assert (by_url[urls[1]].outcome, by_url[urls[1]].reason) == ("failed", "http-404")
    assert (by_url[urls[2]].outcome, by_url[urls[2]].reason) == ("skipped", "robots")
    with desk.desk.session() as s:
        snap = s.execute(select(Snapshot)).scalar_one()
        assert snap.origin == "fetch" and snap.status == 200 and snap.title == "Homes"
        assert "600 homes" in snap.text
        assert snap.source is not None and snap.source.name == "Local News"
        assert s.execute(select(func.count()).select_from(Passage)).scalar_one() >= 1
        statuses = {e.url: e.status for e in s.execute(select(EvidenceUrl)).scalars()}
        assert statuses == {urls[0]: "captured", urls[1]: "failed", urls[2]: "skipped"}
        assert s.execute(select(func.count()).select_from(FetchAttempt)).scalar_one() == 3
        assert s.execute(select(AuditEvent).where(AuditEvent.action == "evidence.fetch")).scalar_one()
    assert (desk.settings.evidence_path / snap.warc_path).is_file()
    # a second plain run only retries what has no capture
    again = fetch_pending(desk.desk, desk.settings, actor="t")
    assert {r.url for r in again.rows} == {urls[1], urls[2]}


def test_refresh_unchanged_and_changed(desk, site, tmp_path):
    url = site.server.url_for("/b")
    site.pages["/b"] = (200, page("Before", "Turnout was 61 percent."), '"v1"')
    with desk.desk.session() as s:
        import_case(s, desk.settings, make_case(tmp_path, [url]), actor="t")
    fetch_pending(desk.desk, desk.settings, actor="t")
    stale = load_settings({**desk.settings.values, "stale_after_days": 0}, environ={}, desk_dir=desk.folder)

    rows = fetch_pending(desk.desk, stale, actor="t", refresh=True).rows
    assert [r.outcome for r in rows] == ["unchanged"]
    assert count(desk, Snapshot) == 1

    site.pages["/b"] = (200, page("After", "Turnout was 58 percent."), '"v2"')
    rows = fetch_pending(desk.desk, stale, actor="t", refresh=True).rows
    assert [r.outcome for r in rows] == ["fetched"]
    with desk.desk.session() as s:
        snaps = list(s.execute(select(Snapshot).order_by(Snapshot.id)).scalars())
    assert [x.title for x in snaps] == ["Before", "After"]
    assert snaps[0].sha256 != snaps[1].sha256 and "61 percent" in snaps[0].text

    # the server forgets its ETag but serves the same bytes: still unchanged, no new snapshot
    site.pages["/b"] = (200, page("After", "Turnout was 58 percent."), None)
    rows = fetch_pending(desk.desk, stale, actor="t", refresh=True).rows
    assert [r.outcome for r in rows] == ["unchanged"]
    assert count(desk, Snapshot) == 2


def test_fetch_cli_json(cli, site, tmp_path):
    site.pages["/c"] = (200, page("C", "Unemployment fell to 5.1 percent in March."), None)
    url = site.server.url_for("/c")
    make_case(tmp_path, [url, site.server.url_for("/gone")])
    assert cli("init").code == 0
    assert cli("claims", "import", "case.yaml").code == 0
    r = cli("fetch", "--json", env={"FACTCHECK_PER_HOST_DELAY": "0"})
    assert r.code == 1  # one item failed
    rows = {x["url"]: x for x in json.loads(r.stdout)["fetched"]}
    assert rows[url]["outcome"] == "fetched" and len(rows[url]["snapshot_sha256"]) == 64
    assert set(rows[url]) == {"url", "outcome", "http_status", "reason", "snapshot_sha256"}
    assert rows[site.server.url_for("/gone")]["reason"] == "http-404"
    r = cli("evidence", "show", rows[url]["snapshot_sha256"][:10], "--json")
    assert r.code == 0 and "5.1 percent" in json.loads(r.stdout)["text"]


def test_private_addresses_refused_by_default(cli, site, tmp_path):
    site.pages["/d"] = (200, page("D", "text"), None)
    make_case(tmp_path, [site.server.url_for("/d")])
    cli("init")
    cli("claims", "import", "case.yaml")
    r = cli("fetch", "--json", env={"FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "0"})
    assert r.code == 1
    assert json.loads(r.stdout)["fetched"][0]["reason"] == "private-address"


def test_extract_cli_reads_files_and_refuses_binary(cli, tmp_path):
    (tmp_path / "a.html").write_bytes(
        "<html lang='de'><head><meta charset='windows-1252'><title>Grüße</title></head><body><article>"
        "<p>Die Bürgermeisterin sagte, dass 600 Wohnungen gebaut wurden, mehr als im Vorjahr geplant.</p>"
        "</article></body></html>".encode("cp1252")
    )
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(500))
    r = cli("extract", "a.html", "b.png", "--json")
    assert r.code == 1
    rows = json.loads(r.stdout)
    assert rows[0]["title"] == "Grüße" and "Bürgermeisterin" in rows[0]["text"]
    assert r.stderr.startswith("Error: ") and "b.png" in r.stderr and "Traceback" not in r.stderr
