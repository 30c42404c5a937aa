"""`factcheck evidence add CLAIM URL|FILE [--source NAME]`: a page is archived, tied to the claim and its
citation, audited, and the claim is judged again in a new run whose verdict is printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from factcheck.judge import semantic

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "evidence" / "demo"
ENV = {"FACTCHECK_PER_HOST_DELAY": "0", "FACTCHECK_RETRIES": "0"}

needs_encoder = pytest.mark.skipif(not semantic.available(),
                                   reason="the multilingual sentence encoder is not installed")


def _ingested(cli) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Ingest the demo article (no links, so no evidence); claim id by a distinctive word of its text."""
    assert cli("init").code == 0
    r = cli("ingest", str(DEMO / "halvard-artikel.html"), "--json", env=ENV)
    assert r.code == 0, r.stderr
    rows = json.loads(r.stdout)
    ids = {}
    for word in ("38 Prozent", "800 neue Stellen", "Börse", "unteren Drittel"):
        ids[word] = next(row["id"] for row in rows if word in row["text"])
    return ids


@needs_encoder
def test_add_a_saved_file_and_see_the_claim_judged_again(cli, tmp_path: Path) -> None:
    ids = _ingested(cli)
    claim = ids["38 Prozent"]
    r = cli("evidence", "add", claim, str(DEMO / "brightline-analytics.html"), "--source", "Brightline Analytics",
            env=ENV)
    assert r.code == 0, r.stderr
    assert r.stdout.startswith(f"Tied file://{DEMO / 'brightline-analytics.html'} to {claim} as Brightline Analytics")
    line = r.stdout.splitlines()[1]
    assert line.startswith("contested") and "58 percent" in line  # the number drifted: 38 vs 58

    show = json.loads(cli("claims", "show", claim, "--json").stdout)
    assert show["verdict"] == "contested"
    assert [e["url"] for e in show["evidence_urls"]] == [(DEMO / "brightline-analytics.html").as_uri()]
    assert show["evidence_urls"][0]["status"] == "captured"
    # tied to the claim's citation of Brightline Analytics through the page's source: read first-hand
    snaps = json.loads(cli("evidence", "list", "--json").stdout)["snapshots"]
    page = next(x for x in snaps if x["url"] == (DEMO / "brightline-analytics.html").as_uri())
    assert page["source"] == "Brightline Analytics" and page["origin"] == "file"
    assert show["evidence"][0]["source"] == "Brightline Analytics"
    assert [h["kind"] for h in show["history"]] == ["machine"]

    events = json.loads(cli("audit", "log", "--json").stdout)
    actions = [e["action"] for e in events]
    assert "evidence.capture" in actions and "claim.update" in actions and "verify.run" in actions
    update = next(e for e in events if e["action"] == "claim.update")
    assert update["after"]["evidence"] == [(DEMO / "brightline-analytics.html").as_uri()]

    # re-ingesting the article keeps the page a checker tied (only the article's own links follow its edits)
    assert cli("ingest", str(DEMO / "halvard-artikel.html"), env=ENV).code == 0
    show = json.loads(cli("claims", "show", claim, "--json").stdout)
    assert [e["url"] for e in show["evidence_urls"]] == [(DEMO / "brightline-analytics.html").as_uri()]

    # the same page again: nothing new to tie or store, but the claim is judged again (a new run)
    r = cli("evidence", "add", claim, str(DEMO / "brightline-analytics.html"), "--json", env=ENV)
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["claim"]["verdict"] == "contested" and d["run"] == 2 and d["evidence"]["claims"] == []
    assert len(d["evidence"]["snapshot_sha256"]) == 64


@needs_encoder
def test_add_a_url_captured_through_the_fetcher(cli, tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/gazette").respond_with_data(
        (DEMO / "tidewater-gazette.html").read_bytes(), content_type="text/html; charset=utf-8")
    ids = _ingested(cli)
    url = httpserver.url_for("/gazette")
    r = cli("evidence", "add", ids["800 neue Stellen"], url, "--source", "Tidewater Gazette", "--json", env=ENV)
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["claim"]["verdict"] == "verified", d["claim"]["rationale"]
    assert d["evidence"]["fetch"]["outcome"] == "fetched" and d["evidence"]["source"] == "Tidewater Gazette"
    assert d["claim"]["evidence"][0]["url"] == url and "800 new jobs" in d["claim"]["evidence"][0]["quote"]
    assert "/robots.txt" in [req.path for req, _ in httpserver.log]  # polite: robots.txt asked first

    # the same page for the unsupported claim: it stays unverified, now with the page on record
    r = cli("evidence", "add", ids["Börse"], url, "--source", "Tidewater Gazette", "--json", env=ENV)
    assert r.code == 0 and json.loads(r.stdout)["claim"]["verdict"] == "unverified"


def test_a_new_source_name_joins_the_registry_unreviewed(cli, tmp_path: Path) -> None:
    ids = _ingested(cli)
    page = tmp_path / "note.html"
    page.write_text("<html><head><title>Note</title></head><body><p>SAMPLE: Halvard has a new office in "
                    "Leeds, the Harbor Ledger says.</p></body></html>", encoding="utf-8")
    r = cli("evidence", "add", ids["Börse"], str(page), "--source", "Harbor Ledger", env=ENV)
    assert r.code == 0, r.stderr
    rows = json.loads(cli("sources", "list", "--json").stdout)
    assert {"name": "Harbor Ledger", "aliases": [], "domains": [], "reviewed": False} in rows


def test_bad_input_is_one_line_and_stores_nothing(cli, tmp_path: Path, httpserver: HTTPServer) -> None:
    ids = _ingested(cli)
    page = DEMO / "brightline-analytics.html"
    r = cli("evidence", "add", "c-00000000", str(page), env=ENV)
    assert r.code == 1 and r.stderr.startswith("Error: no claim 'c-00000000'")
    r = cli("evidence", "add", ids["Börse"], str(tmp_path / "missing.html"), env=ENV)
    assert r.code == 2 and "no such file" in r.stderr
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/gone").respond_with_data("gone", status=404)
    r = cli("evidence", "add", ids["Börse"], httpserver.url_for("/gone"), env=ENV)
    assert r.code == 1 and r.stderr.startswith("Error:") and "fetch failed" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    runs = json.loads(cli("claims", "show", ids["Börse"], "--json").stdout)["history"]
    assert runs == []  # nothing judged: the fetch failed before the run
