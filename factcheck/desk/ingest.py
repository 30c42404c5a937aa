"""Ingest on the desk: an article (file or URL) -> archived snapshot, stored article, claims and citations.

`factcheck.claimfinding.analysis` reads text; this module decides what the desk keeps. The article goes through the
evidence stage (fetcher politeness and limits for URLs, `store_capture` for every input) so it has its
own immutable snapshot, then one transaction stores the case, article, claims, citations, new
(unreviewed) sources and queued evidence URLs, with an audit event for every change. Cases, articles,
claims and evidence URLs are written through `factcheck.desk.records`, the write API case import uses too.

Claims get short ids, numbered per article in order of first appearance ("A3-7": article 3, claim 7), to
type and say aloud. Each also keeps a fingerprint, "c-" + a short hash of the sentence, so re-ingesting an
article (even after edits that shift sentences around) finds the claims it still makes, keeps their ids and
never duplicates them; claims that are no longer there are kept and reported, because people may have
reviewed them; new sentences get the next numbers.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from factcheck.claimfinding.analysis import (
    ClaimCandidate,
    IngestError,
    Registry,
    SourceRef,
    analyse_article,
    article_provenance,
    link_source,
    text_and_links_from_html,
)
from factcheck.desk import audit, records
from factcheck.desk.db import Desk, DeskRefused
from factcheck.desk.evidence import EvidenceError, store_capture
from factcheck.desk.models import (
    Article,
    Case,
    Claim,
    Snapshot,
    Source,
)
from factcheck.desk.sources import SourceIndex, merge_source
from factcheck.documents.extract import Extracted, ExtractionError, decode_bytes, extract_bytes
from factcheck.documents.fetch import Fetcher, FetchResult
from factcheck.settings import Settings, check_field, fit_field
from factcheck.text.language import de_or_en
from factcheck.text.sentences import segment
from factcheck.text.urls import looks_like_url, normalise_url

__all__ = [
    "ArticleInput",
    "IngestError",
    "IngestSummary",
    "IngestedClaim",
    "claim_key",
    "fetch_article",
    "ingest",
    "ingest_input",
    "map_links",
    "read_article_file",
]

LANGUAGES = ("de", "en")
VIA = "ingest"  # how records written by ingest name their path in the audit trail


# ---------------------------------------------------------------- input


@dataclass
class ArticleInput:
    """The raw bytes of an article and where they came from, before anything is stored."""

    url: str  # the snapshot's URL: the page URL, or file:// for a local file
    body: bytes
    origin: str  # "fetch" | "file"
    file: str | None = None
    content_type: str | None = None
    result: FetchResult | None = None


def read_article_file(path: str | Path, settings: Settings) -> ArticleInput:
    """A local HTML or text file, refused before reading when it is over the desk's size cap."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise IngestError(f"{path}: no such file") from None
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not p.is_file():
        raise IngestError(f"{path}: not a file")
    if st.st_size > settings.max_bytes:
        raise IngestError(f"{path}: file is {st.st_size:,} bytes, over the {settings.max_bytes:,}-byte cap "
                          "(max_bytes); not one article")
    if st.st_size == 0:
        raise IngestError(f"{path}: the file is empty")
    try:
        body = p.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    full = p.resolve()
    return ArticleInput(url=full.as_uri(), body=body, origin="file", file=str(full))


def fetch_article(url: str, settings: Settings, fetcher: Fetcher | None = None) -> ArticleInput:
    """Fetch through the evidence stage's fetcher (robots.txt, delays, retries, size cap, address guard)."""
    from factcheck.desk.capture import policy_from_settings

    own = fetcher is None
    fetcher = fetcher or Fetcher(policy_from_settings(settings))
    try:
        res = fetcher.fetch(url)
    finally:
        if own:
            fetcher.close()
    if res.outcome != "fetched" or res.body is None:
        status = f", HTTP {res.http_status}" if res.http_status else ""
        detail = f": {res.detail}" if res.detail else ""
        raise IngestError(f"{url}: fetch {res.outcome} ({res.reason or 'no body'}{status}){detail}")
    return ArticleInput(url=url, body=res.body, origin="fetch",
                        content_type=res.header("Content-Type") or res.content_type, result=res)


# ---------------------------------------------------------------- text and links


def map_links(text: str, html: str) -> tuple[list[tuple[int, int, str]], int, int]:
    """Anchor spans of `html` located in `text` (the extract stage's main text).

    Returns (links, mapped, prose_links): each anchor is looked up by its whole paragraph first, then by its
    text with a little context, then alone if it occurs once. `prose_links` counts anchors in paragraphs that
    read as prose (not link lists), the ones whose loss would matter."""
    reader, links = text_and_links_from_html(html)
    blocks: list[tuple[int, int]] = []
    pos = 0
    for part in reader.split("\n\n"):
        blocks.append((pos, pos + len(part)))
        pos += len(part) + 2
    out: list[tuple[int, int, str]] = []
    mapped = prose = 0
    for s, e, href in links:
        bs, be = next(((a, b) for a, b in blocks if a <= s and e <= b), (s, e))
        block = reader[bs:be]
        is_prose = len(block) >= 60 and bool(re.search(r"[.!?…][\"'”“»«’)]*$", block))
        prose += is_prose
        hit = _locate(text, reader, bs, be, s, e)
        if hit is None:
            continue
        mapped += is_prose
        out.append((hit, hit + (e - s), href))
    return out, mapped, prose


def _locate(text: str, reader: str, bs: int, be: int, s: int, e: int) -> int | None:
    block = reader[bs:be]
    i = text.find(block)
    if i >= 0 and text.find(block, i + 1) < 0:
        return i + (s - bs)
    anchor = reader[s:e]
    for left, right in ((min(40, s - bs), 0), (0, min(40, be - e)), (min(15, s - bs), min(15, be - e))):
        probe = reader[s - left:e + right]
        if len(probe) <= len(anchor):
            continue
        i = text.find(probe)
        if i >= 0 and text.find(probe, i + 1) < 0:
            return i + left
    i = text.find(anchor)
    if i >= 0 and len(anchor) >= 4 and text.find(anchor, i + 1) < 0:
        return i
    return None


_DATELINE = re.compile(r"^\s*(\d{1,2})\.?\s+([A-Za-zÄÖÜäöü]+)\.?,?\s+(\d{4})\s*$|^\s*([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})\s*$")
_MONTH_NUM = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "mai": 5, "juni": 6, "juli": 7, "oktober": 10,
    "dezember": 12} | {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m} | {"sept": 9}


def _dateline(text: str) -> str | None:
    """ISO date of a dateline among the first lines ("01. September, 2025", "Sept. 3, 2025")."""
    for line in text.split("\n")[:6]:
        m = _DATELINE.match(line)
        if not m:
            continue
        day, month, year = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(5), m.group(4), m.group(6))
        num = _MONTH_NUM.get(month.lower())
        if num and 1 <= int(day) <= 31:
            return f"{int(year):04d}-{num:02d}-{int(day):02d}"
    return None


def _title_from_text(text: str) -> str | None:
    """First heading-like line of at least three words that is not a dateline (plain-text articles)."""
    for u in segment(text)[:12]:
        line = text[u.start:u.end].strip()
        if u.kind == "heading" and len(line.split()) >= 3 and not _DATELINE.match(line) and len(line) <= 300:
            return line
    return None


# ---------------------------------------------------------------- keys


claim_key = records.claim_fingerprint


# ---------------------------------------------------------------- summary


@dataclass
class IngestedClaim:
    id: str
    text: str
    cited: list[str]
    attribution: list[str]
    second_hand: bool
    checkworthiness: float
    start: int
    end: int
    outcome: str  # "created" | "updated" | "unchanged"
    urls: list[str] = field(default_factory=list)
    fingerprint: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "fingerprint": self.fingerprint, "text": self.text, "cited": self.cited,
                "attribution": self.attribution,
                "second_hand": self.second_hand, "checkworthiness": self.checkworthiness,
                "start": self.start, "end": self.end}


@dataclass
class IngestSummary:
    case: str
    article_id: int
    article: str  # "created" | "updated" | "unchanged"
    title: str | None
    outlet: str | None
    language: str
    published: str | None
    snapshot_id: int
    snapshot_sha256: str
    snapshot_created: bool
    text_source: str  # "extracted" | "html-reader" | "text"
    units: int
    claims: list[IngestedClaim] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    sources_created: list[str] = field(default_factory=list)
    evidence_queued: list[str] = field(default_factory=list)
    links: dict[str, int] = field(default_factory=dict)
    provenance: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"created": 0, "updated": 0, "unchanged": 0}
        for c in self.claims:
            out[c.outcome] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case, "article_id": self.article_id, "article": self.article, "title": self.title,
            "outlet": self.outlet, "language": self.language, "published": self.published,
            "snapshot_id": self.snapshot_id, "snapshot_sha256": self.snapshot_sha256,
            "snapshot_created": self.snapshot_created, "text_source": self.text_source, "units": self.units,
            "claims": self.counts(), "gone": self.gone, "sources_created": self.sources_created,
            "evidence_queued": self.evidence_queued, "links": self.links, "provenance": self.provenance,
        }


# ---------------------------------------------------------------- the desk side


@dataclass
class _Prepared:
    extracted: Extracted
    text: str
    links: list[tuple[int, int, str]]
    text_source: str
    link_counts: dict[str, int]


def _prepare(inp: ArticleInput) -> _Prepared:
    """Extract once before anything is stored, so unreadable input leaves no trace on the desk."""
    name = Path(inp.file).name if inp.file else None
    try:
        ex = extract_bytes(inp.body, content_type=inp.content_type, url=inp.url if inp.origin == "fetch" else None,
                           filename=name)
    except ExtractionError as exc:
        raise IngestError(f"{name or inp.url}: {exc}") from None
    if ex.content_type != "text/html":
        return _Prepared(ex, ex.text, [], "text", {})
    html, _ = decode_bytes(inp.body, inp.content_type)
    links, mapped, prose = map_links(ex.text, html)
    counts = {"found": len(text_and_links_from_html(html)[1]), "mapped": len(links)}
    if prose and mapped * 2 < prose:
        # the extractor dropped most of the paragraphs that carry links (its precision mode can throw away
        # an article's body on unusual markup): the plain block reader keeps them and their spans
        reader, reader_links = text_and_links_from_html(html)
        if reader.strip():
            counts["mapped"] = len(reader_links)
            return _Prepared(ex, reader, reader_links, "html-reader", counts)
    return _Prepared(ex, ex.text, links, "extracted", counts)


def _analyse(prep: _Prepared, lang: str, registry: Registry, thr: float) -> list[ClaimCandidate]:
    """Analyse with the registry as it will be after this ingest: names the article introduces become
    (unreviewed) sources, and a known name scores differently from an unknown one, so without this second
    pass a plain re-ingest would change check-worthiness. `registry` is extended in place."""
    cands = analyse_article(prep.text, language=lang, registry=registry, links=prep.links, threshold=thr)
    for _ in range(3):  # a fixpoint in practice after one extra pass
        added = 0
        anonymous = {a.source for c in cands for a in c.attributions if a.kind == "anonymous"}
        for c in cands:
            for a in c.attributions if c.is_claim else ():
                if a.source and a.kind != "anonymous" and not a.known and a.source not in anonymous:
                    # a name added earlier in this pass links to its entry (after every older one)
                    linked, known = registry.link(a.source)
                    if not known and linked:
                        registry.append(SourceRef(linked[:200]))
                        added += 1
        if not added:
            break
        cands = analyse_article(prep.text, language=lang, registry=registry, links=prep.links, threshold=thr)
    return cands


def _registry(session: Session) -> Registry:
    return Registry(SourceRef(s.name, list(s.aliases or []), list(s.domains or []))
                    for s in session.execute(select(Source).order_by(Source.id)).scalars())


def ingest(
    desk: Desk,
    settings: Settings,
    path_or_url: str,
    *,
    actor: str,
    outlet: str | None = None,
    language: str | None = None,
    case: str | None = None,
    threshold: float | None = None,
    fetcher: Fetcher | None = None,
) -> IngestSummary:
    """Read or fetch the article, then store everything in one transaction."""
    if looks_like_url(path_or_url):
        inp = fetch_article(normalise_url(path_or_url), settings, fetcher)
    else:
        inp = read_article_file(path_or_url, settings)
    try:
        with desk.session() as s:
            return ingest_input(s, settings, inp, actor=actor, outlet=outlet, language=language, case=case,
                                threshold=threshold)
    except DeskRefused as exc:  # the database's refusal, said once (desk.db.explain_refusal), with the article
        raise IngestError(f"{path_or_url}: {exc}") from None


def ingest_input(
    session: Session,
    settings: Settings,
    inp: ArticleInput,
    *,
    actor: str,
    outlet: str | None = None,
    language: str | None = None,
    case: str | None = None,
    threshold: float | None = None,
) -> IngestSummary:
    """Store one article read into `inp` inside the caller's transaction."""
    if outlet:
        check_field("outlet", outlet)
    if case:
        check_field("case", case)
    thr = _check_options(settings, language, threshold)
    prep = _prepare(inp)
    ex = prep.extracted
    lang = language or (ex.language if ex.language in LANGUAGES else None) or de_or_en(prep.text)
    registry = _registry(session)
    cands = _analyse(prep, lang, registry, thr)

    snap, snap_created = _snapshot(session, settings, inp, actor)
    if prep.text_source == "extracted" and snap.text != prep.text:
        # an older snapshot of the same bytes extracted differently: analyse what the desk keeps
        prep = _Prepared(ex, snap.text, map_links(snap.text, decode_bytes(inp.body, inp.content_type)[0])[0],
                         "extracted", prep.link_counts)
        cands = _analyse(prep, lang, registry, thr)

    about = _describe(prep, inp, outlet)
    case_row, article, article_outcome = _case_and_article(session, inp, about, case, lang, snap.id, prep.text,
                                                           actor)
    summary = IngestSummary(
        case=case_row.key, article_id=article.id, article=article_outcome, title=about.title,
        outlet=about.outlet, language=lang, published=about.published, snapshot_id=snap.id,
        snapshot_sha256=snap.sha256, snapshot_created=snap_created, text_source=prep.text_source,
        units=len(cands), links=prep.link_counts, provenance=about.provenance)
    _store_claims(session, case_row, article, cands, lang, registry, actor, summary)
    audit.record(session, actor=actor, action="article.ingest", entity="article", entity_id=article.id,
                 after={"case": case_row.key, "snapshot_sha256": snap.sha256, "threshold": thr,
                        "claims": summary.counts(), "gone": summary.gone,
                        "sources_created": summary.sources_created, "evidence_queued": summary.evidence_queued})
    return summary


def _check_options(settings: Settings, language: str | None, threshold: float | None) -> float:
    """Refuse a bad language or threshold before anything is read or stored; the threshold to use."""
    if language is not None and language not in LANGUAGES:
        raise IngestError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    thr = settings.checkworthiness_threshold if threshold is None else threshold
    if not 0.0 <= thr <= 1.0:
        raise IngestError(f"threshold must be between 0 and 1, not {thr}")
    return thr


def _snapshot(session: Session, settings: Settings, inp: ArticleInput, actor: str) -> tuple[Snapshot, bool]:
    """Archive the input through the evidence stage so the article has its own immutable snapshot; the
    same bytes as the last capture of this URL give the same snapshot, and only a new one is audited."""
    res = inp.result
    try:
        if res is not None:
            snap, snap_created = store_capture(
                session, settings, url=inp.url, body=inp.body, origin="fetch", fetched_at=res.fetched_at,
                status=res.http_status, headers=res.headers, final_url=res.final_url,
                redirects=[list(r) for r in res.redirects], content_type=inp.content_type)
        else:
            snap, snap_created = store_capture(session, settings, url=inp.url, body=inp.body, origin="file",
                                               filename=Path(inp.file).name if inp.file else None)
    except EvidenceError as exc:
        raise IngestError(str(exc)) from None
    if snap_created:
        audit.record(session, actor=actor, action="article.capture", entity="snapshot", entity_id=snap.id,
                     after={"url": inp.url, "sha256": snap.sha256, "origin": snap.origin,
                            "warc_path": snap.warc_path})
    return snap, snap_created


@dataclass
class _About:
    """What the article says about itself, as the desk stores it."""

    page_url: str | None  # None for a local file
    title: str | None
    outlet: str | None
    published: str | None
    provenance: list[str]


def _describe(prep: _Prepared, inp: ArticleInput, outlet: str | None) -> _About:
    """Title, outlet and date from the extractor's metadata, falling back to what the text itself shows
    (heading, site host, provenance line, dateline), since plain-text articles carry no metadata."""
    ex, res = prep.extracted, inp.result
    provenance = article_provenance(prep.text)
    page_url = inp.url if inp.origin == "fetch" else None
    title = ex.title or _title_from_text(prep.text)
    host = (urlparse(res.final_url or inp.url).hostname or "").removeprefix("www.") if res else None
    outlet_v = outlet or (ex.metadata or {}).get("sitename") or host or (provenance[0] if provenance else None)
    published = ex.published or _dateline(prep.text)
    return _About(page_url, fit_field("title", title), fit_field("outlet", outlet_v),
                  fit_field("published", published), provenance)


def _case_and_article(session: Session, inp: ArticleInput, about: _About, case: str | None, lang: str,
                      snapshot_id: int, text: str, actor: str) -> tuple[Case, Article, str]:
    """Find or make the case (the one named, else the one this URL or file was ingested into before) and
    create or update the article in it, so a re-ingest lands on the same rows."""
    page_url = about.page_url
    art = session.execute(
        select(Article).where(Article.url == page_url if page_url else Article.file == inp.file)
        .order_by(Article.id)
    ).scalars().all()
    case_row: Case | None = None
    if case:
        case_row = session.execute(select(Case).where(Case.key == case)).scalar()
    elif art:
        case_row = session.get(Case, art[0].case_id) if art[0].case_id else None
    if case_row is None:
        key = (case or about.title or page_url or Path(inp.file or "article").stem).strip()[:200]
        case_row, _ = records.ensure_case(session, key, case or about.title, actor, path=page_url or inp.file,
                                          via=VIA)
    values: dict[str, Any] = {"url": page_url, "file": inp.file, "title": about.title, "outlet": about.outlet,
                              "language": lang, "published": about.published, "snapshot_id": snapshot_id,
                              "text": text}
    same = next((a for a in art if a.case_id == case_row.id), None)
    if same is None and not page_url:
        # a file ingested elsewhere and brought here by a case file (which carries the text, not the path):
        # the case's article with the very same text is this one
        same = session.execute(select(Article).where(Article.case_id == case_row.id, Article.url.is_(None),
                                                     Article.text == text).order_by(Article.id)).scalar()
    article, article_outcome = records.upsert_article(session, case_row, values, actor, article=same)
    return case_row, article, article_outcome


def _store_claims(session: Session, case_row: Case, article: Article, cands: list[ClaimCandidate], lang: str,
                  registry: Registry, actor: str, summary: IngestSummary) -> None:
    """Store every claim under its fingerprint (unique within the case, so repeated sentences don't
    collide) into `summary.claims`, and list in `summary.gone` the claims the article no longer makes."""
    case_claims = list(session.execute(
        select(Claim).where(Claim.case_id == case_row.id)
        .options(selectinload(Claim.citations), selectinload(Claim.evidence_links))
    ).scalars())
    existing = {c.fingerprint: c for c in case_claims if c.fingerprint}
    taken = {c.key for c in case_claims}
    linker = _SourceLinker(session, registry, actor, summary)
    anonymous = {a.source for c in cands for a in c.attributions if a.kind == "anonymous" and a.source}
    seen: set[str] = set()
    for cand in cands:
        if not cand.is_claim:
            continue
        fp = claim_key(cand.text)
        other = existing.get(fp)
        if other is not None and other.article_id not in (None, article.id):
            fp = f"{fp}-a{article.id}"  # the same sentence in another article of this case
        n = 2
        base = fp
        while fp in seen:  # the same sentence twice in one article
            fp, n = f"{base}-{n}", n + 1
        seen.add(fp)
        known = existing.get(fp)
        key = known.key if known is not None else records.next_claim_key(taken, f"A{article.id}-")
        summary.claims.append(_store_claim(session, case_row, article, key, fp, cand, lang, linker, anonymous,
                                           existing, actor))

    # only claims an ingest made (those with a fingerprint); hand-written case-file claims are not "gone"
    summary.gone = sorted(c.key for f, c in existing.items() if c.article_id == article.id and f not in seen)


class _SourceLinker:
    """Citation names -> registry sources; unknown names become unreviewed sources (once per name)."""

    def __init__(self, session: Session, registry: Registry, actor: str, summary: IngestSummary) -> None:
        self.session, self.registry, self.actor, self.summary = session, Registry(registry), actor, summary
        # the registry read once per article, not once per citation (ingests add unreviewed sources, so a
        # desk's registry grows into the thousands)
        self.index = SourceIndex(session)

    def link(self, name: str) -> Source:
        linked, known = link_source(name, self.registry)
        src = self.index.find(linked) if known else None
        if src is None:
            src, outcome = merge_source(self.session, name=(linked or name)[:200], actor=self.actor, reviewed=False,
                                        index=self.index)
            if outcome == "created":
                self.summary.sources_created.append(src.name)
                self.registry.append(SourceRef(src.name, [], []))
        return src

    def via_name(self, name: str | None) -> str | None:
        if not name:
            return None
        linked, _ = link_source(name, self.registry)
        return linked[:200]


def _citations(cand: ClaimCandidate, linker: _SourceLinker, anonymous: set[str]) -> list[dict[str, Any]]:
    """Citation rows; a pointer back to an anonymous source ("Das Papier" after "ein internes Papier")
    stays anonymous (no registry source) but keeps its kind."""
    out: list[dict[str, Any]] = []
    for a in cand.attributions:
        row: dict[str, Any]
        if a.kind == "anonymous" or not a.source or (a.kind == "inherited" and a.source in anonymous):
            row = {"source_id": None, "name": (a.source or a.phrase or "anonymous")[:200],
                   "kind": "inherited" if a.kind == "inherited" else "anonymous"}
        else:
            src = linker.link(a.source)
            row = {"source_id": src.id, "name": src.name, "kind": a.kind}
        row |= {"phrase": a.phrase, "second_hand": bool(a.second_hand), "via": linker.via_name(a.via),
                "url": a.url}
        if row not in out:
            out.append(row)
    return out


def _store_claim(session: Session, case: Case, article: Article, key: str, fingerprint: str,
                 cand: ClaimCandidate, lang: str, linker: _SourceLinker, anonymous: set[str],
                 existing: dict[str, Claim], actor: str) -> IngestedClaim:
    cits = _citations(cand, linker, anonymous)
    urls: list[tuple[str, int | None]] = []
    for ci in cits:
        if not ci["url"] or any(u == ci["url"] for u, _ in urls):
            continue
        host = urlparse(ci["url"]).hostname or ""
        by_domain = linker.index.for_domain(host) if host else None
        sid = by_domain.id if by_domain else (None if ci["second_hand"] else ci["source_id"])
        urls.append((ci["url"], sid))
    refs = [records.EvidenceRef(u, sid) for u, sid in urls]
    prev = existing.get(fingerprint)
    if prev is not None:
        # evidence a checker tied to the claim (`evidence add`, `check --evidence`) is not the article's to
        # take away: only the pages its own links pointed at follow the article's edits
        before = records.claim_state(prev, session)
        linked = {row["url"] for row in before["cited"] if row["url"]} | {u for u, _ in urls}
        refs += [records.EvidenceRef(u) for u in before["evidence"] if u not in linked]
    claim, created, changed = records.upsert_claim(
        session, case, key, cand.text, actor=actor, article_id=article.id, language=lang,
        checkworthiness=cand.checkworthiness, start=cand.start, end=cand.end, fingerprint=fingerprint,
        citations=cits, evidence_urls=refs, via=VIA,
        queued=linker.summary.evidence_queued)
    existing[fingerprint] = claim
    outcome = "created" if created else "updated" if changed else "unchanged"
    return IngestedClaim(
        id=key, text=cand.text, cited=[ci["name"] for ci in cits], attribution=[ci["phrase"] for ci in cits],
        second_hand=any(ci["second_hand"] for ci in cits), checkworthiness=cand.checkworthiness,
        start=cand.start, end=cand.end, outcome=outcome, urls=[u for u, _ in urls], fingerprint=fingerprint)

