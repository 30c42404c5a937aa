"""What verify works out of each passage, and how: anchors made kind by kind (and only the kinds a verdict
reads of evidence), kept per text, equal to the full extraction; verdicts the same as with every anchor of
every passage extracted; the SQLite search's hits (snapshot, source and URL from migration 0013's indexes)
the same as from the passage and snapshot rows, also after a newer capture arrives."""

from __future__ import annotations

import random
import re

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import selectinload

from factcheck.desk import retrieve
from factcheck.desk.db import Desk
from factcheck.desk.models import Claim, Passage, Snapshot, utcnow
from factcheck.desk.retrieve import (
    RetrievalLimits,
    _Batch,
    _fts_literal,
    choose_terms,
    query_terms,
    term_frequencies,
)
from factcheck.judge import match, verdict
from factcheck.judge.match import Candidate, compare_anchors, evidence_anchors, score_passages
from factcheck.judge.verdict import judge
from factcheck.text import anchors
from factcheck.text.anchors import extract_anchors
from tests.bench_modules import load_benchmark

# texts with every kind of anchor, in both languages: numbers with units and hedges, years, dates, names,
# negation, ranks; a number written both ways (1.500 reads as 1500 in German, 1.5 in English)
TEXTS = [
    "Oracle hired more than 600 Amazon employees in 2023, Bloomberg reported on Sep 4, 2025.",
    "Laut SignalFire rangiert Amazon weit hinter OpenAI; Robotics-Vizepräsident Brad Porter ging 2021.",
    "Der Umsatz stieg auf 1.500 Euro, rund 3,5 Prozent mehr als im Vorjahr.",
    "Sales fell 12 percent to $1.2 billion in the first quarter, the lowest since 2019.",
    "Sales rose 12 percent to $1.2 billion in the first quarter, the highest since 2019.",
    "The company did not cut 400 jobs at the plant in Ohio on 20 July 2024.",
    "The company cut 400 jobs at the plant in Ohio on 20 July 2024.",
    "Amazon hat die Bänder nicht angehoben; die Firma liegt im unteren Drittel.",
    "The firm is in the top third of the ranking, Reuters said, after the 2020s boom.",
    "About 700 people, at least 45 of them children, were evacuated by Maria Lopez's team.",
    "Ein Dokument zeigt: Die Zahl der Mitarbeiter sank um 1,5 Mio. Euro bis zum 4. September 2025.",
    "Nothing changed: the figure stayed flat at 80% for two years.",
]


def _corpus(n: int = 40) -> list[str]:
    """More text of the shape the verify bench seeds (figures, years, names, now and then a negation)."""
    corpus = load_benchmark("verify_bench").Corpus(random.Random(5), 500)
    return [corpus.sentence() for _ in range(n)]


def _full(t: str, lang: str) -> anchors.Anchors:
    """The full extraction, made afresh from the parts (no memo)."""
    dates, spans = anchors._find_dates(t)
    quantities, years = anchors._find_quantities(t, lang, spans)
    years |= {int(d[:4]) for d in dates}
    years |= {int(y) for y in re.findall(r"(?<!\d)(1[89]\d\d|20\d\d)(?:er|s)\b", t)}
    return anchors.Anchors(quantities, years, dates, anchors.names_in(t, lang),
                           bool(anchors._NEGATION.search(t)), anchors._find_ranks(t))


@pytest.mark.parametrize("lang", ["en", "de"])
def test_anchors_made_kind_by_kind_equal_the_full_extraction(lang):
    for t in TEXTS + _corpus():
        for _ in range(2):  # made, then from the memo
            assert extract_anchors(t, lang) == _full(t, lang), t
        partial = extract_anchors(t, lang, names=False, ranks=False)
        full = _full(t, lang)
        assert (partial.quantities, partial.years, partial.dates, partial.negated) == \
               (full.quantities, full.years, full.dates, full.negated)
        assert partial.names == set() and partial.ranks == set()
        bare = extract_anchors(t, lang, numbers=False)
        assert (bare.names, bare.negated, bare.ranks) == (full.names, full.negated, full.ranks)
        assert (bare.quantities, bare.years, bare.dates) == ([], set(), set())


def test_numbers_are_kept_per_language():
    # the memo's key holds the language: the same text reads 1500 in German and 1.5 in English
    t = "Der Umsatz stieg auf 1.500 Euro."
    assert extract_anchors(t, "de").quantities[0].value == 1500.0
    assert extract_anchors(t, "en").quantities[0].value == 1.5
    assert extract_anchors(t, "de").quantities[0].value == 1500.0


def test_evidence_anchors_give_compare_anchors_the_full_answer():
    texts = TEXTS + _corpus()
    claims = [extract_anchors(t) for t in texts]
    assert any(c.ranks for c in claims) and any(c.names for c in claims)
    differ = 0
    for claim in claims:
        for ev in texts:
            full = compare_anchors(claim, extract_anchors(ev), ev)
            assert compare_anchors(claim, evidence_anchors(ev, claim), ev) == full, ev
            differ += full.get("ranks") == "disagree"
    assert differ  # a rank that disagrees was among the comparisons
    # among the claims: numbers only as quantities, only as years (a date's year is among its years), with
    # dates, and with no number at all (their evidence's numbers are never found)
    assert any(c.quantities and not c.years for c in claims) and any(c.years and not c.quantities for c in claims)
    assert any(c.dates for c in claims) and any(not (c.quantities or c.years or c.dates) for c in claims)


def test_stem_sets_made_together_equal_each_made_alone():
    match._STEMS.clear()
    for t in TEXTS + _corpus():
        words = match.normalise(t).split()
        for _ in range(2):  # made, then from the memo
            assert match._stem_set(t) == frozenset(match.stem(w) for w in words if w not in match.STOPWORDS)
            assert match.stem_set_all(t) == frozenset(match.stem(w) for w in words)
        assert match.stem_set_all(t) > match._stem_set(t)  # the texts have stopwords


def _cand(t: str, i: int, *, sha: str = "a" * 64, tied: bool = False, cited: bool = True,
          context: str | None = None) -> Candidate:
    return Candidate(passage_id=i, text=t, start=i * 200, end=i * 200 + len(t), snapshot_sha256=sha,
                     url=f"https://example.org/{sha[:4]}", source="Example News", tied=tied, cited=cited,
                     context=context if context is not None else t)


def test_score_passages_without_details_ranks_the_same():
    cands = [_cand(t, i) for i, t in enumerate(TEXTS + _corpus())]
    for claim in TEXTS[:6]:
        full = score_passages([claim], cands, top_k=5)
        bare = score_passages([claim], cands, top_k=5, details=False)
        assert [(s.candidate.passage_id, s.score, s.coverage, s.text_index) for s in bare] == \
               [(s.candidate.passage_id, s.score, s.coverage, s.text_index) for s in full]
        assert all(s.anchor_agreement == {} and s.matched_terms == [] for s in bare)
        assert all("negation" in s.anchor_agreement for s in full)


def _cases() -> list[tuple[str, str | None, list[Candidate]]]:
    """Claims against pages that agree, disagree on a number, a year, a direction or a negation, name
    someone else, or say little: every rule has something to decide."""
    pages = [TEXTS[3:5], TEXTS[5:7], TEXTS[0:3], TEXTS[7:10], TEXTS[10:12]]
    out = []
    for k, page in enumerate(pages):
        sha = f"{k:064x}"
        context = " ".join(page)
        cands = [_cand(t, i, sha=sha, tied=k % 2 == 0, context=context) for i, t in enumerate(page)]
        for claim in TEXTS:
            out.append((claim, None, cands))
            out.append((claim.replace("12", "15").replace("400", "450"), None, cands))
        out.append(("Laut Bloomberg hat Oracle über 600 Mitarbeiter von Amazon abgeworben.",
                    "Oracle hired more than 600 Amazon employees, according to Bloomberg.", cands))
    return out


def _judge_all() -> list[tuple]:
    out = []
    for claim, statement, cands in _cases():
        j = judge(claim, statement, ["Example News"], cands)
        out.append((j.label, j.confidence, j.rationale, [q.__dict__ for q in j.quotes], j.first_hand, j.signals))
    return out


def _clear_memos() -> None:
    for memo in (anchors._NUMBERS, anchors._NAMES, anchors._RANKS):
        memo.clear()


def test_verdicts_are_those_of_every_anchor_of_every_passage(monkeypatch):
    _clear_memos()
    got = _judge_all()
    labels = {g[0] for g in got}
    assert {"verified", "contested", "unverified"} <= labels  # every rule decided some
    # the way it was: every anchor of every text extracted, and score_passages' details worked out
    _clear_memos()

    def every_anchor(t: str, lang: str | None = None, **_kinds: bool) -> anchors.Anchors:
        return extract_anchors(t)  # every kind, negation too, in the language read off the whole text

    monkeypatch.setattr(match, "extract_anchors", every_anchor)
    monkeypatch.setattr(verdict, "extract_anchors", every_anchor)
    real = match.score_passages
    monkeypatch.setattr(verdict, "score_passages", lambda *a, **k: real(*a, **{**k, "details": True}))
    assert _judge_all() == got


# ---------------------------------------------------------------- the SQLite search's hits


def _reference_search(s, terms, cited, exclude, limits):
    """_Batch._search on SQLite as it was before migration 0013: hits joined to their passage rows, their
    snapshots' source and URL read from the snapshot rows."""
    if not terms:
        return [], []
    q = " OR ".join(_fts_literal("sqlite", t) for t in terms)
    rows = s.execute(text("SELECT f.rowid, p.snapshot_id, bm25(passage_fts) FROM passage_fts f "
                          "JOIN passage p ON p.id = f.rowid WHERE passage_fts MATCH :q"), {"q": q}).all()
    rows.sort(key=lambda r: (r[2], r[0]))
    hits = [(pid, sid) for pid, sid, _score in rows if sid not in exclude]
    src = dict(s.execute(select(Snapshot.id, Snapshot.source_id)).all())
    a = [h for h in hits if src[h[1]] in set(cited)][: 2 * limits.cited] if cited else []
    return a, hits[: 2 * limits.desk]


def _searches(s):
    """Each claim of the desk with the search it makes (terms, cited sources, an excluded snapshot), as the
    batch retrieval chooses them."""
    claims = list(s.execute(select(Claim).options(selectinload(Claim.citations))).scalars())
    wanted = {c.id: query_terms([c.text, c.statement or ""], limit=16) for c in claims}
    df = term_frequencies(s, (t for ts in wanted.values() for t in ts))
    for c in claims:
        cited = sorted({ci.source_id for ci in c.citations if ci.source_id is not None})
        yield c, choose_terms(df, wanted[c.id]), cited, {c.id % 7 + 1}


def test_sqlite_search_hits_are_those_of_the_passage_and_snapshot_rows(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    load_benchmark("verify_bench").build(url, 2000, 60)
    desk = Desk(url, check=False)
    limits = RetrievalLimits(cited=5, desk=4)  # small limits: the cut falls inside the hits
    # a batch's searches are made several to a statement: here few to each, so one batch takes several
    monkeypatch.setattr(retrieve, "_SQLITE_SEARCHES_PER_STATEMENT", 7)

    def compare() -> int:
        checked = 0
        with desk.session() as s:
            batch, together = _Batch(s, limits), _Batch(s, limits)
            searches = list(_searches(s))
            # one claim's search alone, and every claim's together (searches of a batch in few statements,
            # with claims that search nothing among them): each the same as the reference
            many = together._searches([(terms, cited, exclude) for _c, terms, cited, exclude in searches]
                                                + [([], [1], set())])
            assert many[-1] == ([], [])
            for (c, terms, cited, exclude), got_together in zip(searches, many, strict=False):
                got = batch._search(terms, cited, exclude)
                assert got == _reference_search(s, terms, cited, exclude, limits), c.key
                assert got_together == got, c.key
                checked += bool(got[0]) + bool(got[1])
                for _pid, sid in got[0] + got[1]:  # what the batch keeps of each hit's snapshot
                    assert batch.snaps[sid] == together.snaps[sid] == tuple(
                        s.execute(select(Snapshot.source_id, Snapshot.url).where(Snapshot.id == sid)).one())
        return checked

    assert compare() > 30
    # a newer capture of a page arrives, under another source: its passages are found with it
    with desk.session() as s:
        old = s.execute(select(Snapshot).where(Snapshot.id == 30)).scalar_one()
        new_id = s.execute(insert(Snapshot).values(
            evidence_url_id=old.evidence_url_id, url=old.url, status=200, headers={}, redirects=[],
            fetched_at=utcnow(), origin="fetch", sha256="f" * 64, text=old.text, meta={},
            source_id=(old.source_id or 0) % 50 + 1).returning(Snapshot.id)).scalar_one()
        for p in s.execute(select(Passage).where(Passage.snapshot_id == 30)).scalars().all():
            s.execute(insert(Passage).values(snapshot_id=new_id, seq=p.seq, start=p.start, end=p.end, text=p.text))
    assert compare() > 30
    desk.dispose()


def test_sqlite_search_indexes_come_with_the_migration(tmp_path):
    from factcheck.desk.db import upgrade

    desk = Desk(f"sqlite:///{tmp_path / 'desk.db'}", check=False)
    upgrade(desk.engine)
    with desk.engine.connect() as c:
        names = {r[0] for r in c.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))}
    assert {"passage_fts_hit", "passage_fts_hit_snapshot"} <= names
    desk.dispose()




def _looked_at_as_it_was(claim_texts: list[str], cands: list[Candidate], top_k: int) -> set[int]:
    """The passages score_passages looks at closely (its preliminary cut), worked out as before: a count
    per stem, the similarity matrix read cell by cell."""
    from rapidfuzz import fuzz, process

    fuzzy = process.cdist([match.normalise(t) for t in claim_texts], [match.normalise(c.text) for c in cands],
                          scorer=fuzz.token_set_ratio, processor=None)
    claim_stems = [match.content_stems(t) for t in claim_texts]
    prelim = []
    for i in range(len(cands)):
        pstems = match._stem_set(cands[i].text)
        cov = max((sum(s in pstems for s in st) / len(st) if st else 0.0) for st in claim_stems)
        prelim.append((0.7 * cov + 0.3 * max(float(fuzzy[j][i]) for j in range(len(claim_texts))) / 100.0, i))
    prelim.sort(reverse=True)
    return {cands[i].passage_id for _p, i in prelim[: top_k * 3]}


def test_score_passages_looks_closely_at_the_passages_it_did(monkeypatch):
    looked_at: set[int] = set()

    class Recorded(match.ScoredPassage):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            looked_at.add(self.candidate.passage_id)

    monkeypatch.setattr(match, "ScoredPassage", Recorded)
    cands = [_cand(t, i) for i, t in enumerate(TEXTS + _corpus(80))]
    corpus = _corpus(20)
    for claim in TEXTS + corpus:
        for texts in ([claim], [claim, corpus[0]], [corpus[1], claim]):
            for top_k in (1, 3, 5):  # a few of many
                looked_at.clear()
                score_passages(texts, cands, top_k=top_k, details=False)
                assert looked_at == _looked_at_as_it_was(texts, cands, top_k), claim


# ---------------------------------------------------------------- windows, and the encoder loaded early


def test_a_window_is_kept_per_text_and_context():
    text = "The plant employs 1,200 people."
    one = _cand(text, 1, context="It opened in 2019. The plant employs 1,200 people. It is in Ohio.")
    two = _cand(text, 2, context="Sales fell. The plant employs 1,200 people. Its owner is Acme.")
    assert verdict._window(one) == "It opened in 2019. The plant employs 1,200 people. It is in Ohio."
    assert verdict._window(two) == "Sales fell. The plant employs 1,200 people. Its owner is Acme."
    assert verdict._window(one) == "It opened in 2019. The plant employs 1,200 people. It is in Ohio."


def test_the_encoder_is_loaded_early_only_for_a_claim_that_needs_it(monkeypatch):
    from factcheck.judge import semantic

    monkeypatch.setattr(semantic, "available", lambda: True)
    asked: list[bool] = []
    monkeypatch.setattr(semantic, "preload", lambda: asked.append(True))
    german = "Laut Bloomberg hat Oracle über 600 Mitarbeiter von Amazon abgeworben."
    english = "Oracle hired more than 600 Amazon employees, Bloomberg reported."
    verdict.prepare([(english, None), (german, english)])
    assert not asked  # English, or German with English wording: read word for word
    verdict.prepare([(english, None), (german, "  ")])
    assert asked == [True]  # a blank statement is no English wording
    verdict.prepare([(german, None)], settings={"crosslingual": False})
    assert asked == [True]
    verdict.prepare([(english, None)], settings={"semantic": True})
    assert asked == [True, True]  # the reviewer signal embeds every claim


def test_embed_waits_for_the_encoder_being_loaded(monkeypatch):
    import threading

    from factcheck.judge import semantic

    if not semantic.available():
        pytest.skip("sentence encoder not installed")
    loaded = threading.Event()
    waited: list[bool] = []

    def slow_warm() -> None:
        loaded.wait(5)
        waited.append(True)

    monkeypatch.setattr(semantic, "_model", None)
    monkeypatch.setattr(semantic, "_loading", None)
    monkeypatch.setattr(semantic, "_warm", slow_warm)
    monkeypatch.setattr(semantic, "_cache", semantic.OrderedDict())
    semantic.preload()
    assert semantic._loading is not None
    threading.Timer(0.2, loaded.set).start()
    vec = semantic.embed(["Oracle hired 600 people."])
    assert waited == [True] and semantic._loading is None  # it waited for the load, then embedded
    assert vec.shape == (1, 512)


def _reference_search_pg(s, terms, cited, exclude, limits):
    """_Batch._search on PostgreSQL as it was: every hit joined to its snapshot, then ranked and cut."""
    if not terms:
        return [], []
    excl = (" AND p.snapshot_id NOT IN (" + ",".join(str(int(i)) for i in exclude) + ")") if exclude else ""
    hits = ("WITH q AS (SELECT to_tsquery('simple', :q) AS q), hits AS MATERIALIZED (SELECT p.id, p.snapshot_id, "
            "ts_rank(p.passage_tsv, q.q) AS r FROM passage p, q WHERE to_tsvector('simple', p.text) @@ q.q) ")
    q = {"q": " | ".join(_fts_literal("postgresql", t) for t in terms)}
    out = []
    for extra, limit in ((" AND s.source_id IN (" + ",".join(map(str, cited)) + ")" if cited else None,
                          2 * limits.cited), ("", 2 * limits.desk)):
        if extra is None:
            out.append([])
            continue
        out.append([tuple(r) for r in s.execute(text(
            hits + "SELECT p.id, p.snapshot_id FROM hits p JOIN snapshot s ON s.id = p.snapshot_id "
            f"WHERE true{extra}{excl} ORDER BY p.r DESC, p.id LIMIT {limit}"), q)])
    return out[0], out[1]


def test_postgresql_search_hits_are_those_of_every_hit_joined_first(pg_url):
    load_benchmark("verify_bench").build(pg_url, 2000, 60)
    desk = Desk(pg_url, check=False)
    limits = RetrievalLimits(cited=5, desk=4)
    checked = 0
    with desk.session() as s:
        batch, together = _Batch(s, limits), _Batch(s, limits)
        searches = list(_searches(s))
        # every claim's search in one statement (with claims that search nothing, or no cited source, among
        # them), and each alone: each the same as the reference
        many = together._searches([(terms, cited, exclude) for _c, terms, cited, exclude in searches]
                                  + [([], [1], set())])
        assert many[-1] == ([], [])
        assert any(not cited for _c, _t, cited, _e in searches)
        for (c, terms, cited, exclude), got_together in zip(searches, many, strict=False):
            got = batch._search(terms, cited, exclude)
            assert got == _reference_search_pg(s, terms, cited, exclude, limits), c.key
            assert got_together == got, c.key
            checked += len(got[1]) > 1
            for _pid, sid in got[0] + got[1]:  # what the batch keeps of each hit's snapshot
                assert batch.snaps[sid] == together.snaps[sid] == tuple(
                    s.execute(select(Snapshot.source_id, Snapshot.url).where(Snapshot.id == sid)).one())
    assert checked > 30
    desk.dispose()


# ---------------------------------------------------------------- a claim with tied passages, unsearched


def test_a_claim_with_tied_passages_gets_those_alone_when_tied_only(tmp_path):
    from factcheck.desk.retrieve import candidates_for_claims

    url = f"sqlite:///{tmp_path / 'desk.db'}"
    load_benchmark("verify_bench").build(url, 2000, 80)
    desk = Desk(url, check=False)
    with desk.session() as s:
        claims = list(s.execute(select(Claim).options(selectinload(Claim.citations)).order_by(Claim.id)).scalars())
        full = candidates_for_claims(s, claims)
        only = candidates_for_claims(s, claims, tied_only=True)
    kinds = {"tied": 0, "searched": 0, "left out": 0}
    for c in claims:
        tied = [x for x in full[c.id] if x.tied]
        assert only[c.id] == (tied or full[c.id]), c.key
        kinds["tied" if tied else "searched"] += bool(full[c.id])
        kinds["left out"] += len(full[c.id]) > len(tied) > 0  # search hits a tied claim is judged without
    assert kinds["tied"] > 10 and kinds["searched"] > 10 and kinds["left out"] > 5
    desk.dispose()


@pytest.mark.parametrize("tied_first", [True, False])
def test_verify_asks_for_tied_passages_alone_only_when_the_verdict_reads_them_alone(tmp_path, monkeypatch,
                                                                                   tied_first):
    from factcheck.desk import verify as verify_module
    from factcheck.settings import load_settings

    url = f"sqlite:///{tmp_path / 'desk.db'}"
    load_benchmark("verify_bench").build(url, 1000, 10)
    settings = load_settings({"db": url, "evidence_dir": str(tmp_path / "evidence"), "nli": "off",
                              "tied_first": tied_first}, environ={}, desk_dir=tmp_path)
    asked: list[bool] = []
    real = verify_module.candidates_for_claims

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(kwargs["tied_only"])
        return real(*args, **kwargs)

    monkeypatch.setattr(verify_module, "candidates_for_claims", recording)
    desk = Desk(url, check=False)
    verify_module.verify(desk, settings, actor="test")
    desk.dispose()
    assert asked and set(asked) == {tied_first}


# ---------------------------------------------------------------- IN lists as one parameter


def test_among_selects_what_an_in_list_selects(desk):
    """retrieve.among (the values of an IN list as one JSON or array parameter) selects what column.in_
    selects: integers, text with quotes and non-ASCII, none, and more values than an IN list may hold."""
    from factcheck.desk.retrieve import among

    urls = ["https://a.example/1", "https://b.example/it's", "https://c.example/ä?q=\"x\"", "https://d.example/"]
    with desk.desk.session() as s:
        ids = [s.execute(insert(Snapshot).values(url=u, status=200, headers={}, redirects=[], fetched_at=utcnow(),
                                                 origin="fetch", sha256=f"{i:064x}", text="t", meta={})
                         .returning(Snapshot.id)).scalar_one() for i, u in enumerate(urls)]
    dialect = desk.desk.engine.dialect.name
    cases = [(Snapshot.id, ids[1:3]), (Snapshot.id, []), (Snapshot.id, [ids[0], 10**6, *range(-3000, 0)]),
             (Snapshot.url, urls[1:]), (Snapshot.url, ["nowhere", urls[0]]), (Snapshot.url, [])]
    with desk.desk.session() as s:
        for column, values in cases:
            want = sorted(s.execute(select(Snapshot.id).where(column.in_(values))).scalars())
            got = sorted(s.execute(select(Snapshot.id).where(among(dialect, column, values))).scalars())
            assert got == want, (column, values[:3])
        assert sorted(s.execute(select(Snapshot.id).where(among(dialect, Snapshot.url, urls[1:]))).scalars()) == ids[1:]
