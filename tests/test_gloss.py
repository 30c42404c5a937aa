"""The German->English word gloss: the Ding word-list format, inflected forms, compounds, names and the
words the anchors read; and, where Debian's trans-de-en is installed, the real list."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from factcheck.text import gloss

DING = """# Version :: test
Hürde {f} | Hürden {pl} :: hurdle | hurdles
Standort {m} | Standorte {pl} :: location | locations
Politik {f} :: policy
Mitarbeiter {m} :: cooperator
Mitarbeiter {m}; Mitarbeiterin {f} | Mitarbeiter {pl} :: employee; staff member | employees
Angestellte {m,f} :: employee
Angestellter {m} :: employee
abwerben {vt} | abwerbend | abgeworben :: to lure away | luring away | lured away
Drittel {n} :: third
leben {vi} | lebend | gelebt | ich lebe | er/sie/es lebt | ich/er/sie lebte :: to live | living | lived | I live | he/she/it lives | I/he/she lived
haben {vt} | habend | gehabt | ich habe | er/sie hat :: to have | having | had | I have | he/she has
Habe {f} :: possessions
Grafschaft {f} :: shire
Leicestershire {n} :: Leicester Shire
"""


@pytest.fixture
def small(tmp_path: Path) -> gloss.Glossary:
    f = tmp_path / "de-en"
    f.write_text(DING, encoding="utf-8")
    return gloss.Glossary.read(f)


def test_forms_line_up_with_their_english_forms(small: gloss.Glossary) -> None:
    assert small.word("Hürden") == "hurdles"
    assert small.word("abgeworben") == "lured away"
    assert small.word("Mitarbeiter") == "employee"  # the sense the list uses most, not the first one


def test_compounds_inflections_names_and_anchor_words(small: gloss.Glossary) -> None:
    assert small.word("Standortpolitik") == "location policy"
    assert small.word("Drittels") == "third"  # genitive s
    out = small.gloss("Oracle hat nicht über 600 Mitarbeiter von Amazon abgeworben.")
    assert out == "Oracle has not over 600 employee of Amazon lured away."
    assert small.gloss("Laut Kestrel liegt der Wert im unteren Drittel.").startswith("according to Kestrel")


def test_persons_of_a_verb_are_words_of_their_own(small: gloss.Glossary) -> None:
    """"er/sie/es lebt :: he/she/it lives": the inflected form without its pronouns, and the English
    without them too."""
    assert small.word("lebt") == "lives"
    assert small.word("lebte") == "lived"
    assert small.word("lebe") == "live"


def test_a_word_is_looked_up_as_written_first(small: gloss.Glossary) -> None:
    """German writes nouns capitalised: "habe" is a verb form, "Habe" a noun."""
    assert small.word("habe") == "have"
    assert small.word("Habe") == "possessions"
    assert small.gloss("Er sagte, die Firma habe 600 Mitarbeiter.") == "he sagte, the Firma have 600 employee."


def test_a_name_the_list_only_respells_is_kept_as_written(small: gloss.Glossary) -> None:
    assert small.gloss("Er lebt in Leicestershire.") == "he lives in Leicestershire."


def test_missing_or_oversized_list_means_no_gloss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert gloss.load(tmp_path / "none") is None and gloss.gloss("Hallo", tmp_path / "none") is None
    big = tmp_path / "big"
    big.write_text("x")
    monkeypatch.setattr(gloss, "MAX_DICTIONARY_BYTES", 0)
    gloss._load.cache_clear()
    assert gloss.load(big) is None


def test_the_parsed_list_is_cached_beside_the_other_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    f = tmp_path / "de-en"
    f.write_text(DING, encoding="utf-8")
    gloss._load.cache_clear()
    assert gloss.load(f).word("Hürde") == "hurdle"
    cached = list((tmp_path / "cache" / "factcheck").glob("gloss-*.json"))
    assert len(cached) == 1
    f.write_text(DING.replace("hurdle |", "obstacle |"), encoding="utf-8")  # a changed list is read afresh
    os.utime(f, ns=(1, 1))
    gloss._load.cache_clear()
    assert gloss.load(f).word("Hürde") == "obstacle"


@pytest.mark.skipif(not gloss.available() and os.environ.get("FACTCHECK_REQUIRE_NLI") != "1",
                    reason="Debian's trans-de-en is not installed (apt-get install trans-de-en)")
def test_the_real_list() -> None:
    g = gloss.load()
    assert g is not None, "trans-de-en required here (FACTCHECK_REQUIRE_NLI=1)"
    out = g.gloss("Laut Bloomberg hat Amazon die Gehaltsbänder für KI-Spezialisten nicht angehoben.")
    assert out.startswith("according to Bloomberg") and "Amazon" in out and " not " in out and "AI" in out
    assert "600" in g.gloss("Oracle hat über 600 Mitarbeiter von Amazon abgeworben.")
