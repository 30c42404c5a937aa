"""The one language detector: counts of frequent function words, no model.

Two questions are asked of it. Extraction asks "which language is this page?" and wants None when a
short or mixed text cannot tell (`detect_language`). Claims and evidence passages only need "German or
English?" to pick number formats and name rules (`de_or_en`), where English is the safe default.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words("the and of to in is that for it was on with as are by this be at from have has but not "
                 "they which were their said will would an or been a its than who had according"),
    "de": _words("der die das und ist nicht ein eine einem einen zu den von mit sich auf für dem des im auch "
                 "es wird sind wurde werden bei nach aus noch wie einer oder hat dass laut als aber nur vom "
                 "zum zur über kein keine mehr weniger unter seit"),
    "fr": _words("le la les et des est une pour dans que qui pas sur au avec du ce sont par plus "
                 "mais ont été cette aux leur selon"),
    "es": _words("el la los las y de que en un una es por con para del se al lo como más pero sus "
                 "fue han según este esta"),
    "it": _words("il di che è la le per un una del della non con sono gli nel alla anche ha come "
                 "più dei delle secondo"),
    "nl": _words("de het een en van is dat op te in voor niet met zijn er aan ook als bij door maar "
                 "wordt werd naar volgens"),
    "pt": _words("o a os as e de que em um uma do da dos das para com não por mais foi são ao pelo "
                 "segundo também"),
}
_WORD = re.compile(r"[^\W\d_]+")
_COUNTED = 20_000  # _counts reads no further than this


def _counts(text: str, languages: tuple[str, ...]) -> tuple[Counter[str], int]:
    words = [w.lower() for w in _WORD.findall(text[:_COUNTED])]
    return Counter({lang: sum(1 for w in words if w in STOPWORDS[lang]) for lang in languages}), len(words)


def detect_language(text: str) -> str | None:
    """Language of a page among seven; None when the text is too short or too mixed to tell."""
    scores, n = _counts(text, tuple(STOPWORDS))
    if n < 5:
        return None
    (best, top), *rest = [*scores.most_common(2), ("", 0)][:2]
    second = rest[0][1] if rest else 0
    if top < 2 or top < 0.05 * n or top <= second * 1.2:
        return None
    return best


_DE_SHAPE = re.compile(r"[äöüß]|\w(?:ung|ungen|keit|heit|schaft|lichen|ischen)\b|\bge\w{3,}(?:t|en)\b", re.IGNORECASE)
_EN_SHAPE = re.compile(r"\w(?:ing|tion|tions|ly)\b", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def de_or_en(text: str) -> str:
    """'de' or 'en' for a claim or passage: German when German function words outnumber English ones; on a
    tie (short sentences: "in", "an" are both), umlauts and German word endings decide. Kept for the texts
    asked last: the verdict asks it of the same claim and passages again and again."""
    return _de_or_en(_word_counts(text), lambda: _shape_counts(text))


def _de_or_en(words: tuple[int, int], shapes: Callable[[], tuple[int, int]]) -> str:
    """de_or_en's rule on (German, English) counts: function words, then, on a tie, word shapes (asked only
    then)."""
    de, en = words
    if de == en:
        de, en = shapes()
    return "de" if de > en else "en"


def _word_counts(text: str) -> tuple[int, int]:
    scores, _ = _counts(text, ("de", "en"))
    return scores["de"], scores["en"]


def _shape_counts(text: str) -> tuple[int, int]:
    return len(_DE_SHAPE.findall(text)), len(_EN_SHAPE.findall(text))


# what each part of a joined text counts, kept: many claims' joined texts share their parts
_part_words = functools.lru_cache(maxsize=20_000)(_word_counts)
_part_shapes = functools.lru_cache(maxsize=20_000)(_shape_counts)


def de_or_en_joined(parts: Sequence[str]) -> str:
    """de_or_en(" ".join(parts)), worked out from what each part counts (kept per part): the verdict asks it
    of a page made of the passages a claim met and of a passage's window with its neighbours' windows, a
    new text for every claim made of parts many claims share. The counts add up exactly: no word, and
    neither shape pattern, reaches across the space between two parts, and a word boundary at a part's
    start or end is one in the joined text too. A joined text longer than what _counts reads is asked
    whole."""
    if sum(map(len, parts)) + len(parts) - 1 > _COUNTED:
        return de_or_en(" ".join(parts))
    return _de_or_en(_summed(_part_words, parts), lambda: _summed(_part_shapes, parts))


def _summed(counts: Callable[[str], tuple[int, int]], parts: Sequence[str]) -> tuple[int, int]:
    got = [counts(p) for p in parts]
    return sum(c[0] for c in got), sum(c[1] for c in got)
