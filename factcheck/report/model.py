"""The report model: what a report shows, read from the desk once by `build_report`.

The renderers (`html`, `markdown`, `json_report`, `csv_report`, `claimreview`, and `pdf` from the HTML)
turn this plain model into files; nothing here knows about output formats. Nothing that came from an
article or from evidence is trusted as markup: every renderer escapes it for its own format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from factcheck import __version__
from factcheck.desk import audit
from factcheck.desk.claims import finished_run_ids, fold_repeats, pick_current, repeat_key
from factcheck.desk.comments import comments_for
from factcheck.desk.models import Article, Case, Claim, Run, Snapshot, Verdict, utcnow
from factcheck.desk.runs import run_state
from factcheck.errors import FactcheckError
from factcheck.settings import Rating, Settings, rating_key

LABEL_MEANING = {  # what each verdict label means, in the words the reports print
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
    differs: list[tuple[int, int]] = field(default_factory=list)  # the values the claim disagrees with


def collapsed_history(history: list[ReportVerdict]) -> list[tuple[ReportVerdict, int]]:
    """The verdict history with runs in a row that said the same thing shown once, with how many runs said
    it (the newest of them is the row shown); the rule is the desk's (`desk.claims.repeat_key`)."""
    return [(last, n) for _first, last, n in
            fold_repeats(history, lambda h: repeat_key(h.kind, h.label, h.rationale, h.quotes))]


def citation_hand(second_hand: bool, via: str | None) -> str:
    """How the article attributes a claim to a source, in words that cannot be mistaken for how the
    evidence reports it (the verdict says "reported second-hand" of a passage, this says how it was cited)."""
    if second_hand:
        return "cited second-hand" + (f" via {via}" if via else "")
    return "cited directly"


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
    rating: str | None = None  # the desk rating a reviewer chose (a name on the desk's scale)

    @property
    def verdict_text(self) -> str:
        """The label, with the desk's rating when a reviewer gave one: `contested (rated “false”)`."""
        return self.label + (f" (rated “{self.rating}”)" if self.rating else "")

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
class ReportComment:
    author: str
    text: str
    at: datetime


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
    tags: list[str] = field(default_factory=list)
    comments: list[ReportComment] = field(default_factory=list)  # the claim's discussion, oldest first

    @property
    def anchor(self) -> str:
        """A stable fragment id: the HTML report and ClaimReview `url` share it."""
        base = f"{self.case}-{self.key}" if self.case else self.key
        return "claim-" + (re.sub(r"[^A-Za-z0-9]+", "-", base).strip("-").lower() or str(self.db_id))


@dataclass
class ReportRun:
    id: int
    state: str  # desk.runs.RUN_STATES: only a finished run's verdicts can be current
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
    ratings: dict[str, Rating] = field(default_factory=dict)  # the desk's rating scale, by rating_key

    def rating_of(self, v: ReportVerdict) -> Rating | None:
        """The scale step of a reviewer's rating, while the desk's scale still has it (else None)."""
        return self.ratings.get(rating_key(v.rating)) if v.rating else None

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


def differing_spans(quote: str, values: Iterable[str]) -> list[tuple[int, int]]:
    """Where the quote states the numbers the verdict found differing ("61" in "61 percent", also written
    "61,000" / "61.5" only when that is the value), as non-overlapping spans in order."""
    spans: list[tuple[int, int]] = []
    forms: set[str] = set()
    for v in values:
        if not v:
            continue
        forms.add(re.escape(v).replace(r"\.", r"[.,]"))
        if v.isdigit() and len(v) > 3:  # 61000 is printed 61,000 / 61.000 / 61 000
            grouped = f"{int(v):,}"
            forms.add(re.escape(grouped).replace(",", r"[,. \u202f]"))
    for pattern in forms:
        for m in re.finditer(rf"(?<![\d.,]){pattern}(?![\d]|[.,]\d)", quote):
            spans.append((m.start(), m.end()))
    spans.sort()
    out: list[tuple[int, int]] = []
    for s_, e in spans:
        if out and s_ < out[-1][1]:
            continue
        out.append((s_, e))
    return out


def _quotes(session: Session, raw: Iterable[dict[str, Any]], claim: Claim,
            cache: dict[tuple[str | None, str | None], Snapshot | None],
            differs: Iterable[str] = ()) -> list[ReportQuote]:
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
            differs=differing_spans(text, differs) if q.get("role") == "contradicts" else [],
        ))
    return out


def _verdict(session: Session, v: Verdict, claim: Claim,
             cache: dict[tuple[str | None, str | None], Snapshot | None]) -> ReportVerdict:
    return ReportVerdict(
        id=v.id, kind=v.kind, label=v.label, confidence=v.confidence, rationale=v.rationale or "",
        note=v.note, reviewer=v.reviewer, run_id=v.run_id, at=v.created_at, first_hand=v.first_hand,
        quotes=_quotes(session, v.quotes or [], claim, cache, (v.signals or {}).get("differs") or ()),
        rating=v.rating,
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
    q = (select(Claim).options(selectinload(Claim.citations), selectinload(Claim.case), selectinload(Claim.tags))
         .order_by(Claim.id))
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
    finished = finished_run_ids(session)
    threads = comments_for(session, [c.id for c in claims])
    for c in claims:
        art_row = session.get(Article, c.article_id) if c.article_id else None
        if art_row is None and c.case_id:
            art_row = session.execute(select(Article).where(Article.case_id == c.case_id)).scalar()
        rart = None
        if art_row is not None:
            rart = articles.setdefault(art_row.id, _article(art_row, case_keys))
        rows = list(session.execute(select(Verdict).where(Verdict.claim_id == c.id).order_by(Verdict.id)).scalars())
        history = [_verdict(session, v, c, cache) for v in rows]
        current = pick_current(history, finished_runs=finished)
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
            tags=[t.tag for t in c.tags],
            comments=[ReportComment(m.author, m.text, m.at) for m in threads.get(c.id, [])],
        ))
    runs = [
        ReportRun(r.id, run_state(r), r.started_at, r.finished_at, r.version, r.actor, dict(r.settings or {}),
                  dict(r.counts or {}))
        for r in session.execute(select(Run).where(Run.id.in_(run_ids)).order_by(Run.id)).scalars()
    ] if run_ids else []
    chain = audit.verify_session(session)
    return Report(
        generated_at=utcnow(), tool_version=__version__, organisation=str(settings.organisation or ""),
        organisation_url=str(settings.organisation_url or "") or None, scope=scope, title=title,
        claims=out_claims, articles=list(articles.values()), runs=runs,
        audit_ok=chain.ok, audit_events=chain.checked, audit_problem=chain.problem, ratings=settings.ratings,
    )


# ------------------------------------------------------------------ helpers


def iso_time(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def when_text(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "—"


def is_web_url(url: str | None) -> bool:
    """Only plain http(s) URLs become links; anything else (javascript:, data:) stays text."""
    return bool(url) and re.match(r"^https?://[^\s<>\"'`]+$", url or "", re.IGNORECASE) is not None


def conf_text(x: float | None) -> str:
    return f"{x:.2f}" if x is not None else "—"

