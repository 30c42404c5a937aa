"""Article text -> claim candidates with their cited sources and check-worthiness.

Pure text: no database, no network. The caller stores the result. Every sentence-like unit of the article
comes back as a `ClaimCandidate` (so each has a check-worthiness), and `is_claim` says which ones a checker
would put on the desk: headings, teaser blocks, credit lines, questions and opinion never are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlparse

from factcheck.claimfinding.attribution import (
    DOC_NOUNS,
    EN_DATA,
    EN_SAY,
    Attribution,
    Found,
    NameLexicon,
    Registry,
    SourceRef,
    find_attributions,
    link_source,
)
from factcheck.errors import FactcheckError
from factcheck.text.language import de_or_en
from factcheck.text.sentences import MONTHS, Unit, segment, split_sentences
from factcheck.text.urls import BadUrl, looks_like_url, normalise_url

__all__ = [
    "Attribution",
    "ClaimCandidate",
    "IngestError",
    "Registry",
    "SourceRef",
    "analyse_article",
    "article_provenance",
    "link_source",
    "split_sentences",
    "text_and_links_from_html",
]



MAX_TEXT_CHARS = 2_000_000  # ~10 s of analysis; far beyond any news article


class IngestError(FactcheckError):
    """The article text cannot be analysed (empty, not text)."""


@dataclass
class ClaimCandidate:
    """One unit of the article with its check-worthiness and citations."""

    text: str
    start: int
    end: int
    checkworthiness: float
    attributions: list[Attribution]
    is_claim: bool
    signals: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------- language

# ---------------------------------------------------------------- block-level context

_CREDIT = re.compile(r"^(?:Quelle|Quellen|Source|Sources|Mit\s+Material\s+von|Material\s+von|Credits?|Fotos?|"
                     r"Photos?|Bild|Image|Grafik|Text|Autor(?:in)?|Redaktion|Written\s+by|Reporting\s+by|"
                     r"Editing\s+by)\s*:\s*\S")
_TEASER = re.compile(
    r"^(?:Das\s+könnte\s+Sie\s+auch\s+interessieren|Lesen\s+Sie\s+auch|Mehr\s+zum\s+Thema|Auch\s+interessant|"
    r"Weitere\s+Artikel|Empfehlungen?|Zum\s+Thema|Mehr\s+dazu|Weiterlesen|Related(?:\s+(?:articles|stories|"
    r"coverage|reading))?|Read\s+(?:more|next|also)|More\s+(?:from|on\s+this|stories)|You\s+(?:may|might)\s+"
    r"also\s+like|Recommended(?:\s+for\s+you)?|See\s+also|Also\s+read)\b", re.I)


def article_provenance(text: str) -> list[str]:
    """Names on credit lines ("Quelle: Eulerpool", "Source: Reuters"): where the article itself comes
    from, which is not a citation of any one claim."""
    out: list[str] = []
    for u in segment(text):
        line = text[u.start:u.end]
        m = _CREDIT.match(line)
        if m and u.kind == "heading" and re.match(r"(?i)(quelle|source)", line):
            out.extend(x.strip() for x in re.split(r"[,;/]|\bund\b|\band\b", line.split(":", 1)[1]) if x.strip())
    return out


def _teaser_units(text: str, units: Sequence[Unit]) -> set[int]:
    """Indexes of units in recommendation blocks ("Das könnte Sie auch interessieren:", "Read more:")."""
    out: set[int] = set()
    for i, u in enumerate(units):
        line = text[u.start:u.end]
        m = _TEASER.match(line)
        if not m:
            continue
        rest = line[m.end():].strip(" :–-")
        if rest and u.kind != "heading":
            out.add(i)  # "Read more: <headline>" inline
            continue
        out.add(i)
        if u.start > 0.6 * len(text) or i >= 0.75 * len(units):
            out.update(range(i + 1, len(units)))
        else:  # mid-article: only the block(s) that follow
            nxt_blocks = {units[j].block for j in range(i + 1, min(len(units), i + 3))}
            first = min(nxt_blocks) if nxt_blocks else -1
            out.update(j for j in range(i + 1, len(units)) if units[j].block == first)
    return out


def _caption_units(text: str, units: Sequence[Unit]) -> set[int]:
    """Units of a figure caption: a block that opens with a repeat of an earlier heading (the image's
    alt text is usually the headline) continues with the caption, which restates the story."""
    seen: set[str] = set()
    out: set[int] = set()
    for i, u in enumerate(units):
        line = text[u.start:u.end].strip()
        if u.kind == "heading" and line in seen and (i == 0 or units[i - 1].block != u.block):
            out.update(j for j in range(i + 1, len(units)) if units[j].block == u.block)
        if u.kind == "heading":
            seen.add(line)
    return out


# ---------------------------------------------------------------- anaphora

_DE_ANAPHOR_DOC = re.compile(
    r"(?:^|(?<=[\s„\"]))(?:[Dd]as|[Dd]ie|[Dd]er|[Dd]em|[Dd]en|[Dd]es|[Dd]iese[rsmn]?)\s+(?:[\wäöüß]+(?:e|en|em|er|es)\s+)?"
    r"(Dokument|Papier|Memo|Bericht|Studie|Auswertung|Analyse|Umfrage|Untersuchung|Daten|Unterlagen|Schreiben|"
    r"Präsentation|Report|Zahlen|Erhebung)\w*\b")
_DE_ANAPHOR_ORG = re.compile(
    r"\b(?:[Dd]er\s+(?:Konzern|Hersteller|Anbieter)|[Dd]as\s+Unternehmen|[Dd]ie\s+(?:Firma|Gruppe))\s+"
    r"(?:sagte|sagt|erklärte|erklärt|teilte|bestätigte|betonte|wies|dementierte|räumte|schreibt|schrieb)\b|"
    r"\b(?:so|erklärte|sagte|teilte)\s+(?:der\s+Konzern|das\s+Unternehmen|die\s+Firma)\b")
_DE_SPEECH = r"(?:sagte|erklärte|betonte|schrieb|fügte|kündigte|räumte|verwies|warnte|bestätigte|kritisierte|sprach)"
_DE_ANAPHOR_PERSON = re.compile(rf"\b(?:{_DE_SPEECH}|so)\s+(?:er|sie)\b|^(?:Er|Sie)\s+{_DE_SPEECH}\b")
_EN_ANAPHOR_DOC = re.compile(
    r"\b[Tt]he\s+(?:[\w-]+\s+)?(report|memo|document|documents|study|analysis|survey|data|filing|figures|"
    r"presentation|email|letter|review|research|analyses)\b")
_EN_ANAPHOR_ORG = re.compile(
    rf"\b[Tt]he\s+(?:company|firm|group|startup|start-up|retailer|maker|manufacturer|bank|agency|business|"
    rf"chipmaker|carmaker|automaker|insurer|lender|platform|body|authority|council|committee|organi[sz]ation|"
    rf"ministry|department|union|government|carrier|airline|operator|chain|supplier|developer|producer|utility)\s+(?:also\s+|later\s+)?(?:{EN_SAY}|declined|denied|"
    rf"disputed|did\s+not\s+respond)\b|\b(?:{EN_SAY})\s+the\s+(?:company|firm|group)\b(?=\s*(?:[,.;]|$|in\s+a\s+))")
_EN_ANAPHOR_PERSON = re.compile(r"(?:^|[,.“\"]\s*|\b(?:and|but)\s+)(?:[Hh]e|[Ss]he)\s+(?:also\s+|later\s+)?"
                                r"(?:said|says|added|told|wrote|noted|argued|explained|warned)\b|"
                                r"\b(?:said|added|says)\s+(?:he|she)\b")


_MEDIA_ANAPHOR = re.compile(
    r"^(?:[Dd]as\s+(?:Magazin|Blatt|Nachrichtenmagazin|Portal)|[Dd]ie\s+(?:Zeitung|Agentur|Nachrichtenagentur|"
    r"Wirtschaftszeitung)|[Dd]er\s+(?:Sender|Bericht)|[Tt]he\s+(?:newspaper|paper|magazine|outlet|agency|"
    r"broadcaster|site|publication))\b")


def _anaphor(s: str, language: str) -> tuple[str, str, str] | None:
    """(kind, noun, phrase) when the sentence points back to an earlier source."""
    if language == "en":
        m = _EN_ANAPHOR_DOC.search(s)
        if m and (s[:m.start()].strip() == "" or re.search(r"(?:according to|[,;:]|\bin)\s*$", s[:m.start()], re.I)
                  or re.match(rf"(?:,[^,]{{0,40}},)?\s+(?:\w+\s+){{0,2}}(?:{EN_SAY}|{EN_DATA}|blames?|lists?|"
                              r"describes?|names?|cites?|puts?|ranks?)\b", s[m.end():])):
            return "doc", m.group(1).lower(), m.group(0)
        m = _EN_ANAPHOR_PERSON.search(s)
        if m:
            return "person", "", m.group(0).strip(" ,.“\"")
        m = _MEDIA_ANAPHOR.search(s)
        if m:
            return "media", "", m.group(0)
        m = _EN_ANAPHOR_ORG.search(s)
        if m:
            company = re.search(r"company|firm|startup|start-up|retailer|maker|bank|business|insurer|lender|carrier|"
                                r"airline|operator|chain|supplier|developer|producer|utility", m.group(0))
            return "org", "unternehmen" if company else "body", m.group(0)
        return None
    m = _DE_ANAPHOR_DOC.search(s)
    if m and (re.fullmatch(r"\s*(?:[Ll]aut|[Ii]n|[Aa]us|[Nn]ach|[Ww]ie|[Aa]uch|[Zz]udem)?\s*", s[:m.start()])
              or re.match(r"\s+(?:\w+\s+){0,2}(?:zufolge|heißt|zeigt|zeigen|nennt|weist|belegt|beschreibt|"
                          r"listet|führt)\b", s[m.end():])):
        return "doc", m.group(1).lower(), m.group(0)
    m = _MEDIA_ANAPHOR.search(s)
    if m:
        return "media", "", m.group(0)
    m = re.search(r",\s*(?:hieß|heißt)\s+es(?=\s*[.;]?\s*$)|^(?:Es\s+)?[Hh]ieß\s+es\b", s)
    if m:
        return "any", "", m.group(0).strip(" ,")
    m = _DE_ANAPHOR_ORG.search(s)
    if m:
        return "org", "unternehmen", m.group(0)
    m = _DE_ANAPHOR_PERSON.search(s)
    if m:
        return "person", "", m.group(0)
    return None


def _subject_as_source(s: str, phrase: str, lex: NameLexicon, registry: Sequence[SourceRef]) -> list[Found]:
    """"Skyway Air will cancel 1,200 flights, the carrier said": with nothing earlier to point back to,
    "the carrier" is the organisation the sentence opens with."""
    ents = lex.entities(s)
    if not ents or not s.startswith(ents[0]) or phrase.lower().startswith(ents[0].lower()):
        return []
    name, known = link_source(ents[0], registry)
    return [Found(Attribution(name, phrase, "named", False, None, known), 0, 0, "org", None)]


def _resolve_anaphor(kind: str, noun: str, history: list[tuple[int, Found]], idx: int) -> Found | None:
    recent = [f for i, f in reversed(history) if idx - i <= 12]
    if kind == "doc":
        group = DOC_NOUNS.get(noun)
        for pick in (
            lambda f: f.noun is not None and f.noun[:5] == noun[:5],
            lambda f: f.noun is not None and DOC_NOUNS.get(f.noun) == group,
            lambda f: f.role in {"doc", "report"},
            lambda f: f.role == "media",
        ):
            hit = next((f for f in recent if pick(f)), None)
            if hit:
                return hit
        return None
    if kind == "any":
        return recent[0] if recent else None
    for wanted in ({kind}, {"entity"}):
        for f in recent:
            if f.role not in wanted:
                continue
            if kind == "org" and noun == "unternehmen" and _NOT_COMPANY.search(f.attribution.phrase):
                continue  # "the company" does not point back to a union, ministry or research group
            return f
    return None


_NOT_COMPANY = re.compile(r"(?i)gewerkschaft|verband|institut|behörde|ministeri|universit|union\b|association|"
                          r"regulator|agency|researchers?\b|analyst")


# ---------------------------------------------------------------- check-worthiness

_NUM_WORDS = (r"zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|dreißig|hundert|tausend|"
              r"dutzend\w*|hunderte|tausende|million\w*|milliard\w*|mio|mrd|hälfte|drittel|viertel|"
              r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|fifty|hundred|"
              r"hundreds|thousand|thousands|dozens?|millions?|billions?|trillions?|half|third|quarter|"
              r"doubled?|tripled?|verdoppel\w*|halbiert\w*")
_RX_NUMBER = re.compile(rf"\d|\b(?:{_NUM_WORDS})\b", re.I)
_RX_QUANTITY = re.compile(rf"%|\bProzent\b|\bpercent\b|[€$£]|\b(?:Euro|Dollar|USD|EUR|Mio|Mrd|Millionen|Milliarden|"
                          rf"million|billion)\b|\d[\d.,]*\s+[A-Za-zÄÖÜäöü]|\b(?:{_NUM_WORDS})\s+(?:bis\s+\w+\s+|or\s+\w+\s+|"
                          rf"to\s+\w+\s+)?[A-ZÄÖÜa-z]\w+", re.I)
_RX_VAGUE_QTY = re.compile(r"\b(?:mehrere|zahlreiche|several|numerous|dozens|hunderte|tausende)\b", re.I)
_WEEKDAYS = ("montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|monday|tuesday|wednesday|thursday|"
             "friday|saturday|sunday")
_RX_DATE = re.compile(rf"\b(?:1[89]\d\d|20\d\d)\b|\b(?:{'|'.join(sorted(MONTHS))}|{_WEEKDAYS})\b|"
                      r"\b(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Okt|Nov|Dec|Dez)\.\s*\d", re.I)
_RX_REL_DATE = re.compile(r"\b(?:vergangenen|letzten|vorigen|kommenden|nächsten|seit|seitdem|bereits|gestern|heute|"
                          r"last|past|next|since|yesterday|today|earlier\s+this|this\s+(?:year|month|week)|"
                          r"quarter|Quartal|ago|am\s+selben\s+Tag|on\s+the\s+same\s+day)\b", re.I)
_RX_COMPARATIVE = re.compile(
    r"\b(?:mehr|weniger)\s+als\b|\b(?:über|unter|rund|knapp|fast|mindestens|höchstens|bis\s+zu)\s+\d|"
    r"\b(?:more|fewer|less)\s+(?:\w+\s+)?than\b|\b(?:mehr|weniger)\s+(?:\w+\s+)?als\b|"
    r"\b(?:zunehmend|increasingly|wachsend\w*|growing|rising|steigend\w*|sinkend\w*|falling)\b|\b(?:over|under|nearly|almost|about|at\s+least|at\s+most|up\s+to|around)\s+"
    r"[\d$€£]|\b\w+er\s+(?:als|than)\b|\b(?:doppelt|halb\s+so|größte\w*|kleinste\w*|höchste\w*|niedrigste\w*|"
    r"meiste\w*|hinter|unterhalb|oberhalb|Drittel|Spitzen\w*|führend\w*|rangiert\w*|largest|biggest|highest|"
    r"lowest|most|least|behind|ahead\s+of|ranks?|ranked|bottom|top|compared\s+(?:with|to)|twice|"
    r"vergleichsweise|deutlich\s+(?:unter|über))\b", re.I)
_RX_OPINION = {
    "de": re.compile(r"\b(?:ich|wir|meiner\s+Meinung|meines\s+Erachtens|sollte[n]?|müsste[n]?|hoffentlich|"
                     r"leider|zweifellos|offensichtlich)\b"),
    "en": re.compile(r"\b(?:I|we|in\s+my\s+view|I\s+think|we\s+believe|should|ought\s+to|must|hopefully|"
                     r"unfortunately|clearly|arguably|frankly)\b", re.I),
}
_RX_SENTIMENT = re.compile(
    r"\b(?:fear(?:s|ed)?|hope[sd]?|believe[sd]?|argue[sd]?|worr(?:y|ied|ies)|warn(?:s|ed)?|feel(?:s)?|felt|"
    r"fürchte\w*|befürchte\w*|hoff\w*|glaub\w*|meinen|meint|meinte\w*|warnt\w*|warnen|sorgen\s+sich|"
    r"kritisier\w*)\b", re.I)
_QUOTED = re.compile(r"„[^“]*“|“[^”\"]*[”\"]|\"[^\"]*\"|«[^»]*»|»[^«]*«")

WEIGHTS = {"numbers": 0.40, "quantities": 0.25, "dates": 0.40, "names": 0.50, "people": 0.30,
           "attribution": 0.50, "comparatives": 0.25}
_PERSON = re.compile(r"^[A-ZÄÖÜ][a-zäöüßé'’-]+(?: [A-ZÄÖÜ][a-zäöüßé'’-]+){1,2}$")


def _attribution_strength(found: list[Found]) -> float:
    """Documents and data state facts (1.0); a speaker may state opinion (0.7); a pointer back is a little
    weaker than what it points to."""
    best = 0.0
    for f in found:
        a = f.attribution
        v = 1.0 if (a.kind == "document" or f.role in {"doc", "report"} or f.noun in DOC_NOUNS) else 0.7
        if a.kind == "inherited":
            v *= 0.9
        best = max(best, v)
    return best


def _signals(s: str, language: str, lex: NameLexicon, found: list[Found]) -> dict[str, float]:
    sig: dict[str, float] = {}
    sig["numbers"] = 1.0 if _RX_NUMBER.search(s) else 0.0
    sig["quantities"] = 1.0 if _RX_QUANTITY.search(s) else 0.5 if _RX_VAGUE_QTY.search(s) else 0.0
    sig["dates"] = 1.0 if _RX_DATE.search(s) else 0.5 if _RX_REL_DATE.search(s) else 0.0
    ents = lex.entities(s)
    sig["names"] = {0: 0.0, 1: 0.5, 2: 0.8}.get(len(ents), 1.0)
    sig["people"] = 1.0 if any(_PERSON.match(e) for e in ents) else 0.0
    sig["attribution"] = round(_attribution_strength(found), 3)
    sig["comparatives"] = 1.0 if _RX_COMPARATIVE.search(s) else 0.0
    return sig


def _score(sig: dict[str, float]) -> float:
    p = 1.0
    for k, w in WEIGHTS.items():
        p *= 1.0 - w * sig.get(k, 0.0)
    return 1.0 - p


# ---------------------------------------------------------------- main entry


def analyse_article(
    text: str,
    *,
    language: str | None = None,
    registry: Sequence[SourceRef] = (),
    links: Sequence[tuple[int, int, str]] = (),
    threshold: float = 0.5,
) -> list[ClaimCandidate]:
    """Every unit of the article with check-worthiness, citations and whether it is a claim.

    `links` are (start, end, href) spans of anchor text in `text`; a link to a registry source's domain
    becomes a citation carrying its URL."""
    if not text or not text.strip():
        raise IngestError("article text is empty")
    if "\x00" in text:
        raise IngestError("article text contains NUL bytes (binary input?)")
    if len(text) > MAX_TEXT_CHARS:
        raise IngestError(f"article text is {len(text):,} characters; more than {MAX_TEXT_CHARS:,} is not one article")
    lang = (language or de_or_en(text)).lower()[:2]
    if lang not in {"de", "en"}:
        lang = "en"
    units = segment(text)
    if not isinstance(registry, Registry):
        registry = Registry(registry)  # its names worked out once for the whole article
    lex = NameLexicon([text[u.start:u.end] for u in units], lang, registry)
    teasers = _teaser_units(text, units)
    captions = _caption_units(text, units)
    history: list[tuple[int, Found]] = []
    out: list[ClaimCandidate] = []
    for idx, u in enumerate(units):
        s = text[u.start:u.end]
        credit = bool(_CREDIT.match(s)) and u.kind == "heading"
        in_teaser = idx in teasers
        found: list[Found] = []
        if not credit and not in_teaser:
            found = find_attributions(s, lang, lex, registry)
            if not found:
                ana = _anaphor(s, lang)
                if ana:
                    ante = _resolve_anaphor(ana[0], ana[1], history, idx)
                    if ante is None and ana[0] == "org":
                        found = _subject_as_source(s, ana[2], lex, registry)
                    if ante is not None:
                        a = ante.attribution
                        # a document keeps its holder and chain; a company or person speaking again does not
                        chain = ana[0] == "doc"
                        inh = Attribution(a.source, ana[2], "inherited", a.second_hand and chain,
                                          a.via if chain else None, a.known, a.url if chain else None)
                        found = [Found(inh, 0, 0, ante.role, ante.noun)]
        attributions = [f.attribution for f in found]
        _apply_links(text, u, links, registry, found, attributions)
        for f in found:
            if f.attribution.kind != "inherited":
                history.append((idx, f))
        sig = _signals(s, lang, lex, found)
        score = _score(sig)
        # reported feelings and quoted opinion without a number or date are not checkable facts
        anchored = sig["numbers"] > 0 or sig["dates"] >= 1.0
        quoted_len = sum(len(m.group(0)) for m in _QUOTED.finditer(s))
        if not anchored and _RX_SENTIMENT.search(s):
            sig["sentiment"] = 1.0
            score *= 0.7
        if not anchored and quoted_len >= 0.5 * len(s):
            sig["quote_only"] = 1.0
            score *= 0.6
        stripped = s.rstrip("\"'”“»«’)] ")
        question = stripped.endswith("?")
        outside_quotes = _QUOTED.sub(" ", s)
        opinion = bool(_RX_OPINION[lang].search(outside_quotes)) and not attributions
        short = len(re.findall(r"\w+", s)) < 5
        heading = u.kind == "heading"
        caption = idx in captions
        for flag, on in (("heading", heading), ("teaser", in_teaser), ("credit_line", credit), ("caption", caption),
                         ("question", question), ("opinion", opinion), ("short", short)):
            if on:
                sig[flag] = 1.0
        if heading or in_teaser or credit or caption:
            score *= 0.4
        elif question or opinion:
            score *= 0.5
        elif short:
            score *= 0.7
        score = round(min(1.0, max(0.0, score)), 3)
        is_claim = score >= threshold and not (heading or in_teaser or credit or caption or question or opinion)
        out.append(ClaimCandidate(s, u.start, u.end, score, attributions, is_claim, sig))
    return out


def _apply_links(text: str, u: Unit, links: Sequence[tuple[int, int, str]], registry: Sequence[SourceRef],
                 found: list[Found], attributions: list[Attribution]) -> None:
    """Anchors inside the unit: a registry domain becomes (or confirms) a citation with its URL; any
    other link that overlaps an attribution phrase gives that attribution its URL."""
    for ls, le, href in links:
        if le <= u.start or ls >= u.end:
            continue
        host = (urlparse(href).hostname or "").lower().removeprefix("www.")
        ref = next((r for r in registry for d in r.domains
                    if host == d.lower().removeprefix("www.") or host.endswith("." + d.lower().removeprefix("www."))),
                   None)
        if ref is not None:
            same = next((a for a in attributions if a.source == ref.name or a.via == ref.name), None)
            if same is not None:
                if same.url is None:
                    same.url = href
                continue
            a = Attribution(ref.name, text[ls:le], "named", False, None, True, href)
            attributions.append(a)
            found.append(Found(a, ls - u.start, le - u.start, "media", None))
            continue
        rel_s, rel_e = ls - u.start, le - u.start
        for f in found:
            if f.attribution.url is None and f.start < rel_e and rel_s < f.end and f.attribution.kind != "inherited":
                f.attribution.url = href
                break


# ---------------------------------------------------------------- HTML helper

_BLOCKS = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "figcaption", "blockquote", "pre", "time"]


class _BlockText:
    """Text of one block element with the spans of its links, whitespace collapsed as a browser does."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.length = 0
        self.links: list[tuple[int, int, str]] = []

    def add(self, t: str) -> None:
        t = re.sub(r"\s+", " ", t)
        if (not self.buf or self.buf[-1].endswith(" ")) and t.startswith(" "):
            t = t[1:]
        self.buf.append(t)
        self.length += len(t)

    def walk(self, node: object) -> None:
        from bs4 import Comment, NavigableString, Tag

        if not isinstance(node, Tag):
            return
        for child in node.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, NavigableString):
                self.add(str(child))
            elif isinstance(child, Tag):
                if child.name == "br":
                    self.add(" ")
                    continue
                start = self.length
                self.walk(child)
                href = child.get("href") if child.name == "a" else None
                # the desk's one URL rule: a link it could not store or fetch is no citation link
                href = _usable_url(href) if isinstance(href, str) and looks_like_url(href) else None
                if href is not None:
                    raw = "".join(self.buf)
                    s, e = start, self.length
                    while s < e and raw[s].isspace():
                        s += 1
                    while e > s and raw[e - 1].isspace():
                        e -= 1
                    if e > s:
                        self.links.append((s, e, href))


def _usable_url(href: str) -> str | None:
    try:
        return normalise_url(href)
    except BadUrl:
        return None


def text_and_links_from_html(html: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Plain text of an article page (one block per paragraph/heading, blank lines between) and the
    (start, end, href) spans of its links, for `analyse_article(links=...)`. A minimal reader for
    clean article markup; the extract stage handles real-world pages."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for bad in soup(["script", "style", "noscript", "template", "nav", "footer", "aside"]):
        bad.decompose()
    parts: list[str] = []
    links: list[tuple[int, int, str]] = []
    pos = 0
    for el in soup.find_all(_BLOCKS):
        if el.find_parent(_BLOCKS) is not None:
            continue
        bt = _BlockText()
        bt.walk(el)
        block = "".join(bt.buf)
        lead = len(block) - len(block.lstrip())
        block_s = block.strip()
        if not block_s:
            continue
        if parts:
            pos += 2
        for s, e, h in bt.links:
            links.append((pos + s - lead, pos + e - lead, h))
        parts.append(block_s)
        pos += len(block_s)
    return "\n\n".join(parts), links
