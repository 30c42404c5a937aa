"""Files the program runs on, found through importlib.resources so a wheel install and a checkout behave
the same: the Alembic migrations, the bundled sample case and its saved pages, the demo's job, article and
pages, the report's JSON Schema.

The build maps the project's top-level `migrations/`, `claims/` and `evidence/` folders into the package
(see pyproject.toml), so these are package resources wherever the package was installed from.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from factcheck.errors import FactcheckError


class MissingResource(FactcheckError):
    """A file the package should carry is not there: a broken install."""


def resource_path(package: str, *parts: str) -> Path:
    """A bundled file or folder as a real path (the package is installed unzipped: wheels always are)."""
    try:
        ref = files(package).joinpath(*parts)
    except ModuleNotFoundError:
        raise MissingResource(f"this factcheck install lacks {package} (reinstall the package)") from None
    path = Path(str(ref))
    if not path.exists():
        raise MissingResource(f"this factcheck install lacks {'/'.join((package, *parts))} (reinstall the package)")
    return path


def migrations_dir() -> Path:
    return resource_path("factcheck.migrations")


def sample_case(name: str = "sample.yaml") -> Path:
    return resource_path("factcheck.claims", name)


def demo_job() -> Path:
    """What `factcheck demo` checks: the German sample article, its sources' pages, the verdicts expected."""
    return resource_path("factcheck.claims", "demo.yaml")


def report_schema() -> Path:
    return resource_path("factcheck.report", "schema.json")
