"""German claims without an English statement, judged on English passages by judge() itself.

Multilingual sentence similarity decides which passage addresses the claim; the anchors of the German
claim as written (numbers, names, negation, attribution) still decide what may be verified or contested.
"""

from __future__ import annotations

from test_verdict import _page

from factcheck.judge.verdict import judge

PAGE = _page(
    "Kestrel Robotics is preparing to build a new assembly plant on the northern coast.",
    "An internal report at Kestrel Robotics lists expensive labour, a shortage of skilled workers and slow "
    "permit procedures as the main obstacles to the new plant.",
    "The weather on the northern coast was stormy all week.",
    "Kestrel Robotics delivered 300 robots to customers in Japan last year.",
)
OFF = {"gloss": False}  # similarity alone; the gloss has its own tests


def test_a_german_paraphrase_is_verified_from_the_english_source() -> None:
    j = judge("In einem internen Bericht nennt Kestrel Robotics hohe Lohnkosten, den Mangel an Fachkräften und "
              "langwierige Genehmigungen als die größten Hindernisse für das neue Werk.", None,
              ["Example News"], PAGE, settings=OFF)
    assert j.label == "verified", j.rationale
    assert "internal report" in j.quotes[0].quote
    assert j.signals["crosslingual_similarity"] > 0.6


def test_the_same_claim_without_the_similarity_signal_is_not() -> None:
    j = judge("In einem internen Bericht nennt Kestrel Robotics hohe Lohnkosten, den Mangel an Fachkräften und "
              "langwierige Genehmigungen als die größten Hindernisse für das neue Werk.", None,
              ["Example News"], PAGE, settings=OFF | {"crosslingual": False})
    assert j.label == "unverified"


def test_a_german_claim_the_page_does_not_make_stays_unverified() -> None:
    j = judge("Kestrel Robotics will seine Zentrale nach Frankfurt verlegen.", None, ["Example News"], PAGE,
              settings=OFF)
    assert j.label == "unverified", j.rationale


def test_a_german_number_that_differs_is_contested() -> None:
    j = judge("Kestrel Robotics hat im vergangenen Jahr 500 Roboter an Kunden in Japan geliefert.", None,
              ["Example News"], PAGE, settings=OFF)
    assert j.label == "contested", j.rationale
    assert "300" in j.quotes[0].quote
    ok = judge("Kestrel Robotics hat im vergangenen Jahr 300 Roboter an Kunden in Japan geliefert.", None,
               ["Example News"], PAGE, settings=OFF)
    assert ok.label == "verified", ok.rationale


def test_a_person_the_page_does_not_name_blocks_verified() -> None:
    page = _page("Chief executive Andy Jassy said the company would keep hiring engineers in Seattle.")
    j = judge("Firmenchef Jeff Bezos sagte, das Unternehmen werde weiter Ingenieure in Seattle einstellen.", None,
              ["Example News"], page, settings=OFF)
    assert j.label != "verified", j.rationale
