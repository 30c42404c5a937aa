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
