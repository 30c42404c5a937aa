"""The reader at speed: it reads only premises whose reading can change the verdict, each pair alone (its
scores depend on it only), cached per pair, and alongside the rules (judge_many) with the verdicts judge()
gives claim by claim."""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import pytest

from factcheck.judge import reader as entail
from factcheck.judge.match import Candidate
from factcheck.judge.verdict import ToJudge, judge, judge_many

SHA = "cd" * 32
CLAIM = "The museum library holds more than 260,000 volumes."


def cand(text: str, *, cited: bool = True, source: str | None = "Cited Page") -> Candidate:
    return Candidate(None, text, 0, len(text), SHA, "https://example.org/p", source, True, cited, None, text)


def _fake_scores(premise: str, hypothesis: str) -> entail.Scores:
    """Deterministic stand-in probabilities, different for every pair (and for a pair turned round)."""
    if "losing" in premise:
        return entail.Scores(0.01, 0.02, 0.97)
    if "upwards" in premise:
        return entail.Scores(0.96, 0.03, 0.01)
    h = zlib.crc32(f"{premise}\x00{hypothesis}".encode()) % 1000 / 1000
    return entail.Scores(0.3 * h, 1 - 0.3 * h - 0.1, 0.1)


@pytest.fixture
def read(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """A stand-in reader; the list holds every pair it was asked to read."""
    seen: list[tuple[str, str]] = []

    def score(pairs: Sequence[tuple[str, str]], **_kw: object) -> list[entail.Scores]:
        seen.extend(pairs)
        return [_fake_scores(p, h) for p, h in pairs]

    monkeypatch.setattr(entail, "available", lambda folder=None: True)
    monkeypatch.setattr(entail, "score", score)
    return seen


# ---------------------------------------------------------------- what is read


def test_a_claim_the_anchors_contest_is_not_read(read: list) -> None:
    j = judge(CLAIM, None, ["Cited Page"], [cand("The museum library holds 160,000 volumes.")], settings={"nli": True})
    assert j.label == "contested" and "disagrees on number" in j.rationale
    assert read == [] and "nli" not in j.signals


def test_a_passage_that_can_neither_contest_nor_support_is_not_read(read: list) -> None:
    # little of the claim, and not from the cited source: the reader's opinion of it could not be used
    other = cand("Opening hours change in winter; the cafe closes at five.", cited=False, source="Other Blog")
    j = judge(CLAIM, None, ["Cited Page"], [other], settings={"nli": True})
    assert j.label == "unverified" and read == []


def test_a_passage_that_could_support_is_read_although_it_states_little(read: list) -> None:
    text = "Its collection now counts upwards of 260,000 books."
    j = judge(CLAIM, None, ["Cited Page"], [cand(text)], settings={"nli": True})
    assert read == [(text, CLAIM)] and j.label == "verified"


def test_a_passage_that_states_the_claim_is_read_even_when_the_rules_verify(read: list) -> None:
    claim = "The ice sheet in Greenland has been gaining mass since 2000."
    rules = judge(claim, None, ["Cited Page"], [cand("The ice sheet in Greenland has been gaining mass since 2000.")],
                  settings={"nli": False})
    assert rules.label == "verified"
    states = cand("The ice sheet in Greenland has been gaining mass since 2000.")
    text = "Since 2000 the ice sheet in Greenland has been losing mass."
    assert judge(claim, None, ["Cited Page"], [states, cand(text)], settings={"nli": False}).label == "verified"
    j = judge(claim, None, ["Cited Page"], [states, cand(text)], settings={"nli": True})
    assert (text, claim) in read and j.label == "contested"


# ---------------------------------------------------------------- alongside the rules


def _cases() -> list[ToJudge]:
    ice = "The ice sheet in Greenland has been gaining mass since 2000."
    return [
        ToJudge(CLAIM, None, ["Cited Page"], [cand("Its collection now counts upwards of 260,000 books.")]),
        ToJudge(ice, None, ["Cited Page"], [cand("The ice sheet in Greenland has been losing mass since 2000.")]),
        ToJudge(CLAIM, None, ["Cited Page"], []),
        ToJudge(CLAIM, None, ["Cited Page"], [cand("The museum library holds 160,000 volumes.")]),
        ToJudge(ice, "Greenland's ice sheet grows.", ["Cited Page"],
                [cand("Greenland's ice sheet is growing, a report says."), cand("The museum opens at nine.")]),
        ToJudge(CLAIM, None, ["Cited Page"], [cand("Upwards of 260,000 books, the blog says.", cited=False)]),
    ]


def test_judge_many_gives_judge_s_verdicts_in_order(read: list) -> None:
    cases = _cases()
    one_by_one = [judge(c.claim_text, c.statement, c.cited, c.candidates, attribution=c.attribution,
                        settings={"nli": True}, glossed=c.glossed) for c in cases]
    together = judge_many(cases, settings={"nli": True})
    assert together == one_by_one
    assert [j.label for j in together] == ["verified", "contested", "unverified", "contested", "unverified",
                                           "unverified"]
    # the reader off: the rules' verdicts, unchanged
    assert judge_many(cases, settings={"nli": False}) == [
        judge(c.claim_text, c.statement, c.cited, c.candidates, settings={"nli": False}) for c in cases]


# ---------------------------------------------------------------- the real reader


class _Counting(entail._Reader):
    """A reader that scores by the pair's text and counts what it runs."""

    def __init__(self) -> None:
        self.order = [0, 1, 2]
        self.ran: list[tuple[str, str]] = []

    def probs(self, pairs: Sequence[tuple[str, str]]) -> list[list[float]]:
        self.ran.extend(pairs)
        return [list(_fake_scores(p, h)) for p, h in pairs]


def test_scores_come_in_input_order_and_the_cache_never_mixes_pairs(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    fake = _Counting()
    monkeypatch.setitem(entail._loaded, str(tmp_path.resolve()), fake)
    monkeypatch.setattr(entail, "_cache", type(entail._cache)())
    pairs = [("A much longer premise about the museum and its many books.", "The museum has books."),
             ("Short.", "The museum has books."), ("Short.", "The museum has no books."),
             ("The museum has books.", "Short."), ("Mid-length premise here.", "The museum has books.")]
    want = [_fake_scores(p, h) for p, h in pairs]
    assert entail.score(pairs, folder=tmp_path, batch_size=2) == want
    assert len(fake.ran) == len(pairs)
    again = [*reversed(pairs), pairs[1]]
    assert entail.score(again, folder=tmp_path) == [_fake_scores(p, h) for p, h in again]
    assert len(fake.ran) == len(pairs)  # all from the cache, each pair its own


def _shipped_reader() -> entail._Reader:
    if not entail.available():
        if os.environ.get("FACTCHECK_REQUIRE_NLI") == "1":
            pytest.fail("the shipped reader is required here (FACTCHECK_REQUIRE_NLI=1)")
        pytest.skip("no shipped reader or onnxruntime")
    return entail._load(entail.model_dir())


def test_a_pair_scores_the_same_alone_and_among_others() -> None:
    reader = _shipped_reader()
    hypothesis = "Amazon hired 600 engineers away from Oracle."
    pairs = [("Oracle has hired more than 600 former Amazon staff over the past two years, according to "
              "people familiar with the matter, many of them engineers who had worked on its cloud business "
              "and on the databases that run it.", hypothesis),
             ("Oracle hired no one.", hypothesis),
             ("Amazon hired engineers from Oracle, about 600 of them.", hypothesis)]
    together = reader.probs(pairs)
    for pair, got in zip(pairs, together, strict=True):
        alone = reader.probs([pair])[0]
        assert got == pytest.approx(alone, abs=1e-6), pair[0]


def test_judge_many_with_the_shipped_reader_matches_judge_on_wice() -> None:
    _shipped_reader()
    from tests.conftest import BENCH_DIR

    # the same data and the same rule as the verdict gates: found beside the checkout or through
    # FACTCHECK_BENCH_DIR, and required where CI requires the benchmark sets
    if not (BENCH_DIR / "verdicts" / "wice-dev" / "case.yaml").is_file():
        if os.environ.get("FACTCHECK_REQUIRE_BENCH") == "1":
            pytest.fail(f"verdict bench set wice-dev required (FACTCHECK_REQUIRE_BENCH=1) but not under {BENCH_DIR}")
        pytest.skip(f"verdict bench data not found under {BENCH_DIR} (set FACTCHECK_BENCH_DIR)")
    from tests.bench_modules import load_benchmark

    claims = load_benchmark("verdict_bench").load_cases("wice-dev", BENCH_DIR)[:24]
    cases = [ToJudge(c.text, c.statement, c.cited, c.candidates) for c in claims]
    settings = {"nli": True}
    assert judge_many(cases, settings=settings) == [
        judge(c.claim_text, c.statement, c.cited, c.candidates, settings=settings) for c in cases]
