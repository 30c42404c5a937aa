"""The one language detector: the page question (seven languages, None when unsure) and the claim
question (German or English, English by default), from the same word lists."""

from factcheck.text import anchors, language
from factcheck.text.language import de_or_en, detect_language


def test_de_or_en_short_claims() -> None:
    assert de_or_en("Laut Bloomberg hat Amazon die Gehälter erhöht.") == "de"
    assert de_or_en("According to Bloomberg, Amazon raised salaries.") == "en"
    assert de_or_en("Amazon 600") == "en"  # nothing to count: English, the safe default
    assert de_or_en("über 600 Mitarbeiter, mehr als im Vorjahr") == "de"


def test_page_language_needs_enough_words() -> None:
    assert detect_language("Der Hund und die Katze sind nicht im Haus, sagt der Bericht.") == "de"
    assert detect_language("the cat") is None
    assert detect_language("Le chat et le chien sont dans la maison pour la nuit, selon le rapport.") == "fr"


def test_anchors_use_the_shared_detector(monkeypatch) -> None:
    # a German number format read as German only because the shared detector says so
    monkeypatch.setattr(anchors, "de_or_en", lambda text: "en")
    en = anchors.extract_anchors("Der Umsatz stieg auf 1.500 Euro")
    monkeypatch.undo()
    de = anchors.extract_anchors("Der Umsatz stieg auf 1.500 Euro")
    assert [q.value for q in de.quantities] != [q.value for q in en.quantities]
    assert language.de_or_en("Der Umsatz stieg auf 1.500 Euro") == "de"


def test_a_tie_of_function_words_goes_by_word_shape() -> None:
    # "im", "hat" against "in", "an": German past participles and umlauts decide
    assert de_or_en("Kestrel Robotics hat im vergangenen Jahr 500 Roboter an Kunden in Japan geliefert.") == "de"
    assert de_or_en("Kestrel is in Japan, an island nation, selling robots.") == "en"


_PIECES = ["der", "die", "und", "the", "and", "of", "Stellung", "Zeitung", "running", "nation", "quickly",
           "gesagt", "genommen", "Übernahme", "straße", "in", "an", "2024", "3,5", "—", "«Nein»", "U.S.", "ge",
           "ung", "ly", "", " ", "\n", ".", "x" * 50]


def _joined_cases(rng) -> list[list[str]]:
    cases = [[], [""], ["", ""], ["die Zeitung", "the paper"], ["ung", "ly"], ["ge", "sagt"], ["Haltung "],
             [" the", "die "], ["a" * 19_999], ["a" * 10_000, "b" * 9_999], ["a" * 10_000, "b" * 10_000],
             ["die " * 6_000, "the " * 6_000], ["the " * 4_999, "die " * 10], ["a" * 9_999, "b" * 9_998, "die"]]
    for _ in range(2_000):
        parts = [" ".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 12))) for _ in range(rng.randint(1, 5))]
        cases.append(parts)
    return cases


def test_the_language_of_joined_parts_is_that_of_the_joined_text() -> None:
    """de_or_en_joined adds up what each part counts: the answer of the joined text, ties and texts longer
    than the detector reads included (a count that leaked across the space between parts, or a long text not
    asked whole, fails it)."""
    import random

    from factcheck.text.language import de_or_en_joined

    rng = random.Random(7)
    cases = _joined_cases(rng)
    ties = 0
    for parts in cases:
        joined = " ".join(parts)
        assert de_or_en_joined(parts) == de_or_en(joined), parts
        scores, _ = language._counts(joined, ("de", "en"))
        ties += scores["de"] == scores["en"]
    assert ties > 100  # the word-shape rule was exercised, not only the function words
