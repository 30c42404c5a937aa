"""Features kept with each passage (passage.features): made when the passage is stored, equal to what judging
would work out of the text, read instead of worked out again, never read when another version made them;
verdicts the same with or without them; the migration fills them in for passages stored before it."""

from __future__ import annotations

import hashlib
import random

import pytest
from sqlalchemy import select, text, update

from factcheck.desk.db import upgrade
from factcheck.desk.evidence import store_capture
from factcheck.desk.models import Passage
from factcheck.desk.verify import verify
from factcheck.judge import match
from tests.conftest import old_desk
from tests.test_verify_batch import _verdicts

TEXTS = [
    "Oracle hired more than 600 Amazon employees in 2023, Bloomberg reported on Sep 4, 2025.",
    "Laut SignalFire rangiert Amazon weit hinter OpenAI; Robotics-Vizepräsident Brad Porter ging 2021.",
    "Der Umsatz stieg auf 1.500 Euro, rund 3,5 Prozent mehr als im Vorjahr — „über“ Erwartung.",
    "Sales fell 12 percent to $1.2 billion in the first quarter, the lowest since 2019.",
    "The company did not cut 400 jobs at the plant in Ohio on 20 July 2024.",
    "Straße, Grüße, ÆØÅ, naïve café — and a tab\there, a newline\nthere.",
    "",
    "   ",
    "!!! ??? ...",
]


def _random_texts(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzäöüßÄÖÜ ÉéèçñåøæABCXYZ0123456789.,;:!?-'\"()/%$€ \t\n"
    words = ["the", "and", "not", "über", "studies", "counties", "employees", "hiring", "der", "nicht", "1.500",
             "3,5", "2024"]
    out = []
    for _ in range(n):
        parts = [rng.choice(words) if rng.random() < 0.4 else
                 "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(rng.randint(0, 30))]
        out.append(" ".join(parts))
    return out


def _fresh_memos() -> None:
    for memo in (match.NORMALISED, match._STEMS, match._KEPT):
        memo.clear()


def test_kept_features_are_what_judging_works_out_of_the_text():
    for t in TEXTS + _random_texts(500):
        _fresh_memos()
        worked_out = (match._normalise(t), match._stems_of_normalised(match._normalise(t)))
        match.remember(t, match.passage_features(t))
        assert (match.normalise(t), match._stem_sets(t)) == worked_out, t


def test_features_of_another_version_are_never_read():
    t = TEXTS[0]
    _fresh_memos()
    wrong = match._FEATURE_SEP.join(["0", "made up words", "made up", "words"])
    match.remember(t, wrong)
    assert match.normalise(t) == match._normalise(t)
    assert match._stem_sets(t) == match._stems_of_normalised(match._normalise(t))
    _fresh_memos()
    match.remember(t, "not features at all")
    assert match.normalise(t) == match._normalise(t)


def test_kept_features_are_read_not_worked_out(monkeypatch):
    _fresh_memos()
    features = match.passage_features(TEXTS[3])
    made: list[str] = []
    real = match._stems_of_normalised
    monkeypatch.setattr(match, "_stems_of_normalised", lambda folded: made.append(folded) or real(folded))
    match.remember(TEXTS[3], features)
    match._stem_sets(TEXTS[3])
    match.normalise(TEXTS[3])
    assert made == []
    match._stem_sets(TEXTS[4])  # a text without kept features is worked out
    assert made == [match._normalise(TEXTS[4])]


def test_the_version_names_the_way_features_are_made():
    """Changing normalise, stem or the stopwords changes what is kept: FEATURES_VERSION must change with it
    (then update this pin), or desks would read features an older version made."""
    digest = hashlib.sha256("\n".join(match.passage_features(t) for t in TEXTS).encode()).hexdigest()
    assert (match.FEATURES_VERSION, digest[:16]) == ("1", PINNED), (
        "what passage_features makes changed: bump FEATURES_VERSION and pin the new digest")


PINNED = "27fa7e82f2053655"


@pytest.mark.parametrize("which", ["sqlite_desk", "pg_desk"])
def test_a_capture_stores_each_passage_with_its_features(which, request):
    env = request.getfixturevalue(which)
    body = ("<html><head><title>Hiring</title></head><body><article><p>" + "</p><p>".join(TEXTS[:5])
            + "</p></article></body></html>").encode()
    with env.desk.session() as s:
        snap, created = store_capture(s, env.settings, url="https://news.example/a", body=body, origin="file",
                                      content_type="text/html", filename="a.html")
        assert created
        rows = s.execute(select(Passage.text, Passage.features).where(Passage.snapshot_id == snap.id)).all()
    assert len(rows) >= 3
    for passage_text, features in rows:
        assert features == match.passage_features(passage_text)


def test_verdicts_are_the_same_with_features_kept_or_worked_out(verify_seeded, monkeypatch):
    desk, settings = verify_seeded
    with desk.session() as s:
        assert s.execute(select(Passage.id).where(Passage.features.is_(None))).first() is None  # all kept
    made: list[str] = []
    real = match._stems_of_normalised
    monkeypatch.setattr(match, "_stems_of_normalised", lambda folded: made.append(folded) or real(folded))
    _fresh_memos()
    kept = verify(desk, settings, actor="t", batch_size=9)
    made_kept = len(made)
    with desk.session() as s:
        s.execute(update(Passage).values(features=None))
    _fresh_memos()
    made.clear()
    worked_out = verify(desk, settings, actor="t", batch_size=9)
    # without kept features every passage met is worked out; with them only the texts made while judging
    # (windows, joined support) are
    assert len(made) > 1000 and made_kept < len(made) / 4
    a, b = _verdicts(desk, kept.run_id), _verdicts(desk, worked_out.run_id)
    assert len(a) == 120 and a == b


def test_the_migration_fills_in_features_of_passages_stored_before_it(tmp_path):
    desk = old_desk(tmp_path / "old.db", "0013", TEXTS[:3])
    upgrade(desk.engine)
    with desk.engine.connect() as c:
        got = c.execute(text("SELECT text, features FROM passage ORDER BY seq")).all()
        # the full-text index still finds the passages (filling in features did not touch the indexed text)
        hits = c.execute(text("SELECT rowid FROM passage_fts WHERE passage_fts MATCH 'signalfire'")).all()
        trigger = c.execute(text("SELECT sql FROM sqlite_master WHERE name = 'passage_fts_au'")).scalar()
    assert [f for _t, f in got] == [match.passage_features(t) for t, _f in got]
    assert [h[0] for h in hits] == [2]
    assert "UPDATE OF text ON passage" in trigger
    desk.dispose()
