"""The built wheel is the product: build it, check what it carries, install it into a fresh virtual
environment (dependencies from the package registry) and run the bundled sample case from an empty folder.

This proves that everything the program runs on (migrations, the sample case and its saved pages, the report's
JSON Schema, the web desk's templates and stylesheet) travels inside the package, and that nothing of the
checkout (tests/, the evidence archive under evidence/warc) does.

Without a registry (offline) or a build frontend the tests skip and say why, unless FACTCHECK_REQUIRE_WHEEL=1
(CI sets it): then they fail, so CI never passes by skipping them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
REQUIRE = os.environ.get("FACTCHECK_REQUIRE_WHEEL") == "1"

pytestmark = pytest.mark.slow

# What pip and the build frontend print when the registry cannot be reached.
_OFFLINE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution"
    r"|Name or service not known|Network is unreachable|Connection refused|ConnectTimeout|ReadTimeout"
    r"|Max retries exceeded|ProxyError|Could not fetch URL|No matching distribution found"
    r"|Could not find a version that satisfies"
)
# The checkout's own clutter, never part of a build's input.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache",
    ".mypy_cache", ".import_linter_cache", "bench-out", "node_modules",
)


def _unavailable(reason: str) -> None:
    """Skip with the reason, or fail when the wheel test is required."""
    if REQUIRE:
        pytest.fail(f"the wheel test is required (FACTCHECK_REQUIRE_WHEEL=1) but cannot run: {reason}")
    pytest.skip(f"{reason}; set FACTCHECK_REQUIRE_WHEEL=1 to make this a failure")


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(cmd: list[str], *, timeout: float, what: str, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run a build or install step; a registry that cannot be reached (or answers too slowly) is a reason
    to skip, any other failure is a failure."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    except subprocess.TimeoutExpired:
        _unavailable(f"{what} took over {timeout:.0f} s (is the package registry reachable?)")
        raise AssertionError("unreachable") from None
    if proc.returncode != 0:
        out = proc.stdout + proc.stderr
        hits = [line.strip() for line in out.splitlines() if _OFFLINE.search(line)]
        if hits:
            _unavailable(f"{what} could not reach the package registry ({hits[-1]})")
        pytest.fail(f"{what} failed (exit {proc.returncode}):\n{_tail(out)}")
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the working tree (so the checkout gets no build/ or egg-info, and a
    stale build/ folder cannot leak into it). The copy also holds a planted capture under evidence/warc, the
    desk's archive folder, which must stay out of the wheel."""
    base = tmp_path_factory.mktemp("wheel")
    src, dist = base / "src", base / "dist"
    shutil.copytree(REPO, src, ignore=_NOT_SOURCE)
    planted = src / "evidence" / "warc" / "ab" / "planted.warc.gz"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(b"not part of the package")

    try:
        import build  # noqa: F401

        cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(src)]
    except ImportError:
        if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
            _unavailable("neither `build` nor pip is installed here, so the wheel cannot be built")
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(src)]
    _run(cmd, timeout=600, what="building the wheel")
    wheels = sorted(dist.glob("factcheck-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {dist}, found {[w.name for w in wheels]}"
    return wheels[0]


def test_wheel_carries_the_program_files_and_nothing_of_the_checkout(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())

    def missing(expected: list[str]) -> list[str]:
        return sorted(n for n in expected if n not in names)

    def repo_files(folder: str, pattern: str) -> list[str]:
        found = sorted(p.name for p in (REPO / folder).glob(pattern))
        assert found, f"the checkout has no {folder}/{pattern}"
        return found

    expected = [
        "factcheck/py.typed",
        "factcheck/migrations/env.py",
        "factcheck/migrations/script.py.mako",
        "factcheck/claims/sample.yaml",
        "factcheck/report/schema.json",
        "factcheck/web/static/desk.css",
        # the shipped reader: what the default install judges with, without torch
        "factcheck/judge/reader_model/model.onnx",
        "factcheck/judge/reader_model/tokenizer.json",
        "factcheck/judge/reader_model/factcheck-nli.json",
    ]
    expected += [f"factcheck/migrations/versions/{n}" for n in repo_files("migrations/versions", "[0-9]*.py")]
    expected += [f"factcheck/evidence/sample/{n}" for n in repo_files("evidence/sample", "*.html")]
    expected += [f"factcheck/evidence/demo/{n}" for n in repo_files("evidence/demo", "*.html")]
    expected += ["factcheck/claims/demo.yaml"]
    expected += [f"factcheck/web/templates/{n}" for n in repo_files("factcheck/web/templates", "*.html")]
    assert not missing(expected), f"the wheel lacks {missing(expected)}"

    # Only the package and its metadata: no tests/, benchmarks/, top-level migrations/ and so on.
    stray = sorted(n for n in names if not (n.startswith("factcheck/") or n.split("/")[0].endswith(".dist-info")))
    assert not stray, f"the wheel carries files outside the package: {stray}"
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n]
    warc = sorted(n for n in names if "evidence/warc" in n or n.endswith((".warc", ".warc.gz")))
    assert not warc, f"the wheel carries the evidence archive: {warc}"


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel and its dependencies (from the registry; pip's cache
    makes this quick after the first time). Returns its bin/ folder."""
    env_dir = tmp_path_factory.mktemp("venv") / "venv"
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    except Exception as exc:  # no ensurepip (e.g. Debian without python3-venv), read-only tmp, ...
        _unavailable(f"cannot create a virtual environment with pip: {exc}")
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", str(wheel)],
         timeout=1200, what="installing the wheel with its dependencies", env=_clean_env(None))
    return bindir


def _clean_env(home: Path | None) -> dict[str, str]:
    """The environment minus anything that would point the program at the checkout or a developer's desk."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FACTCHECK_") and k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    if home is not None:  # a fresh user: no settings, no built entailment model, nothing cached
        env["HOME"] = str(home)
        env["XDG_CACHE_HOME"] = str(home / ".cache")
        env["XDG_CONFIG_HOME"] = str(home / ".config")
        env["COLUMNS"] = "250"  # the verdict table on one line per claim
    return env


def test_installed_wheel_runs_the_sample_case_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    folder, home = tmp_path / "desk", tmp_path / "home"
    folder.mkdir()
    home.mkdir()
    env = _clean_env(home)
    env["PATH"] = os.pathsep.join([str(installed), env.get("PATH", "")])
    factcheck = str(installed / "factcheck")

    def run(*args: str) -> str:
        proc = subprocess.run([factcheck, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"factcheck {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    # The program comes from the installed wheel, not from the checkout.
    where = subprocess.run([str(installed / "python"), "-c", "import factcheck; print(factcheck.__file__)"],
                           cwd=folder, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).resolve().is_relative_to(installed.parent.resolve()), where

    assert "ready" in run("init")
    assert (folder / "factcheck.db").exists()

    # the demo: `check` on the bundled German article; every claim gets the verdict claims/demo.yaml expects
    out = run("demo")
    assert out.startswith("$ factcheck check halvard-artikel.html"), out
    job = yaml.safe_load((REPO / "claims" / "demo.yaml").read_text(encoding="utf-8"))
    lines = [ln for ln in out.splitlines() if re.match(r"^(verified|contested|unverified)\s+A\d+-\d+\s", ln)]
    shown = {}
    for words in job["expected"]:
        hits = [ln for ln in lines if words in ln]
        assert len(hits) == 1, (words, out)
        shown[words] = hits[0].split()[0]
    assert shown == job["expected"], out
    assert "sha256" in out
    report = folder / "factcheck-report.html"
    assert report.exists(), out
    html = report.read_text(encoding="utf-8")
    assert "<html" in html.lower() and "Halvard" in html

    assert "Usage" in run("serve", "--help")
    # The sample's pages were archived into this folder's evidence/, not into the installed package.
    assert any((folder / "evidence").rglob("*.warc.gz"))
