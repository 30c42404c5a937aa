"""Case files: import (one transaction, idempotent, updates in place), bad input, export round trip."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from factcheck.desk.cases import CaseFileError, dump_yaml, export_case, import_case
from factcheck.desk.models import AuditEvent, Citation, Claim, EvidenceUrl, Passage, Snapshot, Source

CASE_DIR = Path(__file__).parent / "fixtures" / "cases"
TABLES = (Source, Claim, Citation, EvidenceUrl, Snapshot, Passage, AuditEvent)


def counts(desk) -> dict[str, int]:
    with desk.desk.session() as s:
        return {t.__tablename__: s.execute(select(func.count()).select_from(t)).scalar_one() for t in TABLES}


def do_import(desk, path, actor="tester"):
    with desk.desk.session() as s:
        return import_case(s, desk.settings, path, actor=actor)


@pytest.fixture
def case_copy(tmp_path) -> Path:
    dst = tmp_path / "claims"
    shutil.copytree(CASE_DIR, dst)
    return dst / "case.yaml"


def test_import_stores_everything(desk, case_copy):
    summary = do_import(desk, case_copy)
    assert summary.claims == {"created": 3, "updated": 0, "unchanged": 0}
    assert summary.evidence == {"snapshots": 1, "queued": 1, "known": 0}
    with desk.desk.session() as s:
        c1 = s.execute(select(Claim).where(Claim.key == "C1")).scalar_one()
        assert [ci.name for ci in c1.citations] == ["Business Insider"]  # alias BI resolved
        assert c1.expected == "verified"
        snap = s.execute(select(Snapshot)).scalar_one()
        assert snap.origin == "file" and len(snap.sha256) == 64
        assert "fixed salary band" in snap.text and "Copyright" not in snap.text
        passages = list(s.execute(select(Passage).where(Passage.snapshot_id == snap.id)).scalars())
        assert passages and all(snap.text[p.start : p.end] == p.text for p in passages)
        queued = s.execute(select(EvidenceUrl).where(EvidenceUrl.status == "queued")).scalar_one()
        assert queued.url == "https://www.signalfire.com/talent-report"
    assert (desk.settings.evidence_path / snap.warc_path).is_file()


def test_reimport_changes_nothing(desk, case_copy):
    do_import(desk, case_copy)
    first = counts(desk)
    summary = do_import(desk, case_copy)
    assert summary.claims == {"created": 0, "updated": 0, "unchanged": 3}
    assert counts(desk) == first


def test_edit_updates_in_place_with_audit(desk, case_copy):
    do_import(desk, case_copy)
    first = counts(desk)
    data = yaml.safe_load(case_copy.read_text())
    data["claims"][2]["text"] = "Seit 2023 gilt bei Amazon die Hub-Strategie."
    data["claims"][2]["cited"] = ["SignalFire"]
    case_copy.write_text(yaml.safe_dump(data, allow_unicode=True))
    summary = do_import(desk, case_copy, actor="editor")
    assert summary.claims == {"created": 0, "updated": 1, "unchanged": 2}
    after = counts(desk)
    assert after["claim"] == first["claim"]
    assert after["audit_event"] == first["audit_event"] + 1
    with desk.desk.session() as s:
        ev = s.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
        c3 = s.execute(select(Claim).where(Claim.key == "C3")).scalar_one()
        assert c3.text.startswith("Seit 2023 gilt bei Amazon")
        assert [ci.name for ci in c3.citations] == ["SignalFire"]
    assert ev.actor == "editor" and ev.action == "claim.update"
    assert ev.before["text"] == "Seit 2023 gilt die Hub-Strategie." and [c["name"] for c in ev.after["cited"]] == ["SignalFire"]


BAD = {
    "malformed": ("claims:\n  - id: C1\n    text: [unclosed\n", r"case\.yaml, line 4: malformed YAML"),
    "unknown key": ("claims:\n  - id: C1\n    text: x\n    verdict: verified\n", r"line 2: unknown key 'verdict'"),
    "no text": ("claims:\n  - id: C1\n    cited: []\n", r"claim C1: text is missing"),
    "empty text": ("claims:\n  - id: C1\n    text: '  '\n", r"claim C1: text is missing"),
    "duplicate id": ("claims:\n  - {id: C1, text: a}\n  - {id: C1, text: b}\n", r"line 3: duplicate claim id 'C1'"),
    "missing file": ("evidence:\n  - {url: 'https://a.example/x', file: pages/nope.html}\nclaims: []\n",
                     r"evidence file 'pages/nope.html' not found"),
    "bad label": ("claims:\n  - {id: C1, text: a, expected: true-ish}\n", r"unknown verdict label 'true-ish'"),
    "outside": ("evidence:\n  - {url: 'https://a.example/x', file: ../../etc/passwd}\nclaims: []\n",
                r"outside the case folder"),
    "absolute": ("evidence:\n  - {url: 'https://a.example/x', file: /etc/passwd}\nclaims: []\n",
                 r"must be relative"),
    "unknown source": ("claims:\n  - {id: C1, text: a, cited: [Bloomberg]}\n", r"cites unknown source 'Bloomberg'"),
    "not a mapping": ("- just\n- a list\n", r"must be a mapping"),
    "bad url": ("evidence:\n  - {url: 'ftp://a.example/x'}\nclaims: []\n", r"must start with http"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_names_file_and_stores_nothing(desk, tmp_path, name):
    content, message = BAD[name]
    folder = tmp_path / "c"
    folder.mkdir()
    path = folder / "case.yaml"
    path.write_text(content)
    before = counts(desk)
    with pytest.raises(CaseFileError, match=message) as info:
        do_import(desk, path)
    assert "case.yaml" in str(info.value)
    assert "\n" not in str(info.value)
    assert counts(desk) == before


def test_failure_late_in_import_rolls_back_everything(desk, tmp_path):
    """Sources are merged before evidence is read; a bad evidence file must undo them too."""
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    (folder / "case.yaml").write_text(
        "sources:\n  - {name: Reuters, domains: [reuters.com]}\n"
        "evidence:\n  - {url: 'https://reuters.com/x', source: Reuters, file: blob.bin}\n"
        "claims:\n  - {id: C1, text: something, cited: [Reuters]}\n"
    )
    before = counts(desk)
    with pytest.raises(CaseFileError, match=r"blob\.bin"):
        do_import(desk, folder / "case.yaml")
    assert counts(desk) == before


def test_rich_citations_round_trip(desk, tmp_path, memory_desk):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "case.yaml").write_text(
        "sources:\n  - {name: Bloomberg}\n  - {name: Reuters}\n"
        "claims:\n  - id: C1\n    text: Oracle hired 600 people.\n    cited:\n"
        "      - {name: Bloomberg, phrase: 'citing Bloomberg, Reuters reported', second_hand: true, via: Reuters}\n"
        "      - {name: Recruiter, kind: anonymous, phrase: Laut Recruitern}\n"
        "      - Reuters\n"
    )
    do_import(desk, folder / "case.yaml")
    with desk.desk.session() as s:
        c1 = s.execute(select(Claim)).scalar_one()
        cits = [(ci.name, ci.kind, ci.second_hand, ci.via, ci.source_id is None) for ci in c1.citations]
        exported = export_case(s)
    assert cits == [("Bloomberg", "named", True, "Reuters", False), ("Recruiter", "anonymous", False, None, True),
                    ("Reuters", "named", False, None, False)]
    assert exported["claims"][0]["cited"][2] == "Reuters"
    (tmp_path / "again").mkdir()
    out = tmp_path / "again" / "case.yaml"  # same file name: the same case key (no title given)
    out.write_text(dump_yaml(exported))
    assert do_import(desk, out).claims["unchanged"] == 1
    with memory_desk.desk.session() as s:
        import_case(s, memory_desk.settings, out, actor="t")
        assert export_case(s) == exported


def test_bad_citation_kind(desk, tmp_path):
    (tmp_path / "case.yaml").write_text("claims:\n  - {id: C1, text: x, cited: [{name: A, kind: rumour}]}\n")
    with pytest.raises(CaseFileError, match="citation kind 'rumour'"):
        do_import(desk, tmp_path / "case.yaml")


def test_sample_layout_allows_sibling_evidence_folder(desk, tmp_path):
    (tmp_path / "claims").mkdir()
    (tmp_path / "evidence" / "s").mkdir(parents=True)
    (tmp_path / "evidence" / "s" / "p.txt").write_text("The company said 600 people left in 2024.\n")
    (tmp_path / "claims" / "c.yaml").write_text(
        "evidence:\n  - {url: 'https://a.example/p', file: ../evidence/s/p.txt}\nclaims:\n  - {id: A, text: x}\n"
    )
    assert do_import(desk, tmp_path / "claims" / "c.yaml").evidence["snapshots"] == 1


def test_export_round_trips(desk, case_copy, memory_desk):
    do_import(desk, case_copy)
    with desk.desk.session() as s:
        exported = export_case(s)
    out = case_copy.parent / "exported.yaml"
    out.write_text(dump_yaml(exported), encoding="utf-8")
    with memory_desk.desk.session() as s:
        summary = import_case(s, memory_desk.settings, out, actor="t")
    assert summary.claims["created"] == 3
    with memory_desk.desk.session() as s:
        again = export_case(s)
    assert again == exported
    assert exported["claims"][0]["cited"] == ["Business Insider"]
    assert exported["evidence"][0]["file"] == "pages/report.html"
