"""Sentence units of German and English news text, with offsets.

The one sentence splitter: claims (ingest) and evidence passages are cut by the same rules, so a claim
and the passage that states it are comparable units. It never cuts inside „quoted“ speech, after "z. B.",
"Dr.", "U.S." or an ordinal date ("01. September 2025"). Ingest also needs to know which units are
headings, captions or kicker lines (so they never become claims): `segment`; passages need only the
sentence spans of running text: `sentence_spans`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TERMINAL = ".!?…"
_CLOSERS = "\"'”“»«’)]"
_OPENERS = "\"'„“«»‚(["

# Never end a sentence: titles and abbreviations that are always followed by more of the sentence.
_ABBR_ALWAYS = {
    "dr", "prof", "mr", "mrs", "ms", "hr", "fr", "st", "sen", "rep", "gov", "gen", "lt", "col", "capt",
    "sgt", "vs", "ca", "bzw", "vgl", "sog", "evtl", "ggf", "inkl", "zzgl", "bzgl", "mio", "mrd", "tsd",
    "abs", "art", "fig", "approx", "dept", "univ", "ref", "resp", "z.b", "u.a", "d.h", "i.e", "e.g",
    "u.ä", "o.ä", "i.d.r", "z.t", "s.o", "s.u", "dipl", "ing", "mag", "nr", "no", "mt", "ft",
}
# Can end a sentence: cut only when the next word is a typical sentence opener.
_ABBR_CAN_END = {"inc", "corp", "ltd", "co", "llc", "plc", "etc", "usw", "jr", "sr", "bros", "a.m", "p.m"}
_MONTH_ABBR = {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "okt", "nov", "dec", "dez"}
MONTHS = {
    "januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober",
    "november", "dezember", "january", "february", "march", "may", "june", "july", "october", "december",
}
_ORDINAL_LEAD = {"am", "vom", "zum", "bis", "ab", "seit", "den", "dem", "der", "die", "das", "des", "im", "zur",
                 "ihrem", "seinem", "ihr", "sein", "jeden", "jedem", "jeder", "beim"}
SENTENCE_OPENERS = {
    # English
    "the", "a", "an", "it", "its", "he", "she", "they", "we", "i", "this", "that", "these", "those", "there",
    "but", "and", "in", "on", "at", "for", "however", "meanwhile", "still", "yet", "so", "his", "her",
    "their", "our", "if", "when", "while", "after", "before", "as", "some", "many", "most", "now", "then",
    "last", "other", "according", "shares", "analysts",
    # German
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einer", "er", "es", "wir", "ich", "man",
    "doch", "aber", "auch", "zudem", "damit", "dies", "diese", "dieser", "dieses", "dabei", "danach",
    "daher", "deshalb", "im", "am", "seit", "nach", "bei", "mit", "zum", "zur", "laut", "wie", "während",
    "als", "noch", "nun", "jetzt", "sie",
}

_CANDIDATE = re.compile(r"[.!?…]+[\"'”“»«’)\]]*(?=\s)")
_WORD_BEFORE = re.compile(r"([^\s\"'„“”«»‚(\[]+)$")
_BULLET = re.compile(r"^\s*(?:[-•*–·]|\d{1,2}[.)])\s+")


@dataclass(frozen=True, slots=True)
class Unit:
    """A sentence or a heading-like line; `kind` is "sentence", "heading" or "bullet"."""

    start: int
    end: int
    kind: str
    block: int  # index of the blank-line separated block it belongs to


def _is_bullet(line: str) -> bool:
    m = _BULLET.match(line)
    if not m:
        return False
    nxt = re.match(r"\w+", line[m.end():])
    return not (nxt and nxt.group(0).lower() in MONTHS)  # "01. September 2025" is a dateline


def _ends_terminal(line: str) -> bool:
    s = line.rstrip().rstrip(_CLOSERS)
    return bool(s) and s[-1] in _TERMINAL


def _next_word(text: str, pos: int, end: int) -> tuple[str, int]:
    """The word starting after whitespace and opening quotes at pos, and its start."""
    i = pos
    while i < end and (text[i].isspace() or text[i] in _OPENERS):
        i += 1
    m = re.match(r"[\w.'’-]*\w|\w", text[i:end])
    return (m.group(0) if m else ""), i


def _quote_mask(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans (absolute) that lie inside balanced quotes within text[start:end]."""
    spans: list[tuple[int, int]] = []
    pairs = {"„": "“", "“": "”", "«": "»", "»": "«", '"': '"', "‚": "‘"}
    i = start
    while i < end:
        ch = text[i]
        if ch in pairs:
            # straight quote and » « only open when followed by a non-space
            if ch in '"»«' and (i + 1 >= end or text[i + 1].isspace()):
                i += 1
                continue
            close = text.find(pairs[ch], i + 1, end)
            if ch == "“":  # English opener “ may also be closed by a straight "
                alt = text.find('"', i + 1, end)
                if close == -1 or (alt != -1 and alt < close):
                    close = alt
            if close != -1 and close - i <= 600:
                spans.append((i + 1, close))
                i = close + 1
                continue
        i += 1
    return spans


def _is_break(text: str, dot: int, cut: int, end: int) -> bool:
    """Decide whether the punctuation at `dot` (cut after `cut`) ends a sentence."""
    word, _ = _next_word(text, cut, end)
    if not word:
        return False
    first = word[0]
    if not (first.isupper() or first.isdigit()):
        return False
    if text[dot] != ".":
        return True
    if dot + 1 < end and text[dot + 1] == "." :  # an ellipsis written as dots
        return True
    m = _WORD_BEFORE.search(text, max(0, dot - 30), dot)
    if not m:
        return True
    before = m.group(1)
    low = before.lower().strip(".")
    nxt = word.lower()
    if low in _ABBR_ALWAYS or (len(low) == 1 and low.isalpha()):
        return False
    if re.fullmatch(r"(?:\w\.)+\w", low) and len(low) <= 7:  # dotted initialism: U.S, u.a, e.g
        if low in _ABBR_ALWAYS:
            return False
        return nxt in SENTENCE_OPENERS
    if low in _MONTH_ABBR:
        return not first.isdigit() and nxt in SENTENCE_OPENERS
    if low in _ABBR_CAN_END:
        return nxt in SENTENCE_OPENERS
    if re.fullmatch(r"\d{1,2}", low):  # ordinal: "01. September", "am 3. Oktober"
        if nxt.strip(".") in MONTHS or nxt.strip(".") in _MONTH_ABBR:
            return False
        prev = _WORD_BEFORE.search(text, max(0, m.start() - 20), max(0, m.start() - 1))
        if prev and prev.group(1).lower() in _ORDINAL_LEAD:
            return False
    return True


def _split_line_group(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut text[start:end] (one unit of running text) at sentence ends."""
    quotes = _quote_mask(text, start, end)
    spans = []
    cur = start
    for m in _CANDIDATE.finditer(text, start, end):
        cut = m.end()
        if any(qs <= cut - 1 < qe for qs, qe in quotes):
            continue
        dot = m.start()
        if _is_break(text, dot, cut, end):
            spans.append((cur, cut))
            cur = cut
    spans.append((cur, end))
    return spans


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def segment(text: str) -> list[Unit]:
    """Units of the text: headings (a line without end punctuation that stands alone, or is clearly
    shorter than the line after it), bullet items and sentences, in order, whitespace trimmed."""
    units: list[Unit] = []
    block_no = 0
    for block in re.finditer(r"[^\n]*\S[^\n]*(?:\n[^\n]*\S[^\n]*)*", text):
        lines = [(m.start() + block.start(), m.end() + block.start())
                 for m in re.finditer(r"[^\n]+", block.group(0))]
        lines = [(s, e) for s, e in lines if text[s:e].strip()]
        longest = max(e - s for s, e in lines)
        group_start: int | None = None
        for i, (s, e) in enumerate(lines):
            line = text[s:e]
            last = i == len(lines) - 1
            nxt = text[lines[i + 1][0]:lines[i + 1][1]].lstrip() if not last else ""
            if _is_bullet(line):
                if group_start is not None:
                    units.extend(_emit(text, group_start, lines[i - 1][1], block_no))
                    group_start = None
                units.extend(_emit(text, s, e, block_no, bullet=True))
                continue
            if group_start is None:
                group_start = s
            terminal = _ends_terminal(line) or line.rstrip().endswith(":")
            standalone = not terminal and (
                last or (e - s) < 0.6 * longest or (nxt[:1].isupper() and (e - s) < 60)
            )
            if standalone or line.rstrip().endswith(":") or last or (terminal and nxt[:1] in "-•*"):
                units.extend(_emit(text, group_start, e, block_no))
                group_start = None
        block_no += 1
    return units


def _emit(text: str, s: int, e: int, block: int, bullet: bool = False) -> list[Unit]:
    out: list[Unit] = []
    s, e = _trim(text, s, e)
    if e <= s:
        return out
    seg = text[s:e]
    if not bullet and not _ends_terminal(seg) and "\n" not in seg and not seg.rstrip().endswith(":"):
        # a line with no end punctuation: heading, caption head or dateline (may still hold a sentence
        # end inside, e.g. "Foto: A. B. Meier. Berlin" is rare enough to ignore)
        parts = _split_line_group(text, s, e)
        if len(parts) == 1:
            return [Unit(s, e, "heading", block)]
        for i, (ps, pe) in enumerate(parts):
            ps, pe = _trim(text, ps, pe)
            if pe > ps:
                out.append(Unit(ps, pe, "heading" if i == len(parts) - 1 else "sentence", block))
        return out
    for ps, pe in _split_line_group(text, s, e):
        ps, pe = _trim(text, ps, pe)
        if pe > ps:
            out.append(Unit(ps, pe, "bullet" if bullet else "sentence", block))
    return out


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) of German or English news text; headings and captions are their own
    units, quoted speech is never cut, abbreviations, ordinals and numbers do not end a sentence."""
    return [(u.start, u.end) for u in segment(text)]


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence boundaries inside text[start:end] (running text), absolute offsets, whitespace trimmed."""
    end = len(text) if end is None else end
    out = []
    for s, e in _split_line_group(text, start, end):
        s, e = _trim(text, s, e)
        if e > s:
            out.append((s, e))
    return out
