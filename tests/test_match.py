"""Passage scoring: the passage that states the claim ranks first; anchors are compared per type."""

from __future__ import annotations

from factcheck.judge.match import Candidate, compare_anchors, normalise, score_passages
from factcheck.text.anchors import extract_anchors


def cand(text: str, start: int = 0) -> Candidate:
    return Candidate(None, text, start, start + len(text), "0" * 64, "https://example.org", "X", True, True, None)


PASSAGES = [
    cand("Amazon did not respond to a request for comment.", 0),
    cand("Oracle alone has hired more than 600 former Amazon employees over the past two years.", 60),
    cand("The weather in Seattle was mild this week.", 160),
]


def test_the_stating_passage_ranks_first() -> None:
    res = score_passages(["Oracle hat über 600 Mitarbeiter von Amazon abgeworben.",
                          "Oracle has hired more than 600 Amazon employees."], PASSAGES, top_k=2)
    assert len(res) == 2
    assert res[0].candidate is PASSAGES[1]
    assert res[0].score > res[1].score
    assert 0 <= res[1].score <= res[0].score <= 1
    assert res[0].anchor_agreement["quantities"] == "agree"
    assert "Oracle" in res[0].matched_terms


def test_workers_give_same_ranking() -> None:
    many = PASSAGES * 100
    a = score_passages(["Oracle has hired more than 600 Amazon employees."], many, top_k=3)
    b = score_passages(["Oracle has hired more than 600 Amazon employees."], many, top_k=3, workers=2)
    assert [x.candidate.text for x in a] == [x.candidate.text for x in b]


def test_empty_inputs() -> None:
    assert score_passages([], PASSAGES) == []
    assert score_passages(["x"], []) == []


def test_compare_anchors_disagreements() -> None:
    claim = extract_anchors("more than 600 employees left in 2019")
    ev_text = "more than 400 employees left in 2020"
    got = compare_anchors(claim, extract_anchors(ev_text), ev_text)
    assert got["quantities"] == "disagree"
    assert got["years"] == "disagree"
    assert got["negation"] == "agree"
    ranks = compare_anchors(extract_anchors("im unteren Drittel", "de"), extract_anchors("at the lower end"), "")
    assert ranks["ranks"] == "disagree"


def test_normalise_folds_case_accents_and_number_separators() -> None:
    assert normalise("Über 1.500 Mitarbeiter!") == "ueber 1500 mitarbeiter"
