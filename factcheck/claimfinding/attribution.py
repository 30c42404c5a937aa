"""Who a sentence says its statement comes from, in German and English news text.

The rules read the attribution frames reporters use ("laut X", "X zufolge", "wie X berichtete", "das X
vorliegt", "according to X", "X said", "citing X", "X told Y", "data from X shows"), then decide whether X
is a named source (linked to the desk's registry when possible), an anonymous one ("Recruiter",
"people familiar with the matter") or a document held by X. Chains ("citing Bloomberg, Reuters
reported") keep both ends. Anaphora ("Das Dokument", "the company said") are resolved by `ingest`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

from rapidfuzz import fuzz, process

from factcheck.text import gloss
from factcheck.text.sentences import MONTHS


@dataclass
class SourceRef:
    """A registry entry: a publisher or originator that claims cite."""

    name: str
    aliases: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)


@dataclass
class Attribution:
    """One citation of a claim, as the article words it."""

    source: str | None
    phrase: str
    kind: str  # "named" | "anonymous" | "document" | "inherited"
    second_hand: bool
    via: str | None
    known: bool
    url: str | None = None


@dataclass
class Found:
    """An attribution plus what anaphora resolution needs: phrase offsets, role and head noun."""

    attribution: Attribution
    start: int
    end: int
    role: str  # "doc" | "report" | "media" | "org" | "person" | "anon"
    noun: str | None = None
    cited: bool = False  # the Y of "citing Y" / "unter Berufung auf Y"
    outer: bool = False  # the X of "X reported" (may carry a cited source)
    via_target: str | None = None  # the Y of "X told Y"


# ---------------------------------------------------------------- vocabulary

DETS = {
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "eines", "kein",
    "keine", "keinen", "keinem", "keiner", "sein", "seine", "seinen", "seinem", "seiner", "ihr", "ihre",
    "ihren", "ihrem", "ihrer", "dieser", "diese", "dieses", "diesem", "diesen", "jede", "jeder", "jedes",
    "jeden", "jedem", "im", "am", "zum", "zur", "vom", "beim", "ins", "ans",
    "the", "a", "an", "this", "that", "these", "those", "his", "her", "its", "their", "our",
}
PRONOUNS = {"he", "she", "they", "it", "we", "i", "you", "er", "sie", "es", "wir", "ich", "man", "this", "that",
            "dies", "das", "there", "these", "those", "who", "which", "wer"}
GENERIC_ACRONYMS = {
    "KI", "AI", "CEO", "CFO", "CTO", "COO", "HR", "IT", "PR", "TV", "PDF", "URL", "IPO", "ML", "LLM", "GPU",
    "CPU", "OK", "FAQ", "AG", "SE", "GMBH", "INC", "USD", "EUR", "US", "UK",
}
_NOUN_SUFFIX_DE = ("ung", "ungen", "heit", "keit", "schaft", "tion", "tionen", "nis", "tät", "ismus", "en",
                   "ern", "ik", "chen", "tum")
ROLE_SUFFIX = (
    "präsident", "präsidentin", "analyst", "analystin", "chef", "chefin", "sprecher", "sprecherin",
    "entwickler", "entwicklerin", "firma", "konzern", "unternehmen", "agentur", "zeitung", "magazin",
    "blatt", "gründer", "gründerin", "direktor", "direktorin", "leiter", "leiterin", "manager",
    "managerin", "investor", "forscher", "forscherin", "ökonom", "ökonomin", "experte", "expertin",
    "berater", "beraterin", "vorstand", "institut", "dienst", "plattform", "gesellschaft", "portal",
    "sender", "ministerium", "behörde", "hersteller", "bauer", "zulieferer", "anbieter", "händler", "versicherer",
    "betreiber", "konzerns", "gewerkschaft", "verband", "verbands", "verbandes", "ceo", "cfo", "cto", "chief", "executive", "president", "vice",
    "director", "head", "founder", "chairman", "chairwoman", "economist", "researcher", "professor",
    "spokesperson", "spokesman", "spokeswoman", "minister", "secretary", "senator", "official",
    "partner", "engineer", "scientist", "officer", "dr", "prof", "mr", "mrs", "ms", "vorsitzende",
    "vorsitzender",
)
_ORG_SUFFIX = {"inc", "corp", "ltd", "llc", "plc", "ag", "gmbh", "se", "group", "capital", "partners",
               "bank", "labs", "research", "institute", "university", "times", "news", "post", "journal",
               "insider", "verge", "media", "holdings", "ventures", "technologies", "systems", "robotics"}
_MEDIA_WORDS = re.compile(
    r"(?i)\b(times|post|journal|news|reuters|bloomberg|insider|verge|magazine|zeitung|handelsblatt|spiegel|"
    r"tagesschau|welt|faz|tv|radio|press|agentur|presse|wire|telegraph|guardian|economist|axios|"
    r"techcrunch|wired|cnbc|cnn|bbc|ft|forbes|fortune|politico)\b"
)
_TIME_WORDS = MONTHS | {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "montag", "dienstag",
    "mittwoch", "donnerstag", "freitag", "samstag", "sonntag", "week", "woche", "wochenende", "year", "jahr"}
_SPOKES = {"sprecher", "sprecherin", "spokesperson", "spokesman", "spokeswoman", "vertreter", "vertreterin",
           "representative"}
_ORG_NOUNS = {"body", "authority", "council", "committee", "organisation", "organization", "union", "ministry",
              "department", "government", "verband", "gewerkschaft", "regierung",
              "konzern", "unternehmen", "firma", "gruppe", "hersteller", "anbieter", "company", "firm", "group",
              "startup", "retailer", "maker", "bank", "agency", "ministerium", "behörde"}
DOC_NOUNS = {
    "dokument": "doc", "dokumente": "doc", "papier": "doc", "memo": "doc", "unterlagen": "doc",
    "schreiben": "doc", "präsentation": "doc", "document": "doc", "documents": "doc", "email": "doc",
    "e-mail": "doc", "letter": "doc", "presentation": "doc", "filing": "doc", "memos": "doc",
    "bericht": "report", "studie": "report", "auswertung": "report", "analyse": "report",
    "analysen": "report", "umfrage": "report", "untersuchung": "report", "daten": "report",
    "zahlen": "report", "erhebung": "report", "report": "report", "study": "report",
    "analysis": "report", "analyses": "report", "survey": "report", "data": "report",
    "figures": "report", "research": "report", "review": "report", "estimates": "report",
    "statistik": "report", "statistics": "report", "berechnungen": "report", "recherchen": "report",
    "schätzungen": "report",
}

_W = r"[\w'’&.-]"
DE_SAY = (r"(?:berichte(?:t|te|ten|n)|melde(?:t|te|ten|n)|schreib(?:t|en)|schrieb(?:en)?|sag(?:t|te|ten|en)|"
          r"erklär(?:t|te|ten|en)|bestätig(?:t|te|ten|en)|beton(?:t|te|ten|en)|warn(?:t|te|ten|en)|"
          r"teil(?:t|te|ten|en)\s+mit|mitteilte|räum(?:t|te|ten|en)\s+ein|schätz(?:t|te|ten|en)|"
          r"beziffer(?:t|te|ten|n)|offenbar(?:t|te|ten|en)|enthüll(?:t|te|ten|en)|mein(?:t|te|ten|en)|"
          r"sprach(?:en)?|spricht)")
DE_DATA = (r"(?:zeigt|zeigen|zeigte|zeigten|ergab|ergibt|ergaben|belegt|belegen|legt\s+nahe|"
           r"kommt\s+zu\s+dem\s+(?:Schluss|Ergebnis)|kam\s+zu\s+dem\s+(?:Schluss|Ergebnis)|"
           r"offenbart|enthüllt|nennt|weist)")
EN_SAY = (r"(?:said|says|say|told|tells|added|adds|noted|notes|wrote|writes|stated|states|explained|"
          r"confirmed|confirms|announced|announces|acknowledged|argued|argue|argues|claimed|claims|warned|warns|"
          r"disclosed|reported|reports|estimated|estimates|estimate|predicted|predicts|predict|warn|claim|note|add|"
          r"blamed|blames|blame|insisted|insists|insist|denied|denies|deny)")
EN_DATA = (r"(?:shows?|showed|shown|found|finds|suggests?|suggested|indicates?|indicated|reveals?|"
           r"revealed|concluded|concludes|estimates?|estimated|puts?)")

ANON_DE = re.compile(
    r"(?:(?:zwei|drei|vier|mehrere[nm]?|einige[nm]?|eine[mnr]?|ein)\s+)?"
    r"(?:mit\s+der\s+Sache\s+vertraute[n]?\s+)?"
    r"(Recruiter[n]?|Insidern|Insider\b(?=\s+(?:berichten|sagen|zufolge))|Personalvermittler[n]?|"
    r"Headhunter[n]?|Mitarbeiter[n]?|Mitarbeitende[n]?|Beschäftigte[n]?|Quellen|Informanten|"
    r"\w*[Kk]reisen|Branchenkenner[n]?|Beobachter[n]?|Analysten|Experten|Vertraute[n]?|Eingeweihte[n]?|"
    r"Personen|Sprecher(?:in)?|Manager[n]?|Führungskräfte[n]?)\b"
)
ANON_EN = re.compile(
    r"(?i:(?:two|three|four|several|some|many|multiple|a|an|one|\d+)\s+)?"
    r"((?i:people|persons?|sources?|insiders?|officials?|employees?|current and former employees|"
    r"former employees|executives?|recruiters?|analysts?|staff(?:ers)?|investors?|spokesperson|"
    r"spokes(?:wo)?man|representatives?)"
    r"(?:\s+(?:familiar|close|with\s+knowledge|briefed|who|involved|knowledgeable)\b[^,.;:]*)?)"
)
ANON_DOC = re.compile(
    r"(?i)(?:ein(?:e[mnrs]?)?\s+|an?\s+)?((?:intern\w*|internal|vertraulich\w*|confidential|unveröffentlicht\w*|"
    r"leaked)\s+[\w-]+)"
)

_APPOSITION = re.compile(
    r",\s(?:(?:a|an|the|who|which|whose|der|die|das|ein|eine|einer|seit)\b|[A-ZÄÖÜ][\wäöüß-]*(?:chef|chefin|sprecher|"
    r"sprecherin|leiter|leiterin|direktor|direktorin|präsident|präsidentin|analyst|analystin|gründer|gründerin)\b)"
    r"[^,]{0,80},$")
_TOKEN = re.compile(r"(?:[A-Z]\.){2,}|(?:Dr|Prof|St|Mr|Mrs|Ms|Jr|Sr|Inc|Corp|Co|Ltd)\.(?=\s+\w)|\w+(?:[-'’.&]\w+)*")


def _tokens(s: str, start: int = 0, end: int | None = None) -> list[tuple[str, int, int]]:
    end = len(s) if end is None else end
    return [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(s, start, end)]


def _is_cap(w: str) -> bool:
    return bool(w) and w[0].isupper()


def is_camel_or_acronym(w: str) -> bool:
    """OpenAI, SignalFire, ChatGPT, AWS, U.S: name-like regardless of position."""
    core = w.split("-")[0]
    if re.fullmatch(r"(?:[A-Z]\.){1,3}[A-Z]\.?", core):
        return True
    if re.fullmatch(r"[A-ZÄÖÜ]{2,6}s?", core) and core.rstrip("s") not in GENERIC_ACRONYMS:
        return True
    return bool(re.search(r"[a-zäöü][A-ZÄÖÜ]", core)) or bool(re.fullmatch(r"[a-z]+[A-Z]\w*", core))


_NOT_ADJ = {"hinter", "unter", "über", "oder", "aber", "wieder", "später", "immer", "außer", "weder", "sowie",
            "sehr", "eher", "bisher", "daher", "seither", "vorher", "nachher", "jeder", "gegen", "neben",
            "zwischen", "ohne", "gerne", "heute", "erste", "ebenso", "wegen", "trotz", "unsere", "these",
            "those", "there", "where", "here", "were", "whether", "other", "after", "under", "over", "more"}


def _adjective_like(w: str) -> bool:
    return w.islower() and len(w) > 3 and w.endswith(("e", "en", "em", "er", "es")) and w not in _NOT_ADJ


# ---------------------------------------------------------------- name lexicon


@dataclass
class _Sightings:
    """How the capitalised words of an article were seen, counted over all its units before deciding."""

    bare: dict[str, int] = field(default_factory=dict)  # no article, adjective or number before it
    det: dict[str, int] = field(default_factory=dict)  # after an article or a number
    strong: set[str] = field(default_factory=set)  # after a preposition or a role noun
    pairs: list[tuple[str, str]] = field(default_factory=list)  # two bare plain words in a row


class NameLexicon:
    """Proper names of one article. English marks them by capitals; German capitalises every noun, so a
    German word counts as a name when it stands bare (no article, adjective or number before it), never
    takes an article anywhere in the article, has no common-noun ending, and either recurs, follows a
    preposition, or is coordinated with another name."""

    def __init__(self, units: Sequence[str], language: str, registry: Sequence[SourceRef] = ()) -> None:
        self.language = language
        self.names: set[str] = set()
        for ref in registry:
            for n in [ref.name, *ref.aliases]:
                self.names.update(t for t, _, _ in _tokens(n) if _is_cap(t))
        seen = _Sightings()
        for text in units:
            self._scan(text, seen)
        if language != "en":
            self._german_names(seen)
        self._coordinated(units, seen.det)

    def _scan(self, text: str, seen: _Sightings) -> None:
        """One unit's capitalised words: camel case, acronyms and non-initial English capitals are names at
        once; a German capital proves nothing alone, so it is only counted in `seen` for later."""
        language = self.language
        bare, det, strong, pairs = seen.bare, seen.det, seen.strong, seen.pairs
        toks = _tokens(text)
        prev_bare = ""
        prev_end = -1
        for i, (w, s, e) in enumerate(toks):
            initial = i == 0 or bool(re.search(r"[:„“\"«»(–—]\s*$", text[max(0, s - 3):s]))
            prev = toks[i - 1][0] if i > 0 else ""
            was_prev_bare, prev_bare = prev_bare, ""
            adjacent = text[prev_end:s] == " "
            prev_end = e
            if not _is_cap(w) or w.upper() in GENERIC_ACRONYMS or w.split("-")[0] in GENERIC_ACRONYMS:
                continue
            if is_camel_or_acronym(w):
                self.names.add(w)
                continue
            if w.lower() in MONTHS or w in {"I"}:
                continue
            if language == "en":
                if not initial:
                    self.names.add(w)
                    self.names.add(re.sub(r"['’]s$", "", w))  # "Skyway's" -> Skyway
                continue
            pl = prev.lower()
            if pl in DETS or prev[:1].isdigit():
                det[w] = det.get(w, 0) + 1
                continue
            if _adjective_like(prev):
                continue
            if initial:
                continue
            bare[w] = bare.get(w, 0) + 1
            if pl in {"von", "vom", "bei", "laut", "mit", "für", "hinter", "gegen", "wie", "als", "an",
                      "ob", "dass", "weil", "während", "und", "oder"} or (
                    _is_cap(prev) and pl.endswith(ROLE_SUFFIX) and len(pl) > 6):
                strong.add(w)  # after a preposition, or in apposition: "der Chemiekonzern Verdana"
            plain = re.fullmatch(r"[A-ZÄÖÜ][a-zäöüß]+", w) is not None
            if plain and not w.lower().endswith(ROLE_SUFFIX):
                if was_prev_bare and adjacent:
                    pairs.append((prev, w))
                prev_bare = w

    def _german_names(self, seen: _Sightings) -> None:
        """German names from the counts over the whole article: a word that takes an article anywhere or has
        a common-noun ending is a noun; a bare one must recur or follow a preposition to count."""
        det = seen.det
        for a, b in seen.pairs:  # "Brad Porter", "Andy Jassy": two bare plain words in a row
            if not a.endswith("s") and not a.lower().endswith(_NOUN_SUFFIX_DE) \
                    and not b.lower().endswith(_NOUN_SUFFIX_DE) and not det.get(a) and not det.get(b):
                self.names.update((a, b))
        for word, count in seen.bare.items():
            if det.get(word) or word.lower().endswith(_NOUN_SUFFIX_DE) or word.lower().endswith(ROLE_SUFFIX):
                continue
            if count >= 2 or word in seen.strong:
                self.names.add(word)

    def _coordinated(self, units: Sequence[str], det: dict[str, int]) -> None:
        """Names spread through coordination ("OpenAI, Apple und Scale AI"), repeated until nothing changes
        because each new name can vouch for its own neighbour."""
        language = self.language
        changed = True
        while changed:
            changed = False
            for text in units:
                for m in re.finditer(r"([\w-]+)(?:,\s*|\s+(?:und|oder|and|or)\s+)([\w-]+)(?=,|\s+(?:und|oder|and|or)\b|"
                                     r"\s*[.;]|\s+[a-zäöü])", text):
                    a, b = m.group(1), m.group(2)
                    for x, y in ((a, b), (b, a)):
                        if x in self.names and _is_cap(y) and y not in self.names and not det.get(y) \
                                and y.upper() not in GENERIC_ACRONYMS and not y.lower().endswith(ROLE_SUFFIX) \
                                and not (language != "en" and y.lower().endswith(_NOUN_SUFFIX_DE)):
                            self.names.add(y)
                            changed = True

    def is_name(self, w: str) -> bool:
        if w in self.names or is_camel_or_acronym(w) or re.sub(r"['’]s$", "", w) in self.names:
            return True
        parts = w.split("-")
        return len(parts) > 1 and any(p in self.names for p in parts[:-1])

    def entities(self, text: str) -> list[str]:
        """Maximal runs of name tokens in text."""
        out: list[str] = []
        run: list[str] = []
        last_end = -1
        for w, s, e in _tokens(text):
            if self.is_name(w) and (not run or text[last_end:s].strip() == ""):
                run.append(w)
                last_end = e
                continue
            if run:
                out.append(" ".join(run))
                run = []
            if self.is_name(w):
                run = [w]
                last_end = e
        if run:
            out.append(" ".join(run))
        return out


# ---------------------------------------------------------------- registry linking


def _norm(s: str) -> str:
    s = s.casefold().replace("-", " ").replace("_", " ")
    s = re.sub(r"[^\w\s.]", "", s)
    return re.sub(r"\s+", " ", s).strip()


def clean_name(name: str) -> str:
    """Strip quotes, leading articles and possessive endings from a name as written."""
    s = name.strip().strip("\"'„“”«»‚‘’()[]:,;. ")
    s = re.sub(r"^(?:(?:the|der|die|das|den|dem|des|ein|eine|einem|einer)\s+)+", "", s, flags=re.I)
    s = re.sub(r"(?:'s|’s|')$", "", s)
    return s.strip()


class Registry(Sequence[SourceRef]):
    """The registry with every entry's names worked out once. `link_source` compares a name with every
    entry; a desk's registry grows into the thousands (each ingest adds the new names it meets), and
    normalising all of it for every name was most of an ingest's time (3,000 sources: 4.7 s an article).
    Answers exactly as link_source does over the same entries in the same order."""

    def __init__(self, refs: Iterable[SourceRef] = ()) -> None:
        self._refs: list[SourceRef] = []
        self._exact: dict[str, int] = {}  # name or alias form -> first entry
        self._domains: dict[str, int] = {}
        self._labels: dict[str, int] = {}  # a domain's first label ("bloomberg" of bloomberg.com)
        self._acronyms: dict[str, int] = {}
        self._fuzzy: list[str] = []
        self._fuzzy_of: list[int] = []
        self.extend(refs)

    def __len__(self) -> int:
        return len(self._refs)

    @overload
    def __getitem__(self, i: int) -> SourceRef: ...
    @overload
    def __getitem__(self, i: slice) -> list[SourceRef]: ...
    def __getitem__(self, i: int | slice) -> SourceRef | list[SourceRef]:
        return self._refs[i]

    def __iter__(self) -> Iterator[SourceRef]:
        return iter(self._refs)

    def append(self, ref: SourceRef) -> None:
        i = len(self._refs)
        self._refs.append(ref)
        keys = [_norm(k) for k in [ref.name, *ref.aliases] if k.strip()]
        keyset = set(keys) | {k.replace(" ", "") for k in keys}
        for k in keyset:
            self._exact.setdefault(k, i)
            if len(k) > 4:
                self._fuzzy.append(k.replace(" ", ""))
                self._fuzzy_of.append(i)
        for d in ref.domains:
            d = d.casefold().removeprefix("www.")
            self._domains.setdefault(d, i)
            self._labels.setdefault(d.split(".")[0], i)
        words = ref.name.split()
        if len(words) > 1:
            self._acronyms.setdefault("".join(w[0] for w in words).upper(), i)

    def extend(self, refs: Iterable[SourceRef]) -> None:
        for ref in refs:
            self.append(ref)

    def link(self, name: str) -> tuple[str, bool]:
        cleaned = clean_name(name)
        if not cleaned:
            return name.strip(), False
        n, forms, host = _link_forms(cleaned)
        # the first entry (in registry order) that a name, alias, domain or acronym matches exactly
        hits = [self._exact[f] for f in forms if f in self._exact]
        labels = host.split(".")
        hits += [self._domains[d] for d in (".".join(labels[j:]) for j in range(len(labels))) if d in self._domains]
        if n in self._labels:
            hits.append(self._labels[n])
        if cleaned.isupper() and cleaned in self._acronyms:
            hits.append(self._acronyms[cleaned])
        if hits:
            return self._refs[min(hits)].name, True
        # else the closest spelling, the earliest entry among equals (the keys are in registry order)
        nz = n.replace(" ", "")
        if len(nz) <= 4 or not self._fuzzy:
            return cleaned, False
        scores = process.cdist([nz], self._fuzzy, scorer=fuzz.ratio, score_cutoff=88)[0]
        best: tuple[float, int] | None = None
        for j in scores.nonzero()[0]:
            score = float(scores[j])
            if score >= 88 and (best is None or score > best[0]):
                best = (score, self._fuzzy_of[j])
        return (self._refs[best[1]].name, True) if best else (cleaned, False)


def _link_forms(cleaned: str) -> tuple[str, set[str], str]:
    """A cleaned name as link_source compares it: normalised, its spellings, and as a host name."""
    n = _norm(cleaned)
    forms = {n, n.replace(" ", "")}
    if len(n) > 4 and n.endswith("s") and not n.endswith("ss"):
        forms |= {n[:-1], n[:-1].replace(" ", "")}  # German genitive "Bloombergs"
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", cleaned.casefold()).split("/")[0]
    return n, forms, host


def link_source(name: str, registry: Sequence[SourceRef]) -> tuple[str, bool]:
    """(registry name, True) when name is a source's name, alias, domain or a close spelling variant
    ("Business-Insider", "BusinessInsider", "Bloombergs"), else (cleaned name, False)."""
    return (registry if isinstance(registry, Registry) else Registry(registry)).link(name)


# ---------------------------------------------------------------- noun phrases


def _gap_ok(gap: str) -> bool:
    return re.fullmatch(r"[\s\"'„“”«»]*", gap) is not None


_CONNECT = {"of", "for", "de", "du", "&", "der", "des", "von", "vom", "at", "bei", "and"}
_EN_PRE = {"data", "figures", "report", "reports", "analysis", "study", "survey", "research", "estimates",
           "statement", "from", "by", "of", "new", "latest", "recent", "annual", "a", "an", "the", "fresh",
           "published", "quarterly", "internal", "its", "in", "numbers"}


@dataclass
class NP:
    start: int
    end: int
    head: list[tuple[str, int, int]]  # capitalised run (may include connectors)
    pre: list[str]  # determiners/adjectives/nouns before the head


def np_forward(s: str, pos: int, language: str, loose: bool = False) -> NP | None:
    """The noun phrase starting at pos: articles/adjectives, then a capitalised run that may continue
    through genitives ("der Risikokapitalfirma SignalFire") and connectors ("Bank of America")."""
    toks = _tokens(s, pos)
    if not toks or not _gap_ok(s[pos:toks[0][1]]):
        return None
    k = 0
    prev_end = pos
    while k < len(toks) and k < 4:
        w, ts, te = toks[k]
        if not _gap_ok(s[prev_end:ts]) or _is_cap(w) or w[0].isdigit():
            break
        lw = w.lower()
        ok = lw in DETS or (language != "en" and (_adjective_like(w) or lw in {"zwei", "drei", "mehreren"})) or (
            language == "en" and (lw in _EN_PRE or (loose and lw.isalpha())))
        if not ok:
            return None
        prev_end = te
        k += 1
    if k >= len(toks) or not _is_cap(toks[k][0]) or not _gap_ok(s[prev_end:toks[k][1]]):
        return None
    end = k
    prev_end = toks[k][1]
    while end < len(toks):
        w, ts, te = toks[end]
        if not _gap_ok(s[prev_end:ts]):
            break
        if _is_cap(w) or (end > k and w[0].isdigit()):
            end += 1
            prev_end = te
            continue
        lw = w.lower()
        if (lw in _CONNECT or (language == "en" and lw in ROLE_SUFFIX)) and end + 1 < len(toks):
            j = end + 1
            while j < len(toks) and j < end + 3 and not _is_cap(toks[j][0]) and (
                    toks[j][0].lower() in DETS or _adjective_like(toks[j][0])
                    or (language == "en" and toks[j][0].lower() in ROLE_SUFFIX)):
                j += 1
            if j < len(toks) and _is_cap(toks[j][0]) and all(
                    _gap_ok(s[toks[x][2]:toks[x + 1][1]]) for x in range(end - 1, j)):
                end = j
                prev_end = toks[j - 1][2]
                continue
        break
    head = toks[k:end]
    return NP(toks[0][1], toks[end - 1][2], head, [t[0] for t in toks[:k]])


def np_backward(s: str, pos: int, language: str, clause_start: bool = False) -> NP | None:
    """The capitalised noun phrase that ends right before pos (e.g. the subject of "X said"); a short
    parenthesis before pos ("Petra Kolb (CSU) sprach") is skipped."""
    par = re.search(r"\s*\([^()]{1,40}\)\s*$", s[:pos])
    if par:
        pos = par.start()
    when = re.search(r"\s+(?:on|last|this|next|am|im|vergangenen|letzten)\s+(?:\w+\s+)?(?:[A-ZÄÖÜ]\w+)\s*$", s[:pos])
    if when and when.group(0).split()[-1].lower() in _TIME_WORDS:
        pos = when.start()  # "Alden on Tuesday announced"
    toks = [t for t in _tokens(s, 0, pos)]
    if not toks or not _gap_ok(s[toks[-1][2]:pos]):
        return None
    j = len(toks)
    # allow a trailing role noun: "An Amazon spokesperson said"
    if language == "en" and toks[j - 1][0].lower() in ROLE_SUFFIX and j >= 2 and _is_cap(toks[j - 2][0]):
        j -= 1
    i = j
    while i > 0:
        w, _ts, te = toks[i - 1]
        nxt_start = toks[i][1] if i < len(toks) else pos
        if not _gap_ok(s[te:nxt_start]):
            break
        if _is_cap(w) or (i < j and w.lower() in _CONNECT and i - 2 >= 0 and _is_cap(toks[i - 2][0])) or (
                language == "en" and i < j and w.lower() in ROLE_SUFFIX):
            i -= 1
            continue
        break
    if i == j:
        return None
    h = i
    while h < j and (not _is_cap(toks[h][0]) or toks[h][0].lower() in DETS):
        h += 1  # leading articles and role words belong to the phrase, not the name
    if h == j:
        return None
    head = toks[h:j]
    pre = [t[0] for t in toks[i:h]]
    b = i
    while b > 0 and (toks[b - 1][0].lower() in DETS or _adjective_like(toks[b - 1][0])) and _gap_ok(
            s[toks[b - 1][2]:toks[b][1]]):
        b -= 1
        pre.insert(0, toks[b][0])
    start = toks[b][1]
    if clause_start and s[:start].strip() and not re.search(r"[:,;–—]\s*[\"'„“«]*$", s[:start]):
        return None
    return NP(start, toks[j - 1][2], head, pre)


# ---------------------------------------------------------------- classification


@dataclass
class Resolved:
    name: str
    kind: str  # named | anonymous | anaphor
    role: str
    noun: str | None
    person: bool = False


def _strip_roles(words: list[str], lex: NameLexicon | None) -> tuple[list[str], bool]:
    """Drop leading descriptors ("Risikokapitalfirma", "CEO", "Morgan-Stanley-Analyst", "analyst")."""
    had_role = False
    while len(words) > 1:
        w = words[0]
        lw = w.lower().rstrip(".")
        last = lw.split("-")[-1]
        if w.upper() in GENERIC_ACRONYMS or lw in ROLE_SUFFIX or last in ROLE_SUFFIX or last.endswith(
                tuple(r for r in ROLE_SUFFIX if len(r) > 5)):
            if lex is not None and w in lex.names and "-" not in w and lw not in ROLE_SUFFIX:
                break
            words = words[1:]
            had_role = True
            continue
        break
    # German "Gewerkschaft IG Metall", "Nachrichtenagentur Reuters": a common noun before a name
    while len(words) > 1 and lex is not None and lex.language != "en" and not lex.is_name(words[0]) \
            and any(lex.is_name(w) for w in words[1:]) and _german_noun(words[0]):
        words = words[1:]
        had_role = True
    # after a role noun in English, the name is the trailing capitalised run
    idx = max((i for i, w in enumerate(words) if w.lower().rstrip(".") in ROLE_SUFFIX), default=-1)
    if 0 <= idx < len(words) - 1:
        words = words[idx + 1:]
        had_role = True
    return words, had_role


def _german_noun(word: str) -> bool:
    """Whether a capitalised word before a name is a German common noun ("Nachrichtenagentur Reuters")
    rather than part of the name ("Harbor Times", "Financial Times"). Asked of the German word list when
    it is installed (text.gloss); without it every such word counts as a noun, as before."""
    g = gloss.load()
    return g is None or g.word(word) is not None


def _looks_person(words: list[str], registry_known: bool) -> bool:
    if registry_known or not 2 <= len(words) <= 3:
        return False
    if any(w.lower().strip(".") in _ORG_SUFFIX or is_camel_or_acronym(w) for w in words):
        return False
    return all(re.fullmatch(r"[A-ZÄÖÜ][a-zäöüßé'’.-]+", w) for w in words)


def resolve_np(s: str, np: NP, language: str, lex: NameLexicon, registry: Sequence[SourceRef]) -> Resolved | None:
    """Decide what an attribution slot names: a registry/new source, an anonymous group or an anaphor."""
    text = s[np.start:np.end]
    words = [w for w, _, _ in np.head]
    if words and words[0].lower() in PRONOUNS:
        return None
    pre = [p.lower() for p in np.pre]
    # anonymous groups first: "Recruitern", "Insidern", "people familiar with the matter"
    anon_re = ANON_EN if language == "en" else ANON_DE
    am = anon_re.match(text) if language == "en" else anon_re.match(re.sub(r"^(?:\w+\s+){0,2}?(?=[A-ZÄÖÜ])", "", text))
    # split into segments at connectors: the last segment with a name is the owner
    segments: list[list[str]] = [[]]
    for w in words:
        if w.lower() in _CONNECT or (language == "en" and w.lower() in ROLE_SUFFIX and w.islower()):
            segments.append([])
        else:
            segments[-1].append(w)
    segments = [seg for seg in segments if seg]
    named_segments = [seg for seg in segments if any(lex.is_name(w) or link_source(w, registry)[1] for w in seg)
                      or (language == "en" and seg and not (am and seg is segments[0]))]
    lowered_head = words[0].lower() if words else ""
    noun = DOC_NOUNS.get(lowered_head.split("-")[-1]) or next(
        (DOC_NOUNS[p] for p in pre if p in DOC_NOUNS), None)
    noun_word = lowered_head.split("-")[-1] if lowered_head.split("-")[-1] in DOC_NOUNS else next(
        (p for p in pre if p in DOC_NOUNS), None)
    if len(segments) > 1 and segments[0][-1].lower() in _SPOKES and segments[-1][-1].lower() not in _ORG_NOUNS:
        seg, _ = _strip_roles(segments[-1], lex)  # "Ein Sprecher der Bahn" -> Bahn
        linked, known = link_source(" ".join(seg), registry)
        return Resolved(linked, "named", "org", noun_word)
    if named_segments and not (am and len(segments) == 1 and not lex.is_name(segments[0][0])):
        seg = named_segments[-1]
        seg, had_role = _strip_roles(seg, lex)
        name = " ".join(seg)
        linked, known = link_source(name, registry)
        if not known:
            for i in range(1, len(seg)):  # "Risikokapitalfirma SignalFire" -> SignalFire
                ln, kn = link_source(" ".join(seg[i:]), registry)
                if kn:
                    linked, known = ln, kn
                    break
        person = (had_role and len(seg) >= 2) or _looks_person(seg, known)
        role = "report" if noun else _role(linked, had_role and len(seg) >= 2, person)
        return Resolved(linked, "named", role, noun_word, person)
    if am:
        group = am.group(1) if language == "en" else am.group(0)
        return Resolved(_anon_name(group, language), "anonymous", "anon", noun_word)
    definite = {"der", "die", "das", "dem", "den", "des", "the", "this", "diese", "dieses", "diesem", "dieser"}
    if words and noun and (not pre or pre[0] in definite):
        return Resolved(text, "anaphor", noun, noun_word)
    if pre and pre[0] in definite and words and words[-1].lower() in _ORG_NOUNS:
        return Resolved(text, "anaphor", "org", None)
    dm = ANON_DOC.match(text)
    if dm:
        return Resolved(_anon_name(dm.group(1), language), "anonymous", "doc" if noun == "doc" else "anon", noun_word)
    if not words:
        return None
    if language != "en" and len(words) == 1 and words[0].endswith("n") and not lex.is_name(words[0]) \
            and not link_source(words[0], registry)[1]:
        return Resolved(_anon_name(words[0], language), "anonymous", "anon", noun_word)
    if noun and not any(lex.is_name(w) for w in words):
        return Resolved(_anon_name(text, language), "anonymous", "doc" if noun == "doc" else "report", noun_word)
    seg, had_role = _strip_roles(words, lex)
    linked, known = link_source(" ".join(seg), registry)
    person = _looks_person(seg, known)
    role = _role(linked, had_role and len(seg) >= 2, person)
    return Resolved(linked, "named", role, noun_word, person)


def _role(name: str, titled: bool, person_shaped: bool) -> str:
    """person (a role word stood before the name), media, org, or entity (looks like a person's name but
    might be an organisation: "Transport North"); anaphora use it to pick an antecedent."""
    if titled:
        return "person"
    if _MEDIA_WORDS.search(name):
        return "media"
    return "entity" if person_shaped else "org"


def _anon_name(group: str, language: str) -> str:
    """A readable name for an anonymous source: "Recruitern" -> "Recruiter", "Interne HR-Analysen" ->
    "interne HR-Analysen", "two people familiar with the matter" -> "people familiar with the matter"."""
    g = clean_name(group)
    g = re.sub(r"^(?:(?:zwei|drei|vier|mehrere[nm]?|einige[nm]?|eine[mnr]?|ein|two|three|four|several|some|"
               r"many|multiple|a|an|one|\d+)\s+)", "", g, flags=re.I)
    words = g.split()
    if language != "en":
        if len(words) == 1 and re.search(r"(?:er|ler|kreise)n$", words[0]):
            words[0] = words[0][:-1]  # dative plural: Recruitern -> Recruiter
        if (len(words) > 1 and _is_cap(words[0]) and words[0].lower().endswith(("e", "en", "er", "es", "em")) \
                and words[0].lower().rstrip("nmrs").endswith(("intern", "extern", "vertraulich", "geheim",
                                                               "anonym", "unveröffentlicht"))) or (len(words) > 1 and words[0].lower().startswith(("intern", "vertraulich", "unveröffentlicht"))):
            words[0] = words[0].lower()
    elif words and words[0][0].isupper() and not is_camel_or_acronym(words[0]):
        words[0] = words[0].lower()
    return " ".join(words)


# ---------------------------------------------------------------- attribution frames


def _mk(s: str, start: int, end: int, r: Resolved, kind: str | None = None, **kw: object) -> Found:
    k = kind or ("named" if r.kind == "named" else r.kind)
    known = kw.pop("known", None) is True and r.kind == "named"
    att = Attribution(r.name, s[start:end].strip(" ,"), k, False, None, known)
    return Found(att, start, end, kw.pop("role", r.role), r.noun, **kw)  # type: ignore[arg-type]


@dataclass
class _Sentence:
    """One sentence under reading and the attributions found in it so far. The frames run in a fixed order
    over this shared list because a later frame skips text an earlier one already claimed (`_covered`)."""

    s: str
    language: str
    lex: NameLexicon
    registry: Sequence[SourceRef]
    found: list[Found] = field(default_factory=list)

    def add(self, start: int, end: int, np: NP | None, role: str | None = None, kind: str | None = None,
            cited: bool = False, outer: bool = False, via_target: str | None = None) -> Found | None:
        """Record the phrase s[start:end] when its slot names a source: pronouns and anaphora are left to
        `ingest`, which resolves them across sentences."""
        if np is None:
            return None
        s, registry = self.s, self.registry
        r = resolve_np(s, np, self.language, self.lex, registry)
        if r is None or r.kind == "anaphor":
            return None
        known = r.kind == "named" and link_source(r.name, registry)[1]
        f = _mk(s, start, end, r, kind=kind, known=known, role=role or r.role, cited=cited, outer=outer,
                via_target=via_target)
        if f.noun is None:
            f.noun = _doc_noun(s[start:end])
        self.found.append(f)
        return f


def find_attributions(s: str, language: str, lex: NameLexicon, registry: Sequence[SourceRef]) -> list[Found]:
    """Explicit attributions in one sentence (no anaphora)."""
    sent = _Sentence(s, language, lex, registry)
    for frame in _DE_FRAMES if language != "en" else _EN_FRAMES:
        frame(sent)
    return _combine(sent.found, s, registry)


# German frames, in the order they run


def _de_laut(sent: _Sentence) -> None:
    """"laut X", "gemäß X", "nach Angaben von X": the source follows the frame word; a document X holds
    ("laut einem Papier, das X vorliegt") makes X the holder of a document."""
    s, language = sent.s, sent.language
    for m in re.finditer(r"\b(?:[Ll]aut|[Gg]emäß|[Nn]ach\s+(?:(?:einer|einem|der|dem|den|jüngsten|neuen|aktuellen)\s+)*"
                         r"(?:Angaben|Informationen|Daten|Berechnungen|Schätzungen|Zahlen|Recherchen|Darstellung|"
                         r"Umfrage|Studie|Analyse|Auswertung|Erhebung|Untersuchung|Bericht|Statistik|Prognose)"
                         r"(?:\s+(?:von|vom|der|des))?)\s+", s):
        np = np_forward(s, m.end(), language)
        if np:
            doc = _doc_clause(s, np.end, language, sent.lex, sent.registry)
            if doc:
                sent.add(m.start(), doc[0], doc[1], role="doc", kind="document")
            else:
                sent.add(m.start(), np.end, np)


def _de_zufolge(sent: _Sentence) -> None:
    """"X zufolge": the source stands before the postposition."""
    s, language = sent.s, sent.language
    for m in re.finditer(r"\s+zufolge\b", s):
        np = np_backward(s, m.start(), language)
        if np:
            # include a preceding report noun: "Einem Bericht des Handelsblatts zufolge"
            sent.add(np.start, m.end(), _extend_report_back(s, np, language))


def _de_wie_berichtete(sent: _Sentence) -> None:
    """"wie X berichtete": X is a reporter, and may carry a source it cites (a chain)."""
    s, language = sent.s, sent.language
    for m in re.finditer(rf"\b[Ww]ie\s+(.{{1,80}}?)\s+{DE_SAY}\b", s):
        np = np_forward(s, m.start(1), language)
        if np:
            sent.add(m.start(), m.end(), np, role="media", outer=True)


def _de_berufung(sent: _Sentence) -> None:
    """"unter Berufung auf X", "beruft sich auf X": X is the cited end of a chain."""
    s, language = sent.s, sent.language
    for m in re.finditer(r"\bunter\s+Berufung\s+auf\s+|\b(?:beruft|berief|berufen|beriefen)\s+sich\s+"
                         r"(?:\w+\s+)?auf\s+", s):
        np = np_forward(s, m.end(), language) or _anon_np(s, m.end(), language)
        sent.add(m.start(), np.end if np else m.end(), np, cited=True)


def _de_report_of(sent: _Sentence) -> None:
    """"eine Auswertung von X zeigt": a report names its author, but counts only when it speaks or frames
    the sentence, not every mention of someone's data."""
    s, language, found = sent.s, sent.language, sent.found
    for m in re.finditer(r"\b(?:Auswertung|Analyse|Studie|Umfrage|Untersuchung|Erhebung|Berechnung(?:en)?|"
                         r"Daten|Zahlen|Bericht|Report|Recherchen?|Schätzung(?:en)?|Statistik)\s+"
                         r"(?:von|vom|der|des)\s+", s):
        if _covered(found, m.start()):
            continue
        np = np_forward(s, m.end(), language)
        if np is None:
            continue
        start = _det_start(s, m.start())
        vm = re.compile(rf"\s+(?:{DE_DATA}|{DE_SAY})\b").match(s, np.end)
        framed = re.search(r"\b(?:[Ll]aut|[Nn]ach|[Ii]n|[Aa]us|[Gg]emäß)\s*$", s[:start]) or re.match(
            r"\s+zufolge\b|\s+(?:geht|ging)\s+hervor", s[np.end:])
        if vm or framed:  # the report speaks ("zeigt") or frames the sentence ("laut", "zufolge")
            sent.add(start, vm.end() if vm else np.end, np, role="report")


def _de_subject_says(sent: _Sentence) -> None:
    """"X sagte", "X zeigt": the subject opening a clause speaks; a data verb needs a document, report or
    anonymous subject, since "der Umsatz zeigt" names no source."""
    s, language, found = sent.s, sent.language, sent.found
    for m in re.finditer(rf"\s+(?:{DE_SAY}|{DE_DATA})(?=[\s:,.]|$)", s):
        if _covered(found, m.start()):
            continue
        np = np_backward(s, m.start(), language, clause_start=True)
        if np is None:
            app = re.search(_APPOSITION, s[:m.start()])  # "Roland Busch, Chef von Siemens, sagte"
            if app:
                np = np_backward(s, app.start(), language, clause_start=True)
        if np is None:
            continue
        if np.pre and np.pre[0].lower() in {"im", "am", "zum", "zur", "vom", "beim", "ins", "ans"}:
            continue  # "Im ersten Quartal schrieb ..." is not a speaker
        head_noun = np.head[-1][0].lower().split("-")[-1] if np.head else ""
        is_data = re.fullmatch(rf"\s+{DE_DATA}", m.group(0)) is not None
        if is_data and head_noun not in DOC_NOUNS and not ANON_DE.search(s[np.start:np.end]):
            continue
        r = resolve_np(s, np, language, sent.lex, sent.registry)
        if r is None or r.kind == "anaphor":
            continue
        sent.add(np.start, m.end(), np, role="media" if re.match(r"\s+(?:berichte|meldet|schr)", m.group(0)) else None,
                 outer=True)


def _de_hiess_es(sent: _Sentence) -> None:
    """"aus X hieß es", "hieß es in X": the impersonal frame names its source after a preposition."""
    s, language, found = sent.s, sent.language, sent.found
    for m in re.finditer(r"\b[Aa]us\s+(?=\S+(?:\s+\S+){0,3}?\s+(?:hieß|heißt|verlautete)\s+es\b)|"
                         r"\b(?:hieß|heißt)\s+es\s+(?:in|bei|aus|von)\s+", s):
        np = _anon_np(s, m.end(), language) or np_forward(s, m.end(), language)
        if np and not _covered(found, m.end()):
            end = np.end
            tail = re.match(r"\s+(?:hieß|heißt|verlautete)\s+es", s[end:])
            sent.add(m.start(), end + (tail.end() if tail else 0), np)


def _de_quote_says(sent: _Sentence) -> None:
    """"…“, sagte X": after a quote or comma the verb comes first and the speaker follows it."""
    s, language, found = sent.s, sent.language, sent.found
    for m in re.finditer(r"(?:[“\"»«,]\s*)(?:sagte|sagt|erklärte|erklärt|schreibt|schrieb|betonte|so|teilte|teilt|"
                         r"meldete|meldet|berichtete|berichtet|bestätigte|warnte|kündigte|gab)\s+", s):
        np = np_forward(s, m.end(), language)
        if np and not _covered(found, m.end()):
            sent.add(m.start() + 1, np.end, np)


def _de_document_held(sent: _Sentence) -> None:
    """"das Papier, das X vorliegt": X holds the document the statement comes from."""
    s, language, found = sent.s, sent.language, sent.found
    for m in re.finditer(r"\b(?:[Dd]as|[Dd]ie|[Dd]er|[Ww]elche[sr]?)\s+(.{1,60}?)\s+(?:vorliegt|vorliegen|vorlag|"
                         r"vorlagen|vorgelegen\s+hat|einsehen\s+konnte[n]?|eingesehen\s+hat)\b", s):
        if _covered(found, m.start(1)):
            continue
        np = np_forward(s, m.start(1), language)
        if np:
            sent.add(_phrase_start(s, m.start()), m.end(), np, role="doc", kind="document")


# English frames, in the order they run


def _en_according_to(sent: _Sentence) -> None:
    """"according to X", "as reported by X": X may be a document someone holds, an anaphor (left to
    `ingest`), a named or anonymous source, or an unnamed one written in lower case."""
    s, language, found = sent.s, sent.language, sent.found
    for m in re.finditer(r"\b(?:[Aa]ccording\s+to|[Aa]s\s+reported\s+by|[Rr]eported\s+by)\s+", s):
        if _covered(found, m.end()):
            continue
        doc = _doc_clause(s, m.end(), language, sent.lex, sent.registry)
        if doc:
            sent.add(m.start(), doc[0], doc[1], role="doc", kind="document")
            continue
        if _en_anaphor_at(s, m.end()):
            continue
        np = _anon_np(s, m.end(), language) or np_forward(s, m.end(), language)
        if np:
            role = "media" if "reported" in m.group(0).lower() else None
            sent.add(m.start(), np.end, np, role=role, outer=role == "media")
            continue
        # an unnamed source written in lower case: "according to a council report", "its organisers"
        low = re.match(r"((?:(?:a|an|the|its|their|his|her)\s+)?[a-z][\w-]*(?:\s+[a-z][\w-]*){0,3}?)"
                       r"(?=\s*(?:[,;.)]|$|\s+(?:published|released|issued|that|which|who|from|on|in|at|by)\b|"
                       r"\s+\w+ed\s+by\b))",
                       s[m.end():])
        if low:
            phrase = low.group(1)
            noun = _doc_noun(phrase)
            att = Attribution(_anon_name(phrase, language), s[m.start():m.end() + low.end()].strip(" ,"),
                              "anonymous", False, None, False)
            found.append(Found(att, m.start(), m.end() + low.end(), "report" if noun else "anon", noun))


def _en_citing(sent: _Sentence) -> None:
    """"citing X": X is the cited end of a chain."""
    s, language = sent.s, sent.language
    for m in re.finditer(r"\b[Cc]iting\s+", s):
        np = _anon_np(s, m.end(), language) or np_forward(s, m.end(), language)
        if np:
            sent.add(m.start(), np.end, np, cited=True)


def _en_seen_by(sent: _Sentence) -> None:
    """"a memo seen by X": X holds the document the statement comes from."""
    s, language, found = sent.s, sent.language, sent.found
    for m in re.finditer(r"\b(?:seen|obtained|reviewed|viewed|verified|received)\s+by\s+", s):
        if _covered(found, m.end()):
            continue
        np = np_forward(s, m.end(), language)
        if np:
            sent.add(_phrase_start(s, m.start()), np.end, np, role="doc", kind="document")


def _en_report_by(sent: _Sentence) -> None:
    """"a survey by X found", "in a report by X": a report names its author, but counts only when it
    speaks or frames the sentence."""
    s, language, found = sent.s, sent.language, sent.found
    for m in re.finditer(r"\b(?i:data|figures|report|analysis|study|survey|research|estimates|numbers|poll|"
                         r"review)\s+(?:from|by|of)\s+", s):
        if _covered(found, m.end()):
            continue
        np = np_forward(s, m.end(), language)
        if np is None:
            continue
        start = _det_start(s, m.start())
        vm = re.compile(rf"\s+(?:also\s+)?(?:{EN_DATA}|{EN_SAY})\b").match(s, np.end)
        framed = re.search(r"\b(?:according\s+to|citing|[Ii]n)\s*$", s[:start])
        if vm or framed:  # "a survey by Gallup found", "in a report by Bloomberg"
            sent.add(start, vm.end() if vm else np.end, np, role="report")


def _en_possessive_report(sent: _Sentence) -> None:
    """"X's data shows": the owner of the report stands before it."""
    s, language, found = sent.s, sent.language, sent.found
    for m in re.finditer(rf"(?:'s|’s)?\s+(?:data|figures|report|analysis|survey|study|research|estimates)"
                         rf"\s+(?:also\s+)?{EN_DATA}\b", s):
        np = np_backward(s, m.start(), language)
        if np and not _covered(found, np.start):
            sent.add(np.start, m.end(), np, role="report")


def _en_subject_said(sent: _Sentence) -> None:
    """"X said", "X told Y": the subject speaks; in "X told Y" the Y may be the outlet passing it on."""
    s, language, found = sent.s, sent.language, sent.found
    for m in re.finditer(rf"\s+(?:also\s+|later\s+|previously\s+|first\s+)?({EN_SAY})\b", s):
        if _covered(found, m.start() + 1):
            continue
        np = _anon_np_back(s, m.start()) or np_backward(s, m.start(), language)
        if np is None:
            app = re.search(_APPOSITION, s[:m.start()])  # "Jane Smith, a spokeswoman for Apple, said"
            if app:
                np = np_backward(s, app.start(), language)
        if np is None:
            continue
        verb = m.group(1)
        end = m.end()
        via_target = None
        if verb in {"told", "tells"}:
            tnp = np_forward(s, m.end(), language)
            if tnp:
                via_target = s[tnp.start:tnp.end]
                end = tnp.end
        media = verb in {"reported", "reports", "wrote", "writes"}
        sent.add(np.start, end, np, role="media" if media else None, outer=True, via_target=via_target)


def _en_quote_said(sent: _Sentence) -> None:
    """"…,” said X": after a quote or comma the verb comes first and the speaker follows it."""
    s, language, found = sent.s, sent.language, sent.found
    for m in re.finditer(rf"(?:[,”\"]\s*)(?!told\b|tells\b)(?:{EN_SAY})\s+", s):
        if _covered(found, m.end()):
            continue
        np = _anon_np(s, m.end(), language) or np_forward(s, m.end(), language, loose=True)
        if np and re.match(r"\s*(?:[,.;:)]|$|\s+(?:who|of|at|in|on|from|for)\b)", s[np.end:]):
            sent.add(m.start() + 1, np.end, np, outer=True)  # not "said Epstein's death was ..."


def _en_cited_by(sent: _Sentence) -> None:
    """"cited by X", "quoted by X": X is the outlet that passed the statement on."""
    s, language = sent.s, sent.language
    for m in re.finditer(r"\b(?:cited|quoted)\s+by\s+", s):
        np = np_forward(s, m.end(), language)
        if np:
            sent.add(m.start(), np.end, np, role="media", outer=True)


_DE_FRAMES = (_de_laut, _de_zufolge, _de_wie_berichtete, _de_berufung, _de_report_of, _de_subject_says, _de_hiess_es,
              _de_quote_says, _de_document_held)
_EN_FRAMES = (_en_according_to, _en_citing, _en_seen_by, _en_report_by, _en_possessive_report, _en_subject_said,
              _en_quote_said, _en_cited_by)


def _doc_noun(phrase: str) -> str | None:
    """The document/report noun of a phrase ("Dokument", "HR-Analysen", "memo"), for anaphora."""
    for w, _, _ in _tokens(phrase):
        lw = w.lower().split("-")[-1]
        if lw in DOC_NOUNS:
            return lw
    return None


def _det_start(s: str, pos: int) -> int:
    """Start of the noun phrase whose noun begins at pos: back over articles and adjectives."""
    start = pos
    for _ in range(3):
        m = re.search(r"(\b[\wäöüÄÖÜß-]+)\s+$", s[:start])
        if not m:
            break
        w = m.group(1)
        if w.lower() in DETS or _adjective_like(w.lower()) or w.lower() in {"new", "latest", "recent", "fresh",
                                                                        "annual", "internal", "neue", "jüngste"}:
            start = m.start(1)
            continue
        break
    return start


def _covered(found: list[Found], pos: int) -> bool:
    return any(f.start <= pos < f.end for f in found)


def _phrase_start(s: str, pos: int) -> int:
    """Where an attribution phrase starts: the clause or "according to"/"laut" before pos."""
    head = s[:pos]
    starts = [m.end() for m in re.finditer(
        r"(?:^|[,;:–—(]\s*|\b(?=[Aa]ccording\s+to\b|[Ll]aut\b|[Ii]n\s+(?:an?|the|einem|einer)\b|"
        r"[Aa]us\s+(?:einem|einer)\b))", head)]
    start = starts[-1] if starts else 0
    while start < pos and s[start].isspace():
        start += 1
    return start


def _doc_clause(s: str, pos: int, language: str, lex: NameLexicon,
                registry: Sequence[SourceRef]) -> tuple[int, NP] | None:
    """"einem internen Dokument, das Business Insider vorliegt" / "an internal memo seen by Reuters":
    the document's holder and where the phrase ends."""
    window = s[pos:pos + 140]
    if language == "en":
        m = re.match(r"(?:an?|the)?\s*(?:[\w-]+\s+){0,3}?(?:memos?|documents?|e-?mails?|letters?|"
                     r"presentations?|reports?|filings?|slides|notes|records|files|messages?)\s*,?\s*"
                     r"(?:which\s+was\s+|that\s+was\s+)?(?:seen|obtained|reviewed|viewed|verified|received)\s+by\s+",
                     window)
        if m:
            np = np_forward(s, pos + m.end(), language)
            if np:
                return np.end, np
        return None
    m = re.match(r"[^,]{0,60}?,\s*(?:das|die|der|welche[sr]?)\s+(.{1,60}?)\s+(?:vorliegt|vorliegen|vorlag|vorlagen|"
                 r"vorgelegen\s+hat|einsehen\s+konnte[n]?|eingesehen\s+hat)\b", window)
    if m:
        np = np_forward(s, pos + m.start(1), language)
        if np:
            return pos + m.end(), np
    return None


def _extend_report_back(s: str, np: NP, language: str) -> NP:
    return np


def _anon_np(s: str, pos: int, language: str) -> NP | None:
    """An anonymous source starting at pos ("people familiar with the matter", "Unternehmenskreise")."""
    rx = ANON_EN if language == "en" else ANON_DE
    m = rx.match(s, pos)
    if not m:
        dm = ANON_DOC.match(s, pos)
        if not dm or re.match(r"\s*,?\s*(?:seen|obtained|reviewed|das|die|der)\b", s[dm.end():]):
            return None
        return NP(pos, dm.end(), [(w, a, b) for w, a, b in _tokens(s, pos, dm.end())], [])
    toks = _tokens(s, pos, m.end())
    return NP(pos, m.end(), toks, [])


def _anon_np_back(s: str, pos: int) -> NP | None:
    """English anonymous subject ending at pos: "Recruiters say", "two people familiar with the plans said",
    or any plain plural noun phrase opening the sentence ("Local business owners told", "Critics argue")."""
    head = s[:pos]
    pm = re.fullmatch(r"((?:[A-Z]?[a-z]+\s+){0,3}[A-Za-z]?[a-z]+[^s\W]s)", head)
    if pm and pm.group(1).split()[0].lower() not in PRONOUNS | DETS:
        return NP(0, pos, _tokens(s, 0, pos), [])
    for m in re.finditer(r"(?:^|(?<=[\s,;:“\"]))" + ANON_EN.pattern + r"$", head):
        start = m.start()
        if head[:start].strip() and not re.search(r"[,;:“\"]\s*$", head[:start]) and not re.search(
                r"\b(?:and|but|while|as|that)\s*$", head[:start]):
            continue
        return NP(start, pos, _tokens(s, start, pos), [])
    return None


def _en_anaphor_at(s: str, pos: int) -> bool:
    return re.match(r"(?:the|this|that)\s+(?:\w+\s+)?(?:report|memo|document|documents|study|analysis|survey|"
                    r"data|filing|figures|presentation|email|letter|company|firm)\b", s[pos:], re.I) is not None


def _combine(found: list[Found], s: str, registry: Sequence[SourceRef]) -> list[Found]:
    """Merge chains: a cited source and its reporter become one second-hand attribution."""
    cited = [f for f in found if f.cited]
    outers = [f for f in found if f.outer and not f.cited]
    out = [f for f in found if not f.cited and f not in outers]
    used: set[int] = set()
    for c in cited:
        rep = next((o for o in outers if id(o) not in used and o.attribution.source != c.attribution.source), None)
        if rep is not None:
            used.add(id(rep))
            a = c.attribution
            start, end = min(rep.start, c.start), max(rep.end, c.end)
            a.phrase = s[start:end].strip(" ,")
            a.second_hand = True
            a.via = rep.attribution.source
            c.start, c.end = start, end
        out.append(c)
    for o in outers:
        if id(o) in used:
            continue
        if o.via_target:
            via, known = link_source(o.via_target, registry)
            if known or _MEDIA_WORDS.search(o.via_target):
                o.attribution.second_hand = True
                o.attribution.via = via
        out.append(o)
    # "X told staff in an email seen by Y": the named author speaks, the document holder is the intermediary
    docs = [f for f in out if f.attribution.kind == "document"]
    speakers = [f for f in out if f.outer and f.attribution.kind == "named" and not f.attribution.second_hand
                and f.role in {"person", "entity", "org"}]
    if len(docs) == 1 and len(speakers) == 1:
        d, sp = docs[0], speakers[0]
        sp.attribution.second_hand, sp.attribution.via = True, d.attribution.source
        sp.start, sp.end = min(sp.start, d.start), max(sp.end, d.end)
        sp.attribution.phrase = s[sp.start:sp.end].strip(" ,")
        out.remove(d)
    # dedupe: same source in overlapping phrases, keep the longest
    out.sort(key=lambda f: (f.start, -(f.end - f.start)))
    result: list[Found] = []
    for f in out:
        if any(g.attribution.source == f.attribution.source or (g.start <= f.start and f.end <= g.end)
               for g in result):
            continue
        result.append(f)
    return result
