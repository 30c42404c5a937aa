"""Verification runs on the desk: retrieval tiers through the full-text index, append-only verdicts, runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from factcheck.desk.cases import import_case
from factcheck.desk.models import Claim, Run, Verdict
from factcheck.desk.retrieve import candidates_for, query_terms, search_passages
from factcheck.desk.verify import verify

CASE_DIR = Path(__file__).parent / "fixtures" / "cases"

CORROBORATION = """<html><head><title>Wire report</title></head><body><article>
<p>Our desk could not confirm the figure independently.</p>
<p>A planning paper lists pay, location rules and the perceived artificial intelligence lag as obstacles to hiring.</p>
</article></body></html>"""


@pytest.fixture
def loaded(desk, tmp_path):
    folder = tmp_path / "claims"
    shutil.copytree(CASE_DIR, folder)
    (folder / "pages" / "wire.html").write_text(CORROBORATION)
    data = (folder / "case.yaml").read_text()
    data = data.replace(
        "evidence:\n",
        "evidence:\n  - {url: 'https://wire.example/report', file: pages/wire.html}\n", 1,
    )
    (folder / "case.yaml").write_text(data)
    with desk.desk.session() as s:
        import_case(s, desk.settings, folder / "case.yaml", actor="t")
    return desk


def test_query_terms_drop_stopwords_and_keep_numbers():
    terms = query_terms(["Laut SignalFire rangiert Amazon bei der Mitarbeiterbindung im unteren Drittel 2023."])
    assert "signalfire" in terms and "2023" in terms and "der" not in terms and "laut" not in terms


def test_full_text_index_finds_passages(loaded):
    with loaded.desk.session() as s:
        ids = search_passages(s, ["salary", "band"], limit=5)
        assert ids
        from factcheck.desk.models import Passage

        assert "salary band" in s.get(Passage, ids[0]).text


def test_candidates_tiers(loaded):
    with loaded.desk.session() as s:
        c1 = s.execute(select(Claim).where(Claim.key == "C1")).scalar_one()
        cands = candidates_for(s, c1)
        tied = [c for c in cands if c.tied]
        other = [c for c in cands if not c.tied]
        assert tied and all(c.url == "https://www.businessinsider.com/report" for c in tied)
        assert all(c.cited for c in tied)  # the tied page belongs to the cited source
        assert any(c.url == "https://wire.example/report" and not c.cited for c in other)
        for c in cands:
            snap_text = c.context or ""
            assert c.text in snap_text and len(c.snapshot_sha256) == 64


def test_runs_are_recorded_and_verdicts_append_only(loaded):
    r1 = verify(loaded.desk, loaded.settings, actor="ana")
    r2 = verify(loaded.desk, loaded.settings, actor="ben", claim_refs=["C1"])
    with loaded.desk.session() as s:
        runs = list(s.execute(select(Run).order_by(Run.id)).scalars())
        assert [r.actor for r in runs] == ["ana", "ben"]
        assert runs[0].finished_at is not None and sum(runs[0].counts.values()) == 3
        assert runs[1].settings["claims"] == 1
        verdicts = list(s.execute(select(Verdict).order_by(Verdict.id)).scalars())
    assert len(verdicts) == 4
    assert {v.run_id for v in verdicts} == {r1.run_id, r2.run_id}
    for v in verdicts:
        assert v.label in ("verified", "unverified", "contested") and v.rationale
        assert 0 <= (v.confidence or 0) <= 1
        for q in v.quotes:
            assert len(q["snapshot_sha256"]) == 64 and q["end"] > q["start"]


def test_unfetched_cited_source_is_unverified(loaded):
    verify(loaded.desk, loaded.settings, actor="t", claim_refs=["C2"])
    with loaded.desk.session() as s:
        v = s.execute(select(Verdict)).scalar_one()
    assert v.label == "unverified"


def test_quotes_point_into_snapshot_text(loaded):
    verify(loaded.desk, loaded.settings, actor="t")
    from factcheck.desk.models import Snapshot

    with loaded.desk.session() as s:
        for v in s.execute(select(Verdict)).scalars():
            for q in v.quotes:
                snap = s.execute(select(Snapshot).where(Snapshot.sha256 == q["snapshot_sha256"])).scalars().first()
                assert snap is not None and snap.text[q["start"] : q["end"]] == q["quote"]


def test_verify_cli_json_contract(cli, tmp_path):
    shutil.copytree(CASE_DIR, tmp_path / "claims")
    cli("init")
    cli("claims", "import", "claims/case.yaml")
    r = cli("verify", "--json")
    assert r.code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["id"] for x in rows] == ["C1", "C2", "C3"]
    for row in rows:
        for key in ("id", "text", "cited", "verdict", "confidence", "rationale", "evidence"):
            assert key in row
        for ev in row["evidence"]:
            assert set(ev) >= {"url", "snapshot_sha256", "quote", "start", "end", "source"}
    r = cli("claims", "list", "--json")
    assert [x["verdict"] for x in json.loads(r.stdout)] == [x["verdict"] for x in rows]
    r = cli("verify", "--claim", "NOPE")
    assert r.code == 1 and r.stderr.startswith("Error: no claim 'NOPE'")


def test_term_statistics_follow_captures(loaded):
    from factcheck.desk.models import TermStat
    from factcheck.desk.retrieve import selective_terms

    with loaded.desk.session() as s:
        df = dict(s.execute(select(TermStat.term, TermStat.df)).all())
        assert df["salary"] == 1 and df["hiring"] >= 2  # 'hiring' is on both captured pages
        chosen = selective_terms(s, ["hiring", "salary", "nosuchword"], budget=1)
    assert chosen[0] == "salary" and "nosuchword" not in chosen


def test_each_machine_verdict_has_its_event_in_the_chain(loaded):
    """Every verdict a run stores has one audit event naming it and its claim, in the claims' order after the
    events before it, and the chain verifies (the events are written in one INSERT per batch)."""
    from factcheck.desk import audit
    from factcheck.desk.models import AuditEvent

    run = verify(loaded.desk, loaded.settings, actor="ana", batch_size=2)
    with loaded.desk.session() as s:
        verdicts = list(s.execute(select(Verdict).where(Verdict.run_id == run.run_id).order_by(Verdict.id))
                        .scalars())
        events = list(s.execute(select(AuditEvent).where(AuditEvent.action == "verdict.machine")
                                .order_by(AuditEvent.id)).scalars())
        assert len(verdicts) == 3
        assert [(e.entity, e.entity_id, e.claim_id, e.actor) for e in events] == \
            [("verdict", v.id, v.claim_id, "ana") for v in verdicts]
        for e, v in zip(events, verdicts, strict=True):
            assert e.after["run"] == run.run_id and e.after["label"] == v.label
            assert e.after["snapshots"] == sorted({q["snapshot_sha256"] for q in v.quotes})
        assert audit.verify_session(s).ok
