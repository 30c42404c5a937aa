"""The desk's one URL rule (factcheck.text.urls): what it accepts, how it spells what it accepts, and that
every door URLs come in by uses it (case files, the evidence queue, the fetcher, ingested links, reviews,
the command line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from factcheck.claimfinding.analysis import text_and_links_from_html
from factcheck.desk import records
from factcheck.desk.cases import CaseFileError, import_case
from factcheck.desk.models import EvidenceUrl
from factcheck.desk.triage import BadQuote, parse_quote
from factcheck.documents.fetch import FetchFailure, parse_url
from factcheck.text.urls import BadUrl, looks_like_url, normalise_url, url_problem

BAD = {
    "http://exa mple.com/a": "spaces",
    "http://example.com/a b": "spaces",
    "http://exa\tmple.com/": "spaces",
    "http://example.com/\x1b[2J": "control",
    "http://example.com/\u202eevil": "control",
    "http://[::1": "closing bracket",
    "http://[::zz]/": "IPv6",
    "http://": "no host",
    "https://": "no host",
    "http:///path": "no host",
    "http://example.com:99999/": "port",
    "http://example.com:0/": "port",
    "http://example.com:-1/": "port",
    "http://example.com:http/": "port",
    "http://-bad-.example/": "host name",
    "http://a..b/": "host name",
    "http://ex!ample.com/": "host name",
    "http://1.2.3/": "IPv4",
    "http://999.1.1.1/": "IPv4",
    "ftp://example.com/": "must start with http",
    "javascript:alert(1)": "must start with http",
    "example.com/page": "must start with http",
    "http:example.com": "//",
    "": "empty",
    "   ": "empty",
    "https://example.com/" + "a" * 5000: "characters long",
}
GOOD = {
    "HTTPS://Example.COM/A?B=C#D": "https://example.com/A?B=C#D",
    "Http://WWW.Example.org": "http://www.example.org",
    "  https://example.org/a  ": "https://example.org/a",
    "http://127.0.0.1:8080/x": "http://127.0.0.1:8080/x",
    "http://[::1]:81/x": "http://[::1]:81/x",
    "http://[2001:DB8::1]/": "http://[2001:db8::1]/",
    "https://Bücher.example/Straße": "https://bücher.example/Straße",
    "https://User:PW@Example.com/x": "https://User:PW@example.com/x",
    "https://example.com/a%20b?q=%5B1%5D": "https://example.com/a%20b?q=%5B1%5D",
    "https://sub_domain.example.com/": "https://sub_domain.example.com/",
    "https://example.com:65535/": "https://example.com:65535/",
}


@pytest.mark.parametrize("url", sorted(BAD))
def test_malformed_urls_are_refused_with_a_reason(url):
    with pytest.raises(BadUrl) as info:
        normalise_url(url)
    assert BAD[url] in info.value.reason
    assert url_problem(url) == info.value.reason


@pytest.mark.parametrize("url", sorted(GOOD))
def test_good_urls_get_one_spelling(url):
    assert normalise_url(url) == GOOD[url]
    assert normalise_url(GOOD[url]) == GOOD[url]  # idempotent
    assert url_problem(url) is None


def test_looks_like_url_is_case_blind():
    assert looks_like_url("HTTPS://x") and looks_like_url("http://") and not looks_like_url("claims/case.yaml")


@pytest.mark.parametrize("url", ["http://exa mple.com/a", "http://[::1", "http://", "http://x.example:99999/"])
def test_the_fetcher_uses_the_same_rule(url):
    with pytest.raises(FetchFailure) as info:
        parse_url(url)
    assert info.value.reason == "bad-url" and info.value.detail == url_problem(url)


def case(folder: Path, evidence: list[str], top: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "case.yaml"
    path.write_text(json.dumps({
        "case": "urls",
        "evidence": [{"url": u} for u in top or []],
        "claims": [{"id": "C1", "text": "Ein Satz.", "evidence": evidence}],
    }), encoding="utf-8")
    return path


def stored_urls(env) -> list[str]:
    with env.desk.session() as s:
        return list(s.execute(select(EvidenceUrl.url).order_by(EvidenceUrl.id)).scalars())


@pytest.mark.parametrize("url", ["http://exa mple.com/a", "http://[::1", "http://", "http://x.example:99999/"])
def test_case_files_refuse_malformed_urls_and_store_nothing(desk, tmp_path, url):
    for ev, top in (([url], None), ([], [url])):
        with pytest.raises(CaseFileError, match=r"line \d+: .*is not usable"), desk.desk.session() as s:
            import_case(s, desk.settings, case(tmp_path / "c", ev, top), actor="t")
    assert stored_urls(desk) == []


def test_capitals_are_accepted_and_stored_in_one_spelling(desk, tmp_path):
    with desk.desk.session() as s:
        import_case(s, desk.settings, case(tmp_path / "c", ["HTTPS://Example.ORG/Page"],
                                           ["https://example.org/Page"]), actor="t")
    assert stored_urls(desk) == ["https://example.org/Page"]


def test_the_same_url_spelt_twice_in_a_claim_is_refused(desk, tmp_path):
    with pytest.raises(CaseFileError, match="listed twice"), desk.desk.session() as s:
        import_case(s, desk.settings, case(tmp_path / "c", ["https://example.org/a", "HTTPS://EXAMPLE.org/a"]),
                    actor="t")
    assert stored_urls(desk) == []


def test_the_evidence_queue_refuses_what_the_rule_refuses(memory_desk):
    with memory_desk.desk.session() as s:
        with pytest.raises(BadUrl):
            records.queue_evidence_url(s, "http://exa mple.com/", None, "t", via="test")
        eu = records.queue_evidence_url(s, "HTTP://Example.com/x", None, "t", via="test")
        assert eu.url == "http://example.com/x"
        assert records.queue_evidence_url(s, "http://example.com/x", None, "t", via="test").id == eu.id


def test_ingested_links_that_break_the_rule_are_not_citations():
    html = ('<p>Laut <a href="http://exa mple.com/a">Quelle A</a> und <a href="HTTPS://Example.com/b">B</a> '
            'und <a href="http://[::1">C</a>.</p>')
    _text, links = text_and_links_from_html(html)
    assert [href for _s, _e, href in links] == ["https://example.com/b"]


def test_review_quotes_use_the_rule():
    assert parse_quote("HTTPS://Example.com/p#3-9") == ("https://example.com/p", 3, 9)
    with pytest.raises(BadQuote, match="port"):
        parse_quote("http://example.com:99999/p#3-9")


def test_command_line_doors(cli, tmp_path):
    cli("init")
    path = case(tmp_path / "claims", ["http://exa mple.com/a"])
    r = cli("claims", "import", str(path))
    assert r.code == 1 and r.stderr.count("\n") == 1 and "spaces" in r.stderr and "Traceback" not in r.stderr
    path = case(tmp_path / "claims", ["HTTPS://Example.ORG/x"])
    assert cli("claims", "import", str(path)).code == 0
    r = cli("fetch", "--url", "http://[::1", "--json")
    assert r.code == 1 and r.stderr.startswith("Error: ") and "closing bracket" in r.stderr
    r = cli("evidence", "list", "--url", "HTTPS://EXAMPLE.org/x", "--json")
    assert r.code == 0 and json.loads(r.stdout)["pending"][0]["url"] == "https://example.org/x"


def test_evidence_urls_are_web_urls_or_saved_page_paths():
    from factcheck.text.urls import BadUrl, normalise_evidence_url

    assert normalise_evidence_url("HTTPS://Example.org/A") == "https://example.org/A"
    assert normalise_evidence_url("file:///tmp/uploads/page%20one.html") == "file:///tmp/uploads/page%20one.html"
    assert normalise_evidence_url("FILE:///tmp/a.html") == "file:///tmp/a.html"
    for bad in ("file:///tmp/a b.html", "file://host/a.html", "file:///tmp/\x1b[2J.html", "file:/tmp/a.html"):
        with pytest.raises(BadUrl):
            normalise_evidence_url(bad)
