"""The guards on the way to *verified* and *contested*, each pinned by a case that fails when the guard is
removed or loosened (checked by mutating them one at a time; see the closing notes of the reader issue).

Calling a false claim verified is the worst failure the desk can have, so near misses matter most: a
number that is off by one percent, a year that is off by one, a disagreement sitting next to the sentence
that states the claim.
"""

from __future__ import annotations

import dataclasses

import pytest
from test_verdict import _cands, _page

from factcheck.judge.match import Candidate
from factcheck.judge.verdict import DEFAULT_SETTINGS, judge
from factcheck.text.anchors import Quantity, extract_anchors, quantities_match


def _q(text: str) -> Quantity:
    qs = extract_anchors(text, "en").quantities
    assert len(qs) == 1, qs
    return qs[0]


@pytest.mark.parametrize(("claim", "evidence"), [
    ("600 engineers", "605 engineers"),
    ("45 percent", "46 percent"),
    ("1.5 million dollars", "1.6 million dollars"),
    ("96 employees", "97 employees"),
    ("about 600 engineers", "about 700 engineers"),  # a hedge widens the tolerance a little, not to 15 %
])
def test_near_miss_numbers_do_not_match(claim: str, evidence: str) -> None:
    assert not quantities_match(_q(claim), _q(evidence))


@pytest.mark.parametrize(("claim", "evidence"), [
    ("1.5 million dollars", "1,500,000 dollars"),
    ("600 engineers", "600 engineers"),
    ("600 engineers", "about 600 engineers"),  # a bare claim may report a hedged figure
])
def test_same_numbers_match(claim: str, evidence: str) -> None:
    assert quantities_match(_q(claim), _q(evidence))


@pytest.mark.parametrize(("evidence", "claim"), [
    ("Oracle has hired 605 former Amazon employees over the past two years.",
     "Oracle has hired 600 former Amazon employees over the past two years."),
    ("Exactly 46 percent of the engineers left the company within two years.",
     "45 percent of the engineers left the company within two years."),
    ("The robotics vice president left the company in 2019 after a dispute over his pay band.",
     "The robotics vice president left the company in 2020 after a dispute over his pay band."),
    ("The energy conference in Lisbon opened on 21 July 2024 with a speech by the minister.",
     "The energy conference in Lisbon opened on 20 July 2024 with a speech by the minister."),
])
def test_near_miss_in_the_stating_sentence_is_contested(evidence: str, claim: str) -> None:
    j = judge(claim, None, ["Example News"], _cands(evidence))
    assert j.label == "contested", j.rationale
    assert j.quotes[0].role == "contradicts"


def test_a_disagreement_beside_the_stating_sentence_blocks_verified() -> None:
    """The sentence states the claim without its year; the next sentence gives another year. Not verified
    (the anchors disagree), not contested (the disagreement is not in the sentence that states the claim)."""
    ev = _page("The robotics vice president left after a dispute over pay.", "That was in 2019, the company said.")
    j = judge("The robotics vice president left after a dispute over pay in 2020.", None, ["Example News"], ev)
    assert j.signals["anchors"]["years"] == "disagree"
    assert j.label == "unverified", j.rationale


def test_the_claims_own_value_elsewhere_on_the_page_is_not_a_contradiction() -> None:
    """The stating sentence has another number, but the page also states the claim's figure: the page
    disagrees with itself, which is not grounds to call the claim contested."""
    ev = _page("Some 298 people were on board the flight to the energy conference in Lisbon.",
               "The weather over the Atlantic was calm that morning.",
               "Tickets for the summer season go on sale in May.",
               "Breakfast was served at the hotel from seven.",
               "A later count by the airline gave 410 as the figure.")
    claim = "Some 410 people were on board the flight to the energy conference in Lisbon."
    j = judge(claim, None, ["Example News"], ev)
    assert j.label == "unverified", j.rationale
    # the same page without the later count does contest it
    assert judge(claim, None, ["Example News"], ev[:4]).label == "contested"


@pytest.mark.parametrize(("evidence", "claim"), [
    ("Oracle has hired former Amazon employees over the past two years.",
     "Oracle has hired 600 former Amazon employees over the past two years."),
    ("The vice president left the company after a dispute over his pay band.",
     "Jeff Wilke left the company after a dispute over his pay band."),
    ("Jeff Wilke left the company after a dispute over his pay band, the paper reported.",
     "Jeff Wilke and Dave Clark left the company after a dispute over his pay band, the paper reported."),
    ("Output at the Leipzig van plant doubled from 2019 as demand for electric vans grew.",
     "Output at the Leipzig van plant doubled between 2019 and 2021 as demand for electric vans grew."),
])
def test_a_claim_anchor_missing_from_the_evidence_blocks_verified(evidence: str, claim: str) -> None:
    j = judge(claim, None, ["Example News"], _cands(evidence))
    assert j.label == "unverified", j.rationale
    assert "not found in the evidence" in j.rationale


def test_a_number_in_a_loose_match_does_not_contest() -> None:
    """A long sentence that shares the claim's words only here and there is not a statement of the claim,
    so its different year is no contradiction."""
    ev = _page("The robotics vice president, who had run the warehouse automation group for many years and "
               "built its lab in Boston with a large team of engineers and scientists, left in 2019 after a "
               "dispute over pay.")
    j = judge("The robotics vice president left in 2020 after a dispute over pay.", None, ["Example News"], ev)
    assert j.signals["tight_coverage"] < 0.7
    assert j.label == "unverified", j.rationale


# ---------------------------------------------------------------- how much of the claim, and where


def test_half_the_claim_stated_is_not_verified() -> None:
    """A passage that states about half of the claim (more than the single-passage share, less than the
    share the support must state) leaves the rest of the claim unchecked."""
    j = judge("Oracle hired former Amazon engineers to rebuild its struggling cloud database business.", None,
              ["Example News"], _cands("Oracle hired former Amazon cloud engineers."))
    cfg = DEFAULT_SETTINGS
    assert cfg["verify_best_coverage"] <= j.signals["best_coverage"] < cfg["verify_coverage"]
    assert j.label == "unverified", j.rationale


def test_a_claim_scattered_over_neighbouring_sentences_is_not_verified() -> None:
    """Three sentences each state a third of the claim: together, in one window, they state most of it,
    but no single sentence states enough, and scattered words do not add up to a statement."""
    ev = _page("Maria Lopez joined the Riverside orchestra.", "She recorded the Bach suites for Decca.",
               "Later she taught cello at the Valencia conservatory.")
    j = judge("Maria Lopez joined the Riverside orchestra, recorded Bach suites for Decca and taught cello at the "
              "Valencia conservatory.", None, ["Example News"], ev)
    cfg = DEFAULT_SETTINGS
    assert j.signals["support_coverage"] >= cfg["verify_coverage"]
    assert j.signals["best_coverage"] < cfg["verify_best_coverage"]
    assert j.label == "unverified", j.rationale


# ---------------------------------------------------------------- years: all of them, in the quoted sentence

VANS = "The Leipzig plant of the carmaker started building electric vans for the postal service in {}."


def test_one_of_the_claims_years_elsewhere_on_the_page_does_not_stop_a_contest() -> None:
    """The stating sentence gives other years than the claim's span; the page names one of the claim's two
    years for something else. The claim's own span is not stated anywhere, so the contradiction stands."""
    claim = "Output at the Leipzig van plant doubled between 2019 and 2021 as demand for electric vans grew."
    ev = _page("Output at the Leipzig van plant doubled between 2018 and 2020 as demand for electric vans grew.",
               "The weather was calm.", "The plant itself opened in 2019.")
    j = judge(claim, None, ["Example News"], ev)
    assert j.label == "contested", j.rationale


def _other_page(*sentences: str) -> list[Candidate]:
    return [dataclasses.replace(c, snapshot_sha256="ef" * 32, url="https://example.org/b") for c in _cands(*sentences)]


def test_a_quoted_sentence_with_another_year_is_not_verified() -> None:
    """The sentence that states the claim best gives 2019 for the claim's 2020; another page of the same
    source gives 2020. The source disagrees with itself: not verified with a quote that says 2019, and not
    contested either (the claim's year is stated by a passage that addresses it)."""
    ev = _cands(VANS.format(2019)) + _other_page("In 2020 the Leipzig plant began building electric vans for the "
                                                 "postal service.")
    j = judge(VANS.format(2020), None, ["Example News"], ev)
    assert j.label == "unverified", j.rationale
    assert "year" in j.rationale
    # the other page alone states the claim
    assert judge(VANS.format(2020), None, ["Example News"], ev[1:]).label == "verified"


def test_attribution_clause_precheck_changes_no_result(monkeypatch):
    """_attribution_clause looks for its words before running the pattern; on texts made of attribution
    words in every case, near misses and filler, it finds exactly what the pattern alone finds."""
    import random

    from factcheck.judge import verdict

    rng = random.Random(11)
    words = ["laut", "Laut", "LAUT", "according", "According", "ACCORDING", "to", "zufolge", "Zufolge",
             "ZUFOLGE", "lauter", "Blaut", "accordingly", "dem", "Bericht", "Bloomberg", "the", "report", ",",
             ".", ";", "sagte", "Sprecher", "Ärger", "Straße", "über"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 14))) for _ in range(4000)]
    fast = [verdict._attribution_clause(t) for t in texts]

    class Lower(str):
        def lower(self):  # every word "found": the pattern decides alone
            return "laut according zufolge"

    slow = [verdict._attribution_clause(Lower(t)) for t in texts]
    assert sum(1 for m in slow if m) > 1000 and sum(1 for m in slow if not m) > 300
    assert fast == slow
