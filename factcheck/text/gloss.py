"""A word-by-word English gloss of German text, so a German claim can be read against English evidence.

No German-to-English translation model can be installed from the package registries, but a large
German-English dictionary can: the TU Chemnitz "Ding" word list that Debian ships as `trans-de-en`
(/usr/share/trans/de-en, GPL-2+; an optional system dependency, read where it is installed and never
copied into this package). Its entries list inflected forms side by side with their English forms
("Hürde {f} | Hürden {pl} :: hurdle | hurdles"), so most words of a news sentence are found as written.

A gloss is not a translation: word order stays German and each word gets its first sense. It is good for
what the verdict does with it: finding which English passage states the claim's content words, and giving
the English reader something to read. Numbers, names and the words the anchors read (negation, "more
than", rank words) are carried over exactly, and the verdict still checks numbers on the German original.
"""

from __future__ import annotations

import functools
import json
import os
import re
import threading
from pathlib import Path

__all__ = ["DEFAULT_DICTIONARY", "Glossary", "available", "gloss", "load"]

DEFAULT_DICTIONARY = "/usr/share/trans/de-en"
MAX_DICTIONARY_BYTES = 64 * 1024 * 1024

# Function words and the words the anchors read: fixed here because the dictionary's first sense of a
# short word is often an idiom, and these decide polarity, hedges and attribution.
_FIXED: dict[str, str] = {
    "der": "the", "die": "the", "das": "the", "den": "the", "dem": "the", "des": "of the",
    "ein": "a", "eine": "a", "einen": "a", "einem": "a", "einer": "a", "eines": "of a",
    "und": "and", "oder": "or", "aber": "but", "sondern": "but", "doch": "but", "sowie": "and",
    "nicht": "not", "kein": "no", "keine": "no", "keinen": "no", "keinem": "no", "keiner": "no", "nie": "never",
    "niemals": "never", "ist": "is", "sind": "are", "war": "was", "waren": "were", "wird": "will",
    "werden": "will", "wurde": "was", "wurden": "were", "hat": "has", "haben": "have", "hatte": "had",
    "hatten": "had", "sein": "be", "gewesen": "been", "worden": "been", "kann": "can", "können": "can",
    "konnte": "could", "soll": "shall", "sollen": "shall", "muss": "must", "müssen": "must",
    "laut": "according to", "zufolge": "according to", "gemäß": "according to",
    "über": "over", "mehr": "more", "als": "as", "ki": "AI", "unteren": "lower", "untere": "lower", "unterste": "lowest", "oberen": "upper", "obere": "upper", "zunächst": "initially", "weniger": "less", "unter": "under", "rund": "about",
    "etwa": "about", "ungefähr": "about", "fast": "almost", "knapp": "almost", "mindestens": "at least",
    "höchstens": "at most", "bis": "until", "seit": "since", "vor": "before", "nach": "after", "im": "in the",
    "in": "in", "am": "at the", "an": "at", "auf": "on", "aus": "from", "bei": "at", "mit": "with",
    "ohne": "without", "von": "of", "vom": "of the", "zu": "to", "zum": "to the", "zur": "to the",
    "für": "for", "gegen": "against", "durch": "through", "um": "around", "zwischen": "between",
    "er": "he", "sie": "she", "es": "it", "wir": "we", "ich": "i", "ihr": "her", "seine": "his", "seiner": "his", "seinen": "his", "seinem": "his", "ihre": "her", "ihren": "her",
    "ihrem": "her", "ihrer": "her", "sich": "itself", "dass": "that", "daß": "that", "wenn": "if",
    "weil": "because", "da": "since", "wie": "as", "auch": "also", "noch": "still",
    "bereits": "already", "schon": "already", "nur": "only", "erst": "only", "sehr": "very", "jahr": "year",
    "jahre": "years", "jahren": "years", "prozent": "percent", "millionen": "million", "million": "million",
    "mio": "million", "milliarden": "billion", "milliarde": "billion", "mrd": "billion", "erste": "first",
    "ersten": "first", "erster": "first", "zweite": "second", "zweiten": "second", "dritte": "third",
    "letzte": "last", "letzten": "last", "größte": "largest", "größten": "largest", "größter": "largest",
    "höchste": "highest", "niedrigste": "lowest", "welche": "which", "welcher": "which",
    "dieser": "this", "diese": "this", "dieses": "this", "diesem": "this", "diesen": "this",
    "jedoch": "however", "dort": "there", "hier": "here", "später": "later", "zuvor": "before",
    "während": "during", "nachdem": "after", "bevor": "before", "sowohl": "both",
}
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*|\d+(?:[.,]\d+)*|\S")
_ANNOTATION = re.compile(r"\{[^}]*\}|\[[^\]]*\]|\([^)]*\)|<[^>]*>")
_SUFFIXES = ("ern", "en", "er", "es", "em", "e", "n", "s")
# the list spells out a verb's persons ("er/sie/es lebt :: he/she/it lives"): the pronouns are dropped so the
# inflected form is found as a word of its own
_DE_PERSON = re.compile(r"^(?:(?:ich|du|er|sie|es|wir|ihr|man)(?:/(?:ich|du|er|sie|es|wir|ihr|man))*)\s+(?=\S+$)")
_EN_PERSON = re.compile(r"^(?:(?:I|you|he|she|it|we|they|one)(?:/(?:I|you|he|she|it|we|they|one))*)\s+", re.I)


def _clean(side: str) -> str:
    side = re.sub(r"\s/[^/]{1,20}/", " ", side)  # "Firma {f} /Fa./": the list's abbreviation of the word
    return re.sub(r"\s+", " ", _ANNOTATION.sub(" ", side)).strip()


def _english(alt: str) -> str:
    text = re.sub(r"\s/\S*", " ", _clean(alt))  # "/pb", "/Pres.": the list's abbreviation marks
    text = re.sub(r"^to\s+", "", text)
    text = re.sub(r"\b(?:sb|sth)\.", "", text)
    text = _EN_PERSON.sub("", text.strip())
    return re.sub(r"\s+", " ", text).strip(" ,;/")


class Glossary:
    """German word form -> English, read once from a Ding-format word list."""

    def __init__(self, words: dict[str, str], source: str, exact: dict[str, str] | None = None) -> None:
        self.words = words  # lower-cased form -> English
        # form as the list writes it -> English: German writes nouns capitalised, so "habe" (have) and
        # "Habe" (possessions) are different words; a word is looked up as written first
        self.exact = exact or {}
        self.source = source

    @classmethod
    def read(cls, path: Path) -> Glossary:
        """Every single-word German form with its English candidates; the candidate that the word list
        uses most often overall wins ("Mitarbeiter": employee, not cooperator), among the senses of
        the word's own entries before those it has only inside another entry."""
        candidates: dict[str, dict[str, int]] = {}
        used: dict[str, int] = {}
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("#") or "::" not in line:
                    continue
                de, en = line.rstrip("\n").split("::", 1)
                for i, (dp, ep) in enumerate(zip(de.split("|"), en.split("|"), strict=False)):
                    target = _english(ep.split(";")[0])
                    if not target or len(target.split()) > 3:
                        continue
                    used[target] = used.get(target, 0) + 1
                    for j, alt in enumerate(dp.split(";")):
                        form = _DE_PERSON.sub("", _clean(alt))
                        if not form or " " in form or "." in form:
                            continue
                        rank = 0 if (i, j) == (0, 0) else 1 if i == 0 else 2
                        for key in (form.lower(), "=" + form):
                            seen = candidates.setdefault(key, {})
                            seen[target] = min(seen.get(target, 9), rank)
        chosen = {
            form: min(cands, key=lambda t: (cands[t] > 1, -used.get(t, 0), len(t)))
            for form, cands in candidates.items()
        }
        words = {k: v for k, v in chosen.items() if not k.startswith("=")}
        # as written only where it says something the lower-cased form does not
        exact = {k[1:]: v for k, v in chosen.items() if k.startswith("=") and words.get(k[1:].lower()) != v}
        return cls(words, str(path), exact)

    def word(self, token: str) -> str | None:
        """English for one German word: as written, without an inflection ending, or as a compound of two
        known words ("Standortpolitik" -> "location policy")."""
        key = token.lower()
        if key in _FIXED:
            return _FIXED[key]
        hit = self.exact.get(token) or self.words.get(key)
        if hit:
            return hit
        for suf in _SUFFIXES:
            if key.endswith(suf) and len(key) - len(suf) >= 3:
                hit = self.words.get(key[: -len(suf)])
                if hit:
                    return hit
        if "-" in key:
            parts = [self.word(p) for p in key.split("-") if p]
            if parts and all(parts):
                return " ".join(p for p in parts if p)
        if len(key) >= 8:
            for cut in range(len(key) - 4, 3, -1):
                head, tail = key[:cut], key[cut:]
                tail_en = self.words.get(tail) or next(
                    (self.words[tail[: -len(s)]] for s in _SUFFIXES if tail.endswith(s) and tail[: -len(s)] in self.words),
                    None)
                if not tail_en:
                    continue
                for h in (head, head[:-1] if head.endswith("s") else None):
                    if h and len(h) >= 4 and h in self.words:
                        return f"{self.words[h]} {tail_en}"
        return None

    def gloss(self, text: str) -> str:
        out: list[str] = []
        for m in _WORD.finditer(text):
            tok = m.group(0)
            if not tok[0].isalpha():
                out.append(tok)
                continue
            en = self.word(tok)
            # a word the dictionary does not know is mostly a name: keep it as written
            if en is None:
                out.append(tok)
            elif en.replace(" ", "").lower() == tok.lower():
                out.append(tok)  # the same word in English ("Verve", "Leicestershire"): its spelling, as written
            else:
                out.append(en)
        text = " ".join(out)
        return re.sub(r"\s+([.,;:!?%)])", r"\1", re.sub(r"([(])\s+", r"\1", text))


_lock = threading.Lock()


def _cache_file(p: Path) -> Path:
    st = p.stat()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "factcheck" / f"gloss-v{_CACHE_VERSION}-{st.st_size}-{st.st_mtime_ns}.json"


_CACHE_VERSION = 4


@functools.lru_cache(maxsize=2)
def _load(path: str) -> Glossary | None:
    """Parsing the word list takes seconds; the parsed table is kept beside the other caches, keyed by
    the list's size and time so an updated package is read afresh."""
    p = Path(path)
    try:
        if not available(p):
            return None
        cache = _cache_file(p)
        if cache.is_file():
            try:
                data = json.loads(cache.read_text(encoding="utf-8"))
                return Glossary(data["words"], str(p), data["exact"])
            except (ValueError, KeyError, TypeError):
                pass
        g = Glossary.read(p)
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.name + f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"words": g.words, "exact": g.exact}, ensure_ascii=False), encoding="utf-8")
            tmp.replace(cache)
        except OSError:
            pass  # a read-only home still gets its gloss, only slower
        return g
    except OSError:
        return None


def load(path: str | os.PathLike[str] | None = None) -> Glossary | None:
    """The glossary from `path` (default: Debian's trans-de-en), or None where it is not installed."""
    with _lock:
        return _load(str(path or DEFAULT_DICTIONARY))


def available(path: str | os.PathLike[str] | None = None) -> bool:
    """The word list is installed (a file within the size cap); asked without parsing it, so a run can
    record it without paying for a load that only German claims need."""
    p = Path(path or DEFAULT_DICTIONARY)
    try:
        return p.is_file() and p.stat().st_size <= MAX_DICTIONARY_BYTES
    except OSError:
        return False


def gloss(text: str, path: str | os.PathLike[str] | None = None) -> str | None:
    """English gloss of German text, or None where no dictionary is installed."""
    g = load(path)
    return g.gloss(text) if g else None
