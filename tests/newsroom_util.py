"""Shared set-up of the newsroom tests (search, tags, comments, assign, ratings): a desk with the fixture
case, driven through the real command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

CASE_DIR = Path(__file__).parent / "fixtures" / "cases"


class Desk:
    """The `cli` fixture bound to one desk URL, with JSON helpers."""

    def __init__(self, cli: Any, db: str, tmp_path: Path) -> None:
        self.cli, self.db, self.folder = cli, db, tmp_path

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Any:
        return self.cli(*args, env={"FACTCHECK_DB": self.db, **(env or {})})

    def json(self, *args: str, env: dict[str, str] | None = None) -> Any:
        r = self(*args, "--json", env=env)
        assert r.code == 0, r.stderr
        return json.loads(r.stdout)

    def events(self, action: str) -> list[dict[str, Any]]:
        return [e for e in self.json("audit", "log") if e["action"] == action]


def case_desk(cli: Any, db: str, tmp_path: Path, *, verify: bool = False) -> Desk:
    """`init` + import the fixture case (C1 with a captured page, C2, C3), optionally `verify`."""
    shutil.copytree(CASE_DIR, tmp_path / "claims")
    d = Desk(cli, db, tmp_path)
    for args in (("init",), ("claims", "import", "claims/case.yaml"), *((("verify",),) if verify else ())):
        r = d(*args)
        assert r.code == 0, r.stderr
    return d
