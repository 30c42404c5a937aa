"""Property-based fuzzing of the whole command line with hostile text (Hypothesis).

Arbitrary text, weighted towards what has broken the desk before (rich markup brackets, backslashes,
ESC and other C0/C1 controls, bidi overrides, NUL, lone surrogates, emoji codes), goes into a case file
as claim text, statement, claim id and source name, and through import → claims list → claims show →
sources/evidence list → verify → report (md, csv, html, json). Every command must end with exit 0, or
exit 1 and exactly one `Error:` line, never a traceback; the terminal never receives a raw ESC or bidi
control; and the JSON outputs give the text back exactly as stored.

The example budget is fixed and the run derandomized, so CI always runs the same examples; the commands
run in-process (the real `main`, as the console script calls it) to keep the budget affordable.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import string
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from factcheck.cli import main
from factcheck.text.display import BIDI_CONTROLS

HOSTILE = ["[", "]", "/", "\\", "[/]", "[red]", "[/red]", "[bold]", "[link=x]", ":smile:", "\x1b", "\x1b[2J",
           "\x1b]8;;", "\x07", "\x08", "\r", "\n", "\t", "\x7f", "\x85", "\x9b", "\u202e", "\u2066", "\u2069",
           "\ufeff", "\u200b", "'", '"', "#", "&", "<", ">", "{", "}", "%", "*", ": ", "- ", "ä", "ß", "€", "😀", " "]
REFUSED = ["\x00", "\ud800", "\udfff"]  # the desk refuses these (NUL, lone surrogates) with one clear line
pieces = st.sampled_from(HOSTILE) | st.text(string.ascii_letters + string.digits, min_size=1, max_size=6) \
    | st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
hostile_text = st.lists(pieces, min_size=1, max_size=12).map("".join)
# only the claim text may also hold what is refused, so most examples go the whole way
claim_text = st.lists(pieces | st.sampled_from(REFUSED), min_size=1, max_size=12).map("".join)

ENV = {"FACTCHECK_USER": "fuzzer", "FACTCHECK_NLI": "off", "FACTCHECK_CROSSLINGUAL": "off",
       "FACTCHECK_SEMANTIC": "off", "COLUMNS": "160"}
ENV_DB: dict[Path, str] = {}  # desk folder -> its PostgreSQL URL (SQLite desks use factcheck.db in the folder)
SCREEN_UNSAFE = ("\x1b", "\x9b", *BIDI_CONTROLS)


@contextlib.contextmanager
def environment(folder: Path) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    for key in [k for k in os.environ if k.startswith("FACTCHECK_")]:
        del os.environ[key]
    os.environ.update(ENV)
    os.environ["FACTCHECK_DIR"] = str(folder)
    if folder in ENV_DB:
        os.environ["FACTCHECK_DB"] = ENV_DB[folder]
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    stdout, stderr = out.getvalue(), err.getvalue()
    assert "Traceback" not in stderr, (args, stderr)
    assert code in (0, 1), (args, code, stderr)
    if code == 1:
        errors = [ln for ln in stderr.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1, (args, stderr)
    if "--json" not in args and args[0] != "report":  # reports are files; --json is JSON's own escaping
        for raw in SCREEN_UNSAFE:
            assert raw not in stdout and raw not in stderr, (args, repr(raw))
    return code, stdout, stderr


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One desk for all examples of a run (each example files its own case), on each database."""
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    db_name = None
    if request.param == "postgresql":
        from conftest import PG_ADMIN_URL, REQUIRE_PG, pg_problem
        from sqlalchemy import create_engine, text

        problem = pg_problem()
        if problem:
            if REQUIRE_PG:
                pytest.fail(f"PostgreSQL is required but unreachable: {problem}")
            pytest.skip(f"no PostgreSQL ({problem})")
        db_name = f"factcheck_fuzz_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{db_name}" TEMPLATE template0'))
        ENV_DB[folder] = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db_name
    with environment(folder):
        assert run("init")[0] == 0
        db = {r["name"]: r["value"] for r in json.loads(run("config", "--json")[1])}["db"]
        assert db.startswith(request.param), db
    yield folder
    if db_name:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()


COUNTER = iter(range(10**6))


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints its example; CI stays short
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(text=claim_text, statement=hostile_text, claim_id=hostile_text, source=hostile_text)
def test_hostile_text_through_every_command(desk_folder: Path, text: str, statement: str, claim_id: str,
                                            source: str) -> None:
    n = next(COUNTER)
    case, url = f"fuzz-{n}", f"https://example.org/fuzz-{n}"
    source = f"S{n} {source}"  # one source per example (the registry matches names loosely)
    folder = desk_folder / "claims" / case
    (folder / "pages").mkdir(parents=True)
    page = (f"<html><head><title>{html.escape(text)}</title></head><body><article><p>{html.escape(text)}</p>"
            f"<p>{html.escape(statement)} steht hier.</p></article></body></html>")
    (folder / "pages" / "p.html").write_text(page, encoding="utf-8", errors="surrogatepass")
    data = {"case": case, "sources": [{"name": source}],
            "evidence": [{"url": url, "source": source, "file": "pages/p.html"}],
            "claims": [{"id": claim_id, "text": text, "statement": statement, "cited": [source],
                        "evidence": [url]}]}
    path = folder / "case.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML; every odd character \u-escaped

    with environment(desk_folder):
        code, out, _err = run("claims", "import", str(path), "--json")
        if code == 1:  # refused (empty after trimming, NUL, lone surrogate, bad page …): nothing stored
            assert case not in {c["case"] for c in json.loads(run("claims", "list", "--json")[1])}
            return
        stored = {"id": claim_id.strip(), "text": text.strip(), "statement": statement.strip() or None}
        ref = f"{case}:{stored['id']}"  # ids repeat across examples; CASE:ID names one
        listed = [c for c in json.loads(run("claims", "list", "--case", case, "--json")[1])]
        assert [(c["id"], c["text"], c["statement"]) for c in listed] == [tuple(stored.values())]
        shown = json.loads(run("claims", "show", ref, "--json")[1])
        assert (shown["id"], shown["text"], shown["statement"]) == tuple(stored.values())
        assert shown["cited"] == [source.strip()]
        for args in (("claims", "list"), ("claims", "show", ref), ("sources", "list"),
                     ("evidence", "list"), ("evidence", "show", url), ("triage",), ("audit", "log", "--limit", "5")):
            assert run(*args)[0] == 0, args
        code, out, _err = run("verify", "--case", case)
        assert code == 0
        verified = json.loads(run("claims", "show", ref, "--json")[1])
        assert verified["text"] == stored["text"] and verified["verdict"] is not None
        for fmt in ("md", "csv", "html"):
            code, out, _err = run("report", "-f", fmt, "--case", case)
            assert code == 0, fmt
        code, out, _err = run("report", "-f", "json", "--case", case)
        assert code == 0
        claims = json.loads(out)["claims"]
        assert [(c["id"], c["text"], c["statement"]) for c in claims] == [tuple(stored.values())]
