"""What the database refuses becomes one clear sentence naming the file or claim, and leaves the desk as it
was: duplicate evidence links, NUL characters (which PostgreSQL cannot store), and two imports of the same
new case at the same moment. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from factcheck.desk import records
from factcheck.desk.cases import CaseFileError, import_case
from factcheck.desk.db import DeskRefused, explain_refusal
from factcheck.desk.models import AuditEvent, Case, Claim, ClaimEvidence, EvidenceUrl


def write(folder: Path, data: dict, name: str = "case.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def counts(env) -> dict[str, int]:
    with env.desk.session() as s:
        return {m.__name__: s.execute(select(func.count()).select_from(m)).scalar_one()
                for m in (Case, Claim, EvidenceUrl, ClaimEvidence, AuditEvent)}


def test_a_second_link_to_the_same_url_is_a_clear_refusal(desk):
    """The guard of last resort: whatever path writes a duplicate claim_evidence row, the session says so in
    words and stores nothing."""
    with desk.desk.session() as s:
        case, _ = records.ensure_case(s, "k", None, "t", via="test")
        claim, _, _ = records.upsert_claim(s, case, "C1", "Ein Satz.", actor="t", evidence_urls=["https://e.org/a"],
                                           via="test")
        cid = claim.id
    before = counts(desk)
    refused = "nothing was stored: a claim lists the same evidence URL twice"
    with pytest.raises(DeskRefused, match=refused), desk.desk.session() as s:
        eu = s.execute(select(EvidenceUrl)).scalar_one()
        s.add(ClaimEvidence(claim_id=cid, evidence_url_id=eu.id))
    assert counts(desk) == before


def test_nul_in_a_case_file_is_refused_naming_file_line_and_field(desk, tmp_path):
    before = counts(desk)
    for field in ("text", "statement", "id"):
        claim = {"id": "C1", "text": "Ein Satz."} | {field: "vor\x00nach"}
        path = write(tmp_path / "c", {"case": "nul", "claims": [claim]})
        with pytest.raises(CaseFileError, match=r"case\.yaml, line \d+: .*NUL character"), desk.desk.session() as s:
            import_case(s, desk.settings, path, actor="t")
    assert counts(desk) == before


def test_nul_is_one_error_line_at_the_command_line(cli, tmp_path, pg_url):
    path = tmp_path / "claims" / "nul.yaml"
    path.parent.mkdir()
    path.write_text('case: nul\nclaims:\n  - id: n1\n    text: "a\\0b"\n', encoding="utf-8")
    for db in (None, pg_url):
        flags = ("--db", db) if db else ()
        assert cli(*flags, "init").code == 0
        r = cli(*flags, "claims", "import", str(path))
        assert r.code == 1 and "Traceback" not in r.stderr
        assert r.stderr.strip().splitlines() == [
            f"Error: {path}, line 3: claim n1: text contains a NUL character (\\x00), which the desk does not "
            "store; remove it"]
        assert json.loads(cli(*flags, "claims", "list", "--json").stdout) == []


def test_what_postgresql_refuses_is_said_in_words(pg_desk):
    """If NUL ever got past the field checks, PostgreSQL's DataError still becomes a plain sentence."""
    before = counts(pg_desk)
    with pytest.raises(DeskRefused, match="NUL character"), pg_desk.desk.session() as s:
        case, _ = records.ensure_case(s, "k", None, "t", via="test")
        s.add(Claim(case_id=case.id, key="C1", text="a\x00b"))
    assert counts(pg_desk) == before


def test_explain_refusal_knows_the_usual_refusals():
    class Orig(Exception):
        pass

    class Wrapped(Exception):
        def __init__(self, msg: str) -> None:
            super().__init__("wrapped")
            self.orig = Orig(msg)

    said = {
        'duplicate key value violates unique constraint "uq_case_file_key"': "created the same case",
        "UNIQUE constraint failed: case_file.key": "created the same case",
        "UNIQUE constraint failed: claim_evidence.claim_id, claim_evidence.evidence_url_id": "same evidence URL twice",
        "PostgreSQL text fields cannot contain NUL (0x00) bytes": "NUL character",
        "FOREIGN KEY constraint failed": "no longer exists",
        "value too long for type character varying(200)": "longer than the database allows",
    }
    for msg, words in said.items():
        assert words in explain_refusal(Wrapped(msg)), msg


def _import_in_thread(env, path: Path, out: dict) -> threading.Thread:
    def run() -> None:
        try:
            with env.desk.session() as s:
                out["summary"] = import_case(s, env.settings, path, actor="second").as_dict()
        except Exception as exc:  # the test looks at what came back
            out["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    return t


def _case(tmp_path: Path) -> Path:
    return write(tmp_path / "c", {"case": "together", "claims": [{"id": "C1", "text": "Ein Satz.",
                                                                  "evidence": ["https://e.org/a"]}]})


def test_two_imports_of_a_new_case_at_once_take_turns_on_postgresql(pg_desk, tmp_path):
    path = _case(tmp_path)
    out: dict = {}
    with pg_desk.desk.session() as s:
        first = import_case(s, pg_desk.settings, path, actor="first")
        t = _import_in_thread(pg_desk, path, out)
        time.sleep(1.0)
        assert t.is_alive(), "the second import should wait for the first"
    t.join(30)
    assert "error" not in out, out.get("error")
    assert first.claims["created"] == 1 and out["summary"]["claims"] == {"created": 0, "updated": 0, "unchanged": 1}
    assert counts(pg_desk)["Case"] == 1


def test_two_imports_of_a_new_case_at_once_on_sqlite_end_clearly(sqlite_desk, tmp_path):
    path = _case(tmp_path)
    out: dict = {}
    with sqlite_desk.desk.session() as s:
        import_case(s, sqlite_desk.settings, path, actor="first")
        t = _import_in_thread(sqlite_desk, path, out)
        time.sleep(1.0)
    t.join(60)
    if "error" in out:  # the second one's write waited for the first, then met its case: a clear refusal
        assert isinstance(out["error"], CaseFileError | DeskRefused)
        assert "at the same moment; run it again" in str(out["error"])
    else:
        assert out["summary"]["claims"]["unchanged"] == 1
    with sqlite_desk.desk.session() as s:
        assert s.execute(text("select count(*) from case_file")).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(Claim)).scalar_one() == 1
