"""Claims by hand: `claims add` (a claim an ingest missed) and `claims edit --statement` (a restatement)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from factcheck.desk.models import AuditEvent, Claim
from factcheck.desk.records import claim_fingerprint
from factcheck.text import gloss

CASE_DIR = Path(__file__).parent / "fixtures" / "cases"
STORY = ("Skyway Air will cut 1,200 flights in March, the carrier said.\n\n"
         "According to Reuters, fuel costs rose 18% in 2024.\n")


def setup_case(cli, tmp_path: Path) -> None:
    shutil.copytree(CASE_DIR, tmp_path / "case")
    assert cli("init").code == 0
    assert cli("claims", "import", "case/case.yaml").code == 0


def show(cli, key: str) -> dict:
    r = cli("claims", "show", key, "--json")
    assert r.code == 0, r.stderr
    return json.loads(r.stdout)


def test_add_to_an_ingested_article_takes_its_next_id(cli, tmp_path):
    (tmp_path / "story.txt").write_text(STORY, encoding="utf-8")
    assert cli("init").code == 0
    ingested = json.loads(cli("ingest", "story.txt", "--json").stdout)
    assert [c["id"] for c in ingested] == ["A1-1", "A1-2"]
    r = cli("claims", "add", "Skyway Air flies to 40 cities.", "--cited", "Skyway Air", "--cited", "Reuters",
            "--article", "1", "--json")
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["id"] == "A1-3" and d["cited"] == ["Skyway Air", "Reuters"]
    sources = {s["name"]: s for s in json.loads(cli("sources", "list", "--json").stdout)}
    assert sources["Skyway Air"]["reviewed"] is False  # a new name joins the registry unreviewed
    # re-ingesting the article neither duplicates nor renumbers, and the hand-added claim is not "gone"
    again = json.loads(cli("ingest", "story.txt", "--json").stdout)
    assert [c["id"] for c in again] == ["A1-1", "A1-2"]
    assert len(json.loads(cli("claims", "list", "--json").stdout)) == 3


def table_counts(folder: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(folder / "factcheck.db") as db:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("claim", "citation", "source", "audit_event", "case_file")}


def test_add_refuses_a_sentence_the_case_already_has(cli, tmp_path):
    (tmp_path / "story.txt").write_text(STORY, encoding="utf-8")
    assert cli("init").code == 0 and cli("ingest", "story.txt").code == 0
    before = table_counts(tmp_path)
    r = cli("claims", "add", "According to Reuters,  fuel costs rose 18% in 2024.", "--cited", "New Name",
            "--article", "1")
    assert r.code == 1 and "already has this claim as A1-2" in r.stderr and r.stderr.count("\n") == 1
    assert table_counts(tmp_path) == before  # nothing written, not even an audit event
    bad = cli("claims", "add", "Text.", "--article", "7")
    assert bad.code == 1 and "Error: no article 7 on this desk" in bad.stderr


def test_add_without_article_goes_to_the_only_case_or_a_new_one(cli, tmp_path):
    assert cli("init").code == 0
    r = cli("claims", "add", "The bridge opened in 1932.", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["id"] == "M1" and json.loads(r.stdout)["case"] == "desk"
    assert json.loads(cli("claims", "add", "The bridge is 503 metres long.", "--json").stdout)["id"] == "M2"
    shutil.copytree(CASE_DIR, tmp_path / "case")
    assert cli("claims", "import", "case/case.yaml").code == 0
    several = cli("claims", "add", "A third claim.")
    assert several.code == 1 and "several cases; say which with --case" in several.stderr
    ok = cli("claims", "add", "A third claim.", "--case", "desk", "--json")
    assert json.loads(ok.stdout)["id"] == "M3"


def test_edit_statement_is_audited_bumps_revision_and_rejudges(cli, tmp_path):
    setup_case(cli, tmp_path)
    assert cli("verify").code == 0
    before = show(cli, "C2")
    assert before["statement"] is None and before["revision"] == 0
    r = cli("claims", "edit", "C2", "--statement", "SignalFire ranks Amazon in the lower third for retention.",
            "--json")
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["changed"] is True and d["revision"] == 1
    assert [v["id"] for v in d["rejudged"]] == ["C2"]
    after = show(cli, "C2")
    assert after["statement"] == "SignalFire ranks Amazon in the lower third for retention."
    assert len(after["history"]) == 2  # the first run and the one the edit started
    log = json.loads(cli("audit", "log", "--claim", "C2", "--json").stdout)
    update = [e for e in log if e["action"] == "claim.update"][-1]
    assert update["before"]["statement"] is None
    assert update["after"]["statement"] == after["statement"]
    # the same text again changes nothing; an empty text removes the restatement
    same = json.loads(cli("claims", "edit", "C2", "--statement", after["statement"], "--json").stdout)
    assert same["changed"] is False and same["rejudged"] == []
    cleared = cli("claims", "edit", "C2", "--statement", "", "--json")
    assert cleared.code == 0 and show(cli, "C2")["statement"] is None and show(cli, "C2")["revision"] == 2
    unknown = cli("claims", "edit", "C9", "--statement", "x")
    assert unknown.code == 1 and "Error: no claim 'C9'" in unknown.stderr


def test_rationale_names_the_language_gap(cli, tmp_path):
    shutil.copytree(CASE_DIR, tmp_path / "case")
    with (tmp_path / "case" / "case.yaml").open("a", encoding="utf-8") as f:
        f.write("  - id: C9\n"
                "    text: 'Laut Business Insider plant der Konzern vierzig neue Rechenzentren in Brandenburg.'\n"
                "    cited: [Business Insider]\n"
                "    evidence: ['https://www.businessinsider.com/report']\n")
    assert cli("init").code == 0 and cli("claims", "import", "case/case.yaml").code == 0
    assert cli("verify", "--claim", "C9").code == 0
    d = show(cli, "C9")
    assert d["verdict"] == "unverified"
    assert "the claim is in German and the evidence in English" in d["rationale"]
    assert "claims edit --statement" in d["rationale"]
    # with an English restatement the note goes: the judge reads it word for word
    assert cli("claims", "edit", "C9", "--statement",
               "Business Insider says the company plans forty new data centres in Brandenburg.").code == 0
    assert "the claim is in German" not in show(cli, "C9")["rationale"]


def test_fingerprint_of_added_claims_matches_ingest(sqlite_desk):
    from factcheck.desk.authoring import add_claim

    with sqlite_desk.desk.session() as s:
        c = add_claim(s, "The  bridge opened in 1932.", cited=[], actor="t")
        assert c.fingerprint == claim_fingerprint("The bridge opened in 1932.")
        assert s.execute(select(func.count()).select_from(AuditEvent)
                         .where(AuditEvent.action == "claim.create")).scalar_one() == 1
        assert s.execute(select(Claim.key)).scalar_one() == "M1"


@pytest.mark.skipif(not gloss.available() and os.environ.get("FACTCHECK_REQUIRE_NLI") != "1",
                    reason="the German-English word list (Debian trans-de-en) is not installed")
def test_german_claim_finds_english_pages_of_its_cited_source(cli, tmp_path):
    """No page tied to it: retrieval searches the cited source's pages with the claim's English gloss."""
    setup_case(cli, tmp_path)
    text = ("Laut Business Insider nennt ein internes Papier die Bezahlung, die Regeln zum Standort und den "
            "Rückstand bei der künstlichen Intelligenz als die drei größten Hindernisse.")
    r = cli("claims", "add", text, "--cited", "Business Insider", "--case", "Test case: hiring", "--json")
    key = json.loads(r.stdout)["id"]
    assert cli("verify", "--claim", key).code == 0
    d = show(cli, key)
    assert "No evidence passage" not in d["rationale"]
    assert d["evidence"] and d["evidence"][0]["url"] == "https://www.businessinsider.com/report"
    assert cli("verify", "--claim", key, env={"FACTCHECK_GLOSS": "0"}).code == 0
    assert "No evidence passage" in show(cli, key)["rationale"]  # without the gloss: nothing shares its words
