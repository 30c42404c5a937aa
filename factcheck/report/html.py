"""The HTML report: one self-contained page for screen and print (inline CSS, no scripts), every value escaped."""

from __future__ import annotations

import html
from typing import Any

from factcheck.report.claimreview import RATING_SCALE
from factcheck.report.model import (
    LABEL_MEANING,
    Report,
    ReportClaim,
    ReportQuote,
    citation_hand,
    collapsed_history,
    conf_text,
    is_web_url,
    when_text,
)
from factcheck.text.display import shorten


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _link(url: str | None) -> str:
    if not url:
        return "—"
    if is_web_url(url):
        return f'<a href="{_e(url)}">{_e(url)}</a>'
    return f"<span>{_e(url)}</span>"


def _marked_html(q: ReportQuote) -> str:
    """The quote with the claim's words marked, and the values the claim disagrees with marked apart."""
    marks = [(s, e, ' class="differs" title="differs from the claim"') for s, e in q.differs]
    marks += [(s, e, "") for s, e in q.highlights if not any(s < de and ds < e for ds, de in q.differs)]
    parts, pos = [], 0
    for s, e, attrs in sorted(marks):
        parts.append(_e(q.quote[pos:s]))
        parts.append(f"<mark{attrs}>{_e(q.quote[s:e])}</mark>")
        pos = e
    parts.append(_e(q.quote[pos:]))
    return "".join(parts)


def _badge(label: str | None) -> str:
    cls = label if label in RATING_SCALE else "none"
    return f'<span class="badge {cls}">{_e(label or "no verdict")}</span>'


_CSS = """
:root{--ink:#1b1f24;--muted:#5b6470;--line:#d8dde3;--bg:#f6f7f9;--ok:#17643a;--okbg:#dff3e6;
--bad:#a11d1d;--badbg:#fbe2e0;--mid:#7a5200;--midbg:#fdf0cf;--none:#4a4f57;--nonebg:#e7e9ec}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:980px;margin:0 auto;padding:28px 28px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 12px}
.meta{color:var(--muted);font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:18px 0 8px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px;min-width:110px}
.card b{display:block;font-size:24px;line-height:1.2}.card span{font-size:12px;color:var(--muted)}
.card.verified{border-left:5px solid var(--ok)}.card.contested{border-left:5px solid var(--bad)}
.card.unverified{border-left:5px solid var(--mid)}.card.none{border-left:5px solid var(--none)}
.claim{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:16px 0}
.claim header{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.claim h3{margin:0;font-size:16px}
.ctext{font-size:17px;margin:10px 0 6px;padding-left:12px;border-left:3px solid var(--line)}
.statement{color:var(--muted);margin:0 0 8px}
.badge{display:inline-block;border-radius:999px;padding:2px 12px;font-weight:700;font-size:12px;
text-transform:uppercase;letter-spacing:.05em}
.badge.verified{background:var(--okbg);color:var(--ok)}.badge.contested{background:var(--badbg);color:var(--bad)}
.badge.unverified{background:var(--midbg);color:var(--mid)}.badge.none{background:var(--nonebg);color:var(--none)}
dl.facts{display:grid;grid-template-columns:140px 1fr;gap:4px 12px;margin:10px 0}
dl.facts dt{color:var(--muted);font-size:13px}dl.facts dd{margin:0}
.quote{border:1px solid var(--line);border-radius:8px;background:#fbfcfd;padding:10px 14px;margin:10px 0}
.quote blockquote{margin:0 0 6px;font-family:Georgia,"Times New Roman",serif;font-size:15.5px}
.quote .qmeta{font-size:12.5px;color:var(--muted);display:grid;grid-template-columns:100px 1fr;gap:2px 10px}
.hash,code{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
mark{background:#ffe58a;color:inherit;padding:0 1px;border-radius:2px}
mark.differs{background:var(--badbg);color:var(--bad);font-weight:700;outline:1.5px solid var(--bad)}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}
th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
td.t{white-space:nowrap}
td.settings{font-size:11px;line-height:1.35}td.settings code{font-size:10.5px}
a{color:#0b57a4;word-break:break-all}
.warn{color:var(--bad);font-weight:600}
.legend{font-size:13px;color:var(--muted)}
.tag{display:inline-block;border:1px solid var(--line);border-radius:4px;padding:0 6px;font-size:12px;color:var(--muted)}
.rating{font-size:13px;font-weight:600}
.legend p{margin:4px 0}
details summary{cursor:pointer;color:var(--muted);font-size:13px;margin-top:8px}
@media print{
 @page{size:A4;margin:14mm 12mm}
 body{background:#fff;font-size:11pt}
 main{max-width:none;padding:0}
 .claim{border:none;border-top:1.5px solid #999;border-radius:0;padding:10px 0;margin:10px 0}
 .quote,.card,table,tr{break-inside:avoid}
 h1,h2,h3,.claim header,.ctext,.statement{break-after:avoid;break-inside:avoid}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 a{color:inherit;text-decoration:none}
 .cards{gap:6px}.card{min-width:0;padding:6px 10px}.card b{font-size:17px}
 details>summary{list-style:none}details>summary::-webkit-details-marker{display:none}
}
"""


def render_html(report: Report) -> str:
    """One self-contained page: inline CSS, no scripts, no external assets; every value escaped."""
    s = report.summary
    out: list[str] = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<meta name=\"generator\" content=\"factcheck {_e(report.tool_version)}\">",
        f"<title>Fact-check report: {_e(report.title)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>Fact-check report: {_e(report.title)}</h1>",
        f'<p class="meta">Generated {_e(when_text(report.generated_at))} by factcheck {_e(report.tool_version)}'
        + (f" for {_e(report.organisation)}" if report.organisation else "")
        + (f" ({_link(report.organisation_url)})" if report.organisation_url else "") + ". "
        + f"Audit trail: {report.audit_events} events, "
        + ("hash chain intact." if report.audit_ok
           else f'<span class="warn">hash chain broken: {_e(report.audit_problem)}</span>') + "</p>",
        '<section class="cards" aria-label="Summary">',
        f'<div class="card"><b>{s["claims"]}</b><span>claims</span></div>',
        f'<div class="card verified"><b>{s["verified"]}</b><span>verified</span></div>',
        f'<div class="card contested"><b>{s["contested"]}</b><span>contested</span></div>',
        f'<div class="card unverified"><b>{s["unverified"]}</b><span>unverified</span></div>',
    ]
    if s["no_verdict"]:
        out.append(f'<div class="card none"><b>{s["no_verdict"]}</b><span>no verdict yet</span></div>')
    out.append(f'<div class="card"><b>{s["decided_by_reviewer"]}</b><span>decided by reviewers</span></div>')
    out.append(f'<div class="card"><b>{s["decided_by_machine"]}</b><span>decided by machine only</span></div>')
    out.append("</section>")

    if report.articles:
        out.append("<h2>Articles checked</h2><table><tr><th>title</th><th>outlet</th><th>published</th>"
                   "<th>language</th><th>URL</th></tr>")
        for a in report.articles:
            out.append(f"<tr><td>{_e(a.title or '—')}</td><td>{_e(a.outlet or '—')}</td>"
                       f"<td class=\"t\">{_e(a.published or '—')}</td><td>{_e(a.language or '—')}</td><td>{_link(a.url)}</td></tr>")
        out.append("</table>")

    if report.claims:  # the list first: a reader sees every verdict before the detail
        out.append('<h2>Claims at a glance</h2><table class="toc"><tr><th>claim</th><th>verdict</th>'
                   "<th>cited</th><th>text</th></tr>")
        for c in report.claims:
            v = c.verdict
            out.append(f'<tr><td class="t"><a href="#{_e(c.anchor)}">{_e(c.key)}</a></td>'
                       f"<td>{_badge(v.label if v else None)}</td>"
                       f"<td>{_e(', '.join(ci.source for ci in c.citations) or '—')}</td>"
                       f"<td>{_e(shorten(c.text, 140))}</td></tr>")
        out.append("</table>")
    out.append("<h2>Claims</h2>")
    for c in report.claims:
        out.append(_claim_html(c))

    if report.runs:
        out.append("<h2>Verification runs</h2><table><tr><th>run</th><th>started</th><th>finished</th>"
                   "<th>tool version</th><th>by</th><th>settings</th><th>counts</th></tr>")
        for r in report.runs:
            # every setting the run used, compact (one wrapping line, not one row each: 4 of 10 pages before)
            settings = " · ".join(f"<code>{_e(k)}</code>&nbsp;=&nbsp;{_e('—' if v is None else v)}"
                                  for k, v in r.settings.items())
            counts = ", ".join(f"{_e(k)} {_e(v)}" for k, v in r.counts.items())
            out.append(f"<tr><td>{r.id}</td><td class=\"t\">{_e(when_text(r.started_at))}</td>"
                       f"<td class=\"t\">{_e(when_text(r.finished_at) if r.finished_at else r.state)}</td>"
                       f"<td>{_e(r.version)}</td><td>{_e(r.actor or '—')}</td><td class=\"settings\">{settings or '—'}</td>"
                       f"<td>{counts or '—'}</td></tr>")
        out.append("</table>")

    out.append('<h2>What the verdicts mean</h2><div class="legend">')
    for label, meaning in LABEL_MEANING.items():
        out.append(f"<p>{_badge(label)} {_e(meaning)}</p>")
    out.append("<p>Values in red in a quote are the numbers or years the claim disagrees with. "
               "Highlighted words in a quote are the claim's words found in it, to help a reader check "
               "the match; they are not the verdict's reasoning. Hashes are SHA-256 of the archived page "
               "bytes; character offsets point into the snapshot's extracted text.</p></div>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


def _claim_html(c: ReportClaim) -> str:
    v = c.verdict
    o = [f'<section class="claim" id="{_e(c.anchor)}">',
         f"<header><h3>{_e(c.key)}</h3>{_badge(v.label if v else None)}"
         + (f'<span class="rating">rated “{_e(v.rating)}”</span>' if v and v.rating else "")
         + "".join(f'<span class="tag">{_e(t)}</span>' for t in c.tags)
         + (f'<span class="meta">case {_e(c.case)}</span>' if c.case else "") + "</header>",
         f'<p class="ctext">{_e(c.text)}</p>']
    if c.statement:
        o.append(f'<p class="statement">Restated: {_e(c.statement)}</p>')
    o.append('<dl class="facts">')
    if c.citations:
        cites = []
        for ci in c.citations:
            extra = []
            if ci.phrase:
                extra.append(f"“{_e(ci.phrase)}”")
            extra.append(_e(citation_hand(ci.second_hand, ci.via)))
            cites.append(f"<b>{_e(ci.source)}</b> ({', '.join(extra)})")
        o.append(f"<dt>Cited sources</dt><dd>{'; '.join(cites)}</dd>")
    else:
        o.append("<dt>Cited sources</dt><dd>none named</dd>")
    if v is not None:
        who = (f"reviewer <b>{_e(v.reviewer)}</b>" if v.kind == "human"
               else f"machine, run <b>{_e(v.run_id)}</b>")
        o.append(f"<dt>Decided by</dt><dd>{who}, {_e(when_text(v.at))}, confidence {_e(conf_text(v.confidence))}"
                 + (' <span class="warn">(superseded by a later verdict)</span>' if c.superseded else "")
                 + "</dd>")
        if v.rationale and v.rationale != v.note:
            o.append(f"<dt>Rationale</dt><dd>{_e(v.rationale)}</dd>")
        if v.note:
            o.append(f"<dt>Reviewer note</dt><dd>{_e(v.note)}</dd>")
    else:
        o.append("<dt>Decided by</dt><dd>nobody yet (not verified)</dd>")
    if c.expected:
        o.append(f"<dt>Expected (case file)</dt><dd>{_e(c.expected)}</dd>")
    o.append("</dl>")
    if c.evidence:
        note = f" (quotes from machine run {_e(c.evidence_run)})" if c.evidence_run else ""
        o.append(f'<div class="meta">Evidence{note}</div>')
        for q in c.evidence:
            o.append('<div class="quote">')
            o.append(f"<blockquote>“{_marked_html(q)}”</blockquote>")
            o.append('<div class="qmeta">')
            o.append(f"<span>source</span><span>{_e(q.source or 'unknown')}"
                     + (f" · {_e(q.role)}" if q.role else "") + "</span>")
            o.append(f"<span>original URL</span><span>{_link(q.url)}</span>")
            if q.final_url:
                o.append(f"<span>redirected to</span><span>{_link(q.final_url)}</span>")
            o.append(f'<span>snapshot</span><span class="hash">sha256 {_e(q.snapshot_sha256 or "—")}</span>')
            o.append(f"<span>captured</span><span>{_e(when_text(q.captured_at))}"
                     + (f" · HTTP {_e(q.http_status)}" if q.http_status else "")
                     + f" · chars {_e(q.start)}–{_e(q.end)}</span>")
            o.append("</div></div>")
    elif v is not None:
        o.append('<div class="meta">No evidence quote was found for this claim.</div>')
    if c.history:
        o.append("<details open><summary>Verdict history</summary><table><tr><th>when</th><th>by</th>"
                 "<th>verdict</th><th>confidence</th><th>rationale / note</th></tr>")
        for h, n in collapsed_history(c.history):
            why = h.note or h.rationale
            rated = f" rated “{_e(h.rating)}”" if h.rating else ""
            runs = f" <span class=\"meta\">(the same in {n} runs in a row)</span>" if n > 1 else ""
            o.append(f"<tr><td class=\"t\">{_e(when_text(h.at))}</td><td>{_e(h.decided_by)}{runs}</td><td>{_badge(h.label)}{rated}</td>"
                     f"<td>{_e(conf_text(h.confidence))}</td><td>{_e(why)}</td></tr>")
        o.append("</table></details>")
    if c.comments:
        o.append('<details open><summary>Discussion</summary><table><tr><th>when</th><th>by</th><th>comment</th></tr>')
        for m in c.comments:
            o.append(f"<tr><td class=\"t\">{_e(when_text(m.at))}</td><td>{_e(m.author)}</td><td>{_e(m.text)}</td></tr>")
        o.append("</table></details>")
    o.append("</section>")
    return "\n".join(o)

