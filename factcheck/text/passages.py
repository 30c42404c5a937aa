"""Split stored text into passages: the spans claims are matched against.

A passage is a sentence (paragraphs are cut at sentence ends by the one splitter, text.sentences) with character
offsets into the stored text, so a quote can always be located in its snapshot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from factcheck.text.sentences import sentence_spans

__all__ = ["MAX_PASSAGE_CHARS", "Passage", "sentence_spans", "split_passages"]

MAX_PASSAGE_CHARS = 600


@dataclass(frozen=True, slots=True)
class Passage:
    start: int
    end: int
    text: str


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
