"""Anchors: the same fact in German and English must give the same normalised anchors."""

from __future__ import annotations

import pytest

from factcheck.text.anchors import Quantity, extract_anchors, parse_number, quantities_match


@pytest.mark.parametrize(
    ("de", "en"),
    [
        ("über 600 Mitarbeiter", "more than 600 employees"),
        ("1,5 Mio. Euro", "1.5 million euros"),
        ("80 Prozent", "80%"),
        ("mehr als 50 Forscher", "more than 50 researchers"),
        ("1.500 Stellen", "1,500 jobs"),
        ("in den vergangenen zwei Jahren", "over the past two years"),
    ],
)
def test_german_and_english_quantities_agree(de: str, en: str) -> None:
    a = extract_anchors(de, "de").quantities
    b = extract_anchors(en, "en").quantities
    assert a and a == b


def test_values_are_normalised() -> None:
    assert extract_anchors("1,5 Mio. Euro", "de").quantities == [Quantity(1_500_000.0, "eur", None)]
    assert extract_anchors("3,5 Prozent", "de").quantities == [Quantity(3.5, "percent", None)]
    assert parse_number("1.500", "de") == 1500
    assert parse_number("1.500", "en") == 1.5
    assert parse_number("1,500,000", "en") == 1_500_000


def test_qualifiers() -> None:
    assert extract_anchors("about 600 people").quantities[0].qualifier == "about"
    assert extract_anchors("at least 600 people").quantities[0].qualifier == "at_least"
    assert extract_anchors("fewer than 600 people").quantities[0].qualifier == "less_than"


def test_quantities_match_rules() -> None:
    more = Quantity(600, None, "more_than")
    assert quantities_match(more, Quantity(600, None, "more_than"))
    assert not quantities_match(more, Quantity(400, None, "more_than"))
    assert not quantities_match(more, Quantity(600, None, "about"))
    assert not quantities_match(Quantity(80, "percent", None), Quantity(80, "usd", None))


def test_years_and_dates() -> None:
    a = extract_anchors("Bereits 2020 verließ er das Unternehmen; am 4. September 2025 berichtete BI.", "de")
    assert a.years == {2020, 2025}
    assert "2025-09-04" in a.dates
    b = extract_anchors("Business Insider reported on Sep 4, 2025 and on 1 December 2012.")
    assert {"2025-09-04", "2012-12-01"} <= b.dates
    assert not extract_anchors("in 2020").quantities


def test_names_conservative_in_german() -> None:
    a = extract_anchors("Laut SignalFire rangiert Amazon weit hinter OpenAI; Robotics-Vizepräsident Brad Porter ging.",
                        "de")
    assert {"SignalFire", "OpenAI", "Brad Porter"} <= a.names
    assert not any("Vizepräsident" in n for n in a.names)
    b = extract_anchors("Oracle has hired staff from Amazon, Bloomberg reported.")
    assert {"Amazon", "Bloomberg"} <= b.names


def test_negation_and_ranks() -> None:
    assert extract_anchors("Amazon hat die Bänder nicht angehoben.", "de").negated
    assert extract_anchors("Amazon did not raise the bands.").negated
    assert not extract_anchors("Amazon raised the bands.").negated
    assert "bottom_third" in extract_anchors("im unteren Drittel", "de").ranks
    assert "bottom_third" in extract_anchors("in the bottom third").ranks
    assert "lower_end" in extract_anchors("at the lower end").ranks
    assert "far_behind" in extract_anchors("weit hinter Meta", "de").ranks
    assert "decrease" in extract_anchors("populations are declining").ranks


def test_bare_numbers_know_what_they_count() -> None:
    assert extract_anchors("600 employees left").quantities[0].noun == "emplo"
    assert extract_anchors("starting on 20 July").quantities[0].noun == "july"
    # the counted word is not part of equality: German and English nouns differ
    assert extract_anchors("600 Mitarbeiter", "de").quantities == extract_anchors("600 employees").quantities


def test_date_prechecks_change_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """_find_dates skips patterns whose necessary parts (a four-digit year, a month word) the text lacks; on
    texts built from month words in every spelling, near misses and numbers, it finds exactly what running
    every pattern finds."""
    import random
    import re

    from factcheck.text import anchors

    rng = random.Random(5)
    months = [f for key in anchors._MONTHS for f in (key, key.replace("ae", "ä").replace("ue", "ü"))]
    words = [*months, *(m.capitalize() for m in months), *(m.upper() for m in months),
             "Marching", "Mayor", "Jun.", "Sept.", "Mär", "Dezembers", "of", "the", "am", ",", ".", "-", "on"]
    def number() -> str:
        return rng.choice([str(rng.randint(1, 31)), str(rng.randint(1, 12)), str(rng.randint(990, 2300)),
                           f"{rng.randint(1, 31)}.", f"{rng.randint(1, 31)}th",
                           f"{rng.randint(1900, 2100)}-{rng.randint(1, 13)}-{rng.randint(1, 32)}",
                           f"{rng.randint(1, 31)}.{rng.randint(1, 13)}.{rng.randint(1900, 2100)}"])
    texts = [" ".join(rng.choice(words) if rng.random() < 0.55 else number() for _ in range(rng.randint(1, 12)))
             for _ in range(4000)]
    fast = [anchors._find_dates(t) for t in texts]
    everything = re.compile("")
    monkeypatch.setattr(anchors, "_YEAR_DIGITS", everything)
    monkeypatch.setattr(anchors, "_ANY_MONTH", everything)
    slow = [anchors._find_dates(t) for t in texts]
    assert sum(1 for d, _ in slow if d) > 1000  # the texts do hold dates of every kind
    assert fast == slow
