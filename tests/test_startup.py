"""Start-up: a command imports only what it runs (the root group loads command modules on demand, Alembic only
to migrate), and the schema check reads the same head Alembic would."""

from __future__ import annotations

import json
import subprocess
import sys

from factcheck.cli.app import COMMAND_MODULES, cli
from factcheck.desk.db import _alembic_head, head_revision

HEAVY = ("alembic", "starlette", "uvicorn", "factcheck.report", "factcheck.web", "procrastinate", "onnxruntime",
         "factcheck.cli.check", "factcheck.cli.triage")


def _imported_after(*args: str, cwd) -> list[str]:
    code = ("import sys, json\nfrom factcheck.cli import main\nrc = main(list(sys.argv[1:]))\n"
            f"print(json.dumps([m for m in sys.modules if m.startswith({HEAVY!r})]))\n")
    p = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                       env={"PATH": "", "FACTCHECK_USER": "t", "HOME": str(cwd)})
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_fetch_and_verify_load_only_what_they_run(tmp_path):
    assert subprocess.run([sys.executable, "-m", "factcheck", "init"], cwd=tmp_path, capture_output=True,
                          env={"PATH": "", "HOME": str(tmp_path)}).returncode == 0
    for args in (("fetch", "--help"), ("verify", "--json"), ("claims", "list", "--json")):
        assert _imported_after(*args, cwd=tmp_path) == [], args


def test_every_command_is_listed_and_loads(tmp_path):
    import click

    ctx = click.Context(cli)
    names = cli.list_commands(ctx)
    assert set(COMMAND_MODULES) <= set(names)
    for name in names:
        assert cli.get_command(ctx, name) is not None, name
    # subcommands other modules add to the shared groups are there when the group is asked for
    claims = cli.get_command(ctx, "claims")
    evidence = cli.get_command(ctx, "evidence")
    assert {"tag", "comment", "assign", "show", "import"} <= set(claims.commands)
    assert "add" in evidence.commands


def test_schema_head_matches_alembic():
    assert head_revision() == _alembic_head()
