"""Choosing a format and writing the file: text renderers by name, PDF, atomic writes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from factcheck.desk.db import Desk
from factcheck.report.claimreview import render_claimreview
from factcheck.report.csv_report import render_csv
from factcheck.report.html import render_html
from factcheck.report.json_report import render_json
from factcheck.report.markdown import render_md
from factcheck.report.model import Report, ReportError, ReportOutputError, build_report
from factcheck.report.pdf import html_to_pdf
from factcheck.settings import Settings

FORMATS = ("html", "md", "json", "csv", "claimreview", "pdf")
TEXT_FORMATS = ("html", "md", "json", "csv", "claimreview")


def render(report: Report, fmt: str, *, base_url: str | None = None, include_machine: bool = False) -> str:
    """The report as text in one of TEXT_FORMATS."""
    if fmt == "html":
        return render_html(report)
    if fmt == "md":
        return render_md(report)
    if fmt == "json":
        return render_json(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "claimreview":
        return render_claimreview(report, base_url=base_url, include_machine=include_machine)
    raise ReportError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")


def encode(text: str, fmt: str) -> bytes:
    """Bytes for a file: CSV gets a UTF-8 byte-order mark so spreadsheet programs read umlauts right."""
    return ("\ufeff" + text if fmt == "csv" else text).encode("utf-8")


def check_target(path: Path) -> None:
    if path.is_dir():
        raise ReportOutputError(f"cannot write {path}: it is a folder")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ReportOutputError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ReportOutputError(f"cannot write {path}: permission denied")


def write_atomic(path: Path, data: bytes) -> Path:
    """Write via a temporary file in the same folder and rename, so readers never see half a report."""
    path = Path(path)
    check_target(path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise ReportOutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ReportOutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def make_report(desk: Desk, settings: Settings, *, case: str | None = None, article: str | None = None,
                run: int | None = None) -> Report:
    """Build a report in one read-only session."""
    with desk.session() as s:
        return build_report(s, settings, case=case, article=article, run=run)


def report_bytes(report: Report, fmt: str, *, base_url: str | None = None, include_machine: bool = False,
                 chromium: str | None = None) -> bytes:
    """The file content for any format, PDF included (printed by `chromium`, else the one found)."""
    if fmt == "pdf":
        return html_to_pdf(render_html(report), chromium=chromium)
    return encode(render(report, fmt, base_url=base_url, include_machine=include_machine), fmt)


def write_report(
    desk: Desk,
    settings: Settings,
    fmt: str,
    path: Path | str,
    *,
    case: str | None = None,
    article: str | None = None,
    run: int | None = None,
    base_url: str | None = None,
) -> Path:
    """Build the report and write it atomically to `path`; returns the absolute path written."""
    if fmt not in FORMATS:
        raise ReportError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    target = Path(path)
    check_target(target)  # fail before the work, not after
    report = make_report(desk, settings, case=case, article=article, run=run)
    return write_atomic(target, report_bytes(report, fmt, base_url=base_url,
                                             chromium=settings.chromium or None)).resolve()
