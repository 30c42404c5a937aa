"""Candidate passages for a claim, cheapest and most trustworthy first.

1. passages of the evidence tied to the claim (latest capture of each URL);
2. full-text hits in captures of the sources the claim cites;
3. full-text hits anywhere else on the desk (second-hand reports, corroboration, contradiction).

Steps 2 and 3 go through an index (SQLite FTS5 / PostgreSQL GIN), so cost per claim grows far slower than
the archive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from factcheck.desk.models import Article, Claim, ClaimEvidence, Passage, Snapshot, Source, TermStat
from factcheck.judge.match import Candidate

_WORD = re.compile(r"[^\W_]{3,}|\d+(?:[.,]\d+)*", re.UNICODE)
_STOP = frozenset(
    """the and for are was were been has have had this that these those with from into over under about than
    then they them their there which who whom whose what when where why how its it's not but also more most
    some such only very said says will would could should may might can just der die das und oder aber ein
    eine einer eines einem einen den dem des ist sind war waren wird werden wurde wurden hat haben hatte mit
    von vom zum zur für auf aus bei nach über unter wie als auch noch nur sich sie ihr ihre ihren seine sein
    seiner dass nicht mehr laut zufolge diese dieser dieses diesem jeder jede jedes""".split()
)


@dataclass(frozen=True)
class RetrievalLimits:
    tied: int = 400        # passages taken from tied evidence (whole short pages)
    cited: int = 60        # full-text hits in cited sources' captures
    desk: int = 30         # full-text hits anywhere


def query_terms(texts: Iterable[str], limit: int = 32) -> list[str]:
    """Distinctive words of the claim (and its statement) for the full-text query."""
    seen: dict[str, None] = {}
    for t in texts:
        for w in _WORD.findall(t or ""):
            lw = w.casefold()
            if lw in _STOP or lw in seen:
                continue
            seen[lw] = None
    terms = sorted(seen, key=lambda w: (-len(w)))[:limit]
    return terms


def _latest_snapshot_ids(session: Session, urls: Sequence[str]) -> list[int]:
    if not urls:
        return []
    rows = session.execute(
        select(Snapshot.url, func.max(Snapshot.id)).where(Snapshot.url.in_(urls)).group_by(Snapshot.url)
    ).all()
    return [r[1] for r in rows]


# The search reads at most about this many postings per claim: terms are taken rarest first until the
# budget is spent (never fewer than two). Term frequencies come from the term_stat table in one lookup, so
# choosing terms and searching cost about the same on a desk of ten thousand passages or of millions.
POSTING_BUDGET = 2000
MAX_TERM_CHARS = 100


def _fts_literal(dialect: str, term: str) -> str:
    if dialect == "sqlite":
        return '"' + term.replace('"', "") + '"'
    return re.sub(r"[^\w]", "", term) or "x"


def passage_terms(text: str) -> set[str]:
    """The distinct terms of a passage, tokenised as claims are (so their statistics line up)."""
    return {w.casefold() for w in _WORD.findall(text or "") if len(w) <= MAX_TERM_CHARS}


def count_terms(session: Session, texts: Iterable[str]) -> None:
    """Add passages to the term statistics (an upsert per term, in sorted order so writers never deadlock)."""
    counts: dict[str, int] = {}
    for t in texts:
        for term in passage_terms(t):
            counts[term] = counts.get(term, 0) + 1
    if not counts:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        ins = pg_insert(TermStat)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        ins = sqlite_insert(TermStat)  # type: ignore[assignment]
    stmt = ins.on_conflict_do_update(index_elements=["term"], set_={"df": TermStat.df + ins.excluded.df})
    rows = [{"term": t, "df": n} for t, n in sorted(counts.items())]
    for i in range(0, len(rows), 2000):
        session.execute(stmt, rows[i : i + 2000])


def selective_terms(session: Session, terms: Sequence[str], *, budget: int = POSTING_BUDGET,
                    keep: int = 12) -> list[str]:
    """The rarest of the claim's terms: only they narrow the search, and only they keep it cheap."""
    if not terms:
        return []
    df = dict(session.execute(select(TermStat.term, TermStat.df).where(TermStat.term.in_(list(terms)))).all())
    found = sorted((n, t) for t, n in df.items() if n > 0)
    chosen: list[str] = []
    spent = 0
    for n, t in found:
        if len(chosen) >= keep or (len(chosen) >= 2 and spent + n > budget):
            break
        chosen.append(t)
        spent += n
    return chosen


def search_passages(
    session: Session, terms: Sequence[str], *, limit: int, source_ids: Sequence[int] | None = None,
    exclude_snapshots: Sequence[int] = (),
) -> list[int]:
    """Passage ids ranked by the database's full-text relevance (OR over the terms), newest captures only."""
    if not terms:
        return []
    dialect = session.get_bind().dialect.name
    params: dict[str, object] = {"limit": limit * 2}
    filters = ""
    if source_ids is not None:
        if not source_ids:
            return []
        filters += " AND s.source_id IN (" + ",".join(str(int(i)) for i in source_ids) + ")"
    if exclude_snapshots:
        filters += " AND p.snapshot_id NOT IN (" + ",".join(str(int(i)) for i in exclude_snapshots) + ")"
    if dialect == "sqlite":
        params["q"] = " OR ".join(_fts_literal(dialect, t) for t in terms)
        sql = (
            "SELECT p.id, p.snapshot_id, s.url FROM passage_fts f JOIN passage p ON p.id = f.rowid "
            "JOIN snapshot s ON s.id = p.snapshot_id "
            f"WHERE passage_fts MATCH :q{filters} ORDER BY bm25(passage_fts) LIMIT :limit"
        )
    elif dialect == "postgresql":
        params["q"] = " | ".join(_fts_literal(dialect, t) for t in terms)
        # the index goes first (a materialised CTE), so a large cited source is never scanned row by row:
        # the chosen terms keep the hits few, whatever the archive's size
        sql = (
            "WITH q AS (SELECT to_tsquery('simple', :q) AS q), "
            "hits AS MATERIALIZED (SELECT p.id, p.snapshot_id, ts_rank(to_tsvector('simple', p.text), q.q) AS r "
            "FROM passage p, q WHERE to_tsvector('simple', p.text) @@ q.q) "
            "SELECT p.id, p.snapshot_id, s.url FROM hits p JOIN snapshot s ON s.id = p.snapshot_id "
            f"WHERE true{filters} ORDER BY p.r DESC LIMIT :limit"
        )
    else:  # pragma: no cover - other databases are not supported desks
        return []
    rows = session.execute(text(sql), params).all()
    # only the newest capture of each URL speaks for it
    latest = dict(session.execute(
        select(Snapshot.url, func.max(Snapshot.id)).where(Snapshot.url.in_({r[2] for r in rows}))
        .group_by(Snapshot.url)
    ).all()) if rows else {}
    return [r[0] for r in rows if latest.get(r[2]) == r[1]][:limit]


def _candidates(session: Session, passage_ids: Sequence[int], *, tied: bool, cited_sources: set[int],
                context: bool = True) -> list[Candidate]:
    if not passage_ids:
        return []
    rows = list(session.execute(
        select(Passage, Snapshot, Source.name)
        .join(Snapshot, Snapshot.id == Passage.snapshot_id)
        .outerjoin(Source, Source.id == Snapshot.source_id)
        .where(Passage.id.in_(passage_ids))
    ).all())
    order = {pid: i for i, pid in enumerate(passage_ids)}
    rows.sort(key=lambda r: order[r[0].id])
    out = []
    for p, snap, source_name in rows:
        ctx = None
        if context:
            lo, hi = max(0, p.start - 300), min(len(snap.text), p.end + 300)
            ctx = snap.text[lo:hi]
        out.append(Candidate(
            passage_id=p.id, text=p.text, start=p.start, end=p.end, snapshot_sha256=snap.sha256,
            url=snap.url, source=source_name, tied=tied,
            cited=snap.source_id is not None and snap.source_id in cited_sources,
            published=snap.published, context=ctx,
        ))
    return out


def _own_article_snapshots(session: Session, claim: Claim) -> set[int]:
    if claim.article_id is None:
        return set()
    art = session.get(Article, claim.article_id)
    if art is None:
        return set()
    urls = {u for u in (art.url,) if u}
    if art.snapshot_id is not None:
        snap = session.get(Snapshot, art.snapshot_id)
        if snap is not None:
            urls.add(snap.url)
    ids = set(session.execute(select(Snapshot.id).where(Snapshot.url.in_(urls))).scalars()) if urls else set()
    if art.snapshot_id is not None:
        ids.add(art.snapshot_id)
    return ids


def candidates_for(session: Session, claim: Claim, limits: RetrievalLimits | None = None, *,
                   reading: str | None = None) -> list[Candidate]:
    """Passages to judge the claim on: its tied evidence, then its cited sources' and the desk's pages that
    share its words. `reading` is the claim's English form when it has no statement (a German claim's word
    gloss), so English pages are searched with English words too."""
    limits = limits or RetrievalLimits()
    cited_sources = {ci.source_id for ci in claim.citations if ci.source_id is not None}
    tied_urls = list(session.execute(
        select(Snapshot.url).join(ClaimEvidence, ClaimEvidence.evidence_url_id == Snapshot.evidence_url_id)
        .where(ClaimEvidence.claim_id == claim.id).distinct()
    ).scalars())
    tied_snaps = _latest_snapshot_ids(session, tied_urls)
    # a claim is never evidence for itself: leave out every capture of the claim's own article
    own = _own_article_snapshots(session, claim)
    tied_snaps = [i for i in tied_snaps if i not in own]
    tied_ids = list(session.execute(
        select(Passage.id).where(Passage.snapshot_id.in_(tied_snaps)).order_by(Passage.snapshot_id, Passage.seq)
        .limit(limits.tied)
    ).scalars()) if tied_snaps else []
    out = _candidates(session, tied_ids, tied=True, cited_sources=cited_sources)
    seen = set(tied_ids)
    terms = selective_terms(session, query_terms([claim.text, claim.statement or reading or ""], limit=16))
    if cited_sources:
        hits = [i for i in search_passages(session, terms, limit=limits.cited, source_ids=sorted(cited_sources),
                                           exclude_snapshots=[*tied_snaps, *own]) if i not in seen]
        seen.update(hits)
        out += _candidates(session, hits, tied=False, cited_sources=cited_sources)
    if limits.desk:
        hits = [i for i in search_passages(session, terms, limit=limits.desk,
                                           exclude_snapshots=[*tied_snaps, *own])
                if i not in seen]
        out += _candidates(session, hits, tied=False, cited_sources=cited_sources)
    return out
