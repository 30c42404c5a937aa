"""Audit reports: content of every format, escaping of hostile evidence, JSON schema, errors, atomic writes."""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from report_util import CASE_DIR, add_human, build_hostile_desk, build_test_desk
from sqlalchemy import select

from factcheck.desk.models import Snapshot
from factcheck.desk.verify import verify
from factcheck.report import (
    BEST_RATING,
    RATING_SCALE,
    WORST_RATING,
    EmptyReport,
    ReportOutputError,
    UnknownScope,
    highlight_spans,
    load_schema,
    make_report,
    md,
    render,
    report_dict,
    write_report,
)
from factcheck.settings import load_settings

CASE = "Test case: hiring"
HOSTILE = "Hostile <i>case</i>"


@pytest.fixture
def test_desk(desk, tmp_path):
    build_test_desk(desk, tmp_path)
    return desk


@pytest.fixture
def hostile_desk(memory_desk, tmp_path):
    build_hostile_desk(memory_desk, tmp_path)
    return memory_desk


def by_key(data: dict, key: str) -> dict:
    return next(c for c in data["claims"] if c["id"] == key)


# ------------------------------------------------------------------ model and JSON


def test_json_validates_and_tells_how_each_verdict_was_reached(test_desk):
    data = json.loads(render(make_report(test_desk.desk, test_desk.settings), "json"))
    jsonschema.Draft202012Validator(load_schema()).validate(data)
    assert data["summary"] == {"claims": 3, "verified": 1, "contested": 0, "unverified": 2, "no_verdict": 0,
                               "decided_by_reviewer": 1, "decided_by_machine": 2}
    assert data["audit_chain"]["ok"] is True and data["audit_chain"]["events"] > 0
    c1 = by_key(data, "C1")
    assert c1["verdict"] == "verified" and c1["decided_by"] == "reviewer ana"
    assert [h["decided_by"] for h in c1["history"]] == ["machine run 1", "reviewer ana"]
    # the reviewer gave no quotes of their own: the evidence shown is run 1's, and says so
    assert c1["evidence_run"] == 1 and c1["evidence"]
    q = c1["evidence"][0]
    with test_desk.desk.session() as s:
        snap = s.execute(select(Snapshot).where(Snapshot.sha256 == q["snapshot_sha256"])).scalar_one()
        assert snap.text[q["start"] : q["end"]] == q["quote"]
        assert q["captured_at"] == snap.fetched_at.isoformat().replace("+00:00", "Z")
    marked = [q["quote"][s:e].lower() for s, e in q["highlights"]]
    assert "location" in marked and "internal" in marked and "pay" not in marked  # ≥4 letters only
    assert data["runs"][0]["id"] == 1 and data["runs"][0]["version"] and "top_k" in data["runs"][0]["settings"]
    c2 = by_key(data, "C2")
    assert c2["verdict"] == "unverified" and c2["decided_by"] == "machine run 1" and c2["evidence"] == []
    assert data["articles"][0]["url"] == "https://news.example/amazon-ki"
    assert {c["id"] for c in data["claims"]} == {"C1", "C2", "C3"}
    assert data["title"] == CASE  # a desk holding one case is titled by it


def test_schema_rejects_a_broken_report(test_desk):
    data = report_dict(make_report(test_desk.desk, test_desk.settings))
    data = json.loads(json.dumps(data, default=str))
    data["claims"][0]["verdict"] = "probably"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, load_schema())


def test_schema_is_shipped_as_package_data():
    import factcheck.report
    from factcheck.resources import report_schema

    shipped = Path(factcheck.report.__file__).parent / "schema.json"
    assert shipped.is_file() and report_schema().resolve() == shipped.resolve()
    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_scopes_case_article_and_run(memory_desk, tmp_path):
    build_test_desk(memory_desk, tmp_path)
    build_hostile_desk(memory_desk, tmp_path)
    env = memory_desk
    everything = make_report(env.desk, env.settings)
    assert [c.key for c in everything.claims] == ["C1", "C2", "C3", "H1", "H2"]
    only = make_report(env.desk, env.settings, case=CASE)
    assert [c.key for c in only.claims] == ["C1", "C2", "C3"] and only.title == CASE
    art = make_report(env.desk, env.settings, article="https://news.example/evil")
    assert [c.key for c in art.claims] == ["H1", "H2"]
    assert [c.key for c in make_report(env.desk, env.settings, article=str(art.articles[0].id)).claims] == ["H1", "H2"]
    # run 2 judged only the hostile case; H1 was overruled by a reviewer afterwards
    r2 = make_report(env.desk, env.settings, run=2)
    assert [c.key for c in r2.claims] == ["H1", "H2"]
    h1 = r2.claims[0]
    assert h1.verdict is not None and h1.verdict.kind == "machine" and h1.verdict.run_id == 2
    assert h1.superseded is True and r2.claims[1].superseded is False
    assert [r.id for r in r2.runs] == [2]


def test_unknown_scope_and_empty_desk_are_clear_errors(memory_desk, tmp_path):
    with pytest.raises(EmptyReport, match="no claims on this desk"):
        make_report(memory_desk.desk, memory_desk.settings)
    build_test_desk(memory_desk, tmp_path)
    with pytest.raises(UnknownScope, match=r"no case .nope.*Test case: hiring"):
        make_report(memory_desk.desk, memory_desk.settings, case="nope")
    with pytest.raises(UnknownScope, match="no article"):
        make_report(memory_desk.desk, memory_desk.settings, article="https://nowhere.example/")
    with pytest.raises(UnknownScope, match="no run 99"):
        make_report(memory_desk.desk, memory_desk.settings, run=99)


# ------------------------------------------------------------------ HTML


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += attrs
        self.hrefs += [v or "" for k, v in attrs if k == "href"]


SAFE_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p", "section", "div",
             "span", "b", "a", "table", "tr", "th", "td", "dl", "dt", "dd", "blockquote", "mark", "details",
             "summary", "header", "br", "code"}


def test_html_escapes_hostile_evidence_and_claims(hostile_desk):
    page = render(make_report(hostile_desk.desk, hostile_desk.settings), "html")
    parsed = TagCollector()
    parsed.feed(page)
    assert parsed.tags <= SAFE_TAGS, parsed.tags - SAFE_TAGS
    assert not [k for k, _ in parsed.attrs if k.startswith("on")]
    # web links only to https pages; the claim list at the top links within the page ("#claim-…")
    assert all(h.startswith("https://") or h.startswith("#") for h in parsed.hrefs)
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the page's script, shown as text
    assert "&lt;img src=x onerror=" in page
    assert "reviewer <b>&lt;b&gt;eve&lt;/b&gt;</b>" in page
    assert "Evil &amp; &lt;Co&gt;" in page and "Hostile &lt;i&gt;case&lt;/i&gt;" in page
    assert "[x](javascript:alert(6))" in page and 'href="javascript' not in page


def test_html_is_self_contained_and_complete(test_desk):
    rep = make_report(test_desk.desk, test_desk.settings)
    page = render(rep, "html")
    assert page.startswith("<!doctype html>") and "@media print" in page
    for forbidden in ("<script", "<link", "src=", "@import", "url("):
        assert forbidden not in page
    c1 = next(c for c in rep.claims if c.key == "C1")
    q = c1.evidence[0]
    assert f'id="{c1.anchor}"' in page
    assert '<span class="badge verified">verified</span>' in page
    assert "reviewer <b>ana</b>" in page and "machine, run <b>1</b>" in page
    assert q.snapshot_sha256 and q.snapshot_sha256 in page  # full hash, not a prefix
    assert q.captured_at and q.captured_at.strftime("%Y-%m-%d %H:%M UTC") in page
    assert '<a href="https://www.businessinsider.com/report">' in page
    assert "<mark>location</mark>" in page and "<mark>biggest obstacles</mark>" in page
    assert "Checked by phone with the BI newsroom" in page
    assert "Verdict history" in page and page.count("machine run 1") >= 3
    assert "Verification runs" in page and "<code>top_k</code>" in page
    assert '<div class="card verified"><b>1</b>' in page


# ------------------------------------------------------------------ Markdown


def test_markdown_escapes_untrusted_text(hostile_desk):
    text = render(make_report(hostile_desk.desk, hostile_desk.settings), "md")
    assert re.search(r"(?<!\\)<(script|img|b|i)\b", text) is None
    assert r"\<script\>**alert**(1)\</script\>" in text  # the page's script as text ("alert" is in the claim)
    assert r"Reviewer note: Reviewer says \<script\>alert(5)\</script\>" in text
    assert r"\[x\](javascript:alert(6))" in text
    assert "## H1: **CONTESTED**" in text
    assert "**600 million euros**" in text and "**2024**" in text  # shared words in bold
    assert "<https://evil.example/note>" in text


def test_markdown_lists_the_audit_detail(test_desk):
    text = render(make_report(test_desk.desk, test_desk.settings), "md")
    assert "| 3 | 1 | 0 | 2 | 0 | 1 | 2 |" in text
    assert "- Decided by: reviewer ana" in text and "(quotes from machine run 1)" in text
    assert "sha256 `b041" in text and "## Runs" in text


def test_md_escape_unit():
    assert md("a *b* [c](d) <e> | f_") == r"a \*b\* \[c\](d) \<e\> \| f\_"
    assert md("top_k stays") == "top_k stays"
    assert md("1. not a list", line_start=True) == r"1\. not a list"
    assert md("# not a heading", line_start=True) == r"\# not a heading"
    assert md("two\nlines") == "two lines"


# ------------------------------------------------------------------ CSV


def test_csv_one_row_per_claim_excel_friendly(hostile_desk, tmp_path):
    path = write_report(hostile_desk.desk, hostile_desk.settings, "csv", tmp_path / "r.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [r["claim_id"] for r in rows] == ["H1", "H2"]
    h1, h2 = rows
    assert h1["verdict"] == "contested" and h1["decided_by"] == "reviewer <b>eve</b>"
    assert "<script>alert(1)</script>" in h1["quotes"]  # plain data, kept verbatim
    assert len(h1["snapshot_sha256"]) == 64 and h1["evidence_urls"] == "https://evil.example/note"
    assert "machine run 1: verified\n" in h1["history"]  # newline inside one cell survives
    assert "Größe, Übergröße" in h2["claim"] and '"Zitat"' in h2["claim"]
    assert h2["claim"].startswith("'=cmd")  # a formula would run in a spreadsheet: neutralised


# ------------------------------------------------------------------ ClaimReview


def test_claimreview_fields_and_rating_scale(test_desk):
    env = test_desk
    settings = load_settings({"db": env.url, "evidence_dir": str(env.folder / "evidence"),
                              "organisation": "Faktencheck Team", "organisation_url": "https://fc.example/"},
                             environ={}, desk_dir=env.folder)
    rep = make_report(env.desk, settings)
    reviews = json.loads(render(rep, "claimreview", base_url="https://fc.example/reports/hiring.html",
                                include_machine=True))
    assert rep.warnings == []
    assert len(reviews) == 3
    r1 = reviews[0]
    assert r1["@context"] == "https://schema.org" and r1["@type"] == "ClaimReview"
    assert r1["claimReviewed"].startswith("Laut einem internen Dokument")
    assert r1["url"] == "https://fc.example/reports/hiring.html#claim-test-case-hiring-c1"
    assert r1["author"] == {"@type": "Organization", "name": "Faktencheck Team", "url": "https://fc.example/"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r1["datePublished"])
    item = r1["itemReviewed"]
    assert item["@type"] == "Claim" and item["datePublished"] == "2025-09-01"
    assert item["author"] == {"@type": "Organization", "name": "Example News"}
    assert item["appearance"]["url"] == "https://news.example/amazon-ki"
    rating = r1["reviewRating"]
    assert rating == {"@type": "Rating", "ratingValue": 3, "bestRating": 3, "worstRating": 1,
                      "alternateName": "Verified", "ratingExplanation": rating["ratingExplanation"]}
    assert [r["reviewRating"]["alternateName"] for r in reviews] == ["Verified", "Unverified", "Unverified"]
    assert {v for v, _ in RATING_SCALE.values()} == {1, 2, 3} and (WORST_RATING, BEST_RATING) == (1, 3)
    assert RATING_SCALE["contested"][0] < RATING_SCALE["unverified"][0] < RATING_SCALE["verified"][0]


def test_claimreview_is_safe_to_embed_and_warns_without_url(hostile_desk):
    rep = make_report(hostile_desk.desk, hostile_desk.settings)
    text = render(rep, "claimreview")
    assert "<" not in text and ">" not in text
    reviews = json.loads(text)
    assert reviews[0]["reviewRating"]["alternateName"] == "Contested"
    assert reviews[0]["reviewRating"]["ratingValue"] == 1
    assert "<img src=x" in reviews[0]["claimReviewed"]  # same data once parsed
    assert reviews[0]["url"].startswith("#claim-")
    assert any("organisation_url is not set" in w for w in rep.warnings)


# ------------------------------------------------------------------ highlighting


def test_highlight_spans_shared_content_words():
    quote = "Revenue rose to 600 million euros, the company said."
    spans = highlight_spans(quote, "Der Umsatz stieg auf 600 Millionen Euro.", "revenue rose to 600 million")
    assert [quote[s:e] for s, e in spans] == ["Revenue rose", "600 million"]  # "euros" vs "Euro": too short
    assert highlight_spans("nothing here", "unrelated claim") == []
    assert highlight_spans("The obstacles remain", "the biggest obstacle") == [(4, 13)]
    assert highlight_spans("Millionen Nutzer", "two million users") == [(0, 9)]  # inflection, 5+ letters


# ------------------------------------------------------------------ writing files


def test_write_report_is_atomic_and_reports_unwritable_paths(memory_desk, tmp_path):
    build_test_desk(memory_desk, tmp_path)
    env = memory_desk
    target = tmp_path / "out" / "report.html"
    with pytest.raises(ReportOutputError, match="does not exist"):
        write_report(env.desk, env.settings, "html", target)
    target.parent.mkdir()
    with pytest.raises(ReportOutputError, match="folder"):
        write_report(env.desk, env.settings, "html", target.parent)
    target.write_text("previous report", encoding="utf-8")
    with pytest.raises(UnknownScope):
        write_report(env.desk, env.settings, "html", target, case="nope")
    assert target.read_text(encoding="utf-8") == "previous report"  # a failed report leaves the old one
    written = write_report(env.desk, env.settings, "html", target, case=CASE)
    assert written == target.resolve() and "<mark>" in target.read_text(encoding="utf-8")
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]  # no temp files left


def test_human_verdict_after_second_run_still_wins(memory_desk, tmp_path):
    build_test_desk(memory_desk, tmp_path, review=False)
    env = memory_desk
    add_human(env, "C2", reviewer="bo", label="contested", note="SignalFire says middle third.")
    verify(env.desk, env.settings, actor="t", case=CASE)
    c2 = next(c for c in make_report(env.desk, env.settings).claims if c.key == "C2")
    assert c2.verdict is not None and c2.verdict.decided_by == "reviewer bo"
    assert [h.decided_by for h in c2.history] == ["machine run 1", "reviewer bo", "machine run 2"]


# ------------------------------------------------------------------ command line


def test_cli_report_formats_and_errors(cli, tmp_path):
    import shutil

    assert cli("report").code == 1  # no desk yet
    assert cli("init").code == 0
    r = cli("report", "--format", "md")
    assert r.code == 1 and r.stderr.startswith("Error: no claims on this desk") and "Traceback" not in r.stderr
    shutil.copytree(CASE_DIR, tmp_path / "claims")
    assert cli("claims", "import", "claims/case.yaml").code == 0
    assert cli("verify").code == 0
    r = cli("report", "--format", "md")
    assert r.code == 0 and r.stdout.startswith("# Fact-check report") and "## C1" in r.stdout
    r = cli("report", "--format", "json", "-o", "r.json", "--case", CASE)
    assert r.code == 0 and "Wrote json report (3 claims)" in r.stderr
    jsonschema.validate(json.loads((tmp_path / "r.json").read_text(encoding="utf-8")), load_schema())
    r = cli("report", "--format", "claimreview", "--include-machine", "--base-url", "https://fc.example/r.html")
    assert r.code == 0 and json.loads(r.stdout)[0]["url"].startswith("https://fc.example/r.html#claim-")
    r = cli("report", "--format", "claimreview", "--include-machine",
            env={"FACTCHECK_ORGANISATION_URL": "https://fc.example/"})
    assert r.code == 0 and "Warning" not in r.stderr
    # by default only what a reviewer signed off: none yet, then the one reviewed claim
    r = cli("report", "--format", "claimreview", "--base-url", "https://fc.example/r.html")
    assert r.code == 0 and json.loads(r.stdout) == [] and "3 claim(s) with only a machine verdict left out" in r.stderr
    assert cli("review", "C1", "--verdict", "contested", "--note", "the memo says otherwise", "--by", "ana").code == 0
    r = cli("report", "--format", "claimreview", "--base-url", "https://fc.example/r.html")
    reviews = json.loads(r.stdout)
    assert r.code == 0 and len(reviews) == 1 and reviews[0]["reviewRating"]["alternateName"] == "Contested"
    assert reviews[0]["reviewRating"]["ratingExplanation"] == "the memo says otherwise"
    r = cli("report", "--format", "md", "--reviewed-only")
    assert r.code == 2 and "applies to --format claimreview" in r.stderr
    r = cli("report", "--case", "nope")
    assert r.code == 1 and r.stderr.startswith("Error: no case 'nope'")
    r = cli("report", "--run", "7")
    assert r.code == 1 and "no run 7" in r.stderr
    r = cli("report", "-o", "missing/dir/r.html")
    assert r.code == 1 and "cannot write" in r.stderr and "does not exist" in r.stderr
    r = cli("report", "--format", "pdf")
    assert r.code == 2 and "-o" in r.stderr
    r = cli("report", "--format", "docx")
    assert r.code == 2


def test_pdf_without_chromium_is_a_clear_error(memory_desk, tmp_path, monkeypatch):
    from factcheck.report import ChromiumMissing

    build_test_desk(memory_desk, tmp_path, review=False)
    settings = memory_desk.settings
    settings.values["chromium"] = str(tmp_path / "no-such-chromium")  # the setting, as FACTCHECK_CHROMIUM sets it
    with pytest.raises(ChromiumMissing, match="apt-get install chromium"):
        write_report(memory_desk.desk, settings, "pdf", tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()
