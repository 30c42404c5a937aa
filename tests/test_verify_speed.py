"""The rules-only verify's shortcuts change nothing but the time: a German claim's similarity is asked only
of its ranked passages (and their windows), score_passages works out anchors only for what it returns, and
a batch's search asks the newest captures once for all its claims."""

from __future__ import annotations

import hashlib
import random
import re

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from factcheck.desk.db import Desk
from factcheck.desk.models import Claim, Passage, Snapshot
from factcheck.desk.retrieve import candidates_for, candidates_for_claims, count_terms
from factcheck.judge import semantic
from factcheck.judge.match import Candidate, claim_anchors, compare_anchors, score_passages
from factcheck.judge.verdict import judge
from factcheck.text.anchors import extract_anchors
from tests.bench_modules import load_benchmark

_WORDS = ["revenue", "rose", "fell", "percent", "plant", "workers", "Oracle", "Amazon", "hired", "engineers",
          "in", "2021", "2023", "not", "more", "than", "600", "1,200", "the", "company", "said", "Umsatz",
          "Mitarbeiter", "stieg", "um", "Prozent", "Werk", "top", "lowest", "45", "million", "dollars"]


def _candidates(rng: random.Random, n: int) -> list[Candidate]:
    out = []
    page = [" ".join(rng.choices(_WORDS, k=rng.randint(6, 16))).capitalize() + "." for _ in range(n)]
    context = " ".join(page)
    at = 0
    for i, t in enumerate(page):
        out.append(Candidate(i, t, at, at + len(t), f"{i % 3:064x}", f"https://e.example/{i % 3}",
                             "Example News", tied=False, cited=i % 2 == 0, context=context))
        at += len(t) + 1
    return out


def test_score_passages_gives_each_returned_passage_its_own_anchors() -> None:
    rng = random.Random(7)
    for _ in range(40):
        cands = _candidates(rng, rng.randint(1, 40))
        texts = [" ".join(rng.choices(_WORDS, k=10)), " ".join(rng.choices(_WORDS, k=8))][: rng.randint(1, 2)]
        top_k = rng.randint(1, 6)
        scored = score_passages(texts, cands, top_k=top_k)
        assert len(scored) == min(top_k, len(cands))
        claims = claim_anchors(texts)
        for sp in scored:
            c = sp.candidate
            assert sp.anchor_agreement == compare_anchors(claims[sp.text_index], extract_anchors(c.text), c.text)
            assert "negation" in sp.anchor_agreement  # always compared, so never left empty


class _Encoder:
    """A stand-in for the sentence encoder: hashed bags of words (every row independent of its batch),
    counting what it is asked to embed."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        out = np.zeros((len(texts), 512), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, int(hashlib.md5(w.strip(".,").encode()).hexdigest(), 16) % 512] += 1.0
            out[i, 511] += 0.5
        return out


@pytest.fixture
def encoder(monkeypatch: pytest.MonkeyPatch) -> _Encoder:
    enc = _Encoder()
    monkeypatch.setattr(semantic, "_load", lambda: enc)
    monkeypatch.setattr(semantic, "available", lambda: True)
    monkeypatch.setattr(semantic, "_cache", type(semantic._cache)())
    return enc


def test_a_german_claim_embeds_its_ranked_passages_only_and_judges_as_if_all_were(encoder: _Encoder) -> None:
    rng = random.Random(3)
    settings = {"gloss": False, "nli": "off"}
    for k in range(12):
        cands = _candidates(rng, 30)
        claim = "Laut Example News stieg der Umsatz von " + rng.choice(["Oracle", "Amazon"]) + \
                f" im Jahr 2023 um {rng.choice([45, 600])} Prozent, sagte das Unternehmen."
        semantic._cache.clear()
        encoder.texts.clear()
        lean = judge(claim, None, ["Example News"], cands, settings=settings)
        asked = list(encoder.texts)
        assert claim in asked
        # the claim, at most top_k passages and their windows: not every candidate
        assert len(asked) <= 1 + 2 * 5 < len(cands), k
        semantic._cache.clear()
        semantic.embed([claim, *(c.text for c in cands)])  # as before: every candidate embedded up front
        full = judge(claim, None, ["Example News"], cands, settings=settings)
        assert lean == full, k
        assert "crosslingual_similarity" in lean.signals


@pytest.fixture(params=["sqlite", "postgresql"])
def recaptured(request, tmp_path):
    """The verify bench's small desk, with a newer capture of some pages that repeats most of their
    sentences (search finds both captures; only the newer may speak)."""
    url = f"sqlite:///{tmp_path / 'desk.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    load_benchmark("verify_bench").build(url, 2000, 80, german=0.1)
    desk = Desk(url, check=False)
    with desk.session() as s:
        old = list(s.execute(select(Snapshot).where(Snapshot.id % 3 == 0).order_by(Snapshot.id)).scalars())
        fresh, new_ids = [], set()
        for snap in old:
            new = Snapshot(evidence_url_id=snap.evidence_url_id, url=snap.url, final_url=None, status=200,
                           headers={}, redirects=[], fetched_at=snap.fetched_at, origin="fetch",
                           sha256=hashlib.sha256(f"new {snap.id}".encode()).hexdigest(), text=snap.text,
                           meta={}, published=snap.published, source_id=snap.source_id)
            s.add(new)
            s.flush()
            new_ids.add(new.id)
            for p in s.execute(select(Passage).where(Passage.snapshot_id == snap.id)
                               .order_by(Passage.seq)).scalars():
                if p.seq % 4:  # one sentence in four is gone from the newer capture
                    s.add(Passage(snapshot_id=new.id, seq=p.seq, start=p.start, end=p.end, text=p.text))
                    fresh.append(p.text)
        s.flush()
        count_terms(s, fresh)
    yield desk, {snap.id for snap in old}, new_ids
    desk.dispose()


def test_only_newest_captures_are_candidates_in_a_batch_as_alone(recaptured) -> None:
    desk, superseded, recent = recaptured
    with desk.session() as s:
        claims = list(s.execute(select(Claim).options(selectinload(Claim.citations)).order_by(Claim.id)).scalars())
        together = candidates_for_claims(s, claims)
        stale = {p.id for p in s.execute(select(Passage).where(Passage.snapshot_id.in_(superseded))).scalars()}
        newer = {p.id for p in s.execute(select(Passage).where(Passage.snapshot_id.in_(recent))).scalars()}
        found = {c.passage_id for cands in together.values() for c in cands}
        assert found & newer  # the newer captures are found by search ...
        assert not found & stale  # ... and the older ones never
        for c in claims:
            assert candidates_for(s, c) == together[c.id], c.key


def test_the_stored_tsvector_ranks_as_the_text_would(pg_url) -> None:
    """PostgreSQL ranks search hits with the passage's stored tsvector: it must be the text's own, after
    inserts and after the text is changed."""
    from sqlalchemy import text

    from factcheck.desk.db import upgrade

    desk = Desk(pg_url, check=False)
    upgrade(desk.engine)
    rng = random.Random(5)
    with desk.session() as s:
        snap = Snapshot(url="https://e.example/a", status=200, headers={}, redirects=[], origin="fetch",
                        sha256="a" * 64, text="x", meta={})
        s.add(snap)
        s.flush()
        for i in range(50):
            s.add(Passage(snapshot_id=snap.id, seq=i, start=0, end=1,
                          text=" ".join(rng.choices(_WORDS, k=rng.randint(1, 20))) + " Über-Größe 3,5 %"))
        s.flush()
        s.execute(text("UPDATE passage SET text = text || ' revenue fell' WHERE seq % 5 = 0"))
        q = "to_tsquery('simple', 'revenue | oracle | 2023 | umsatz')"
        rows = s.execute(text(f"SELECT p.passage_tsv = to_tsvector('simple', p.text), ts_rank(p.passage_tsv, {q}), "
                              f"ts_rank(to_tsvector('simple', p.text), {q}) FROM passage p")).all()
    desk.dispose()
    assert len(rows) == 50
    assert all(same and a == b for same, a, b in rows)


def test_a_postgresql_search_parses_its_query_once_not_for_every_hit(pg_url) -> None:
    """The search's tsquery is made once per statement: PostgreSQL folds a CTE used once into the query, and
    to_tsquery (STABLE, never pre-computed) was then called again for every hit ranked (3x the search's time
    on the verify bench). Read off the plan of every search statement a batch of claims makes."""
    from sqlalchemy import event

    load_benchmark("verify_bench").build(pg_url, 2000, 40)
    desk = Desk(pg_url, check=False)
    searches: list[tuple[str, dict]] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if "ts_rank" in statement:
            searches.append((statement, dict(parameters)))

    event.listen(desk.engine, "before_cursor_execute", seen)
    with desk.session() as s:
        claims = list(s.execute(select(Claim).options(selectinload(Claim.citations)).order_by(Claim.id)).scalars())
        found = candidates_for_claims(s, claims)
    event.remove(desk.engine, "before_cursor_execute", seen)
    assert any(not c.tied for cands in found.values() for c in cands)  # the searches found passages
    assert searches  # (a batch's searches are one statement)
    raw = desk.engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, params in searches:
            cur.execute("EXPLAIN (VERBOSE, COSTS OFF) " + statement, params)
            plan = "\n".join(r[0] for r in cur.fetchall())
            ranks = [line for line in plan.splitlines() if "ts_rank(" in line]
            assert ranks and all(re.search(r"ts_rank\(\w+\.passage_tsv, q\.q\)", line) for line in ranks), plan
            assert plan.count("to_tsquery") <= 1, plan  # once, in the query's own CTE (or folded into it)
    finally:
        raw.close()
        desk.dispose()
