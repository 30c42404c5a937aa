"""Candidate passages for a claim, cheapest and most trustworthy first.

1. passages of the evidence tied to the claim (latest capture of each URL);
2. full-text hits in captures of the sources the claim cites;
3. full-text hits anywhere else on the desk (second-hand reports, corroboration, contradiction).

Steps 2 and 3 go through an index (SQLite FTS5 / PostgreSQL GIN), so cost per claim grows far slower than
the archive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, String, any_, bindparam, func, select, text
from sqlalchemy.orm import Session

from factcheck.desk.models import Article, Claim, ClaimEvidence, Passage, Snapshot, Source, TermStat
from factcheck.judge.match import Candidate, remember

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
# searches of a batch made by one SQLite statement (SQLite allows 500 terms in a compound SELECT; two a search)
_SQLITE_SEARCHES_PER_STATEMENT = 100
MAX_TERM_CHARS = 100


def _pg_hits(query: str) -> str:
    """A PostgreSQL search's two CTEs, `q` and `hits` (each hit's passage id, snapshot id and rank), for the
    OR-query text `query` (a parameter or a column). The query is parsed once: not MATERIALIZED, PostgreSQL
    (12 and later) folds a CTE used once into the statement, and to_tsquery(), being only STABLE, was then
    parsed again for every hit it ranked: 7.4 -> 2.5 ms a search on the verify bench desk (~1,500 hits
    each), the same hits and ranks. Ranks read the stored tsvector (migration 0010): the same value, not
    rebuilt from every hit's text."""
    return (f"q AS MATERIALIZED (SELECT to_tsquery('simple', {query}) AS q), "
            "hits AS MATERIALIZED (SELECT p.id, p.snapshot_id, ts_rank(p.passage_tsv, q.q) AS r "
            "FROM passage p, q WHERE to_tsvector('simple', p.text) @@ q.q) ")


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
    return choose_terms(term_frequencies(session, terms), terms, budget=budget, keep=keep)


def among(dialect: str, column: Any, values: Sequence[Any]) -> Any:
    """`column IN values` with the values as one parameter (a JSON array on SQLite, an array on PostgreSQL),
    not one parameter each: SQLAlchemy names and renders every value of an IN list in Python, which for the
    thousands of ids a batch of claims reads cost more than the queries (verify's reading thread: 3.1 -> 1.7
    million Python calls for 2,000 claims), and the statement's text is then the same whatever the values."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    if dialect == "sqlite":
        each = func.json_each(bindparam(None, json.dumps(list(values)), type_=String)).table_valued("value")
        return column.in_(select(each.c.value))
    return column.in_(values)


def term_frequencies(session: Session, terms: Iterable[str]) -> dict[str, int]:
    """How many passages hold each of the terms (those no passage holds are left out), in one lookup per
    thousand terms."""
    wanted = sorted(set(terms))
    df: dict[str, int] = {}
    dialect = session.get_bind().dialect.name
    for i in range(0, len(wanted), 1000):
        df.update(session.execute(select(TermStat.term, TermStat.df)
                                  .where(among(dialect, TermStat.term, wanted[i : i + 1000]))).all())
    return df


def choose_terms(df: dict[str, int], terms: Sequence[str], *, budget: int = POSTING_BUDGET,
                 keep: int = 12) -> list[str]:
    """selective_terms on frequencies already looked up (`df` may hold other claims' terms too)."""
    found = sorted((df[t], t) for t in set(terms) if df.get(t, 0) > 0)
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
        # (equal ranks are common, ts_rank does not weigh length: the passage id orders them, or which of
        # them made the cut would depend on the plan PostgreSQL happened to choose)
        sql = (
            "WITH " + _pg_hits(":q")
            + "SELECT p.id, p.snapshot_id, s.url FROM hits p JOIN snapshot s ON s.id = p.snapshot_id "
            f"WHERE true{filters} ORDER BY p.r DESC, p.id LIMIT :limit"
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
    return candidates_for_claims(session, [claim], limits, readings={claim.id: reading})[claim.id]


def candidates_for_claims(session: Session, claims: Sequence[Claim], limits: RetrievalLimits | None = None, *,
                          readings: Mapping[int, str | None] | None = None,
                          tied_only: bool = False) -> dict[int, list[Candidate]]:
    """candidates_for of each of a batch of claims (by claim id), with the database asked once per batch
    wherever the claims' questions can be asked together; the full-text search is one query per claim.

    `tied_only`: a claim with passages of its tied evidence gets only those, unsearched (what the verdict
    reads of such a claim when its setting `tied_first` is on); a claim without any is searched as ever."""
    return _Batch(session, limits or RetrievalLimits(), tied_only=tied_only).run(claims, readings or {})


class _Batch:
    """One batch of claims' retrieval, inside one transaction: what it reads of snapshots is kept for the
    batch only (a snapshot's source can be filled in later, and newer captures can arrive)."""

    def __init__(self, session: Session, limits: RetrievalLimits, *, tied_only: bool = False) -> None:
        self.s = session
        self.limits = limits
        self.tied_only = tied_only
        self.dialect = session.get_bind().dialect.name
        self.snaps: dict[int, tuple[int | None, str]] = {}  # snapshot id -> (source id, url)
        self.latest: dict[str, int] = {}  # url -> its newest snapshot id

    def _among(self, column: Any, values: Sequence[Any]) -> Any:
        return among(self.dialect, column, values)

    def _rows(self, stmt: Any) -> list[Any]:
        """A column query's rows through the session's connection (Core): the ORM's result handling cost
        more than the query for the thousands of passage rows a batch reads."""
        return self.s.connection().execute(stmt).all()

    # ------------------------------------------------------------ lookups shared by the batch

    def _latest(self, urls: Iterable[str]) -> dict[str, int]:
        todo = sorted({u for u in urls if u not in self.latest})
        for k in range(0, len(todo), 500):
            self.latest.update(self._rows(
                select(Snapshot.url, func.max(Snapshot.id)).where(self._among(Snapshot.url, todo[k : k + 500]))
                .group_by(Snapshot.url)))
        return self.latest

    def _tied_snapshots(self, claim_ids: list[int]) -> dict[int, set[int]]:
        """The newest capture of each URL tied to each claim."""
        rows = self.s.execute(
            select(ClaimEvidence.claim_id, Snapshot.url)
            .join(ClaimEvidence, ClaimEvidence.evidence_url_id == Snapshot.evidence_url_id)
            .where(self._among(ClaimEvidence.claim_id, claim_ids)).distinct()
        ).all()
        latest = self._latest(url for _c, url in rows)
        out: dict[int, set[int]] = {}
        for cid, url in rows:
            if url in latest:
                out.setdefault(cid, set()).add(latest[url])
        return out

    def _own_snapshots(self, claims: Sequence[Claim]) -> dict[int, set[int]]:
        """Every capture of each claim's own article (a claim is never evidence for itself)."""
        art_ids = sorted({c.article_id for c in claims if c.article_id is not None})
        if not art_ids:
            return {}
        arts = {a: (url, snap) for a, url, snap in self.s.execute(
            select(Article.id, Article.url, Article.snapshot_id).where(self._among(Article.id, art_ids)))}
        snap_urls = dict(self.s.execute(select(Snapshot.id, Snapshot.url).where(
            self._among(Snapshot.id, sorted({snap for _u, snap in arts.values() if snap is not None})))).all())
        urls_of = {a: {u for u in (url, snap_urls.get(snap) if snap is not None else None) if u}
                   for a, (url, snap) in arts.items()}
        all_urls = sorted(set().union(*urls_of.values()))
        by_url: dict[str, set[int]] = {}
        for k in range(0, len(all_urls), 500):
            for i, url in self.s.execute(select(Snapshot.id, Snapshot.url)
                                         .where(self._among(Snapshot.url, all_urls[k : k + 500]))):
                by_url.setdefault(url, set()).add(i)
        out: dict[int, set[int]] = {}
        for a, (_url, snap) in arts.items():
            ids = set().union(*(by_url.get(u, set()) for u in urls_of[a]))
            if snap is not None:
                ids.add(snap)
            out[a] = ids
        return {c.id: out.get(c.article_id, set()) for c in claims if c.article_id is not None}

    def _tied_passages(self, snaps: set[int]) -> dict[int, list[int]]:
        """Passage ids of each snapshot, in order."""
        out: dict[int, list[int]] = {}
        ordered = sorted(snaps)
        for k in range(0, len(ordered), 500):
            for pid, sid in self._rows(
                select(Passage.id, Passage.snapshot_id).where(self._among(Passage.snapshot_id, ordered[k : k + 500]))
                .order_by(Passage.snapshot_id, Passage.seq)
            ):
                out.setdefault(sid, []).append(pid)
        return out

    # ------------------------------------------------------------ full-text search

    def _search(self, terms: Sequence[str], cited: Sequence[int],
                exclude: set[int]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """search_passages' hits (passage id, snapshot id) for the cited sources (when there are) and for the
        whole desk, from one query, before the newest-capture filter (`_newest`, asked once per batch)."""
        return self._searches([(terms, cited, exclude)])[0]

    def _searches(self, searches: Sequence[tuple[Sequence[str], Sequence[int], set[int]]]
                  ) -> list[tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
        """_search of each (terms, cited sources, excluded snapshots): on SQLite all in few statements, on
        PostgreSQL in one."""
        limits = self.limits
        out: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]] = [([], []) for _ in searches]
        todo = [k for k, (terms, cited, _excl) in enumerate(searches) if terms and (limits.desk or cited)]
        if self.dialect == "sqlite":
            found = self._search_sqlite_many([searches[k] for k in todo])
        else:
            found = self._search_pg_many([searches[k] for k in todo])
        for k, hits in zip(todo, found, strict=True):
            out[k] = hits
        return out

    def _search_sqlite_many(self, searches: Sequence[tuple[Sequence[str], Sequence[int], set[int]]]
                            ) -> list[tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
        """_searches on SQLite (each with terms, and cited sources or a desk limit): every pick made by the
        database, all of them handed back as one value, from one statement.

        The driver lets go of Python's lock while the database works and must win it back after; while
        verify's judging thread holds the lock, that wait was up to the switch interval (5 ms) each time,
        more than a search costs. So the searches of a batch of claims are one statement, one step of the
        database and one hand-off of the lock. For each claim, hits and ranks are found once (a materialised
        CTE); each hit's snapshot, source and URL come from the narrow indexes of migration 0013, not from
        the passage and snapshot rows (which hold the texts). (bm25, rowid) is a total order, so each pick is
        what sorting every hit would put first; each row carries its score (17 digits: the same double back),
        which orders them here whatever order the aggregate met them in."""
        limits = self.limits
        out: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]] = [([], []) for _ in searches]
        for i in range(0, len(searches), _SQLITE_SEARCHES_PER_STATEMENT):
            ctes, parts, params = [], [], []
            for k in range(i, min(i + _SQLITE_SEARCHES_PER_STATEMENT, len(searches))):
                terms, cited, exclude = searches[k]
                excl = (" AND p.snapshot_id NOT IN (" + ",".join(str(int(x)) for x in sorted(exclude)) + ")"
                        if exclude else "")
                ctes.append(
                    f"j{k} AS MATERIALIZED (SELECT f.rowid AS id, bm25(passage_fts) AS r, p.snapshot_id AS sid, "
                    "s.source_id AS src, s.url AS url FROM passage_fts f "
                    "JOIN passage p INDEXED BY passage_fts_hit ON p.id = f.rowid "
                    "JOIN snapshot s INDEXED BY passage_fts_hit_snapshot ON s.id = p.snapshot_id "
                    f"WHERE passage_fts MATCH ?{excl})")
                params.append(" OR ".join(_fts_literal("sqlite", t) for t in terms))
                if cited:
                    src = ",".join(str(int(x)) for x in cited)
                    parts.append(f"SELECT {k} AS k, 0 AS w, * FROM j{k} WHERE src IN ({src}) "
                                 f"ORDER BY r, id LIMIT {2 * int(limits.cited)}")
                if limits.desk:
                    parts.append(f"SELECT {k} AS k, 1 AS w, * FROM j{k} ORDER BY r, id LIMIT {2 * int(limits.desk)}")
            sql = ("WITH " + ", ".join(ctes) + " SELECT json_group_array(json_array(k, w, printf('%.17g', r), id, "
                   "sid, src, url)) FROM (" + " UNION ALL ".join(f"SELECT * FROM ({p})" for p in parts) + ")")
            # (through the driver's own cursor: the result rows' wrapping is not needed for one value)
            cursor = self.s.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                rows = json.loads(cursor.execute(sql, params).fetchone()[0])
            finally:
                cursor.close()
            rows.sort(key=lambda r: (r[0], r[1], float(r[2]), r[3]))
            snaps = self.snaps
            for k, which, _score, pid, sid, src_id, url in rows:
                out[k][which].append((pid, sid))
                if sid not in snaps:
                    snaps[sid] = (src_id, url)
        return out

    def _newest(self, found: tuple[list[tuple[int, int]], list[tuple[int, int]]]) -> tuple[list[int], list[int]]:
        """_search's hits from the newest capture of their URL only, cut to the limits (`_latest` must have
        been asked for the hits' URLs)."""
        latest = self.latest
        keep = [[p for p, sid in hits if latest.get(self.snaps[sid][1]) == sid] for hits in found]
        return keep[0][: self.limits.cited], keep[1][: self.limits.desk]

    def _search_pg_many(self, searches: Sequence[tuple[Sequence[str], Sequence[int], set[int]]]
                        ) -> list[tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
        """_searches on PostgreSQL: the two searches of search_passages for each claim, all the batch's claims
        in one statement (each claim's terms, cited sources and excluded snapshots are one row of a JSON
        array, searched in turn by a lateral subquery). One statement, not one a claim, because the driver
        lets go of Python's lock while the server works and must win it back after, which while verify's
        judging thread holds it took up to the switch interval (5 ms) for each of ~1,000 searches.

        For each claim the hits and their ranks are found once; the hits' snapshots' source and URL come with
        them. Each row carries its rank (a float4, the same value in Python), so the rows are put in the order
        of the statement's picks here whatever order the server sends them in."""
        limits = self.limits
        out: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]] = [([], []) for _ in searches]
        if not searches:
            return out
        excl = " AND p.snapshot_id <> ALL(c.excl)"
        parts = []
        if any(cited for _terms, cited, _excl in searches):
            parts.append("(SELECT 0 AS which, p.r, p.id, p.snapshot_id, s.source_id, s.url FROM hits p "
                         f"JOIN snapshot s ON s.id = p.snapshot_id WHERE s.source_id = ANY(c.src){excl} "
                         "ORDER BY p.r DESC, p.id LIMIT :la)")
        if limits.desk:
            # the desk's best hits are cut before they meet their snapshots (every hit has one): joining
            # every hit first had the planner read the whole snapshot table for each claim
            parts.append("(SELECT 1 AS which, p.r, p.id, p.snapshot_id, s.source_id, s.url FROM "
                         f"(SELECT * FROM hits p WHERE true{excl} ORDER BY p.r DESC, p.id LIMIT :lb) p "
                         "JOIN snapshot s ON s.id = p.snapshot_id)")
        if not parts:
            return out
        sql = (
            "WITH c AS MATERIALIZED (SELECT * FROM jsonb_to_recordset(CAST(:searches AS jsonb)) "
            "AS c(k int, q text, src int[], excl int[])) "
            "SELECT c.k, h.which, h.r, h.id, h.snapshot_id, h.source_id, h.url FROM c CROSS JOIN LATERAL ("
            "WITH " + _pg_hits("c.q") + " UNION ALL ".join(parts) + ") h"
        )
        payload = json.dumps([{"k": k, "q": " | ".join(_fts_literal("postgresql", t) for t in terms),
                               "src": [int(i) for i in cited], "excl": sorted(int(i) for i in exclude)}
                              for k, (terms, cited, exclude) in enumerate(searches)])
        params = {"searches": payload, "la": 2 * limits.cited, "lb": 2 * limits.desk}
        rows = self._rows(text(sql).bindparams(**{k: v for k, v in params.items() if f":{k}" in sql}))
        rows.sort(key=lambda r: (r[0], r[1], -r[2], r[3]))
        for k, which, _rank, pid, sid, src, url in rows:
            out[k][which].append((pid, sid))
            self.snaps.setdefault(sid, (src, url))
        return out

    # ------------------------------------------------------------ candidates

    def _candidates(self, ids: set[int]) -> dict[int, tuple[int, int, int, str]]:
        """Passage id -> (snapshot id, start, end, text), for all of the batch. What was worked out of each
        text when it was stored (its features) is handed to judging (match.remember), which reads it
        instead of working it out again."""
        rows: dict[int, tuple[int, int, int, str]] = {}
        ordered = sorted(ids)
        for k in range(0, len(ordered), 1000):
            for pid, sid, start, end, txt, features in self._rows(
                select(Passage.id, Passage.snapshot_id, Passage.start, Passage.end, Passage.text, Passage.features)
                .where(self._among(Passage.id, ordered[k : k + 1000]))
            ):
                rows[pid] = (sid, start, end, txt)
                if features is not None:
                    remember(txt, features)
        return rows

    def _snapshots(self, ids: set[int]) -> dict[int, tuple[str, str, int | None, str | None, str, str | None]]:
        """Snapshot id -> (sha256, url, source id, published, text, source name)."""
        out = {}
        ordered = sorted(ids)
        for k in range(0, len(ordered), 500):
            for sid, sha, url, src, pub, txt, name in self._rows(
                select(Snapshot.id, Snapshot.sha256, Snapshot.url, Snapshot.source_id, Snapshot.published,
                       Snapshot.text, Source.name)
                .outerjoin(Source, Source.id == Snapshot.source_id).where(self._among(Snapshot.id, ordered[k : k + 500]))
            ):
                out[sid] = (sha, url, src, pub, txt, name)
        return out

    def run(self, claims: Sequence[Claim], readings: Mapping[int, str | None]) -> dict[int, list[Candidate]]:
        limits = self.limits
        if not claims:
            return {}
        claim_ids = [c.id for c in claims]
        tied_snaps = self._tied_snapshots(claim_ids)
        own = self._own_snapshots(claims)
        for cid, snaps in tied_snaps.items():
            snaps -= own.get(cid, set())
        tied_passages = self._tied_passages(set().union(*tied_snaps.values())) if tied_snaps else {}
        tied_ids = {c.id: [p for sid in sorted(tied_snaps.get(c.id, set())) for p in tied_passages.get(sid, [])]
                    [: limits.tied] for c in claims}
        # with tied_only, a claim that has tied passages gets those alone: its search is not made
        searching = [c for c in claims if not (self.tied_only and tied_ids[c.id])]
        wanted = {c.id: query_terms([c.text, c.statement or readings.get(c.id) or ""], limit=16) for c in searching}
        df = term_frequencies(self.s, (t for ts in wanted.values() for t in ts))
        cited = {c.id: {ci.source_id for ci in c.citations if ci.source_id is not None} for c in claims}
        searches = {c.id: (choose_terms(df, wanted[c.id]), sorted(cited[c.id]),
                           tied_snaps.get(c.id, set()) | own.get(c.id, set())) for c in claims if c.id in wanted}
        found = dict(zip(searches, self._searches(list(searches.values())), strict=True))
        for c in claims:
            found.setdefault(c.id, ([], []))
        # which hits are of their URL's newest capture: asked once for the whole batch
        self._latest(self.snaps[sid][1] for a, b in found.values() for _p, sid in a + b)
        plan: dict[int, list[tuple[list[int], bool]]] = {}
        for c in claims:
            seen = set(tied_ids[c.id])
            steps = [(tied_ids[c.id], True)]
            in_cited, on_desk = self._newest(found[c.id])
            if cited[c.id]:
                hits = [i for i in in_cited if i not in seen]
                seen.update(hits)
                steps.append((hits, False))
            if limits.desk:
                steps.append(([i for i in on_desk if i not in seen], False))
            plan[c.id] = steps
        all_ids = {p for steps in plan.values() for ids, _t in steps for p in ids}
        passages = self._candidates(all_ids)
        snapshots = self._snapshots({row[0] for row in passages.values()})
        out: dict[int, list[Candidate]] = {}
        for c in claims:
            cited_sources = cited[c.id]
            cands: list[Candidate] = []
            for ids, tied in plan[c.id]:
                for pid in ids:
                    if pid not in passages:
                        continue
                    sid, start, end, ptext = passages[pid]
                    sha, url, src, published, stext, source_name = snapshots[sid]
                    lo, hi = max(0, start - 300), min(len(stext), end + 300)
                    cands.append(Candidate(
                        passage_id=pid, text=ptext, start=start, end=end, snapshot_sha256=sha, url=url,
                        source=source_name, tied=tied, cited=src is not None and src in cited_sources,
                        published=published, context=stext[lo:hi],
                    ))
            out[c.id] = cands
        return out
