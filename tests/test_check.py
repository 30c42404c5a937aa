"""`factcheck check`: one run for one article through the real entry point, from files and from a local
server; the documented exit codes (0 nothing to look at, 1 fail-on reached, 2 usage, 3 incomplete); the
JSON object against the shipped schema; a re-run re-uses the archive and records a new run.

The verdicts come from the desk's own reading of German claims against English pages (the multilingual
encoder and the word gloss; the reader is left off as in every test): the bundled demo material."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import jsonschema
import pytest
import yaml
from pytest_httpserver import HTTPServer

from factcheck.judge import semantic
from factcheck.report import load_schema
from tests.demo_site import serve_demo_sources

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "evidence" / "demo"
JOB = yaml.safe_load((REPO / "claims" / "demo.yaml").read_text(encoding="utf-8"))
EXPECTED: dict[str, str] = JOB["expected"]

needs_encoder = pytest.mark.skipif(not semantic.available(),
                                   reason="the multilingual sentence encoder is not installed")
ENV = {"FACTCHECK_PER_HOST_DELAY": "0"}


def _article_txt(tmp_path: Path) -> Path:
    """The demo article as a plain-text file (a CMS export): heading, then one paragraph per line."""
    html = (DEMO / "halvard-artikel.html").read_text(encoding="utf-8")
    body = html.split("<article>")[1].split("</article>")[0]
    paras = [re.sub(r"<[^>]+>", "", p).strip() for p in re.findall(r"<(?:h1|p)>(.*?)</(?:h1|p)>", body)]
    path = tmp_path / "article.txt"
    path.write_text("\n\n".join(paras) + "\n", encoding="utf-8")
    return path


def _verdicts(stdout: str) -> dict[str, str]:
    """Claim lines of the text output ("verdict  A1-3  source: claim ← quote"), by the expected words."""
    lines = [ln for ln in stdout.splitlines() if re.match(r"^(verified|contested|unverified)\s+A\d+-\d+\s", ln)]
    out = {}
    for words in EXPECTED:
        hits = [ln for ln in lines if words in ln]
        assert len(hits) == 1, (words, stdout)
        out[words] = hits[0].split()[0]
    return out


@needs_encoder
def test_check_files_on_a_fresh_desk(cli, tmp_path: Path) -> None:
    article = _article_txt(tmp_path)
    r = cli("check", str(article), "--evidence", str(DEMO / "tidewater-gazette.html"),
            "--evidence", str(DEMO / "brightline-analytics.html"), "--fail-on", "contested", env=ENV)
    assert r.code == 1, (r.stdout, r.stderr)  # contested claims: a person must look
    got = _verdicts(r.stdout)
    # the pages given speak for the sources their titles name; the Pine Street Wire page was not given
    want = {k: v for k, v in EXPECTED.items() if k != "40.000 Heimspeicher"}
    assert {k: got[k] for k in want} == want, r.stdout
    assert got["40.000 Heimspeicher"] != "contested"
    assert "contested" in r.stdout and "--fail-on contested: exit 1" in r.stdout
    assert "“According to the Brightline Analytics review, 58 percent" in r.stdout  # the quote on the line
    report = tmp_path / "factcheck-report.html"
    assert report.is_file() and f"Report: {report}" in r.stdout
    assert "Halvard" in report.read_text(encoding="utf-8")
    assert (tmp_path / "factcheck.db").is_file()  # the desk was created

    # the same with --fail-on never: nothing fails the pipeline
    r2 = cli("check", str(article), "--evidence", str(DEMO / "tidewater-gazette.html"),
             "--evidence", str(DEMO / "brightline-analytics.html"), "--fail-on", "never", env=ENV)
    assert r2.code == 0, r2.stderr
    assert _verdicts(r2.stdout) == got
    # --format md without -o: the Markdown report alone on standard output
    r3 = cli("check", str(article), "--format", "md", "--fail-on", "unverified", env=ENV)
    assert r3.code == 1 and r3.stdout.startswith("# ") and "A1-1" in r3.stdout and "verified " not in r3.stdout[:2]


def test_an_article_without_claims_is_nothing_to_look_at(cli, tmp_path: Path) -> None:
    article = tmp_path / "none.txt"
    article.write_text("Ein Titel ohne Aussagen\n\nDas Wetter war schön.\n", encoding="utf-8")
    r = cli("check", str(article), "--json")
    assert r.code == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["check"]["run"] is None and obj["check"]["claims"] == [] and obj["check"]["notes"]
    schema = load_schema()
    jsonschema.Draft202012Validator({"$ref": "#/$defs/check", "$defs": schema["$defs"]}).validate(obj["check"])


@needs_encoder
def test_check_source_mapping_json_against_the_schema(cli, tmp_path: Path) -> None:
    args = [f"--source={name}={DEMO / Path(f).name}" for name, f in JOB["sources"].items()]
    r = cli("check", str(DEMO / "halvard-artikel.html"), *args, "--format", "json", env=ENV)
    assert r.code == 1, r.stderr
    obj = json.loads(r.stdout)  # one object, nothing else on standard output
    jsonschema.Draft202012Validator(load_schema()).validate(obj)
    chk = obj["check"]
    assert chk["exit_code"] == 1 and chk["fail_on"] == "contested"
    assert chk["run"] == obj["scope"]["run"] and obj["runs"][0]["id"] == chk["run"]
    assert len(chk["article"]["snapshot_sha256"]) == 64
    assert chk["counts"] == {"verified": 3, "contested": 2, "unverified": 1}
    texts = {c["id"]: c["text"] for c in obj["claims"]}
    by_words = {w: next(c for c in chk["claims"] if w in texts[c["id"]]) for w in EXPECTED}
    assert {w: c["verdict"] for w, c in by_words.items()} == EXPECTED
    for c in by_words.values():
        if c["verdict"] != "unverified":
            assert c["quotes"] and all(len(q["snapshot_sha256"]) == 64 for q in c["quotes"])
    assert {e["source"] for e in chk["evidence"]} == set(JOB["sources"])
    assert "nli" in chk["settings"]
    assert not (tmp_path / "factcheck-report.html").exists()  # json without -o goes to standard output

    # --json is the same; -o writes the object to a file and prints the claim lines
    out = tmp_path / "check.json"
    r = cli("check", str(DEMO / "halvard-artikel.html"), *args, "--json", "-o", str(out), env=ENV)
    assert r.code == 1 and "Report:" in r.stderr
    again = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(load_schema()).validate(again)
    assert again["check"]["run"] == chk["run"] + 1  # a new run on the same article
    assert again["check"]["article"]["snapshot_sha256"] == chk["article"]["snapshot_sha256"]
    assert again["check"]["evidence"] and not any(e["claims"] for e in again["check"]["evidence"])
    assert _verdicts(r.stdout) == EXPECTED


@pytest.fixture
def served(httpserver: HTTPServer) -> str:
    """The demo article with links to its sources' pages, all on a local server."""
    base, html = serve_demo_sources(httpserver)
    httpserver.expect_request("/artikel").respond_with_data(html, content_type="text/html; charset=utf-8")
    return base


@needs_encoder
def test_check_an_article_url_from_a_local_server(cli, tmp_path: Path, served: str,
                                                  httpserver: HTTPServer) -> None:
    r = cli("check", f"{served}/artikel", "--fail-on", "contested", env=ENV)
    assert r.code == 1, (r.stdout, r.stderr)
    assert _verdicts(r.stdout) == EXPECTED
    fetched = [req.path for req, _ in httpserver.log if req.path != "/robots.txt"]
    assert sorted(fetched) == ["/artikel", "/brightline-analytics", "/pine-street-wire", "/tidewater-gazette"]

    # a re-run re-uses the archive: only the article is fetched again, and a new run is recorded
    httpserver.clear_log()
    r = cli("check", f"{served}/artikel", "--json", env=ENV)
    assert r.code == 1
    obj = json.loads(r.stdout)
    assert obj["check"]["fetch"] == [] and obj["check"]["run"] == 2
    assert [req.path for req, _ in httpserver.log if req.path != "/robots.txt"] == ["/artikel"]
    with sqlite3.connect(tmp_path / "factcheck.db") as db:
        assert db.execute("select count(*) from run").fetchone()[0] == 2
        assert db.execute("select count(distinct sha256) from snapshot").fetchone()[0] == 4


def test_usage_errors_exit_2(cli, tmp_path: Path) -> None:
    article = tmp_path / "a.txt"
    article.write_text("Laut der Tidewater Gazette will Halvard 800 Stellen schaffen.\n", encoding="utf-8")
    cases = [
        ("check",),
        ("check", str(tmp_path / "missing.txt")),
        ("check", str(article), "--evidence", str(tmp_path / "missing.html")),
        ("check", str(article), "--source", "no-equals-sign"),
        ("check", str(article), "--source", "Name="),
        ("check", str(article), "--fail-on", "sometimes"),
        ("check", str(article), "--format", "pdf"),
        ("check", str(article), "-o", str(tmp_path / "no" / "such" / "folder" / "r.html")),
    ]
    for args in cases:
        r = cli(*args)
        assert r.code == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.strip(), args
    assert not (tmp_path / "factcheck.db").exists()  # refused before the desk was touched


def test_help_documents_the_exit_codes(cli) -> None:
    r = cli("check", "--help")
    assert r.code == 0
    for line in ("0  nothing to look at", "1  a claim reached the --fail-on level", "2  usage error",
                 "3  the run could not complete"):
        assert line in r.stdout, r.stdout


def test_network_failure_exits_3(cli, tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/gone").respond_with_data("gone", status=404)
    r = cli("check", httpserver.url_for("/gone"), env=ENV | {"FACTCHECK_RETRIES": "0"})
    assert r.code == 3, (r.stdout, r.stderr)
    assert r.stderr.startswith("Error:") and "could not complete" in r.stderr and "Traceback" not in r.stderr

    # an evidence page that cannot be fetched: the claims are judged without it, and the run says so
    article = tmp_path / "a.txt"
    article.write_text("Halvard\n\nLaut der Tidewater Gazette will Halvard bis Ende 2027 rund 800 neue Stellen "
                       "schaffen.\n", encoding="utf-8")
    httpserver.expect_request("/broken").respond_with_data("oops", status=500)
    r = cli("check", str(article), "--evidence", httpserver.url_for("/broken"), "--fail-on", "contested",
            env=ENV | {"FACTCHECK_RETRIES": "0"})
    assert r.code == 3, (r.stdout, r.stderr)
    assert "could not fetch" in r.stderr and "unverified" in r.stdout


def test_desk_failure_exits_3(cli, tmp_path: Path) -> None:
    article = tmp_path / "a.txt"
    article.write_text("Laut der Tidewater Gazette will Halvard 800 Stellen schaffen.\n", encoding="utf-8")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    r = cli("--db", f"sqlite:///{blocker}/desk.db", "check", str(article))
    assert r.code == 3, (r.stdout, r.stderr)
    assert r.stderr.startswith("Error: folder for the desk does not exist") and "Traceback" not in r.stderr
    # a database server that does not answer
    r = cli("--db", "postgresql+psycopg://nobody@127.0.0.1:1/desk", "check", str(article))
    assert r.code == 3, (r.stdout, r.stderr)
    assert r.stderr.startswith("Error: cannot open the desk") and "could not complete" in r.stderr
    assert "Traceback" not in r.stderr


@needs_encoder
def test_demo_shows_the_german_workflow(cli, tmp_path: Path) -> None:
    r = cli("demo", env={"FACTCHECK_NLI": "auto"})
    assert r.code == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith("$ factcheck check halvard-artikel.html --source")
    assert _verdicts(r.stdout) == EXPECTED
    assert {"verified", "contested", "unverified"} <= set(EXPECTED.values())
    report = tmp_path / "factcheck-report.html"
    assert f"Report: {report}" in r.stdout and report.is_file()
    r = cli("demo", "--json", env={"FACTCHECK_NLI": "auto"})
    assert r.code == 0, r.stderr
    obj = json.loads(r.stdout)
    jsonschema.Draft202012Validator(load_schema()).validate(obj)
    assert obj["check"]["run"] == 2


def test_check_article_on_both_desks(desk) -> None:  # type: ignore[no-untyped-def]
    """The library call on SQLite and PostgreSQL: pages tied to the claims citing their source, a run per
    call, and a second call re-using everything stored (no new snapshot, no new tie, a new run)."""
    from sqlalchemy import func, select

    from factcheck.desk.check import EvidenceGiven, check_article, load_demo
    from factcheck.desk.models import AuditEvent, ClaimEvidence, Snapshot
    from factcheck.resources import demo_job

    job = load_demo(demo_job())
    first = check_article(desk.desk, desk.settings, str(job.article), actor="tester", evidence=job.evidence)
    assert len(first.claims) == 6 and sum(first.counts.values()) == 6
    tied = {a.source: set(a.claims) for a in first.attached}
    assert set(tied) == set(JOB["sources"])
    brightline = {c["id"] for c in first.claims if "Brightline Analytics" in c["cited"]}
    assert tied["Brightline Analytics"] == brightline and len(brightline) == 2
    assert first.fetch.rows == [] and not first.fetch_failed  # saved files: nothing to fetch

    with desk.desk.session() as s:
        snaps = s.execute(select(func.count()).select_from(Snapshot)).scalar_one()
        links = s.execute(select(func.count()).select_from(ClaimEvidence)).scalar_one()
        events = s.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    again = check_article(desk.desk, desk.settings, str(job.article), actor="tester",
                          evidence=[EvidenceGiven(g.ref, g.source) for g in job.evidence])
    assert again.run_id == first.run_id + 1 and not any(a.claims for a in again.attached)
    assert [c["id"] for c in again.claims] == [c["id"] for c in first.claims]
    with desk.desk.session() as s:
        assert s.execute(select(func.count()).select_from(Snapshot)).scalar_one() == snaps
        assert s.execute(select(func.count()).select_from(ClaimEvidence)).scalar_one() == links
        new = s.execute(select(AuditEvent.action).where(AuditEvent.id > events)).scalars().all()
    # the second call only judged: no claim, article or evidence changed
    assert sorted(set(new)) == ["article.ingest", "verdict.machine", "verify.run"], new
