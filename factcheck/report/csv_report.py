"""The CSV report: one row per claim, spreadsheet-safe cells (formula prefixes defused)."""

from __future__ import annotations

import csv
import io
from typing import Any

from factcheck.report.model import Report, conf_text, iso_time, when_text

CSV_COLUMNS = (
    "case", "claim_id", "article_url", "claim", "statement", "cited_sources", "attribution", "verdict",
    "confidence", "decided_by", "decided_at", "rationale", "reviewer_note", "quotes", "evidence_urls",
    "snapshot_sha256", "captured_at", "history", "expected", "rating", "tags", "comments",
)


def _cell(value: Any) -> str:
    """Spreadsheet-safe text: a cell starting with = + - @ would run as a formula, so it gets a `'`."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        text = "'" + text
    return text


def render_csv(report: Report) -> str:
    """One row per claim; the caller writes it UTF-8 with BOM (see `encode`) so Excel reads umlauts."""
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for c in report.claims:
        v = c.verdict
        quotes = "\n".join(f"“{q.quote}” ({q.source or '?'}, {q.url or '?'}, chars {q.start}–{q.end})"
                           for q in c.evidence)
        history = "\n".join(
            f"{when_text(h.at)} {h.decided_by}: {h.verdict_text}" + (f" — {h.note}" if h.note else "")
            for h in c.history
        )
        comments = "\n".join(f"{when_text(m.at)} {m.author}: {m.text}" for m in c.comments)
        w.writerow([_cell(x) for x in (
            c.case, c.key, c.article.url if c.article else None, c.text, c.statement,
            "; ".join(ci.source for ci in c.citations),
            "; ".join(ci.phrase for ci in c.citations if ci.phrase),
            v.label if v else None, conf_text(v.confidence) if v and v.confidence is not None else None,
            v.decided_by if v else None, iso_time(v.at) if v else None, v.rationale if v else None,
            v.note if v else None, quotes,
            "\n".join(dict.fromkeys(q.url for q in c.evidence if q.url)),
            "\n".join(dict.fromkeys(q.snapshot_sha256 for q in c.evidence if q.snapshot_sha256)),
            "\n".join(dict.fromkeys(iso_time(q.captured_at) or "" for q in c.evidence if q.captured_at)),
            history, c.expected, v.rating if v else None, "; ".join(c.tags), comments,
        )])
    return buf.getvalue()

