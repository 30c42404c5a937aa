"""The HTML report as a browser shows and prints it: headless Chromium screenshot and PDF.

Skips with a reason when Chromium is not installed, unless FACTCHECK_REQUIRE_CHROMIUM=1 (then it fails).
Set FACTCHECK_REPORT_SHOTS=DIR to keep the PNG/PDF for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader
from report_util import build_hostile_desk, build_test_desk

from factcheck.report import chromium_args, find_chromium, write_report

PIL = pytest.importorskip("PIL.Image", reason="Pillow (dev extra) reads the screenshot")

WIDTH, HEIGHT = 1200, 1600


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium() if Path("/usr/bin/chromium").exists() or os.environ.get("FACTCHECK_CHROMIUM") else None
    if found is None:
        if os.environ.get("FACTCHECK_REQUIRE_CHROMIUM") == "1":
            pytest.fail("Chromium is required (FACTCHECK_REQUIRE_CHROMIUM=1) but /usr/bin/chromium is missing")
        pytest.skip("no /usr/bin/chromium (Debian: apt-get install chromium); set FACTCHECK_REQUIRE_CHROMIUM=1 "
                    "to make this a failure")
    return found


@pytest.fixture
def report_html(memory_desk, tmp_path) -> Path:
    build_test_desk(memory_desk, tmp_path)
    build_hostile_desk(memory_desk, tmp_path)
    return write_report(memory_desk.desk, memory_desk.settings, "html", tmp_path / "report.html")


def keep(path: Path) -> None:
    folder = os.environ.get("FACTCHECK_REPORT_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


def screenshot(chromium: str, page: Path, png: Path, tmp_path: Path) -> None:
    args = chromium_args(chromium, tmp_path / "profile", "--hide-scrollbars", f"--screenshot={png}",
                         f"--window-size={WIDTH},{HEIGHT}", page.as_uri())
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert png.is_file(), f"Chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-500:]}"


def test_html_report_renders_in_chromium(chromium, report_html, tmp_path):
    png = tmp_path / "report.png"
    screenshot(chromium, report_html, png, tmp_path)
    keep(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with PIL.open(png) as img:
        assert img.size == (WIDTH, HEIGHT)
        rgb = img.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 200, "a near-blank page: the report did not render"
    present = {c for _, c in colours}

    def near(target: tuple[int, int, int]) -> bool:
        return any(sum(abs(a - b) for a, b in zip(c, target, strict=True)) <= 6 for c in present)

    # the stylesheet applied: page background, the green and amber badges, the <mark> highlight
    assert near((0xF6, 0xF7, 0xF9)), "page background missing"
    assert near((0xDF, 0xF3, 0xE6)), "verified badge missing"
    assert near((0xFD, 0xF0, 0xCF)), "unverified badge missing"
    assert near((0xFF, 0xE5, 0x8A)), "highlighted words missing"
    # the top-left corner is background, not content squeezed against the edge
    assert rgb.getpixel((5, 5)) == rgb.getpixel((5, HEIGHT // 2))


def test_blank_page_baseline_is_distinguishable(chromium, tmp_path):
    """The colour-count check above must be able to fail: a blank page stays far below it."""
    page = tmp_path / "blank.html"
    page.write_text("<!doctype html><title>x</title>", encoding="utf-8")
    png = tmp_path / "blank.png"
    screenshot(chromium, page, png, tmp_path)
    with PIL.open(png) as img:
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) < 20


def test_pdf_export_prints_the_report_with_escaped_evidence(chromium, memory_desk, tmp_path):
    build_test_desk(memory_desk, tmp_path)
    build_hostile_desk(memory_desk, tmp_path)
    pdf = write_report(memory_desk.desk, memory_desk.settings, "pdf", tmp_path / "report.pdf")
    keep(pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    reader = PdfReader(str(pdf))
    assert len(reader.pages) >= 2
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 595) < 3 and abs(float(box.height) - 842) < 3  # A4 from @page
    text = " ".join((p.extract_text() or "") for p in reader.pages)
    assert "Fact-check report" in text
    assert "<script>alert(1)</script>" in " ".join(text.split())  # shown as text, not run
    assert "b041dbf8d79f6d61daa2886822c431c81b3462f22783380c678d5f49704593d7" in text.replace("\n", "")

