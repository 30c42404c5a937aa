"""examples/check-changed.sh, the README's CI step as a plain shell script: it checks the articles changed
since a git ref with `factcheck check` and fails (exit 1) when a claim is contested."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from factcheck.judge import semantic
from tests.demo_site import serve_demo_sources

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "examples" / "check-changed.sh"

pytestmark = pytest.mark.skipif(shutil.which("git") is None or shutil.which("sh") is None,
                                reason="needs git and a POSIX shell")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTCHECK_")}
    env.update({"PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
                "FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "1", "FACTCHECK_PER_HOST_DELAY": "0", "FACTCHECK_NLI": "off",
                "FACTCHECK_USER": "ci", "GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.invalid",
                "GIT_COMMITTER_NAME": "ci", "GIT_COMMITTER_EMAIL": "ci@example.invalid"})
    return env


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=_env(), check=True, capture_output=True)


def _script(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPT), *args], cwd=repo, env=_env(), capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def newsroom(tmp_path: Path, httpserver: HTTPServer) -> Path:
    """A git repository of articles: a first commit, then a commit adding the demo article, whose source
    names link to their pages on a local server."""
    _base, html = serve_demo_sources(httpserver)
    repo = tmp_path / "newsroom"
    (repo / "articles").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "articles" / "README").write_text("articles go here\n", encoding="utf-8")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "articles" / "halvard wachstum.html").write_text(html, encoding="utf-8")
    (repo / "articles" / "picture.png").write_bytes(b"\x89PNG not an article")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "an article")
    return repo


@pytest.mark.skipif(not semantic.available(), reason="the multilingual sentence encoder is not installed")
def test_the_script_fails_on_a_contested_claim(newsroom: Path) -> None:
    p = _script(newsroom, "HEAD~1")
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "== articles/halvard wachstum.html" in p.stdout and "picture.png" not in p.stdout
    assert "contested" in p.stdout and "checked 1 changed article(s)" in p.stdout
    assert (newsroom / "reports" / "halvard wachstum.html").is_file()


def test_nothing_changed_passes(newsroom: Path) -> None:
    p = _script(newsroom, "HEAD")
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "checked 0 changed article(s)" in p.stdout


def test_a_bad_ref_is_a_usage_error(newsroom: Path) -> None:
    p = _script(newsroom, "no-such-ref")
    assert p.returncode == 2, (p.stdout, p.stderr)
