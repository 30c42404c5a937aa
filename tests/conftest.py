"""Shared fixtures: an in-memory SQLite desk, a throwaway PostgreSQL desk, and the real CLI entry point.

PostgreSQL tests skip with a reason when no server answers, unless FACTCHECK_REQUIRE_POSTGRES=1
(CI sets it), in which case they fail: CI never passes by skipping them.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from factcheck.desk.db import Desk, check_ready, upgrade
from factcheck.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("FACTCHECK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("FACTCHECK_REQUIRE_POSTGRES") == "1"
BENCH_DIR = Path(os.environ.get("FACTCHECK_BENCH_DIR", REPO.parent / "shared" / "bench"))
FIXTURE_ARTICLE = Path(
    os.environ.get("FACTCHECK_FIXTURES_DIR", REPO.parent / "shared" / "fixtures")
) / "seed-article-eulerpool-2025-09-01.txt"


@pytest.fixture(autouse=True)
def _no_entailment_model_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verdicts in tests are those of the rules alone (the library's default and the CLI's), whether or not
    a reader ships in this checkout; the tests of the reader turn it on themselves."""
    from factcheck.judge import verdict

    monkeypatch.setenv("FACTCHECK_NLI", "off")
    monkeypatch.setitem(verdict.DEFAULT_SETTINGS, "nli", "off")


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # any failure means "no server here"
        return str(exc).splitlines()[0]


@functools.cache
def pg_problem() -> str | None:
    """Why PostgreSQL cannot be used (asked once per test session), or None when it answers."""
    return _pg_available()


@pytest.fixture(scope="session")
def pg_server() -> str:
    problem = pg_problem()
    if problem:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (FACTCHECK_REQUIRE_POSTGRES=1) but unreachable: {problem}")
        pytest.skip(f"no PostgreSQL at {PG_ADMIN_URL} ({problem}); set FACTCHECK_TEST_PG to test it")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"factcheck_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    base = pg_server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class DeskEnv:
    desk: Desk
    settings: Settings
    url: str
    folder: Path


def _make_desk(url: str, folder: Path) -> DeskEnv:
    env = {"FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "1", "FACTCHECK_PER_HOST_DELAY": "0"}
    settings = load_settings({"db": url, "evidence_dir": str(folder / "evidence")}, environ=env, desk_dir=folder)
    desk = Desk(url, check=False)
    upgrade(desk.engine)
    check_ready(desk.engine)
    return DeskEnv(desk, settings, url, folder)


@pytest.fixture
def sqlite_desk(tmp_path: Path) -> Iterator[DeskEnv]:
    env = _make_desk(f"sqlite:///{tmp_path / 'desk.db'}", tmp_path)
    yield env
    env.desk.dispose()


@pytest.fixture
def memory_desk(tmp_path: Path) -> Iterator[DeskEnv]:
    env = _make_desk("sqlite://", tmp_path)
    yield env
    env.desk.dispose()


@pytest.fixture
def pg_desk(pg_url: str, tmp_path: Path) -> Iterator[DeskEnv]:
    env = _make_desk(pg_url, tmp_path)
    yield env
    env.desk.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeskEnv]:
    """The same test on an in-memory SQLite desk and on a throwaway PostgreSQL desk."""
    if request.param == "sqlite":
        env = _make_desk("sqlite://", tmp_path)
        yield env
        env.desk.dispose()
    else:
        url = request.getfixturevalue("pg_url")
        env = _make_desk(url, tmp_path)
        yield env
        env.desk.dispose()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


FACTCHECK_BIN = shutil.which("factcheck", path=str(Path(sys.executable).parent)) or "factcheck"


@pytest.fixture
def cli(tmp_path: Path) -> object:
    """Run the installed `factcheck` console script in tmp_path (the desk folder)."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            input: str | None = None) -> CliResult:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("FACTCHECK_")}
        full_env.update({"FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "1", "COLUMNS": "200", "FACTCHECK_USER": "tester",
                         "FACTCHECK_NLI": "off"})
        full_env.update(env or {})
        p = subprocess.run([FACTCHECK_BIN, *args], cwd=cwd or tmp_path, env=full_env, input=input,
                           capture_output=True, text=True, timeout=300)
        return CliResult(p.returncode, p.stdout, p.stderr)

    return run


@pytest.fixture(params=["sqlite", "postgresql"])
def cli_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A desk URL the command line (a subprocess) can open: a SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'desk.db'}"
    return str(request.getfixturevalue("pg_url"))


# Files whose module-scoped fixtures are costly (a wheel built and installed, a reader trained, a browser
# started, hypothesis desks): under pytest-xdist (`-n auto --dist loadgroup`, as CI runs) each stays on one
# worker, so the fixture is made once; every other test is handed out on its own.
_ONE_WORKER_MODULES = ("test_wheel", "test_entail", "test_fuzz", "test_ingest_text", "test_report_render",
                       "test_web_browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        name = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        if name in _ONE_WORKER_MODULES:
            item.add_marker(pytest.mark.xdist_group(name))


@pytest.fixture(params=["sqlite", "postgresql"])
def verify_seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Desk, Settings]]:
    """A small desk of every kind of claim the verify bench seeds (tied, cited, none, German, statement,
    a claim of a captured article), and its settings (reader off)."""
    from tests.bench_modules import load_benchmark

    url = f"sqlite:///{tmp_path / 'desk.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    load_benchmark("verify_bench").build(url, 3000, 120, german=0.15)
    settings = load_settings({"db": url, "evidence_dir": str(tmp_path / "evidence"), "nli": "off"}, environ={},
                             desk_dir=tmp_path)
    desk = Desk(url, check=False)
    yield desk, settings
    desk.dispose()


def old_desk(path: Path, revision: str, passages: list[str]) -> Desk:
    """A SQLite desk at an earlier schema `revision` holding one snapshot with `passages` (rows written the
    way that revision had them), for tests of what a later migration does to existing rows."""
    from alembic import command

    from factcheck.desk.db import alembic_config
    from factcheck.desk.models import utcnow

    desk = Desk(f"sqlite:///{path}", check=False)
    command.upgrade(alembic_config(desk.engine), revision)
    with desk.engine.begin() as c:
        c.execute(text("INSERT INTO snapshot (url, sha256, headers, redirects, fetched_at, origin, text, meta) "
                       "VALUES ('https://a.example/', :sha, '{}', '[]', :at, 'file', :text, '{}')"),
                  {"sha": "0" * 64, "at": utcnow(), "text": " ".join(passages)})
        c.execute(text('INSERT INTO passage (snapshot_id, seq, start, "end", text) VALUES (1, :seq, :start, :end, :t)'),
                  [{"seq": i, "start": 0, "end": len(t), "t": t} for i, t in enumerate(passages)])
    return desk
