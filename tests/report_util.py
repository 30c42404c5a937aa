"""Desks for report tests: the test case (verified by a machine run, one claim reviewed) and a hostile case."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from factcheck.desk.cases import import_case
from factcheck.desk.models import Claim, Verdict
from factcheck.desk.verify import verify

CASE_DIR = Path(__file__).parent / "fixtures" / "cases"

HOSTILE_PAGE = """Evil Corp quarterly note

Evil Corp said its revenue rose to 600 million euros in 2024. <script>alert(1)</script> <img src=x onerror=alert(2)>

Read [more](javascript:alert(3)) or **shout** | pipe | =HYPERLINK("http://evil.example","x") & <b>bold</b>.
"""

HOSTILE_CASE = """\
case: "Hostile <i>case</i>"
article: {url: "https://news.example/evil", title: "Umsatz <script>alert('t')</script> Ärger", outlet: "Evil & <Co>", language: de, published: 2025-09-02}
sources:
  - {name: Evil Corp, domains: [evil.example]}
evidence:
  - {url: "https://evil.example/note", source: Evil Corp, file: evil.txt}
claims:
  - id: H1
    text: "Laut Evil Corp stieg der Umsatz 2024 auf 600 Millionen Euro <img src=x onerror=alert(4)>."
    statement: "Evil Corp said its revenue rose to 600 million euros in 2024."
    cited: [Evil Corp]
    evidence: ["https://evil.example/note"]
  - id: H2
    text: "=cmd|' /C calc'!A0 \\"Zitat\\" mit Umlauten: Größe, Übergröße"
    cited: []
"""


def import_file(env, path: Path, actor: str = "t"):
    with env.desk.session() as s:
        return import_case(s, env.settings, path, actor=actor)


def build_test_desk(env, tmp_path: Path, *, review: bool = True) -> None:
    """The bundled test case, verified once; C1 then reviewed by a person (no quotes of their own)."""
    dst = tmp_path / "claims"
    shutil.copytree(CASE_DIR, dst)
    import_file(env, dst / "case.yaml")
    verify(env.desk, env.settings, actor="t")
    if review:
        add_human(env, "C1", reviewer="ana", label="verified",
                  note="Checked by phone with the BI newsroom; the paper is the document cited.")


def build_hostile_desk(env, tmp_path: Path) -> None:
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "evil.txt").write_text(HOSTILE_PAGE, encoding="utf-8")
    (folder / "case.yaml").write_text(HOSTILE_CASE, encoding="utf-8")
    summary = import_file(env, folder / "case.yaml")
    verify(env.desk, env.settings, actor="t", case=summary.case)
    add_human(env, "H1", reviewer="<b>eve</b>", label="contested",
              note="Reviewer says <script>alert(5)</script> & [x](javascript:alert(6))")


def add_human(env, key: str, *, reviewer: str, label: str, note: str) -> None:
    with env.desk.session() as s:
        claim = s.execute(select(Claim).where(Claim.key == key)).scalar_one()
        s.add(Verdict(claim_id=claim.id, kind="human", reviewer=reviewer, label=label, note=note,
                      rationale=note, quotes=[]))
