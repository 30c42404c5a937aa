"""Export -> import round-trips a desk made by ingest: ids, fingerprints, offsets, article text, citation links."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ARTICLE = Path(__file__).resolve().parent / "fixtures" / "german_case" / "artikel.html"


def test_ingested_desk_round_trips_through_a_case_file(cli, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    article = first / "artikel.html"
    article.write_text(ARTICLE.read_text(encoding="utf-8").replace("{BASE}", "https://news.example"),
                       encoding="utf-8")
    assert cli("init", cwd=first).code == 0
    ingested = json.loads(cli("ingest", "artikel.html", "--json", cwd=first).stdout)
    key = ingested[0]["id"]
    assert cli("claims", "edit", key, "--statement", "An English restatement.", cwd=first).code == 0
    exported = cli("claims", "export", "-o", str(second / "case.yaml"), cwd=first)
    assert exported.code == 0, exported.stderr
    data = yaml.safe_load((second / "case.yaml").read_text(encoding="utf-8"))
    assert "file" not in data["article"]  # the ingested file's absolute path does not travel
    assert data["article"]["text"] and any(
        isinstance(c, dict) and c.get("url") for claim in data["claims"] for c in claim["cited"])

    assert cli("init", cwd=second).code == 0
    r = cli("claims", "import", "case.yaml", cwd=second)
    assert r.code == 0, r.stderr
    assert cli("claims", "export", "-o", "again.yaml", cwd=second).code == 0
    assert (second / "again.yaml").read_text(encoding="utf-8") == (second / "case.yaml").read_text(encoding="utf-8")

    def shown(folder: Path, k: str) -> dict:
        return json.loads(cli("claims", "show", k, "--json", cwd=folder).stdout)

    for c in ingested:
        a, b = shown(first, c["id"]), shown(second, c["id"])
        for field in ("text", "statement", "citations", "evidence_urls"):
            assert a[field] == b[field], (c["id"], field)

    # the imported desk knows the sentences: ingesting the article again there duplicates nothing
    (second / "artikel.html").write_text(article.read_text(encoding="utf-8"), encoding="utf-8")
    again = json.loads(cli("ingest", "artikel.html", "--case", data["case"], "--json", cwd=second).stdout)
    assert [c["id"] for c in again] == [c["id"] for c in ingested]
    assert len(json.loads(cli("claims", "list", "--json", cwd=second).stdout)) == len(ingested)
