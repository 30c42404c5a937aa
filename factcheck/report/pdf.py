"""PDF: the HTML report printed to A4 by headless Chromium, when it is installed."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from factcheck.report.model import ChromiumMissing, ReportError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium(configured: str | None = None) -> str | None:
    """Path of a headless-capable Chromium, or None. The `chromium` setting (a path or a command name)
    overrides the search."""
    if configured:
        return configured if Path(configured).is_file() else shutil.which(configured)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_args(chromium: str, profile: Path, *extra: str) -> list[str]:
    """Headless, offline-quiet Chromium: no sandbox (containers), no sync, no update checks."""
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={profile}", *extra]


def html_to_pdf(html_text: str, *, timeout: float = 120, chromium: str | None = None) -> bytes:
    """Print the HTML report to PDF in headless Chromium (A4, the report's print stylesheet)."""
    chromium = find_chromium(chromium)
    if chromium is None:
        raise ChromiumMissing("PDF needs headless Chromium (Debian: `apt-get install chromium`); "
                              "use --format html and print it from a browser instead")
    with tempfile.TemporaryDirectory(prefix="factcheck-pdf-") as tmp:
        page, pdf = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html_text, encoding="utf-8")
        args = chromium_args(chromium, Path(tmp) / "profile", "--no-pdf-header-footer",
                             f"--print-to-pdf={pdf}", page.as_uri())
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ReportError(f"Chromium failed to print the report: {exc}") from None
        if not pdf.is_file() or pdf.stat().st_size == 0:
            tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
            raise ReportError(f"Chromium did not produce a PDF (exit {proc.returncode}): {tail[0]}")
        return pdf.read_bytes()

