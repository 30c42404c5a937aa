"""The command line, one module per command group over the shared app object in `app`.

Importing the package registers every command on the root group; `run` is the console script.
"""

from __future__ import annotations

import sys

from factcheck.cli import desk as _desk_commands  # noqa: F401  (registers init, claims, verify, …)
from factcheck.cli import newsroom as _newsroom_commands  # noqa: F401  (claims tag, comment, assign)
from factcheck.cli.app import cli, main
from factcheck.cli.check import check, demo
from factcheck.cli.ingest import ingest
from factcheck.cli.jobs import jobs_group, worker
from factcheck.cli.nli import nli_group
from factcheck.cli.report import report
from factcheck.cli.triage import audit_group, review, triage
from factcheck.cli.web import serve, users_group

cli.add_command(check)
cli.add_command(demo)
cli.add_command(triage)
cli.add_command(review)
cli.add_command(audit_group, name="audit")
cli.add_command(report)
cli.add_command(ingest)
cli.add_command(serve)
cli.add_command(users_group, name="users")
cli.add_command(nli_group, name="nli")
cli.add_command(worker)
cli.add_command(jobs_group, name="jobs")

__all__ = ["cli", "main", "run"]


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
