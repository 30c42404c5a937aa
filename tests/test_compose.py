"""compose.yaml and the Dockerfile against the command line they run: every `factcheck …` command the file
starts (service commands, and the `docker compose run --rm cli …` examples in its comments) exists with those
options and arguments, every FACTCHECK_* variable is a setting with a valid value, and the image is built from
folders the repository has. No Docker daemon is needed; `docker compose config` (or `docker-compose config`)
validates the file too where a compose client is installed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from factcheck.cli.app import cli

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DESK_IMAGE_SERVICES = ("init", "web", "worker", "cli")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def parse_command(args: list[str]) -> click.Context:
    """Parse `factcheck ARGS` down to the command it names, as click would before running it (options,
    choices, types and arguments checked; nothing run); raises click's usage errors."""
    ctx = cli.make_context("factcheck", list(args))
    cmd: click.Command = cli
    while isinstance(cmd, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            break
        name, sub, rest = cmd.resolve_command(ctx, rest)
        assert sub is not None and name is not None, f"factcheck has no command {rest[0]!r}"
        ctx = sub.make_context(name, rest, parent=ctx)
        cmd = sub
    return ctx


def test_parse_command_refuses_what_the_cli_does_not_have():
    """The checker itself can fail: an unknown command, option or choice is refused."""
    assert parse_command(["worker", "--concurrency", "4"]).params["concurrency"] == 4
    for bad in (["wroker"], ["worker", "--concurency", "4"], ["worker", "--concurrency", "0"],
                ["jobs", "--state", "bogus"], ["serve", "--port", "http"]):
        with pytest.raises((click.UsageError, click.BadParameter, AssertionError)):
            parse_command(bad)


def test_the_image_runs_factcheck_and_is_built_from_the_repository():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r'^ENTRYPOINT \["factcheck"\]$', text, re.M)
    for src in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for name in src.split():
            assert (ROOT / name).exists(), f"the Dockerfile copies {name}, which the repository lacks"
    assert re.search(r"^ENV FACTCHECK_DIR=/desk$", text, re.M)


def test_every_desk_service_runs_a_factcheck_command_that_exists(compose):
    services = compose["services"]
    assert set(DESK_IMAGE_SERVICES) | {"db"} <= set(services)
    commands = {}
    for name in DESK_IMAGE_SERVICES:
        svc = services[name]
        assert svc["build"] == "." and svc["image"] == "factcheck"
        assert "/desk" in [v.split(":")[1] for v in svc["volumes"]]  # the desk folder FACTCHECK_DIR names
        if "command" in svc:
            commands[name] = parse_command(svc["command"])
    assert commands["init"].command.name == "init"
    assert commands["worker"].command.name == "worker" and commands["worker"].params["concurrency"] >= 1
    web = commands["web"]
    assert web.command.name == "serve" and web.params["host"] == "0.0.0.0"
    assert f"127.0.0.1:{web.params['port']}:{web.params['port']}" in services["web"]["ports"]


def test_the_examples_in_the_files_comments_are_commands_that_exist(compose):
    examples = re.findall(r"^#[ \t]+docker compose run --rm cli (.+?)[ \t]*(?:#.*)?$",
                          COMPOSE.read_text(encoding="utf-8"), re.M)
    assert len(examples) >= 3
    for line in examples:
        parse_command(shlex.split(line))
    scaled = re.findall(r"--scale (\w+)=\d+", COMPOSE.read_text(encoding="utf-8"))
    assert scaled and set(scaled) <= set(compose["services"])


def test_environment_names_settings_and_the_database_service(compose):
    from factcheck.desk.db import normalise_url
    from factcheck.settings import DEFINITIONS, ENV_PREFIX, load_settings

    services = compose["services"]
    db = services["db"]["environment"]
    for name in DESK_IMAGE_SERVICES:
        svc = services[name]
        env = {k: str(v) for k, v in svc["environment"].items()}
        for key in env:
            assert key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX):].lower() in DEFINITIONS, key
        settings = load_settings(environ=env, desk_dir=Path("/nonexistent-desk"))  # values valid for their type
        url = normalise_url(str(settings.db))
        assert url == (f"postgresql+psycopg://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@db:5432/"
                       f"{db['POSTGRES_DB']}"), f"{name} does not reach the db service's database"
        assert settings.workers == "on"
        deps = svc.get("depends_on", {})
        assert ("db" in deps) or ("init" in deps), f"{name} starts before the database is ready"
    # listening on every address, the web desk needs the host names it answers to (`serve` refuses otherwise)
    assert services["web"]["environment"].get("FACTCHECK_WEB_HOSTS")
    assert services["worker"]["depends_on"]["init"]["condition"] == "service_completed_successfully"


@pytest.mark.skipif(not (shutil.which("docker-compose") or shutil.which("docker")), reason="no compose client")
def test_a_compose_client_accepts_the_file():
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if not shutil.which(cmd[0]):
            continue
        probe = subprocess.run([*cmd, "version"], capture_output=True, text=True)
        if probe.returncode != 0:
            continue
        r = subprocess.run([*cmd, "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True,
                           cwd=ROOT)
        assert r.returncode == 0, r.stderr
        return
    pytest.skip("no working compose client (docker compose or docker-compose)")
