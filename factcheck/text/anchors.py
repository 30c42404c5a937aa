"""Language-independent anchors of a text: the checkable facts a verdict must agree on.

A German claim ("über 600 Mitarbeiter", "1,5 Mio.", "80 Prozent", "im unteren Drittel") and an English
source ("more than 600 employees", "1.5 million", "80%", "in the bottom third") are compared through
these normalised forms, so the comparison does not depend on translation.

Quantities fold scale words into the value (1,5 Mio. -> 1500000.0); the unit keeps the dimension
("percent", "usd", "eur", "gbp", "years", "months", "days", "points") so 80 % never equals 80 dollars.
Bare four-digit numbers between 1800 and 2099 are years, not quantities.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Generic, TypeVar

from factcheck.text.language import de_or_en

__all__ = [
    "RANK_FAMILIES",
    "Anchors",
    "Quantity",
    "TextMemo",
    "extract_anchors",
    "names_in",
    "quantities_match",
]


@dataclass(frozen=True)
class Quantity:
    """A number with its dimension and hedge ("more than 600" -> 600.0, None, "more_than")."""

    value: float
    unit: str | None
    qualifier: str | None  # "more_than", "less_than", "about", "at_least", "at_most" or None
    # the word the number counts ("600 employees" -> "employ"): two bare numbers only contradict each other
    # when they count the same thing; not part of equality (German and English nouns differ)
    noun: str | None = field(default=None, compare=False)


@dataclass
class Anchors:
    quantities: list[Quantity] = field(default_factory=list)
    years: set[int] = field(default_factory=set)
    dates: set[str] = field(default_factory=set)  # ISO "2025-09-04" or month precision "2025-09"
    names: set[str] = field(default_factory=set)
    negated: bool = False
    ranks: set[str] = field(default_factory=set)


# ---------------------------------------------------------------- memo

T = TypeVar("T")


class TextMemo(Generic[T]):
    """What a pure function made of a text, kept for the texts seen last (a bounded dict: the oldest
    quarter goes when it is full). Values must never be changed by whoever reads them."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self.data: dict[object, T] = {}

    def get(self, key: Any, make: Callable[[Any], T]) -> T:
        try:
            return self.data[key]
        except KeyError:
            pass
        value = make(key)
        self.put(key, value)
        return value

    def put(self, key: object, value: T) -> None:
        data = self.data
        if len(data) >= self.size:
            for old in list(islice(data, self.size // 4)):
                data.pop(old, None)
        data[key] = value

    def clear(self) -> None:
        self.data.clear()


# ---------------------------------------------------------------- language

def fold(text: str) -> str:
    """Casefold and fold German umlauts/ß so 'Über' == 'ueber' style variants compare equal."""
    t = text.casefold().replace("ß", "ss")
    t = t.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    return unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode()


# ---------------------------------------------------------------- dates

_MONTHS = {
    "january": 1, "jan": 1, "januar": 1, "jaenner": 1, "february": 2, "feb": 2, "februar": 2,
    "march": 3, "mar": 3, "maerz": 3, "mrz": 3, "april": 4, "apr": 4, "may": 5, "mai": 5,
    "june": 6, "jun": 6, "juni": 6, "july": 7, "jul": 7, "juli": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "oktober": 10, "okt": 10,
    "november": 11, "nov": 11, "december": 12, "dec": 12, "dezember": 12, "dez": 12,
}
_MONTH_RE = r"(?P<mon>[A-Za-zÄÖÜäöü]{3,9})\.?"
_DATE_PATTERNS = [
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(r"\b(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})\b"),
    re.compile(r"\b(?P<d>\d{1,2})(?:\.|st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH_RE + r",?\s+(?P<y>\d{4})\b"),
    re.compile(r"\b" + _MONTH_RE + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})\b"),
    re.compile(r"\b" + _MONTH_RE + r",?\s+(?P<y>\d{4})\b"),
]


def _month(word: str) -> int | None:
    return _MONTHS.get(fold(word).rstrip("."))


def _month_forms() -> list[str]:
    """Every way a month word of _MONTHS can be written before fold(): with umlauts or their digraphs."""
    forms = set()
    for key in _MONTHS:
        forms.add(key)
        forms.add(key.replace("ae", "ä").replace("oe", "ö").replace("ue", "ü"))
    return sorted(forms, key=lambda f: (-len(f), f))


# Necessary conditions, looked for first: every date pattern has a four-digit year, and the patterns that name
# the month match only where a month word (as _month reads it) stands as a word; most passages have neither,
# and running five patterns over each was the largest part of reading a passage's anchors.
_YEAR_DIGITS = re.compile(r"\d{4}")
_ANY_MONTH = re.compile(r"\b(?:" + "|".join(_month_forms()) + r")\b", re.IGNORECASE)
_NUMERIC_DATES = 2  # _DATE_PATTERNS[:2] name the month by its number


def _find_dates(text: str) -> tuple[set[str], list[tuple[int, int]]]:
    dates: set[str] = set()
    spans: list[tuple[int, int]] = []
    if not _YEAR_DIGITS.search(text):
        return dates, spans
    patterns = _DATE_PATTERNS if _ANY_MONTH.search(text) else _DATE_PATTERNS[:_NUMERIC_DATES]
    for pat in patterns:
        for m in pat.finditer(text):
            if any(s <= m.start() < e or s < m.end() <= e for s, e in spans):
                continue
            gd = m.groupdict()
            mon = int(gd["m"]) if gd.get("m") else _month(gd.get("mon") or "")
            if not mon or not 1 <= mon <= 12:
                continue
            year = int(gd["y"])
            if not 1000 <= year <= 2199:
                continue
            if gd.get("d"):
                day = int(gd["d"])
                if not 1 <= day <= 31:
                    continue
                dates.add(f"{year:04d}-{mon:02d}-{day:02d}")
            else:
                dates.add(f"{year:04d}-{mon:02d}")
            spans.append((m.start(), m.end()))
    return dates, spans


# ---------------------------------------------------------------- quantities

_SCALES = [
    (r"(?:trillion|trillions|tn|billionen|billion(?=\s+(?:euro|dollar)\b)(?#de))", 1e12),
    (r"(?:billion|billions|bn|bln|mrd\.?|milliarde|milliarden)", 1e9),
    (r"(?:million|millions|mln|mn|mio\.?|millionen)", 1e6),
    (r"(?:thousand|thousands|tsd\.?|tausend)", 1e3),
]
_UNITS = [
    (r"(?:%|percent|per\s+cent|prozent|pct\.?)(?!\s*(?:punkte|points))", "percent"),
    (r"(?:percentage\s+points?|prozentpunkte?n?|%-punkte?)", "points"),
    (r"(?:dollars?|usd|us-dollar)", "usd"),
    (r"(?:euros?|eur)", "eur"),
    (r"(?:pounds?|gbp)", "gbp"),
    (r"(?:years?|jahren?|jahre)", "years"),
    (r"(?:months?|monaten?|monate)", "months"),
    (r"(?:weeks?|wochen?)", "weeks"),
    (r"(?:days?|tagen?|tage)", "days"),
]
_CURRENCY_SIGNS = {"$": "usd", "€": "eur", "£": "gbp"}
_QUALIFIERS = [
    (r"(?:more\s+than|over|above|upwards\s+of|in\s+excess\s+of|mehr\s+als|über|ueber|uber)", "more_than"),
    (r"(?:less\s+than|fewer\s+than|under|below|weniger\s+als|unter|unterhalb\s+von)", "less_than"),
    (r"(?:at\s+least|no\s+fewer\s+than|mindestens|wenigstens)", "at_least"),
    (r"(?:at\s+most|up\s+to|no\s+more\s+than|höchstens|hoechstens|bis\s+zu|maximal)", "at_most"),
    (r"(?:about|around|approximately|approx\.?|roughly|nearly|almost|some|circa|ca\.|etwa|rund|ungefähr|knapp|fast|annähernd)", "about"),
]
_NUMBER_WORDS = {
    "en": {
        "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
        "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100,
        "dozen": 12, "dozens": 24,
    },
    "de": {
        "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9,
        "zehn": 10, "elf": 11, "zwölf": 12, "zwanzig": 20, "dreißig": 30, "vierzig": 40, "fünfzig": 50,
        "hundert": 100, "dutzend": 12,
    },
}
_NUM_TOKEN = re.compile(r"(?<![\w.,])(?P<cur>[$€£]\s?)?(?P<num>\d[\d.,\u202f\u00a0']*\d|\d)(?![\w])")


def parse_number(token: str, language: str) -> float | None:
    """Parse '1.500' / '1,500' / '3,5' / '3.5' by the language's separator convention."""
    tok = token.replace("\u202f", "").replace("\u00a0", "").replace("'", "")
    if "." in tok and "," in tok:
        dec = "." if tok.rfind(".") > tok.rfind(",") else ","
        tok = tok.replace("," if dec == "." else ".", "").replace(dec, ".")
    elif "," in tok:
        if language == "de" and tok.count(",") == 1:
            tok = tok.replace(",", ".")
        elif re.fullmatch(r"\d{1,3}(?:,\d{3})+", tok):
            tok = tok.replace(",", "")
        else:
            tok = tok.replace(",", ".") if tok.count(",") == 1 else tok.replace(",", "")
    elif "." in tok and (tok.count(".") > 1 or (language == "de" and re.fullmatch(r"\d{1,3}\.\d{3}", tok))):
        tok = tok.replace(".", "")
    try:
        return float(tok)
    except ValueError:
        return None


# the patterns _qualifier_before, _suffix and _find_quantities try at every number, compiled once
_QUALIFIER_RES = [(re.compile(r"(?:^|\W)" + pat + r"\s*$", re.IGNORECASE), name) for pat, name in _QUALIFIERS]
_SCALE_RE = re.compile(r"\s*(" + "|".join(p for p, _ in _SCALES) + r")(?![\w])", re.IGNORECASE)
_SCALE_EACH = [(re.compile(pat, re.IGNORECASE), mult) for pat, mult in _SCALES]
_UNIT_RES = [(re.compile(r"\s*(?:an?\s+|of\s+)?" + pat + r"(?![\w])", re.IGNORECASE), name) for pat, name in _UNITS]
_NUMBER_WORD_RES = {lang: re.compile(r"(?<![\w-])(" + "|".join(words) + r")(?![\w-])", re.IGNORECASE)
                    for lang, words in _NUMBER_WORDS.items() if words}


def _qualifier_before(text: str, pos: int) -> str | None:
    window = text[max(0, pos - 30) : pos]
    for rx, name in _QUALIFIER_RES:
        if rx.search(window):
            return name
    return None


def _suffix(text: str, pos: int) -> tuple[float, str | None, int]:
    """Scale multiplier, unit, and end offset of what follows a number at pos."""
    rest = text[pos : pos + 40]
    scale, unit, end = 1.0, None, pos
    m = _SCALE_RE.match(rest)
    if m:
        word = m.group(1).lower()
        for rx, mult in _SCALE_EACH:
            if rx.fullmatch(word):
                scale = mult
                break
        rest = rest[m.end() :]
        end += m.end()
    for rx, name in _UNIT_RES:
        mu = rx.match(rest)
        if mu:
            unit = name
            end += mu.end()
            break
    return scale, unit, end


_NOUN_SKIP = {"of", "the", "a", "an", "more", "former", "new", "other", "und", "der", "die", "das", "von", "and",
              "or", "oder", "ehemalige", "ehemaligen", "neue", "neuen", "weitere", "additional", "-", "to"}


def _noun_after(text: str, pos: int) -> str | None:
    """A crude key of what a number counts: the first content word after it, folded and cut to 5 letters."""
    for w in re.findall(r"[^\W\d_]+", text[pos : pos + 60])[:4]:
        lw = fold(w)
        if lw not in _NOUN_SKIP and len(lw) > 1:
            return lw[:5]
    return None


def _find_quantities(text: str, language: str, masked: list[tuple[int, int]]) -> tuple[list[Quantity], set[int]]:
    quantities: list[Quantity] = []
    years: set[int] = set()
    for m in _NUM_TOKEN.finditer(text):
        if any(s <= m.start("num") < e for s, e in masked):
            continue
        raw = m.group("num")
        value = parse_number(raw, language)
        if value is None:
            continue
        scale, unit, end = _suffix(text, m.end())
        cur = m.group("cur")
        if cur:
            unit = _CURRENCY_SIGNS[cur.strip()]
        if _YEAR_DIGITS.fullmatch(raw) and 1800 <= value <= 2099 and scale == 1.0 and unit is None:
            # 'in 2020', '2019er': a year, not an amount; "2020s" too
            years.add(int(value))
            continue
        quantities.append(Quantity(round(value * scale, 6), unit, _qualifier_before(text, m.start()),
                                   _noun_after(text, end)))
    words = _NUMBER_WORDS.get(language, {})
    if words:
        for m in _NUMBER_WORD_RES[language].finditer(text):
            value = float(words[m.group(1).lower()])
            scale, unit, end = _suffix(text, m.end())
            quantities.append(Quantity(value * scale, unit, _qualifier_before(text, m.start()),
                                       _noun_after(text, end)))
    return quantities, years


def quantities_match(claim: Quantity, evidence: Quantity, tolerance: float = 0.005) -> bool:
    """Same amount and dimension, and hedges that do not contradict each other.

    A bare claim number may report an evidence figure hedged with 'about'; 'more than 600' never
    matches a bare '600' or 'about 600' (the claim would overstate the source).
    """
    if claim.unit != evidence.unit and not (
        {claim.unit, evidence.unit} <= {None, "usd", "eur", "gbp"} and None in {claim.unit, evidence.unit}
    ):
        return False
    cv, ev = claim.value, evidence.value
    tol = tolerance
    if claim.qualifier == "about" or evidence.qualifier == "about":
        tol = max(tol, 0.05)
    if abs(cv - ev) > tol * max(abs(cv), abs(ev), 1e-9):
        return False
    cq, eq = claim.qualifier, evidence.qualifier
    if cq == eq:
        return True
    compatible = {
        (None, "about"), ("about", None),
        ("more_than", "at_least"), ("at_least", "more_than"),
        ("less_than", "at_most"), ("at_most", "less_than"),
        ("about", "at_least"), ("about", "at_most"), ("about", "more_than"), ("about", "less_than"),
    }
    return (cq, eq) in compatible


# ---------------------------------------------------------------- negation, ranks

_NEGATION = re.compile(
    r"(?<![\w-])(?:not|no|never|none|neither|nor|cannot|without|nobody|nothing|"
    r"nicht|kein|keine|keinen|keinem|keiner|keines|nie|niemals|ohne|weder|nichts|niemand)(?![\w-])"
    r"|n['’]t\b",
    re.IGNORECASE,
)

# concept -> patterns (English and German); families say which concepts exclude each other
_RANK_PATTERNS: dict[str, list[str]] = {
    "bottom_third": [r"bottom\s+third", r"lower\s+third", r"unter(?:e|en|es|n)?\s+drittel", r"letzten?\s+drittel"],
    "top_third": [r"top\s+third", r"upper\s+third", r"ober(?:e|en|es|n)?\s+drittel"],
    "lower_end": [r"lower\s+end", r"low\s+end", r"bottom\s+end", r"unter(?:e|en)\s+ende", r"lower\s+half",
                  r"unter(?:e|en)\s+hälfte", r"near\s+the\s+bottom"],
    "bottom": [r"\blast\s+place", r"\bthe\s+bottom\b", r"\blowest\b", r"\bworst\b", r"\bletzte[nr]?\s+platz",
               r"schlusslicht", r"\bniedrigste[nr]?\b", r"\bschlechteste[nr]?\b"],
    "top": [r"\btop\b(?!\s+third)", r"\bfirst\s+place", r"\bhighest\b", r"\bbest\b", r"\bleading\b",
            r"\bspitze\b", r"\bhöchste[nr]?\b", r"\bbeste[nr]?\b", r"\bführend", r"\bspitzenreiter"],
    "middle": [r"\bmiddle\s+of\s+the\s+pack", r"\bmid-?table", r"\bmittelfeld"],
    "far_behind": [r"far\s+behind", r"well\s+behind", r"way\s+behind", r"lag(?:s|ged|ging)?\s+far\s+behind",
                   r"weit\s+hinter", r"deutlich\s+hinter", r"weit\s+abgeschlagen"],
    "slightly_behind": [r"slightly\s+behind", r"just\s+behind", r"knapp\s+hinter"],
    "ahead": [r"\bahead\s+of\b", r"\boutpac", r"\bvor\s+(?:der|den|dem)\s+konkurrenz", r"\bvorne\b"],
    "increase": [r"\bincreas", r"\brise\b", r"\brises\b", r"\brising\b", r"\brose\b", r"\bgrow", r"\bgrew\b",
                 r"\bclimb", r"\bsurg", r"\bexpand", r"\bgain", r"\bsteig", r"\bstieg", r"\bwachs",
                 r"\bwuchs", r"\bzunahm", r"\bnimmt\s+zu", r"\bnahm\s+zu", r"\bzunehm", r"\baufgestockt",
                 r"\baufstock", r"\berhöh"],
    "decrease": [r"\bdecreas", r"\bdeclin", r"\bfall(?:s|ing)?\b", r"\bfell\b", r"\bdrop", r"\bshrink",
                 r"\bshrank", r"\breduc", r"\bdwindl", r"\bsink", r"\bsank", r"\bschrumpf", r"\brückgang",
                 r"\bgesunken", r"\bzurückgegangen", r"\babnehm", r"\bnahm\s+ab", r"\bnimmt\s+ab",
                 r"\bverringer", r"\bgesenkt"],
    "stable": [r"\bstable\b", r"\bunchanged\b", r"\bflat\b", r"\bstabil\b", r"\bunverändert"],
    "more": [r"\bmore\b(?!\s+than)", r"\bhigher\b", r"\blarger\b", r"\bgreater\b", r"\bmehr\b(?!\s+als)",
             r"\bhöhe[rn]\b", r"\bgrößer"],
    "less": [r"\bless\b(?!\s+than)", r"\bfewer\b(?!\s+than)", r"\blower\b(?!\s+(?:end|third|half))",
             r"\bsmaller\b", r"\bweniger\b(?!\s+als)", r"\bniedriger", r"\bgeringer", r"\bkleiner"],
}
RANK_FAMILIES: dict[str, set[str]] = {
    "position": {"bottom_third", "top_third", "lower_end", "bottom", "top", "middle"},
    "gap": {"far_behind", "slightly_behind", "ahead"},
    "trend": {"increase", "decrease", "stable"},
    "comparison": {"more", "less"},
}
_RANK_RE = {k: re.compile("|".join(v), re.IGNORECASE) for k, v in _RANK_PATTERNS.items()}


def _find_ranks(text: str) -> set[str]:
    found = {name for name, rx in _RANK_RE.items() if rx.search(text)}
    # the specific concept subsumes the generic one it also matched
    if "bottom_third" in found or "lower_end" in found:
        found.discard("bottom")
    return found


# ---------------------------------------------------------------- names

_NAME_STOP = {
    # English
    "the", "a", "an", "in", "on", "at", "he", "she", "it", "they", "we", "i", "you", "this", "that", "these",
    "those", "his", "her", "their", "its", "our", "my", "there", "when", "while", "after", "before", "as",
    "but", "and", "or", "if", "for", "from", "by", "with", "of", "to", "according", "since", "however",
    "also", "although", "because", "during", "many", "some", "most", "all", "no", "not", "yes", "one",
    "two", "three", "new", "last", "first", "former", "what", "who", "how", "why", "where", "which",
    "mr", "mrs", "ms", "dr", "prof", "chief", "so", "then", "thus", "here", "now", "today", "yesterday",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "internal", "global",
    # German
    "der", "die", "das", "ein", "eine", "einem", "einen", "laut", "nach", "im", "am", "auf", "bei", "mit",
    "von", "vom", "zum", "zur", "seit", "während", "waehrend", "auch", "doch", "jedoch", "zudem", "dabei",
    "dazu", "diese", "dieser", "dieses", "er", "sie", "es", "wir", "ihr", "man", "weder", "noch", "bereits",
    "hinzu", "zusätzlich", "gerade", "seitdem", "neue", "interne", "internen", "bis",
    "mio", "mrd", "euro", "prozent", "dollar", "millionen", "milliarden",
} | set(_MONTHS)
_CAP_TOKEN = re.compile(r"[A-ZÄÖÜ][\w'’&.-]*[\w]|[A-ZÄÖÜ]")
_CONNECTORS = {"of", "de", "von", "van", "der", "del", "la", "le", "da", "for"}


def _is_special(tok: str) -> bool:
    """Acronyms (AWS) and inner capitals (SignalFire, OpenAI) are names in any language."""
    return bool(re.fullmatch(r"[A-ZÄÖÜ]{2,}s?", tok) or re.search(r"[a-zäöü][A-ZÄÖÜ]", tok))


def _name_runs(text: str, connectors: set[str]) -> list[tuple[list[str], bool]]:
    """Runs of capitalised tokens, with whether the run starts a sentence."""
    runs: list[tuple[list[str], bool]] = []
    tokens = list(re.finditer(r"[\w'’&.-]+|[^\w\s]", text))
    i = 0
    while i < len(tokens):
        tok = tokens[i].group().strip(".")
        if tok and _CAP_TOKEN.fullmatch(tok) and not tok.isdigit():
            start = tokens[i].start()
            prefix = text[:start].rstrip()
            initial = not prefix or prefix[-1] in ".!?:;\"“„”«»(\n-–—" or prefix.endswith("'")
            run = [tok]
            j = i + 1
            while j < len(tokens):
                nxt = tokens[j].group().strip(".")
                if (nxt and _CAP_TOKEN.fullmatch(nxt) and not nxt.isdigit()) or (
                    nxt.lower() in connectors
                    and j + 1 < len(tokens)
                    and _CAP_TOKEN.fullmatch(tokens[j + 1].group().strip(".") or "x")
                ):
                    run.append(nxt)
                    j += 1
                else:
                    break
                if tokens[j - 1].group().endswith("."):
                    break
            runs.append((run, initial))
            i = j
        else:
            i += 1
    return runs


def names_in(text: str, language: str) -> set[str]:
    """Names of people and organisations, conservatively.

    German capitalises every noun, so in German text only acronyms, inner-capital words and runs of two
    or more capitalised words count; English also keeps single capitalised words inside a sentence.
    """
    names: set[str] = set()
    for run, initial in _name_runs(text, set() if language == "de" else _CONNECTORS):
        while run and (run[0].lower() in _NAME_STOP or run[0].lower() in _CONNECTORS):
            run = run[1:]
            initial = False
        while run and run[-1].lower() in _CONNECTORS:
            run = run[:-1]
        if not run:
            continue
        if language == "de":
            while len(run) > 2 and not _is_special(run[0]):
                run = run[1:]  # "Robotics-Vizepräsident Brad Porter": a noun, then the name
            if len(run) >= 2 or _is_special(run[0]):
                names.add(" ".join(run))
            else:
                names.update(t for t in run if _is_special(t))
        else:
            if len(run) == 1 and initial and not _is_special(run[0]):
                continue
            names.add(" ".join(run))
    return {n for n in names if len(n) > 1}


# ---------------------------------------------------------------- entry point


# What extraction made of a text, kept per text and per kind of anchor: a caller that reads only some kinds
# (the evidence side of a verdict never reads names, and ranks only for a claim that has some) has only
# those made, and each kind is made once whoever asks for it.
_NUMBERS = TextMemo[tuple[tuple[Quantity, ...], frozenset[int], frozenset[str]]](20_000)  # (text, language)
_NAMES = TextMemo[frozenset[str]](20_000)  # (text, language)
_RANKS = TextMemo[frozenset[str]](20_000)  # text
_NEGATED = TextMemo[bool](20_000)  # text


def _negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


def extract_anchors(text: str, language: str | None = None, *, names: bool = True, ranks: bool = True,
                    numbers: bool = True, negation: bool = True) -> Anchors:
    """All anchors of text; language ('de'/'en') decides number separators and number words.

    `names=False` / `ranks=False` / `numbers=False` (quantities, years and dates) leave those kinds empty
    and `negation=False` leaves `negated` False, for callers that never read them (every other kind is the
    same as in the full extraction)."""
    lang = (language or de_or_en(text)).lower()[:2]
    quantities, years, dates = _NUMBERS.get((text, lang), _numbers) if numbers else ((), (), ())
    # fresh containers: the caller may change what it gets, the memo's own stays as made
    return Anchors(
        quantities=list(quantities),
        years=set(years),
        dates=set(dates),
        names=set(_NAMES.get((text, lang), _names)) if names else set(),
        negated=_NEGATED.get(text, _negated) if negation else False,
        ranks=set(_RANKS.get(text, _ranks)) if ranks else set(),
    )


def _numbers(key: tuple[str, str]) -> tuple[tuple[Quantity, ...], frozenset[int], frozenset[str]]:
    text, lang = key
    dates, date_spans = _find_dates(text)
    quantities, years = _find_quantities(text, lang, date_spans)
    for d in dates:
        years.add(int(d[:4]))
    # "2019er" / "2020s": decades or years written with a suffix
    for m in re.finditer(r"(?<!\d)(1[89]\d\d|20\d\d)(?:er|s)\b", text):
        years.add(int(m.group(1)))
    return tuple(quantities), frozenset(years), frozenset(dates)


def _names(key: tuple[str, str]) -> frozenset[str]:
    return frozenset(names_in(*key))


def _ranks(text: str) -> frozenset[str]:
    return frozenset(_find_ranks(text))
