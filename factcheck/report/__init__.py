"""Audit reports: what was checked, what was found, and how every verdict was reached.

`build_report` (model) reads the desk once into a plain `Report`; one module per format turns it into
HTML (`html`: self-contained, screen and print), Markdown (`markdown`: tickets, CMS notes), JSON
(`json_report`, schema in schema.json), CSV (`csv_report`: one row per claim, for spreadsheets) and
schema.org ClaimReview JSON-LD (`claimreview`, with the rating scale). PDF (`pdf`) comes from printing
the HTML in headless Chromium when it is installed; `output` picks a format and writes files atomically.

Callers import from here: `from factcheck.report import render, write_report, ReportError`.
"""

from __future__ import annotations

from factcheck.report.claimreview import (
    BEST_RATING,
    RATING_SCALE,
    WORST_RATING,
    claim_review,
    render_claimreview,
    script_safe_json,
)
from factcheck.report.csv_report import CSV_COLUMNS, render_csv
from factcheck.report.html import render_html
from factcheck.report.json_report import SCHEMA_ID, load_schema, render_json, report_dict
from factcheck.report.markdown import md, render_md
from factcheck.report.model import (
    LABEL_MEANING,
    ChromiumMissing,
    EmptyReport,
    Report,
    ReportArticle,
    ReportCitation,
    ReportClaim,
    ReportError,
    ReportOutputError,
    ReportQuote,
    ReportRun,
    ReportVerdict,
    UnknownScope,
    build_report,
    highlight_spans,
)
from factcheck.report.output import (
    FORMATS,
    TEXT_FORMATS,
    check_target,
    encode,
    make_report,
    render,
    report_bytes,
    write_atomic,
    write_report,
)
from factcheck.report.pdf import CHROMIUM_NAMES, chromium_args, find_chromium, html_to_pdf

__all__ = [
    "BEST_RATING",
    "CHROMIUM_NAMES",
    "CSV_COLUMNS",
    "FORMATS",
    "LABEL_MEANING",
    "RATING_SCALE",
    "SCHEMA_ID",
    "TEXT_FORMATS",
    "WORST_RATING",
    "ChromiumMissing",
    "EmptyReport",
    "Report",
    "ReportArticle",
    "ReportCitation",
    "ReportClaim",
    "ReportError",
    "ReportOutputError",
    "ReportQuote",
    "ReportRun",
    "ReportVerdict",
    "UnknownScope",
    "build_report",
    "check_target",
    "chromium_args",
    "claim_review",
    "encode",
    "find_chromium",
    "highlight_spans",
    "html_to_pdf",
    "load_schema",
    "make_report",
    "md",
    "render",
    "render_claimreview",
    "render_csv",
    "render_html",
    "render_json",
    "render_md",
    "report_bytes",
    "report_dict",
    "script_safe_json",
    "write_atomic",
    "write_report",
]
