"""Split stored text into passages: the spans claims are matched against.

A passage is a sentence (long paragraphs are cut at sentence ends) with character
offsets into the stored text, so a quote can always be located in its snapshot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) and whitespace,
# when the next token starts like a sentence. Abbreviations and numbers (1.500, 3.5) are protected
# below so that "Dr. Müller" or "U.S. officials" are not cut.
_END = re.compile(r"[.!?…][\"'”“«»)\]]*\s+(?=[\"'„“«(\[]?[A-ZÄÖÜ0-9])")
_ABBREV = {
    "dr", "prof", "mr", "mrs", "ms", "st", "jr", "sr", "inc", "corp", "co", "ltd", "vs", "etc", "no",
    "nr", "bzw", "ca", "z.b", "u.a", "d.h", "usw", "vgl", "sog", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "okt", "nov", "dec", "dez", "u.s", "u.k", "e.g", "i.e", "mio",
    "mrd", "gen", "gov", "sen", "rep", "fig", "abs", "art",
}
MAX_PASSAGE_CHARS = 600


@dataclass(frozen=True, slots=True)
class Passage:
    start: int
    end: int
    text: str


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    m = re.search(r"([\w.]+)$", text[max(0, dot - 12) : dot])
    if not m:
        return False
    word = m.group(1).lower().strip(".")
    # single letters ("J. Smith") and known abbreviations
    return len(word) == 1 or word in _ABBREV


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence boundaries inside text[start:end], as absolute (start, end) offsets, whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cur = start
    for m in _END.finditer(text, start, end):
        if _is_abbreviation(text, m.start()):
            continue
        cut = m.end()
        spans.append((cur, cut))
        cur = cut
    spans.append((cur, end))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def split_passages(text: str, max_chars: int = MAX_PASSAGE_CHARS) -> list[Passage]:
    """Paragraphs, cut into sentences; over-long sentences are cut at whitespace near max_chars."""
    passages: list[Passage] = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*", text):
        for s, e in sentence_spans(text, para.start(), para.end()):
            while e - s > max_chars:
                cut = text.rfind(" ", s, s + max_chars)
                if cut <= s:
                    cut = s + max_chars
                passages.append(Passage(s, cut, text[s:cut]))
                s = cut
                while s < e and text[s].isspace():
                    s += 1
            if e > s:
                passages.append(Passage(s, e, text[s:e]))
    return passages
