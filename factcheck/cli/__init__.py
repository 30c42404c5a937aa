"""The command line, one module per command group over the shared app object in `app`.

The root group imports a command's module when the command is asked for (`app.COMMAND_MODULES`); each
module registers its commands on the root group. `run` is the console script.
"""

from __future__ import annotations

import sys

from factcheck.cli.app import cli, main

__all__ = ["cli", "main", "run"]


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
