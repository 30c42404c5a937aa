"""The Markdown report, for tickets and CMS notes: untrusted text escaped so it stays inert."""

from __future__ import annotations

import re

from factcheck.report.model import (
    Report,
    ReportQuote,
    citation_hand,
    collapsed_history,
    conf_text,
    is_web_url,
    when_text,
)

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|~])|(?<!\w)_|_(?!\w)")


def md(text: str | None, *, line_start: bool = False) -> str:
    """Untrusted text as inert inline Markdown: one line; characters that Markdown (or raw HTML in it)
    would act on get a backslash (snake_case stays readable). Entities stay as typed: `&lt;` renders as
    text, never as markup. `line_start`: the text opens a line, so list and heading markers count too."""
    flat = " ".join((text or "").split())
    flat = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), flat)
    if line_start:
        flat = re.sub(r"^(\d+)([.)])", r"\1\\\2", re.sub(r"^([-+=#])", r"\\\1", flat))
    return flat


def _md_url(url: str | None) -> str:
    if is_web_url(url):
        return f"<{url}>"
    return md(url) if url else "—"


def _md_segment(seg: str) -> str:
    """An escaped piece of a quote that keeps one space at either end, so bold words stay separate."""
    core = md(seg)
    if not core:
        return " " if seg else ""
    return (" " if seg[:1].isspace() else "") + core + (" " if seg[-1:].isspace() else "")


def _md_marked(q: ReportQuote) -> str:
    """The quote with the words it shares with the claim in bold."""
    parts, pos = [], 0
    for s, e in q.highlights:
        parts.append(_md_segment(q.quote[pos:s]))
        parts.append(f"**{md(q.quote[s:e])}**")
        pos = e
    parts.append(_md_segment(q.quote[pos:]))
    return "".join(parts).strip()


def render_md(report: Report) -> str:
    s = report.summary
    lines = [
        f"# Fact-check report: {md(report.title)}",
        "",
        f"Generated {when_text(report.generated_at)} by factcheck {md(report.tool_version)}"
        + (f" for {md(report.organisation)}" if report.organisation else "") + ".",
        "",
        "| claims | verified | contested | unverified | no verdict | by reviewers | by machine |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s['claims']} | {s['verified']} | {s['contested']} | {s['unverified']} | {s['no_verdict']} "
        f"| {s['decided_by_reviewer']} | {s['decided_by_machine']} |",
        "",
        f"Audit trail: {report.audit_events} events, "
        + ("hash chain intact." if report.audit_ok else f"**hash chain broken**: {md(report.audit_problem)}"),
        "",
    ]
    for a in report.articles:
        lines.append(f"Article: {md(a.title or '(untitled)')} — {md(a.outlet or 'unknown outlet')}, "
                     f"{md(a.published or 'undated')} — {_md_url(a.url)}")
    if report.articles:
        lines.append("")
    for c in report.claims:
        v = c.verdict
        label = (v.label.upper() + (f" (rated “{md(v.rating)}”)" if v.rating else "")) if v else "NO VERDICT"
        lines += [f"## {md(c.key)}: **{label}**", "", f"> {md(c.text, line_start=True)}", ""]
        if c.statement:
            lines.append(f"- Statement: {md(c.statement)}")
        cites = [
            md(ci.source) + (f" (“{md(ci.phrase)}”)" if ci.phrase else "")
            + ", " + md(citation_hand(ci.second_hand, ci.via))
            for ci in c.citations
        ]
        lines.append(f"- Cited: {'; '.join(cites) if cites else 'no source named'}")
        if c.tags:
            lines.append(f"- Tags: {', '.join(md(t) for t in c.tags)}")
        if v:
            lines.append(f"- Decided by: {md(v.decided_by)}, {when_text(v.at)}, confidence {conf_text(v.confidence)}"
                         + (" (superseded by a later verdict)" if c.superseded else ""))
            if v.rationale and v.rationale != v.note:
                lines.append(f"- Rationale: {md(v.rationale)}")
            if v.note:
                lines.append(f"- Reviewer note: {md(v.note)}")
        if c.evidence:
            lines.append("- Evidence" + (f" (quotes from machine run {c.evidence_run})" if c.evidence_run else "")
                         + ":")
            for i, q in enumerate(c.evidence, 1):
                lines.append(f"  {i}. “{_md_marked(q)}”")
                lines.append(
                    f"     — {md(q.source or 'unknown source')}, {_md_url(q.url)}, sha256 `{q.snapshot_sha256 or '—'}`"
                    f", captured {when_text(q.captured_at)}, chars {q.start}–{q.end}, {md(q.role or '')}")
        if c.history:
            lines += ["", "| when | by | verdict | confidence | note |", "|---|---|---|---:|---|"]
            for h, n in collapsed_history(c.history):
                runs = f" (the same in {n} runs in a row)" if n > 1 else ""
                lines.append(f"| {when_text(h.at)} | {md(h.decided_by)}{runs} | {md(h.verdict_text)} "
                             f"| {conf_text(h.confidence)} | {md(h.note or '')} |")
        if c.comments:
            lines += ["", "Discussion:", ""]
            for m in c.comments:
                lines.append(f"- {when_text(m.at)}, {md(m.author)}: {md(m.text)}")
        lines.append("")
    if report.runs:
        lines += ["## Runs", "", "| run | started | finished | version | by | settings | counts |",
                  "|---:|---|---|---|---|---|---|"]
        for r in report.runs:
            settings = ", ".join(f"{k}={v}" for k, v in r.settings.items())
            counts = ", ".join(f"{k} {v}" for k, v in r.counts.items())
            lines.append(f"| {r.id} | {when_text(r.started_at)} | {when_text(r.finished_at) if r.finished_at else r.state} | {md(r.version)} "
                         f"| {md(r.actor or '')} | {md(settings)} | {md(counts)} |")
        lines.append("")
    return "\n".join(lines)

