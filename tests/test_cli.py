"""The command line through the installed `factcheck` entry point: contract, JSON, exit codes, errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

CASE_DIR = Path(__file__).parent / "fixtures" / "cases"


@pytest.fixture
def case_file(tmp_path) -> Path:
    shutil.copytree(CASE_DIR, tmp_path / "claims")
    return tmp_path / "claims" / "case.yaml"


def test_init_import_list_on_sqlite(cli, case_file):
    r = cli("init")
    assert r.code == 0, r.stderr
    assert "ready" in r.stdout
    r = cli("claims", "import", str(case_file), "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["claims"]["created"] == 3
    r = cli("claims", "list", "--json")
    assert r.code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["id"] for x in rows] == ["C1", "C2", "C3"]
    for key in ("id", "text", "cited", "verdict", "confidence", "rationale", "evidence"):
        assert key in rows[0]
    assert rows[0]["cited"] == ["Business Insider"]
    assert (case_file.parent.parent / "factcheck.db").is_file()


def test_init_import_list_on_postgres(cli, case_file, pg_url):
    assert cli("--db", pg_url, "init").code == 0
    r = cli("--db", pg_url, "claims", "import", str(case_file))
    assert r.code == 0, r.stderr
    r = cli("claims", "list", "--json", env={"FACTCHECK_DB": pg_url})
    assert r.code == 0, r.stderr
    assert len(json.loads(r.stdout)) == 3


def test_show_export_sources(cli, case_file, tmp_path):
    cli("init")
    cli("claims", "import", str(case_file))
    r = cli("claims", "show", "C2", "--json")
    assert r.code == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["cited"] == ["SignalFire"] and shown["evidence_urls"][0]["status"] == "queued"
    r = cli("claims", "export", "-o", str(tmp_path / "claims" / "out.yaml"))
    assert r.code == 0, r.stderr
    assert "C1" in (tmp_path / "claims" / "out.yaml").read_text()
    r = cli("sources", "list", "--json")
    assert {s["name"] for s in json.loads(r.stdout)} == {"Business Insider", "SignalFire"}


def test_commands_need_an_initialised_desk(cli):
    r = cli("claims", "list")
    assert r.code == 1
    assert r.stderr.strip() == "Error: the desk has no schema yet: run `factcheck init` first"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("claims", "import", "nope.yaml"), "Error: nope.yaml: no such case file"),
        (("claims", "show", "ZZ"), "Error: no claim 'ZZ' on this desk"),
    ],
)
def test_user_mistakes_are_one_line(cli, args, message):
    cli("init")
    r = cli(*args)
    assert r.code == 1
    assert r.stderr.startswith(message)
    assert len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_malformed_yaml_through_cli(cli, tmp_path):
    cli("init")
    (tmp_path / "bad.yaml").write_text("claims:\n  - id: C1\n    text: [oops\n")
    r = cli("claims", "import", "bad.yaml")
    assert r.code == 1
    assert r.stderr.startswith("Error: bad.yaml, line 4: malformed YAML")
    assert json.loads(cli("claims", "list", "--json").stdout) == []


def test_binary_case_file(cli, tmp_path):
    cli("init")
    (tmp_path / "x.yaml").write_bytes(b"\x00\x01\x02PK\x03\x04")
    r = cli("claims", "import", "x.yaml")
    assert r.code == 1 and "binary" in r.stderr and "Traceback" not in r.stderr


def test_usage_error_exits_2(cli):
    r = cli("claims", "frobnicate")
    assert r.code == 2
    r = cli("--no-such-flag")
    assert r.code == 2


def test_unreachable_database_is_one_line(cli):
    r = cli("--db", "postgresql://nobody@127.0.0.1:1/none", "claims", "list")
    assert r.code == 1
    assert r.stderr.startswith("Error:") and len(r.stderr.strip().splitlines()) == 1


def test_config_shows_origins(cli, tmp_path):
    (tmp_path / "factcheck.toml").write_text("per_host_delay = 3.0\nretries = 5\n")
    r = cli("config", "--json", env={"FACTCHECK_RETRIES": "6"})
    assert r.code == 0, r.stderr
    rows = {x["name"]: x for x in json.loads(r.stdout)}
    assert rows["per_host_delay"]["value"] == 3.0 and rows["per_host_delay"]["origin"] == "file factcheck.toml"
    assert rows["retries"]["value"] == 6 and rows["retries"]["origin"] == "environment FACTCHECK_RETRIES"
    r = cli("--db", "sqlite:///other.db", "config", "--json")
    assert {x["name"]: x for x in json.loads(r.stdout)}["db"]["origin"] == "flag"


def test_bad_config_file_is_an_error(cli, tmp_path):
    (tmp_path / "factcheck.toml").write_text("retries = 'lots'\n")
    r = cli("config")
    assert r.code == 1 and r.stderr.startswith("Error:") and "retries" in r.stderr


def test_help_everywhere(cli):
    for args in (("--help",), ("claims", "--help"), ("claims", "import", "--help"), ("sources", "list", "--help")):
        r = cli(*args)
        assert r.code == 0 and "Usage" in r.stdout


def test_the_sample_case_runs_end_to_end(cli, tmp_path):
    """The English-restated sample case (the demo before it became `check` on a German article; the demo
    itself is tested in test_check.py) still imports, verifies to its expected verdicts and reports."""
    import yaml

    from factcheck.resources import sample_case

    assert cli("init").code == 0
    r = cli("claims", "import", str(sample_case()))
    assert r.code == 0, r.stderr
    r = cli("verify", "--json")
    assert r.code == 0, r.stderr
    rows = json.loads(r.stdout)
    sample = yaml.safe_load((Path(__file__).parent.parent / "claims" / "sample.yaml").read_text())
    expected = {c["id"]: c["expected"] for c in sample["claims"]}
    assert {x["id"]: x["verdict"] for x in rows} == expected
    assert {"verified", "contested", "unverified"} <= set(expected.values())
    for row in rows:
        assert row["rationale"]
        if row["verdict"] != "unverified":
            assert row["evidence"] and all(len(e["snapshot_sha256"]) == 64 for e in row["evidence"])
    report = tmp_path / "factcheck-report.html"
    assert re.search(r"^Audit head: event \d+ [0-9a-f]{64}$", r.stderr, re.MULTILINE)  # it changed the desk
    assert cli("report", "--format", "html", "-o", str(report)).code == 0 and report.is_file()
    again = cli("verify")  # a second run re-uses the desk: same claims, a new run
    assert again.code == 0 and "S3" in again.stdout
