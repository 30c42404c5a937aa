"""The shared application object of the command line: settings, the desk, output, the root group and the
error translation every command goes through (library errors become one `Error: …` line, never a traceback)."""

from __future__ import annotations

import getpass
import importlib
import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from factcheck import __version__
from factcheck.desk.db import Desk
from factcheck.errors import FactcheckError
from factcheck.settings import Settings, load_settings
from factcheck.text.display import visible

F = TypeVar("F", bound=Callable[..., Any])
# no emoji codes and no highlighting: what the desk stores is printed as it is (see text.display.for_terminal)
out = Console(highlight=False, soft_wrap=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)


class App:
    """Per-invocation state: resolved settings and, on demand, the desk."""

    def __init__(self, flags: dict[str, Any]) -> None:
        self.flags = flags
        self._settings: Settings | None = None
        self._desk: Desk | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.flags)
        return self._settings

    def desk(self, *, check: bool = True, pool: int | None = None) -> Desk:
        """The desk, opened once; `pool`: the most connections kept (a server, see `Desk`)."""
        if self._desk is None:
            from factcheck.desk.audit import read_key

            key_path = self.settings.audit_key_path
            self._desk = Desk(self.settings.db, check=check, head_file=self.settings.audit_head_path,
                              head_key=read_key(key_path) if key_path is not None else None, pool=pool)
        return self._desk

    def note_head(self) -> None:
        """After a command that changed the desk: its audit head, on stderr (stdout stays the command's)."""
        if self._desk is None:
            return
        if self._desk.head_problem:
            click.echo(f"Warning: {self._desk.head_problem}", err=True)
        head = self._desk.last_head
        if head is not None and head.event_id is not None:
            click.echo(f"Audit head: event {head.event_id} {head.hash}", err=True)

    def actor(self, by: str | None = None) -> str:
        return by or self.settings.user or os.environ.get("USER") or getpass.getuser() or "unknown"


pass_app = click.make_pass_decorator(App)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(f)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# Which modules define each top-level command. A command's modules are imported when it is asked for, so
# `factcheck fetch` does not pay for the report, the web desk, the reader or the job queue (start-up is part
# of every command's time). Groups that several modules extend list every one of them.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "init": ("desk",), "config": ("desk",), "sources": ("desk",), "fetch": ("desk",), "extract": ("desk",),
    "verify": ("desk",), "runs": ("desk",),
    "claims": ("desk", "newsroom"), "evidence": ("desk", "check"),
    "check": ("check",), "demo": ("check",),
    "triage": ("triage",), "review": ("triage",), "audit": ("triage",),
    "report": ("report",), "ingest": ("ingest",), "serve": ("web",), "users": ("web",), "nli": ("nli",),
    "worker": ("jobs",), "jobs": ("jobs",),
}


class LazyGroup(click.Group):
    """The root group: each command module is imported the first time one of its commands is needed."""

    def _load(self, name: str) -> None:
        for module in COMMAND_MODULES.get(name, ()):
            importlib.import_module(f"factcheck.cli.{module}")  # the module registers its commands on `cli`

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands or cmd_name in ("claims", "evidence"):
            self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMAND_MODULES))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help="Desk database URL (else FACTCHECK_DB, else sqlite:///factcheck.db).")
@click.option("--evidence-dir", metavar="DIR", help="Evidence archive folder (else FACTCHECK_EVIDENCE_DIR).")
@click.version_option(__version__, prog_name="factcheck")
@click.pass_context
def cli(ctx: click.Context, db: str | None, evidence_dir: str | None) -> None:
    """factcheck: store claims with their cited sources, archive the evidence, and verify."""
    global _app
    ctx.obj = _app = App({"db": db, "evidence_dir": evidence_dir})


_app: App | None = None
"""This invocation's App, so that `main` can note the audit head after a command that changed the desk."""




def main(argv: list[str] | None = None) -> int:
    global _app
    _app = None
    try:
        rv = cli.main(args=argv, prog_name="factcheck", standalone_mode=False)
        if isinstance(rv, int) and not isinstance(rv, bool):
            return rv  # ctx.exit(n) in standalone_mode=False comes back as a return value
        if _app is not None:
            _app.note_head()
    except click.exceptions.Abort:
        err.print("Aborted.")
        return 130
    except click.ClickException as exc:
        # click's own messages quote what was typed (an option name, a choice): shown like any text we print
        exc.message = visible(exc.message)
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except FactcheckError as exc:
        click.echo(f"Error: {visible(str(exc))}", err=True)
        return 1
    except OperationalError as exc:
        msg = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        click.echo(f"Error: database: {msg}", err=True)
        return 1
    except SQLAlchemyError as exc:
        click.echo(f"Error: database: {str(exc).splitlines()[0]}", err=True)
        return 1
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    return 0
