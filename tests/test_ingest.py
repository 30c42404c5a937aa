"""Ingest on the desk: article file or URL -> snapshot, article, claims, citations, sources, queued evidence.

Through the real `factcheck` entry point (cli fixture) and through the library on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug.wrappers import Request, Response

from factcheck.claimfinding.analysis import IngestError
from factcheck.desk.audit import verify_session
from factcheck.desk.cases import import_case
from factcheck.desk.claims import find_claim
from factcheck.desk.ingest import claim_key, ingest, map_links
from factcheck.desk.models import (
    Article,
    AuditEvent,
    Case,
    Citation,
    Claim,
    ClaimEvidence,
    EvidenceUrl,
    Passage,
    Snapshot,
    Source,
)

try:
    from conftest import FIXTURE_ARTICLE  # rootdir-relative import, as pytest puts tests/ on sys.path
except ImportError:  # pragma: no cover - run as a package
    from tests.conftest import FIXTURE_ARTICLE

FIX = Path(__file__).resolve().parent / "fixtures" / "ingest"
ENGLISH_HTML = FIX / "english_article.html"

REGISTRY_CASE = """\
case: registry
sources:
  - {name: Business Insider, aliases: [BI, Insider], domains: [businessinsider.com]}
  - {name: SignalFire, domains: [signalfire.com]}
  - {name: Bloomberg, domains: [bloomberg.com]}
  - {name: Reuters, domains: [reuters.com]}
  - {name: The Verge, aliases: [Verge], domains: [theverge.com]}
claims: []
"""

needs_seed = pytest.mark.skipif(not FIXTURE_ARTICLE.is_file(), reason=f"seed article missing: {FIXTURE_ARTICLE}")


def registry_case(folder: Path) -> Path:
    p = folder / "registry.yaml"
    p.write_text(REGISTRY_CASE, encoding="utf-8")
    return p


def by_prefix(rows: list[dict], prefix: str) -> dict:
    hits = [r for r in rows if r["text"].startswith(prefix)]
    assert len(hits) == 1, f"{prefix!r}: {len(hits)} hits"
    return hits[0]


def count(env, model) -> int:
    with env.desk.session() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def evidence_files(env) -> list[Path]:
    root = env.settings.evidence_path
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# ---------------------------------------------------------------- the real German article, end to end


@needs_seed
def test_cli_seed_article_lists_claims_with_sources_and_no_teasers(cli, tmp_path) -> None:
    assert cli("init").code == 0
    assert cli("claims", "import", str(registry_case(tmp_path))).code == 0
    r = cli("ingest", str(FIXTURE_ARTICLE), "--json")
    assert r.code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows and all(set(x) == {"id", "fingerprint", "text", "cited", "attribution", "second_hand",
                                   "checkworthiness", "start", "end"} for x in rows)
    text = FIXTURE_ARTICLE.read_text(encoding="utf-8")
    # short ids numbered in reading order within the article; the sentence hash kept as fingerprint
    article_no = rows[0]["id"].split("-")[0]
    assert [x["id"] for x in rows] == [f"{article_no}-{n}" for n in range(1, len(rows) + 1)]
    assert all(x["fingerprint"] == claim_key(x["text"]) for x in rows)
    assert all(text[x["start"]:x["end"]] == x["text"] for x in rows)  # the file has no leading blank lines

    assert by_prefix(rows, "Laut einem internen Dokument, das Business Insider")["cited"] == ["Business Insider"]
    assert by_prefix(rows, "Das Dokument weist")["cited"] == ["Business Insider"]
    assert by_prefix(rows, "Talente wandern ab")["cited"] == ["SignalFire"]
    assert by_prefix(rows, "Eine Auswertung der Risikokapitalfirma SignalFire")["cited"] == ["SignalFire"]
    bloom = by_prefix(rows, "Laut Bloomberg hat Oracle")
    assert (bloom["cited"], bloom["attribution"], bloom["second_hand"]) == (["Bloomberg"], ["Laut Bloomberg"], False)
    assert by_prefix(rows, "Laut Recruitern")["cited"] == ["Recruiter"]
    assert by_prefix(rows, "Interne HR-Analysen")["cited"] == ["interne HR-Analysen"]
    for prefix in ("Meta hat in den vergangenen Monaten mehr als 50", "Ein Beispiel: Bereits 2020 verließ",
                   "Seit 2023 gilt", "Dazu zählen Chipentwickler", "In der Bilanzpressekonferenz im Juli"):
        assert by_prefix(rows, prefix)["cited"] == []

    teaser = text.index("Das könnte Sie auch interessieren")
    assert all(x["start"] < teaser for x in rows)
    assert not any(x["text"] in {"KI", "Rückstand bei KI-Talenten", "Quelle: Eulerpool"} for x in rows)
    assert all(0.0 <= x["checkworthiness"] <= 1.0 for x in rows)

    # registry names were used as they are: nothing new, nothing unreviewed
    sources = {s["name"]: s for s in json.loads(cli("sources", "list", "--json").stdout)}
    assert all(s["reviewed"] for s in sources.values())
    assert "Eulerpool" not in sources  # the credit line is the article's provenance, not a citation

    # re-ingest: the same claims, nothing new
    again = cli("ingest", str(FIXTURE_ARTICLE), "--json")
    assert again.code == 0 and json.loads(again.stdout) == rows
    listed = json.loads(cli("claims", "list", "--json").stdout)
    assert len(listed) == len(rows)

    # verify runs on ingested claims, and never takes the article itself as evidence for its own claims
    v = cli("verify", "--json")
    assert v.code == 0, v.stderr
    verdicts = json.loads(v.stdout)
    assert {x["id"] for x in verdicts} == {x["id"] for x in rows}
    assert not any(e["url"].startswith("file:") for x in verdicts for e in x["evidence"])
    assert not any(x["verdict"] == "verified" for x in verdicts)


@needs_seed
def test_cli_human_output_and_errors(cli, tmp_path) -> None:
    assert cli("init").code == 0
    r = cli("ingest", str(FIXTURE_ARTICLE), "--case", "amazon-ki", "--outlet", "Eulerpool", "--by", "alice")
    assert r.code == 0, r.stderr
    assert "amazon-ki" in r.stdout and "new unreviewed sources" in r.stdout and "Business Insider" in r.stdout
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "bin.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    with open(tmp_path / "huge.txt", "wb") as f:  # sparse: 50 MB on paper, nothing read
        f.truncate(50 * 1024 * 1024)
    for name, words in (("empty.txt", "empty"), ("bin.html", "binary"), ("huge.txt", "cap"),
                        ("missing.txt", "no such file")):
        r = cli("ingest", str(tmp_path / name))
        assert r.code == 1
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0], r.stderr
        assert "Traceback" not in r.stderr
    assert cli("ingest", str(FIXTURE_ARTICLE), "--language", "fr").code == 2
    assert cli("ingest", str(FIXTURE_ARTICLE), "--threshold", "1.5").code == 2


# ---------------------------------------------------------------- library, SQLite and PostgreSQL


@needs_seed
def test_seed_without_registry_creates_unreviewed_sources(desk) -> None:
    summary = ingest(desk.desk, desk.settings, str(FIXTURE_ARTICLE), actor="tester")
    assert summary.language == "de" and summary.published == "2025-09-01"
    assert summary.title == "Amazon verliert im KI-Wettrennen den Anschluss" and summary.outlet == "Eulerpool"
    assert summary.provenance == ["Eulerpool"]
    assert set(summary.sources_created) == {"Business Insider", "SignalFire", "Bloomberg"}
    assert summary.counts()["created"] == len(summary.claims) >= 15
    with desk.desk.session() as s:
        srcs = {x.name: x for x in s.execute(select(Source)).scalars()}
        assert {"Business Insider", "SignalFire", "Bloomberg"} <= set(srcs)
        assert not any(x.reviewed for x in srcs.values())
        art = s.execute(select(Article)).scalar_one()
        snap = s.get(Snapshot, art.snapshot_id)
        assert snap is not None and snap.origin == "file" and snap.url.startswith("file://")
        assert (desk.settings.evidence_path / snap.warc_path).is_file()
        assert art.text == snap.text and art.file and art.url is None
        case = s.get(Case, art.case_id)
        assert case is not None and case.key == summary.case
        claims = list(s.execute(select(Claim).where(Claim.article_id == art.id)).scalars())
        assert len(claims) == len(summary.claims)
        assert all(art.text[c.start:c.end] == c.text for c in claims)
        cits = {(ci.name, ci.kind, ci.source_id is None) for c in claims for ci in c.citations}
        assert ("Recruiter", "anonymous", True) in cits
        assert ("interne HR-Analysen", "anonymous", True) in cits
        assert ("Business Insider", "document", False) in cits
        assert ("Business Insider", "inherited", False) in cits
        # the article's capture is whole (passages too); retrieval, not deletion, keeps it from being
        # evidence for its own claims (the CLI test checks verify never quotes it)
        assert s.execute(select(func.count()).select_from(Passage)).scalar_one() > 0
        actions = {a for (a,) in s.execute(select(AuditEvent.action))}
        assert {"case.create", "source.create", "article.capture", "article.create", "claim.create",
                "article.ingest"} <= actions
        assert verify_session(s).ok


def test_english_html_links_become_citations_and_queued_evidence(desk, tmp_path) -> None:
    with desk.desk.session() as s:
        import_case(s, desk.settings, registry_case(tmp_path), actor="tester")
    summary = ingest(desk.desk, desk.settings, str(ENGLISH_HTML), actor="tester")
    assert summary.text_source == "extracted" and summary.links == {"found": 6, "mapped": 6}
    assert summary.title == "Northwind Robotics is losing the race for AI engineers"
    assert summary.language == "en" and summary.published == "2025-09-03"
    rows = {c.text[:40]: c for c in summary.claims}
    first = next(c for k, c in rows.items() if k.startswith("Northwind's retention problems"))
    assert first.cited == ["Business Insider"]
    assert first.urls == ["https://www.businessinsider.com/northwind-retention-2025-5"]
    chain = next(c for k, c in rows.items() if k.startswith("Citing Bloomberg, Reuters"))
    assert chain.cited == ["Bloomberg"] and chain.second_hand
    told = next(c for k, c in rows.items() if k.startswith("A Northwind spokesperson told"))
    assert told.cited == ["Northwind"] and told.second_hand
    assert not any(c.text.startswith(("Is that enough", "In my view", "Source: Reuters", "Why warehouse"))
                   for c in summary.claims)
    assert set(summary.evidence_queued) == {
        "https://www.businessinsider.com/northwind-memo-2025-8",
        "https://www.businessinsider.com/northwind-retention-2025-5",
        "https://www.signalfire.com/blog/talent-report-2025",
        "https://www.reuters.com/technology/oracle-northwind-hiring-2025-09-02/",
        "https://www.bloomberg.com/news/articles/2025-05-20/northwind-freezes-pay",
    }
    with desk.desk.session() as s:
        queued = {e.url: e for e in s.execute(select(EvidenceUrl)).scalars()}
        assert set(queued) == set(summary.evidence_queued) and all(e.status == "queued" for e in queued.values())
        reuters = queued["https://www.reuters.com/technology/oracle-northwind-hiring-2025-09-02/"]
        assert reuters.source is not None and reuters.source.name == "Reuters"  # the page's publisher
        c = s.execute(select(Claim).where(Claim.key == chain.id)).scalar_one()
        (ci,) = c.citations
        assert (ci.name, ci.second_hand, ci.via, ci.url) == (
            "Bloomberg", True, "Reuters", "https://www.reuters.com/technology/oracle-northwind-hiring-2025-09-02/")
        assert ci.source is not None and ci.source.name == "Bloomberg"
        assert [link.evidence_url.url for link in c.evidence_links] == [ci.url]
        art = s.execute(select(Article)).scalar_one()
        assert all(art.text[x.start:x.end] == x.text for x in summary.claims)
        assert "Home" not in art.text.split("\n\n")[0]
        links = s.execute(select(func.count()).select_from(ClaimEvidence)).scalar_one()
        assert links == sum(len(x.urls) for x in summary.claims) >= 6  # pointers back ("The memo") share the URL


def test_reingest_updates_never_duplicates_and_reports_gone_claims(desk, tmp_path) -> None:
    article = tmp_path / "story.txt"
    original = ("Skyway Air will cut 1,200 flights in March, the carrier said.\n\n"
                "According to Reuters, fuel costs rose 18% in 2024.\n\n"
                "The airline employs 9,000 people in Germany.\n")
    article.write_text(original, encoding="utf-8")
    first = ingest(desk.desk, desk.settings, str(article), actor="tester", case="skyway")
    keys = [c.id for c in first.claims]
    assert keys == ["A1-1", "A1-2", "A1-3"] and first.counts()["created"] == 3
    again = ingest(desk.desk, desk.settings, str(article), actor="tester")
    assert again.counts() == {"created": 0, "updated": 0, "unchanged": 3} and again.article == "unchanged"
    assert again.case == "skyway" and not again.snapshot_created

    # an edited version: a new opening sentence shifts every offset, one claim is gone, one is new
    article.write_text("Skyway Air is Europe's fourth-largest airline by passengers in 2024.\n\n"
                       + original.replace("The airline employs 9,000 people in Germany.\n", ""), encoding="utf-8")
    third = ingest(desk.desk, desk.settings, str(article), actor="tester")
    assert third.counts() == {"created": 1, "updated": 2, "unchanged": 0}
    # kept claims keep their ids wherever their sentence moved; the new sentence gets the next number
    assert [(c.id, c.outcome) for c in third.claims] == [("A1-4", "created"), ("A1-1", "updated"),
                                                         ("A1-2", "updated")]
    assert third.gone == ["A1-3"] and third.snapshot_created and third.article == "updated"
    with desk.desk.session() as s:
        assert s.execute(select(func.count()).select_from(Article)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(Claim)).scalar_one() == 4  # kept, never deleted
        assert s.execute(select(func.count()).select_from(Case)).scalar_one() == 1
        art = s.execute(select(Article)).scalar_one()
        moved = s.execute(select(Claim).where(Claim.fingerprint == claim_key(
            "According to Reuters, fuel costs rose 18% in 2024."))).scalar_one()
        assert moved.key == "A1-2" and find_claim(s, moved.fingerprint or "").id == moved.id  # old id accepted
        assert art.text[moved.start:moved.end] == moved.text and moved.revision == 1
        assert [ci.name for ci in moved.citations] == ["Reuters"]
        assert s.execute(select(func.count()).select_from(Citation)).scalar_one() == 1  # replaced, not added
        assert s.execute(select(func.count()).select_from(Snapshot)).scalar_one() == 2
        updates = s.execute(select(AuditEvent).where(AuditEvent.action == "claim.update")).scalars().all()
        assert len(updates) == 2 and all(u.before["start"] != u.after["start"] for u in updates)
        assert verify_session(s).ok


def test_unreadable_input_stores_nothing(desk, tmp_path) -> None:
    bad = {
        "empty.txt": b"",
        "blank.txt": b"  \n\n \t\n",
        "binary.bin": bytes(range(256)) * 40,
        "image.html": b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
    }
    for name, body in bad.items():
        (tmp_path / name).write_bytes(body)
    with open(tmp_path / "huge.txt", "wb") as f:
        f.truncate(50 * 1024 * 1024)
    for name in [*bad, "huge.txt", "nope.txt"]:
        with pytest.raises(IngestError) as info:
            ingest(desk.desk, desk.settings, str(tmp_path / name), actor="tester")
        assert name in str(info.value)
    with pytest.raises(IngestError, match="over the 10,485,760-byte cap"):
        ingest(desk.desk, desk.settings, str(tmp_path / "huge.txt"), actor="tester")
    for model in (Article, Snapshot, Claim, Case, Source, AuditEvent):
        assert count(desk, model) == 0, model
    assert evidence_files(desk) == []


def test_cp1252_german_text_is_read_correctly(desk, tmp_path) -> None:
    p = tmp_path / "alt.txt"
    p.write_bytes("Laut Bloomberg hat Oracle über 600 Mitarbeiter in München abgeworben, "
                  "heißt es am 3. März 2025 – mehr als je zuvor.\n".encode("cp1252"))
    summary = ingest(desk.desk, desk.settings, str(p), actor="tester")
    (c,) = summary.claims
    assert "über 600 Mitarbeiter in München" in c.text and "–" in c.text
    assert c.cited == ["Bloomberg"] and summary.language == "de"


# ---------------------------------------------------------------- URLs through the fetcher and the archive


def serve(server: HTTPServer, pages: dict[str, tuple[int, bytes]]) -> None:
    def handle(request: Request) -> Response:
        if request.path == "/robots.txt":
            return Response("User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        status, body = pages.get(request.path, (404, b"not here"))
        return Response(body, status=status, content_type="text/html; charset=utf-8")

    server.expect_request(re.compile(r".*")).respond_with_handler(handle)


def test_url_goes_through_fetcher_and_archive(desk, httpserver: HTTPServer, tmp_path) -> None:
    with desk.desk.session() as s:
        import_case(s, desk.settings, registry_case(tmp_path), actor="tester")
    serve(httpserver, {"/news/northwind": (200, ENGLISH_HTML.read_bytes())})
    url = httpserver.url_for("/news/northwind")
    summary = ingest(desk.desk, desk.settings, url, actor="tester")
    assert summary.snapshot_created and len(summary.claims) >= 15
    assert summary.outlet  # the page names no site: the extractor's site name or the host
    assert any(r.path == "/robots.txt" for r, _ in httpserver.log)  # same politeness as evidence fetching
    with desk.desk.session() as s:
        art = s.execute(select(Article)).scalar_one()
        snap = s.get(Snapshot, art.snapshot_id)
        assert snap is not None and art.url == url and art.file is None
        assert (snap.origin, snap.status, snap.url) == ("fetch", 200, url)
        assert snap.warc_path and (desk.settings.evidence_path / snap.warc_path).is_file()
        assert art.text == snap.text and "Northwind Robotics Inc. lost" in art.text
        assert s.execute(select(AuditEvent).where(AuditEvent.action == "article.capture")).scalar_one()
    again = ingest(desk.desk, desk.settings, url, actor="tester")
    assert not again.snapshot_created and again.counts()["created"] == 0 and again.article == "unchanged"
    assert count(desk, Article) == 1 and count(desk, Snapshot) == 1


def test_dead_and_refused_urls_are_clear_errors(desk, httpserver: HTTPServer) -> None:
    serve(httpserver, {"/private/x": (200, b"<p>secret</p>")})
    with pytest.raises(IngestError, match=r"fetch failed \(http-404, HTTP 404\)"):
        ingest(desk.desk, desk.settings, httpserver.url_for("/gone"), actor="tester")
    with pytest.raises(IngestError, match=r"fetch skipped \(robots"):
        ingest(desk.desk, desk.settings, httpserver.url_for("/private/x"), actor="tester")
    for model in (Article, Snapshot, AuditEvent):
        assert count(desk, model) == 0


# ---------------------------------------------------------------- pieces


def test_claim_keys_ignore_spacing_and_quote_style() -> None:
    assert claim_key("Er sagte „600“ Stellen.") == claim_key("Er  sagte \"600\"\nStellen.")
    assert claim_key("600 jobs were cut.") != claim_key("400 jobs were cut.")
    assert re.fullmatch(r"c-[0-9a-f]{8}", claim_key("x"))


def test_map_links_finds_anchors_in_extracted_text() -> None:
    html = ("<html><body><nav><a href='https://x.test/'>Home</a></nav><article>"
            "<p>Revenue at the company rose 8% in 2024 to 1.2 billion euros, <a href='https://www.reuters.com/a'>"
            "Reuters reported</a>.</p>"
            "<p>Jobs fell by a fifth over two years, <a href='https://www.bloomberg.com/b'>Bloomberg said</a> on "
            "Monday.</p></article></body></html>")
    # the extractor split the second paragraph at a line break: found by the anchor's context instead
    text = ("Intro line.\n\nRevenue at the company rose 8% in 2024 to 1.2 billion euros, Reuters reported.\n\n"
            "Jobs fell by a fifth over two years,\n\nBloomberg said on Monday.")
    links, mapped, prose = map_links(text, html)
    spans = {text[s:e]: h for s, e, h in links}
    assert spans == {"Reuters reported": "https://www.reuters.com/a", "Bloomberg said": "https://www.bloomberg.com/b"}
    assert (mapped, prose) == (2, 2)


def test_extraction_that_drops_linked_paragraphs_falls_back_to_the_block_reader(desk, tmp_path, monkeypatch) -> None:
    import factcheck.desk.ingest as ingest_desk
    from factcheck.documents.extract import extract_bytes as real_extract

    with desk.desk.session() as s:
        import_case(s, desk.settings, registry_case(tmp_path), actor="tester")

    def lossy(raw: bytes, **kw):  # an extractor that kept only the standfirst of the article
        ex = real_extract(raw, **kw)
        ex.text = ex.text.split("\n\n")[0]
        return ex

    monkeypatch.setattr(ingest_desk, "extract_bytes", lossy)
    summary = ingest(desk.desk, desk.settings, str(ENGLISH_HTML), actor="tester")
    assert summary.text_source == "html-reader"
    assert len(summary.claims) >= 15 and len(summary.evidence_queued) == 5
    with desk.desk.session() as s:
        art = s.execute(select(Article)).scalar_one()
        assert all(art.text[c.start:c.end] == c.text for c in summary.claims)
        assert "Northwind Robotics Inc. lost" in art.text


def test_desk_from_before_short_ids_keeps_its_hash_ids(sqlite_desk, tmp_path) -> None:
    """A desk whose ingested claims were keyed by sentence hash: after the upgrade re-ingest finds them
    again by fingerprint, keeps their ids, and only new sentences get short ids."""
    from alembic import command
    from sqlalchemy import text as sql

    from factcheck.desk.db import alembic_config, upgrade

    article = tmp_path / "story.txt"
    article.write_text("Skyway Air will cut 1,200 flights in March, the carrier said.\n\n"
                       "According to Reuters, fuel costs rose 18% in 2024.\n", encoding="utf-8")
    ingest(sqlite_desk.desk, sqlite_desk.settings, str(article), actor="t", case="skyway")
    engine = sqlite_desk.desk.engine
    with engine.begin() as c:  # what the desk looked like before: hash keys, no fingerprint column
        c.execute(sql("UPDATE claim SET key = fingerprint"))
    command.downgrade(alembic_config(engine), "0004")
    upgrade(engine)
    with sqlite_desk.desk.session() as s:
        rows = s.execute(select(Claim.key, Claim.fingerprint).order_by(Claim.id)).all()
    assert [k for k, _ in rows] == [f for _, f in rows] and all(k.startswith("c-") for k, _ in rows)

    article.write_text(article.read_text(encoding="utf-8") + "\nThe airline employs 9,000 people.\n",
                       encoding="utf-8")
    again = ingest(sqlite_desk.desk, sqlite_desk.settings, str(article), actor="t")
    assert [c.id for c in again.claims] == [rows[0][0], rows[1][0], "A1-1"]
    assert [c.outcome for c in again.claims][2] == "created" and again.gone == []
    with sqlite_desk.desk.session() as s:
        assert s.execute(select(func.count()).select_from(Claim)).scalar_one() == 3
