"""The JSON report (schema in schema.json, shipped with the package) and the dictionary it is made of."""

from __future__ import annotations

import json
from typing import Any

from factcheck.report.model import Report, ReportQuote, ReportVerdict, iso_time
from factcheck.resources import report_schema

SCHEMA_ID = "factcheck-report/1"


def _quote_json(q: ReportQuote) -> dict[str, Any]:
    return {
        "url": q.url, "snapshot_sha256": q.snapshot_sha256, "quote": q.quote, "start": q.start, "end": q.end,
        "source": q.source, "role": q.role, "captured_at": iso_time(q.captured_at), "final_url": q.final_url,
        "http_status": q.http_status, "highlights": [list(s) for s in q.highlights],
    }


def _verdict_json(v: ReportVerdict) -> dict[str, Any]:
    return {
        "id": v.id, "kind": v.kind, "label": v.label, "rating": v.rating, "confidence": v.confidence, "rationale": v.rationale,
        "note": v.note, "reviewer": v.reviewer, "run": v.run_id, "decided_by": v.decided_by, "at": iso_time(v.at),
        "first_hand": v.first_hand, "quotes": [_quote_json(q) for q in v.quotes],
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The JSON report: see schema.json. Claim objects extend the `claims list --json` keys."""
    return {
        "schema": SCHEMA_ID,
        "title": report.title,
        "generated_at": iso_time(report.generated_at),
        "tool": {"name": "factcheck", "version": report.tool_version},
        "organisation": {"name": report.organisation, "url": report.organisation_url},
        "scope": dict(report.scope),
        "summary": report.summary,
        "audit_chain": {"ok": report.audit_ok, "events": report.audit_events, "problem": report.audit_problem},
        "articles": [
            {"id": a.id, "case": a.case, "url": a.url, "title": a.title, "outlet": a.outlet,
             "language": a.language, "published": a.published}
            for a in report.articles
        ],
        "runs": [
            {"id": r.id, "state": r.state, "started_at": iso_time(r.started_at), "finished_at": iso_time(r.finished_at),
             "version": r.version, "actor": r.actor, "settings": r.settings, "counts": r.counts}
            for r in report.runs
        ],
        "claims": [
            {
                "id": c.key, "case": c.case, "article": c.article.id if c.article else None, "anchor": c.anchor,
                "text": c.text, "statement": c.statement, "language": c.language,
                "cited": [ci.source for ci in c.citations],
                "attribution": [ci.phrase for ci in c.citations if ci.phrase],
                "citations": [
                    {"source": ci.source, "phrase": ci.phrase, "kind": ci.kind, "second_hand": ci.second_hand,
                     "via": ci.via, "url": ci.url}
                    for ci in c.citations
                ],
                "checkworthiness": c.checkworthiness, "expected": c.expected,
                "verdict": c.verdict.label if c.verdict else None,
                "confidence": c.verdict.confidence if c.verdict else None,
                "rationale": c.verdict.rationale if c.verdict else None,
                "decided_by": c.verdict.decided_by if c.verdict else None,
                "decision": _verdict_json(c.verdict) if c.verdict else None,
                "superseded": c.superseded,
                "evidence": [_quote_json(q) for q in c.evidence],
                "evidence_run": c.evidence_run,
                "history": [_verdict_json(v) for v in c.history],
                "tags": list(c.tags),
                "comments": [{"by": m.author, "text": m.text, "at": iso_time(m.at)} for m in c.comments],
            }
            for c in report.claims
        ],
    }


def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), ensure_ascii=False, indent=2) + "\n"


def load_schema() -> dict[str, Any]:
    """The JSON Schema of the json format (shipped with the package)."""
    data: dict[str, Any] = json.loads(report_schema().read_text(encoding="utf-8"))
    return data

