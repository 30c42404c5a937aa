"""Audit reports: what was checked, what was found, and how every verdict was reached.

`build_report` reads the desk once into a plain model (`Report`); the renderers turn that model into
HTML (self-contained, screen and print), Markdown (tickets, CMS notes), JSON (schema in
`report_schema.json`), CSV (one row per claim, for spreadsheets) and schema.org ClaimReview JSON-LD.
PDF comes from printing the HTML in headless Chromium when it is installed.

Nothing that came from an article or from evidence is trusted as markup: every renderer escapes it for
its own format (HTML entities, Markdown backslashes, CSV formula prefixes).

ClaimReview rating scale (documented contract, 1 = worst, 3 = best)::

    contested   -> ratingValue 1  alternateName "Contested"   (evidence disagrees with the claim)
    unverified  -> ratingValue 2  alternateName "Unverified"  (nothing found that settles it)
    verified    -> ratingValue 3  alternateName "Verified"    (the cited source states it)
    worstRating 1, bestRating 3
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from factcheck import __version__
from factcheck.desk import audit
from factcheck.desk.db import Desk
from factcheck.desk.models import Article, Case, Claim, Run, Snapshot, Verdict, utcnow
from factcheck.errors import FactcheckError
from factcheck.resources import report_schema
from factcheck.settings import Settings

FORMATS = ("html", "md", "json", "csv", "claimreview", "pdf")
TEXT_FORMATS = ("html", "md", "json", "csv", "claimreview")
SCHEMA_ID = "factcheck-report/1"

# ClaimReview: label -> (ratingValue, alternateName). See the module docstring.
RATING_SCALE: dict[str, tuple[int, str]] = {
    "contested": (1, "Contested"),
    "unverified": (2, "Unverified"),
    "verified": (3, "Verified"),
}
WORST_RATING, BEST_RATING = 1, 3

LABEL_MEANING = {
    "verified": "The cited source (or a credible report of what it said) states the claim, and every "
                "checkable anchor agrees: numbers, dates, names, attribution.",
    "contested": "Evidence that addresses the claim disagrees on an anchor, or credible sources disagree "
                 "with each other.",
    "unverified": "Nothing found that settles it: no matching passage, the source could not be fetched, "
                  "or only part of the claim is supported.",
}


class ReportError(FactcheckError):
    """A report cannot be made as asked."""


class EmptyReport(ReportError):
    """There are no claims to report on."""


class UnknownScope(ReportError):
    """The case, article or run named does not exist on this desk."""


class ReportOutputError(ReportError):
    """The output file cannot be written."""


class ChromiumMissing(ReportError):
    """PDF needs headless Chromium, which is not installed."""


# ------------------------------------------------------------------ model


@dataclass
class ReportQuote:
    url: str | None
    snapshot_sha256: str | None
    quote: str
    start: int | None
    end: int | None
    source: str | None
    role: str | None
    captured_at: datetime | None = None
    final_url: str | None = None
    http_status: int | None = None
    highlights: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class ReportVerdict:
    id: int
    kind: str
    label: str
    confidence: float | None
    rationale: str
    note: str | None
    reviewer: str | None
    run_id: int | None
    at: datetime
    first_hand: bool | None
    quotes: list[ReportQuote]

    @property
    def decided_by(self) -> str:
        """Who made the call, in the words the desk uses everywhere."""
        return f"reviewer {self.reviewer}" if self.kind == "human" else f"machine run {self.run_id}"


@dataclass
class ReportCitation:
    source: str
    phrase: str | None
    kind: str
    second_hand: bool
    via: str | None
    url: str | None


@dataclass
class ReportArticle:
    id: int
    case: str | None
    url: str | None
    title: str | None
    outlet: str | None
    language: str | None
    published: str | None


@dataclass
class ReportClaim:
    db_id: int
    key: str
    case: str | None
    article: ReportArticle | None
    text: str
    statement: str | None
    language: str | None
    expected: str | None
    checkworthiness: float | None
    citations: list[ReportCitation]
    verdict: ReportVerdict | None
    history: list[ReportVerdict]
    evidence: list[ReportQuote]
    evidence_run: int | None  # set when a reviewer's verdict shows the quotes of an earlier machine run
    superseded: bool  # the verdict reported (a --run report) is no longer the claim's current one

    @property
    def anchor(self) -> str:
        """A stable fragment id: the HTML report and ClaimReview `url` share it."""
        base = f"{self.case}-{self.key}" if self.case else self.key
        return "claim-" + (re.sub(r"[^A-Za-z0-9]+", "-", base).strip("-").lower() or str(self.db_id))


@dataclass
class ReportRun:
    id: int
    started_at: datetime
    finished_at: datetime | None
    version: str
    actor: str | None
    settings: dict[str, Any]
    counts: dict[str, Any]


@dataclass
class Report:
    generated_at: datetime
    tool_version: str
    organisation: str
    organisation_url: str | None
    scope: dict[str, Any]
    title: str
    claims: list[ReportClaim]
    articles: list[ReportArticle]
    runs: list[ReportRun]
    audit_ok: bool
    audit_events: int
    audit_problem: str | None
    warnings: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, int]:
        counts = {"claims": len(self.claims), "verified": 0, "contested": 0, "unverified": 0, "no_verdict": 0,
                  "decided_by_reviewer": 0, "decided_by_machine": 0}
        for c in self.claims:
            if c.verdict is None:
                counts["no_verdict"] += 1
                continue
            counts[c.verdict.label] = counts.get(c.verdict.label, 0) + 1
            counts["decided_by_reviewer" if c.verdict.kind == "human" else "decided_by_machine"] += 1
        return counts


# ------------------------------------------------------------------ highlighting

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset(
    """
    about above after again also because been before being between both could does doing down during each
    from further have having here into itself just more most only other over same should some such than that
    their them then there these they this those through under until very were what when where which while
    with would your said says according
    aber alle allem allen aller alles also andere anderen auch beim bereits dabei damit dann darauf darum
    dass deren dessen diese diesem diesen dieser dieses doch durch eine einem einen einer eines etwa gegen
    hatte hatten habe haben hier ihre ihren immer jedoch kann keine laut mehr muss nach nicht noch nur oder
    ohne schon sein seine seinen seiner sich sind soll sollen sowie ueber über unter viel vom von wegen weil
    wenn werden wird wurde wurden zwar zwischen
    """.split()
)


def _content_words(text: str) -> set[str]:
    """Words that carry meaning: letters-only words of 4+ letters (not stop words), and any number."""
    words = set()
    for m in _WORD.finditer(text or ""):
        w = m.group().lower()
        if any(ch.isdigit() for ch in w) or (len(w) >= 4 and w not in _STOP):
            words.add(w)
    return words


def _word_matches(token: str, words: set[str]) -> bool:
    if token in words:
        return True
    if len(token) < 5 or token.isdigit():
        return False
    # Light inflection tolerance: "obstacle"/"obstacles", "Dokument"/"Dokuments".
    return any(len(w) >= 5 and not w.isdigit() and (w.startswith(token) or token.startswith(w)) for w in words)


def highlight_spans(quote: str, *texts: str | None) -> list[tuple[int, int]]:
    """Character spans of the quote's words that also occur in the claim (text or statement).

    Deliberately simple and explainable: case-insensitive content words; neighbouring hits separated
    only by spaces merge into one span so a reader sees phrases, not confetti.
    """
    words: set[str] = set()
    for t in texts:
        words |= _content_words(t or "")
    spans: list[tuple[int, int]] = []
    for m in _WORD.finditer(quote or ""):
        tok = m.group().lower()
        if not (any(ch.isdigit() for ch in tok) or (len(tok) >= 4 and tok not in _STOP)):
            continue
        if not _word_matches(tok, words):
            continue
        if spans and quote[spans[-1][1] : m.start()].strip(" ") == "":
            spans[-1] = (spans[-1][0], m.end())
        else:
            spans.append((m.start(), m.end()))
    return spans


# ------------------------------------------------------------------ building


def _resolve_article(session: Session, ref: str) -> Article:
    if ref.isdigit():
        art = session.get(Article, int(ref))
        if art is not None:
            return art
    found = list(session.execute(
        select(Article).where((Article.url == ref) | (Article.file == ref) | (Article.title == ref))
        .order_by(Article.id)
    ).scalars())
    if not found:
        raise UnknownScope(f"no article {ref!r} on this desk (give its id, URL, file or title)")
    if len(found) > 1:
        raise UnknownScope(f"{len(found)} articles match {ref!r}; give the article id instead")
    return found[0]


def _quotes(session: Session, raw: Iterable[dict[str, Any]], claim: Claim,
            cache: dict[tuple[str | None, str | None], Snapshot | None]) -> list[ReportQuote]:
    out = []
    for q in raw or []:
        sha, url = q.get("snapshot_sha256"), q.get("url")
        key = (sha, url)
        if key not in cache:
            snap = None
            if sha:
                snaps = list(session.execute(
                    select(Snapshot).where(Snapshot.sha256 == sha).order_by(Snapshot.fetched_at)
                ).scalars())
                same_url = [s for s in snaps if s.url == url or s.final_url == url]
                snap = (same_url or snaps)[0] if snaps else None
            cache[key] = snap
        snap = cache[key]
        text = str(q.get("quote") or "")
        out.append(ReportQuote(
            url=url, snapshot_sha256=sha, quote=text, start=q.get("start"), end=q.get("end"),
            source=q.get("source"), role=q.get("role"),
            captured_at=snap.fetched_at if snap else None,
            final_url=snap.final_url if snap and snap.final_url and snap.final_url != url else None,
            http_status=snap.status if snap else None,
            highlights=highlight_spans(text, claim.text, claim.statement),
        ))
    return out


def _verdict(session: Session, v: Verdict, claim: Claim,
             cache: dict[tuple[str | None, str | None], Snapshot | None]) -> ReportVerdict:
    return ReportVerdict(
        id=v.id, kind=v.kind, label=v.label, confidence=v.confidence, rationale=v.rationale or "",
        note=v.note, reviewer=v.reviewer, run_id=v.run_id, at=v.created_at, first_hand=v.first_hand,
        quotes=_quotes(session, v.quotes or [], claim, cache),
    )


def _article(a: Article, case_keys: dict[int, str]) -> ReportArticle:
    return ReportArticle(id=a.id, case=case_keys.get(a.case_id) if a.case_id else None, url=a.url, title=a.title,
                         outlet=a.outlet, language=a.language, published=a.published)


def build_report(
    session: Session,
    settings: Settings,
    *,
    case: str | None = None,
    article: str | None = None,
    run: int | None = None,
) -> Report:
    """Read everything a report shows, for the whole desk or one case, article or run.

    With `run`, each claim shows the verdict that run gave (the reproducible record of that run) and
    `superseded` says whether a later verdict replaced it; otherwise each claim shows its current verdict
    (the newest reviewer's, else the newest machine one).
    """
    q = select(Claim).options(selectinload(Claim.citations), selectinload(Claim.case)).order_by(Claim.id)
    scope: dict[str, Any] = {"case": None, "article": None, "run": None}
    title = "All claims on this desk"
    if case is not None:
        found = session.execute(select(Case).where(Case.key == case)).scalar()
        if found is None:
            keys = [k for (k,) in session.execute(select(Case.key).order_by(Case.id))]
            known = f" (known: {', '.join(repr(k) for k in keys[:10])})" if keys else ""
            raise UnknownScope(f"no case {case!r} on this desk{known}")
        q = q.where(Claim.case_id == found.id)
        scope["case"] = found.key
        title = found.title or found.key
    if article is not None:
        art = _resolve_article(session, article)
        q = q.where(Claim.article_id == art.id)
        scope["article"] = art.url or art.file or str(art.id)
        title = art.title or scope["article"]
    run_row: Run | None = None
    if run is not None:
        run_row = session.get(Run, run)
        if run_row is None:
            raise UnknownScope(f"no run {run} on this desk")
        q = q.where(Claim.id.in_(select(Verdict.claim_id).where(Verdict.run_id == run)))
        scope["run"] = run
        if case is None and article is None:
            title = f"Verification run {run}"
    claims = list(session.execute(q).scalars())
    if not claims:
        if not session.execute(select(Claim.id).limit(1)).first():
            raise EmptyReport("no claims on this desk yet: import a case (`factcheck claims import CASE.yaml`) "
                              "or run `factcheck demo`")
        raise EmptyReport("no claims in the chosen scope (" + ", ".join(
            f"{k} {v!r}" for k, v in scope.items() if v is not None) + ")")

    case_keys = {cid: key for cid, key in session.execute(select(Case.id, Case.key))}
    if all(v is None for v in scope.values()) and len({c.case_id for c in claims}) == 1 and claims[0].case:
        title = claims[0].case.title or claims[0].case.key  # the whole desk is one case: name it
    articles: dict[int, ReportArticle] = {}
    cache: dict[tuple[str | None, str | None], Snapshot | None] = {}
    run_ids: set[int] = set()
    out_claims: list[ReportClaim] = []
    for c in claims:
        art_row = session.get(Article, c.article_id) if c.article_id else None
        if art_row is None and c.case_id:
            art_row = session.execute(select(Article).where(Article.case_id == c.case_id)).scalar()
        rart = None
        if art_row is not None:
            rart = articles.setdefault(art_row.id, _article(art_row, case_keys))
        rows = list(session.execute(select(Verdict).where(Verdict.claim_id == c.id).order_by(Verdict.id)).scalars())
        history = [_verdict(session, v, c, cache) for v in rows]
        current = _current(history)
        shown = current
        if run is not None:
            mine = [h for h in history if h.run_id == run]
            shown = mine[-1] if mine else current
        evidence, evidence_run = (shown.quotes if shown else []), None
        if shown is not None and shown.kind == "human" and not evidence:
            earlier = [h for h in history if h.kind == "machine" and h.id < shown.id and h.quotes]
            if earlier:
                evidence, evidence_run = earlier[-1].quotes, earlier[-1].run_id
        run_ids.update(h.run_id for h in history if h.run_id is not None)
        out_claims.append(ReportClaim(
            db_id=c.id, key=c.key, case=c.case.key if c.case else None, article=rart, text=c.text,
            statement=c.statement, language=c.language, expected=c.expected, checkworthiness=c.checkworthiness,
            citations=[ReportCitation(ci.name, ci.phrase, ci.kind, bool(ci.second_hand), ci.via, ci.url)
                       for ci in c.citations],
            verdict=shown, history=history, evidence=evidence, evidence_run=evidence_run,
            superseded=shown is not None and current is not None and shown.id != current.id,
        ))
    runs = [
        ReportRun(r.id, r.started_at, r.finished_at, r.version, r.actor, dict(r.settings or {}),
                  dict(r.counts or {}))
        for r in session.execute(select(Run).where(Run.id.in_(run_ids)).order_by(Run.id)).scalars()
    ] if run_ids else []
    chain = audit.verify_session(session)
    return Report(
        generated_at=utcnow(), tool_version=__version__, organisation=str(settings.organisation or ""),
        organisation_url=str(settings.organisation_url or "") or None, scope=scope, title=title,
        claims=out_claims, articles=list(articles.values()), runs=runs,
        audit_ok=chain.ok, audit_events=chain.checked, audit_problem=chain.problem,
    )


def _current(history: Sequence[ReportVerdict]) -> ReportVerdict | None:
    """Same rule as `claims.current_verdict`: the newest human verdict wins, else the newest machine one."""
    for kind in ("human", "machine"):
        mine = [h for h in history if h.kind == kind]
        if mine:
            return mine[-1]
    return None


# ------------------------------------------------------------------ helpers


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "—"


def _is_web_url(url: str | None) -> bool:
    """Only plain http(s) URLs become links; anything else (javascript:, data:) stays text."""
    return bool(url) and re.match(r"^https?://[^\s<>\"'`]+$", url or "", re.IGNORECASE) is not None


def _conf(x: float | None) -> str:
    return f"{x:.2f}" if x is not None else "—"


# ------------------------------------------------------------------ JSON


def _quote_json(q: ReportQuote) -> dict[str, Any]:
    return {
        "url": q.url, "snapshot_sha256": q.snapshot_sha256, "quote": q.quote, "start": q.start, "end": q.end,
        "source": q.source, "role": q.role, "captured_at": _iso(q.captured_at), "final_url": q.final_url,
        "http_status": q.http_status, "highlights": [list(s) for s in q.highlights],
    }


def _verdict_json(v: ReportVerdict) -> dict[str, Any]:
    return {
        "id": v.id, "kind": v.kind, "label": v.label, "confidence": v.confidence, "rationale": v.rationale,
        "note": v.note, "reviewer": v.reviewer, "run": v.run_id, "decided_by": v.decided_by, "at": _iso(v.at),
        "first_hand": v.first_hand, "quotes": [_quote_json(q) for q in v.quotes],
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The JSON report: see report_schema.json. Claim objects extend the `claims list --json` keys."""
    return {
        "schema": SCHEMA_ID,
        "title": report.title,
        "generated_at": _iso(report.generated_at),
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
            {"id": r.id, "started_at": _iso(r.started_at), "finished_at": _iso(r.finished_at),
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


# ------------------------------------------------------------------ ClaimReview


def claim_review(report: Report, c: ReportClaim, *, base_url: str | None = None) -> dict[str, Any] | None:
    """One schema.org ClaimReview for a claim that has a verdict (None when it has none)."""
    v = c.verdict
    if v is None:
        return None
    value, name = RATING_SCALE[v.label]
    base = (base_url or report.organisation_url or "").split("#", 1)[0]
    org: dict[str, Any] = {"@type": "Organization", "name": report.organisation or "factcheck desk"}
    if report.organisation_url:
        org["url"] = report.organisation_url
    rating: dict[str, Any] = {
        "@type": "Rating", "ratingValue": value, "bestRating": BEST_RATING, "worstRating": WORST_RATING,
        "alternateName": name,
    }
    explanation = v.note or v.rationale
    if explanation:
        rating["ratingExplanation"] = explanation
    item: dict[str, Any] = {"@type": "Claim"}
    a = c.article
    if a is not None:
        if a.outlet:
            item["author"] = {"@type": "Organization", "name": a.outlet}
        if a.published:
            item["datePublished"] = a.published
        if a.url or a.title:
            appearance: dict[str, Any] = {"@type": "CreativeWork"}
            if a.url:
                appearance["url"] = a.url
            if a.title:
                appearance["headline"] = a.title
            if a.published:
                appearance["datePublished"] = a.published
            if a.outlet:
                appearance["publisher"] = {"@type": "Organization", "name": a.outlet}
            item["appearance"] = appearance
    lang = c.language or (a.language if a else None)
    review: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": f"{base}#{c.anchor}",
        "claimReviewed": c.text,
        "itemReviewed": item,
        "author": org,
        "reviewRating": rating,
        "datePublished": v.at.date().isoformat(),
    }
    if lang:
        review["inLanguage"] = lang
        item["inLanguage"] = lang
    return review


def render_claimreview(report: Report, *, base_url: str | None = None, reviewed_only: bool = False) -> str:
    """A JSON array of ClaimReview objects, one per claim with a verdict (with reviewed_only, one per claim
    whose current verdict is a reviewer's: what a desk publishes is what a person has signed off)."""
    claims = report.claims
    if reviewed_only:
        claims = [c for c in claims if c.verdict is not None and c.verdict.kind == "human"]
        left = sum(1 for c in report.claims if c.verdict is not None and c.verdict.kind != "human")
        if left:
            report.warnings.append(f"{left} claim(s) with only a machine verdict left out (--reviewed-only)")
    reviews = [r for c in claims if (r := claim_review(report, c, base_url=base_url)) is not None]
    if not (base_url or report.organisation_url):
        report.warnings.append(
            "organisation_url is not set, so each ClaimReview `url` is only a fragment (#claim-…); set "
            "FACTCHECK_ORGANISATION_URL (or organisation_url in factcheck.toml) or pass --base-url with the "
            "address where the report is published")
    skipped = sum(1 for c in report.claims if c.verdict is None)
    if skipped:
        report.warnings.append(f"{skipped} claim(s) without a verdict have no ClaimReview")
    return script_safe_json(reviews)


def script_safe_json(data: Any) -> str:
    """JSON that can be pasted into a `<script type="application/ld+json">` block as is: `<`, `>` and `&`
    are written as \\u escapes, so hostile text cannot close the block (same data for any JSON reader)."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


# ------------------------------------------------------------------ CSV

CSV_COLUMNS = (
    "case", "claim_id", "article_url", "claim", "statement", "cited_sources", "attribution", "verdict",
    "confidence", "decided_by", "decided_at", "rationale", "reviewer_note", "quotes", "evidence_urls",
    "snapshot_sha256", "captured_at", "history", "expected",
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
            f"{_when(h.at)} {h.decided_by}: {h.label}" + (f" — {h.note}" if h.note else "") for h in c.history
        )
        w.writerow([_cell(x) for x in (
            c.case, c.key, c.article.url if c.article else None, c.text, c.statement,
            "; ".join(ci.source for ci in c.citations),
            "; ".join(ci.phrase for ci in c.citations if ci.phrase),
            v.label if v else None, _conf(v.confidence) if v and v.confidence is not None else None,
            v.decided_by if v else None, _iso(v.at) if v else None, v.rationale if v else None,
            v.note if v else None, quotes,
            "\n".join(dict.fromkeys(q.url for q in c.evidence if q.url)),
            "\n".join(dict.fromkeys(q.snapshot_sha256 for q in c.evidence if q.snapshot_sha256)),
            "\n".join(dict.fromkeys(_iso(q.captured_at) or "" for q in c.evidence if q.captured_at)),
            history, c.expected,
        )])
    return buf.getvalue()


# ------------------------------------------------------------------ Markdown

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
    if _is_web_url(url):
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
        f"Generated {_when(report.generated_at)} by factcheck {md(report.tool_version)}"
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
        label = v.label.upper() if v else "NO VERDICT"
        lines += [f"## {md(c.key)}: **{label}**", "", f"> {md(c.text, line_start=True)}", ""]
        if c.statement:
            lines.append(f"- Statement: {md(c.statement)}")
        cites = [
            md(ci.source) + (f" (“{md(ci.phrase)}”)" if ci.phrase else "")
            + (f", second-hand via {md(ci.via)}" if ci.second_hand and ci.via else
               ", second-hand" if ci.second_hand else "")
            for ci in c.citations
        ]
        lines.append(f"- Cited: {'; '.join(cites) if cites else 'no source named'}")
        if v:
            lines.append(f"- Decided by: {md(v.decided_by)}, {_when(v.at)}, confidence {_conf(v.confidence)}"
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
                    f", captured {_when(q.captured_at)}, chars {q.start}–{q.end}, {md(q.role or '')}")
        if c.history:
            lines += ["", "| when | by | verdict | confidence | note |", "|---|---|---|---:|---|"]
            for h in c.history:
                lines.append(f"| {_when(h.at)} | {md(h.decided_by)} | {h.label} | {_conf(h.confidence)} "
                             f"| {md(h.note or '')} |")
        lines.append("")
    if report.runs:
        lines += ["## Runs", "", "| run | started | finished | version | by | settings | counts |",
                  "|---:|---|---|---|---|---|---|"]
        for r in report.runs:
            settings = ", ".join(f"{k}={v}" for k, v in r.settings.items())
            counts = ", ".join(f"{k} {v}" for k, v in r.counts.items())
            lines.append(f"| {r.id} | {_when(r.started_at)} | {_when(r.finished_at)} | {md(r.version)} "
                         f"| {md(r.actor or '')} | {md(settings)} | {md(counts)} |")
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------ HTML


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _link(url: str | None) -> str:
    if not url:
        return "—"
    if _is_web_url(url):
        return f'<a href="{_e(url)}">{_e(url)}</a>'
    return f"<span>{_e(url)}</span>"


def _marked_html(q: ReportQuote) -> str:
    parts, pos = [], 0
    for s, e in q.highlights:
        parts.append(_e(q.quote[pos:s]))
        parts.append(f"<mark>{_e(q.quote[s:e])}</mark>")
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
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}
th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
td.t{white-space:nowrap}
a{color:#0b57a4;word-break:break-all}
.warn{color:var(--bad);font-weight:600}
.legend{font-size:13px;color:var(--muted)}
.legend p{margin:4px 0}
details summary{cursor:pointer;color:var(--muted);font-size:13px;margin-top:8px}
@media print{
 @page{size:A4;margin:14mm 12mm}
 body{background:#fff;font-size:11pt}
 main{max-width:none;padding:0}
 .claim{border:none;border-top:1.5px solid #999;border-radius:0;padding:10px 0;margin:10px 0}
 .quote,.card,table,tr{break-inside:avoid}
 h2{break-after:avoid}.claim header{break-after:avoid}
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
        f'<p class="meta">Generated {_e(_when(report.generated_at))} by factcheck {_e(report.tool_version)}'
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

    out.append("<h2>Claims</h2>")
    for c in report.claims:
        out.append(_claim_html(c))

    if report.runs:
        out.append("<h2>Verification runs</h2><table><tr><th>run</th><th>started</th><th>finished</th>"
                   "<th>tool version</th><th>by</th><th>settings</th><th>counts</th></tr>")
        for r in report.runs:
            settings = "<br>".join(f"<code>{_e(k)}</code> = {_e('—' if v is None else v)}"
                                  for k, v in r.settings.items())
            counts = ", ".join(f"{_e(k)} {_e(v)}" for k, v in r.counts.items())
            out.append(f"<tr><td>{r.id}</td><td class=\"t\">{_e(_when(r.started_at))}</td>"
                       f"<td class=\"t\">{_e(_when(r.finished_at))}</td>"
                       f"<td>{_e(r.version)}</td><td>{_e(r.actor or '—')}</td><td>{settings or '—'}</td>"
                       f"<td>{counts or '—'}</td></tr>")
        out.append("</table>")

    out.append('<h2>What the verdicts mean</h2><div class="legend">')
    for label, meaning in LABEL_MEANING.items():
        out.append(f"<p>{_badge(label)} {_e(meaning)}</p>")
    out.append("<p>Highlighted words in a quote are the claim's words found in it, to help a reader check "
               "the match; they are not the verdict's reasoning. Hashes are SHA-256 of the archived page "
               "bytes; character offsets point into the snapshot's extracted text.</p></div>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


def _claim_html(c: ReportClaim) -> str:
    v = c.verdict
    o = [f'<section class="claim" id="{_e(c.anchor)}">',
         f"<header><h3>{_e(c.key)}</h3>{_badge(v.label if v else None)}"
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
            extra.append("second-hand" + (f" via {_e(ci.via)}" if ci.via else "") if ci.second_hand
                         else "first-hand")
            cites.append(f"<b>{_e(ci.source)}</b> ({', '.join(extra)})")
        o.append(f"<dt>Cited sources</dt><dd>{'; '.join(cites)}</dd>")
    else:
        o.append("<dt>Cited sources</dt><dd>none named</dd>")
    if v is not None:
        who = (f"reviewer <b>{_e(v.reviewer)}</b>" if v.kind == "human"
               else f"machine, run <b>{_e(v.run_id)}</b>")
        o.append(f"<dt>Decided by</dt><dd>{who}, {_e(_when(v.at))}, confidence {_e(_conf(v.confidence))}"
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
            o.append(f"<span>captured</span><span>{_e(_when(q.captured_at))}"
                     + (f" · HTTP {_e(q.http_status)}" if q.http_status else "")
                     + f" · chars {_e(q.start)}–{_e(q.end)}</span>")
            o.append("</div></div>")
    elif v is not None:
        o.append('<div class="meta">No evidence quote was found for this claim.</div>')
    if c.history:
        o.append("<details open><summary>Verdict history</summary><table><tr><th>when</th><th>by</th>"
                 "<th>verdict</th><th>confidence</th><th>rationale / note</th></tr>")
        for h in c.history:
            why = h.note or h.rationale
            o.append(f"<tr><td class=\"t\">{_e(_when(h.at))}</td><td>{_e(h.decided_by)}</td><td>{_badge(h.label)}</td>"
                     f"<td>{_e(_conf(h.confidence))}</td><td>{_e(why)}</td></tr>")
        o.append("</table></details>")
    o.append("</section>")
    return "\n".join(o)


# ------------------------------------------------------------------ output


def render(report: Report, fmt: str, *, base_url: str | None = None, reviewed_only: bool = False) -> str:
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
        return render_claimreview(report, base_url=base_url, reviewed_only=reviewed_only)
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


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """Path of a headless-capable Chromium, or None. FACTCHECK_CHROMIUM overrides the search."""
    env = os.environ.get("FACTCHECK_CHROMIUM")
    if env:
        return env if Path(env).is_file() else shutil.which(env)
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


def html_to_pdf(html_text: str, *, timeout: float = 120) -> bytes:
    """Print the HTML report to PDF in headless Chromium (A4, the report's print stylesheet)."""
    chromium = find_chromium()
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


def make_report(desk: Desk, settings: Settings, *, case: str | None = None, article: str | None = None,
                run: int | None = None) -> Report:
    """Build a report in one read-only session."""
    with desk.session() as s:
        return build_report(s, settings, case=case, article=article, run=run)


def report_bytes(report: Report, fmt: str, *, base_url: str | None = None, reviewed_only: bool = False) -> bytes:
    """The file content for any format, PDF included."""
    if fmt == "pdf":
        return html_to_pdf(render_html(report))
    return encode(render(report, fmt, base_url=base_url, reviewed_only=reviewed_only), fmt)


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
    return write_atomic(target, report_bytes(report, fmt, base_url=base_url)).resolve()
