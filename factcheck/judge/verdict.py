"""Verdict rules: verified / unverified / contested, with a confidence, a plain-words rationale and quotes.

The README's Verdicts section says the same. Calling something verified that is not is the costliest error, so
*verified* needs all of: passages (from the cited source, or a report naming it) that state nearly all
of the claim's content words, every checkable anchor found and agreeing, and the attribution consistent.
*contested* needs a passage that clearly addresses the claim and disagrees on an anchor (number, year,
date, negation, rank/direction, who said it). Everything else is *unverified*, with the reason.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from factcheck.judge import reader as entail
from factcheck.judge import semantic
from factcheck.judge.match import (
    Candidate,
    ScoredPassage,
    compare_anchors,
    content_stems,
    evidence_anchors,
    name_found,
    normalise,
    score_passages,
    stem,
    stem_set_all,
)
from factcheck.settings import VERDICT_DEFAULTS
from factcheck.text import gloss
from factcheck.text.anchors import Anchors, TextMemo, extract_anchors, quantities_match
from factcheck.text.display import shorten as _short
from factcheck.text.language import de_or_en, de_or_en_joined
from factcheck.text.passages import sentence_spans

__all__ = ["DEFAULT_SETTINGS", "Judgement", "Quote", "ToJudge", "judge", "judge_many", "prepare", "warm"]

LABELS = ("verified", "unverified", "contested")

# The tuning values live with every other setting (factcheck.settings, group "verdict"), so `factcheck
# config` shows them, factcheck.toml / FACTCHECK_* / flags override them, and a run stores them whole.
# Why they are what they are: support must be local (the best sentence with its neighbours, not words
# scattered over a page); a contradiction must sit in the sentence that tightly states the claim; the
# evidence tied to a claim speaks first (other pages of a shared source once turned false claims into
# "verified": wice-dev verified precision 0.84 -> 0.72); the reader's thresholds were chosen on bench
# half A and checked on half B.
DEFAULT_SETTINGS: dict[str, Any] = dict(VERDICT_DEFAULTS)


@dataclass
class Quote:
    url: str
    snapshot_sha256: str
    quote: str
    start: int
    end: int
    source: str | None
    role: str  # "supports" | "contradicts" | "context"


@dataclass
class Judgement:
    label: str  # "verified" | "unverified" | "contested"
    confidence: float
    rationale: str
    quotes: list[Quote] = field(default_factory=list)
    first_hand: bool | None = None
    signals: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- attribution

# generic speakers a claim or a passage can attribute a statement to
_SPEAKERS: dict[str, str] = {
    "document": r"\b(?:document|documents|memo|memos|internal\s+(?:paper|report)|slide\s+deck|dokument\w*|papier|"
                r"unterlagen|interne[nms]?\s+bericht\w*)\b",
    "recruiters": r"\b(?:recruiter\w*|headhunter\w*|personalvermittler\w*|talent\s+scouts?)\b",
    "analysis": r"\b(?:analysis|analyses|data|study|studie|auswertung|analyse|daten|survey|umfrage)\b",
    "spokesperson": r"\b(?:spokes(?:person|man|woman)|sprecher\w*)\b",
    "executives": r"\b(?:executives?|managers?|führungskräfte|manager)\b",
    "employees": r"\b(?:employees|staff(?:ers)?|workers|mitarbeiter\w*|beschäftigte\w*)\b",
    "sources": r"\b(?:people\s+familiar|sources?\s+familiar|(?<!business\s)insiders?|informed\s+sources?|kreise\w*|insidern)\b",
}
_SPEAKER_RE = {k: re.compile(v, re.IGNORECASE) for k, v in _SPEAKERS.items()}
_REPORTING = re.compile(
    r"\b(?:according\s+to|laut|zufolge|said|says|say|told|tell|reported|reports|report|found|finds|shows?|"
    r"showed|states?|stated|lists?|listed|names?|named|cites?|cited|describes?|described|notes?|noted|"
    r"warns?|warned|argues?|argued|viewed|seen\s+by|obtained\s+by|reviewed\s+by|sagte\w*|sagen|berichte\w*|"
    r"zeigt|zeigen|nennt|nennen|weist|vorliegt|heißt|heisst|schreibt|erklärt\w*|bestätig\w*)\b",
    re.IGNORECASE,
)
_CLAUSE = re.compile(
    r"(?:\b(?:laut|according\s+to)\b[^,.;:]{0,80})|(?:[^,.;:]{0,60}\bzufolge\b)", re.IGNORECASE
)


def speakers(text: str) -> set[str]:
    """Generic speakers named in text (document, recruiters, analysis, ...)."""
    return {k for k, rx in _SPEAKER_RE.items() if rx.search(text)}


def _attribution_clause(text: str) -> str | None:
    low = text.lower()
    if "laut" not in low and "according" not in low and "zufolge" not in low:
        return None  # the clause's words are looked for first: the pattern tries every position of the text
    m = _CLAUSE.search(text)
    return m.group(0) if m else None


def _reported_speakers(passage: str) -> set[str]:
    """Speakers a passage attributes its statement to (only counted when a reporting verb is present)."""
    if not _REPORTING.search(passage):
        return set()
    return speakers(passage)


def _mentions(text: str, name: str) -> bool:
    return name_found(name, normalise(text))


def _naming_source(c: Candidate, cited_names: Sequence[str]) -> str | None:
    """The first cited source a passage (or the text around it) names: support from it is second-hand."""
    return next((n for n in cited_names if _mentions(c.text + " " + (c.context or ""), n)), None)


def _attribution_state(claim_speakers: set[str], ev_speakers: set[str]) -> str | None:
    """"agree"/"disagree" when both the claim and the passage say who said it, else None."""
    if claim_speakers and ev_speakers:
        return "agree" if claim_speakers & ev_speakers else "disagree"
    return None


# ---------------------------------------------------------------- helpers


def _settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    cfg = dict(DEFAULT_SETTINGS)
    if settings:
        cfg.update({k: v for k, v in settings.items() if k in DEFAULT_SETTINGS})
    return cfg


def _merged_claim_anchors(claim_text: str, statement: str | None) -> Anchors:
    """Anchors of the claim: numbers from either text, names and polarity from the (English) statement."""
    a = extract_anchors(claim_text, de_or_en(claim_text))
    if not statement:
        return a
    s = extract_anchors(statement, de_or_en(statement))
    return Anchors(
        quantities=s.quantities or a.quantities,
        years=a.years | s.years,
        dates=a.dates | s.dates,
        names=s.names or a.names,
        negated=s.negated,
        ranks=s.ranks | a.ranks,
    )


def _fmt_date(published: str | None) -> str | None:
    if not published:
        return None
    try:
        d = date.fromisoformat(published[:10])
    except ValueError:
        return published
    return f"{d.day} {d.strftime('%b')} {d.year}"


def _cite(c: Candidate) -> str:
    parts = [c.source or c.url]
    when = _fmt_date(c.published)
    if when:
        parts.append(when)
    parts.append(f"snapshot {c.snapshot_sha256[:4]}…")
    return ", ".join(parts)


_WORDS = {
    "quantities": "number", "years": "year", "dates": "date", "names": "names", "negation": "negation",
    "ranks": "rank/direction", "attribution": "attribution",
}


def _weights(claim_stems: list[list[str]], candidates: Sequence[Candidate]) -> dict[str, float]:
    """Rarity weights of claim stems over the candidate pool: a word every passage has proves little."""
    n = len(candidates)
    wanted = {s for stems in claim_stems for s in stems}
    df = dict.fromkeys(wanted, 0)
    for c in candidates:
        seen = stem_set_all(c.text) & wanted
        for s in seen:
            df[s] += 1
    return {s: 1.0 + math.log((n + 1) / (df[s] + 1)) for s in wanted}


def _coverage(stems: list[str], text: str, weights: Mapping[str, float]) -> float:
    if not stems:
        return 0.0
    have = stem_set_all(text)
    total = sum(weights.get(s, 1.0) for s in stems)
    return sum(weights.get(s, 1.0) for s in stems if s in have) / total


_PRONOUN = re.compile(r"\b(?:he|she|his|her|him|they|their|them|it|its|er|sie|ihr|ihm|ihn|sein|seine)\b",
                      re.IGNORECASE)


def _window(c: Candidate) -> str:
    """The passage with the sentence before and after it (cut from Candidate.context), where a claim's
    second half often is; more than one sentence either side would let scattered words add up."""
    return _WINDOWS.get((c.context or "", c.text), _make_window)


# a passage's window is asked for again and again (its coverage, its anchors, its similarity, by every claim
# that meets the passage): made once per passage text and context
_WINDOWS = TextMemo[str](20_000)


def _make_window(key: tuple[str, str]) -> str:
    ctx, text = key
    at = ctx.find(text)
    if at < 0:
        return text + " " + ctx
    before = sentence_spans(ctx, 0, at)
    after = sentence_spans(ctx, at + len(text))
    parts = [ctx[s:e] for s, e in before[-1:]] + [text] + [ctx[s:e] for s, e in after[:1]]
    return " ".join(parts)


def _name_words(name: str) -> list[str]:
    words = [w for w in re.split(r"[\s-]+", name) if len(w) >= 3]
    return words + [w[:-1] for w in words if w.endswith("s") and len(w) > 4]


def _last_word(name: str) -> str:
    words = name.split()
    return words[-1] if words else name


def _compact_coverage(stems: list[str], text: str, weights: Mapping[str, float]) -> float:
    """Coverage of the claim within the best stretch of text about twice the claim's length."""
    if not stems:
        return 0.0
    toks = [stem(w) for w in normalise(text).split()]
    wanted = set(stems)
    span = max(12, 2 * len(stems) + 4)
    total = sum(weights.get(s, 1.0) for s in stems)
    if len(toks) <= span:
        return sum(weights.get(s, 1.0) for s in wanted & set(toks)) / total
    best = 0.0
    for i in range(0, len(toks) - span + 1):
        got = wanted & set(toks[i : i + span])
        if got:
            best = max(best, sum(weights.get(s, 1.0) for s in got) / total)
    return best


def _states_figures(claim: Anchors, text: str) -> bool:
    own = extract_anchors(text, de_or_en(text), names=False, ranks=False)
    return all(any(quantities_match(q, e) for e in own.quantities) for q in claim.quantities)


def _value_on_page(kind: str, claim: Anchors, page: Anchors) -> bool:
    """The claim's own number/year/date is stated somewhere on the same page."""
    if kind == "years":
        return bool(claim.years) and claim.years <= page.years
    if kind == "dates":
        return bool(claim.dates) and all(any(e.startswith(d) for e in page.dates) for d in claim.dates)
    return bool(claim.quantities) and all(
        any(quantities_match(q, e) for e in page.quantities) for q in claim.quantities
    )


# ---------------------------------------------------------------- judge: gather -> signals -> decide

# What judge() does, as a pipeline. `_gather` reads the claim and ranks its passages; each function in
# SIGNALS works out one thing about them (which passage supports, do the anchors agree, who said it, ...)
# and leaves it on the Reading; the RULES are asked in order, and the first that decides gives the verdict
# with its rationale. A new signal or rule is one more function in a list, not an edit in the middle.


@dataclass
class Reading:
    """One claim and its passages, and everything the signals have found out about them."""

    cfg: dict[str, Any]
    claim_text: str
    statement: str | None
    glossed: str | None
    texts: list[str]  # the claim as written, and its English form when it has one
    cited_names: list[str]
    attribution: str | None
    candidates: list[Candidate]
    claim: Anchors
    stems_per_text: list[list[str]]
    weights: dict[str, float]
    foreign: bool  # a German claim without English wording: similarity counts as coverage
    ranked: list[tuple[float, ScoredPassage]] = field(default_factory=list)
    best: ScoredPassage | None = None
    best_cov: float = 0.0
    support: list[ScoredPassage] = field(default_factory=list)
    support_cov: float = 0.0
    anchor_text: str = ""
    anchor_parts: list[str] = field(default_factory=list)  # anchor_text is these joined by spaces
    page: str = ""
    agreement: dict[str, str] = field(default_factory=dict)  # anchors of the support vs the claim
    best_anchors: Anchors = field(default_factory=Anchors)
    best_agreement: dict[str, str] = field(default_factory=dict)  # anchors of the best sentence alone
    page_anchors: Anchors = field(default_factory=Anchors)
    claim_speakers: set[str] = field(default_factory=set)
    ev_speakers: set[str] = field(default_factory=set)
    second_hand_from: str | None = None
    credible: bool = False
    tight_cov: float = 0.0
    disagreeing: list[str] = field(default_factory=list)  # disagreements strong enough to contest
    any_disagreement: list[str] = field(default_factory=list)  # any at all: they rule out verified
    overruled: list[str] = field(default_factory=list)  # contradictions another strong passage answers
    nli_rows: list[_NliRow] = field(default_factory=list)
    contra: _NliRow | None = None
    nli_support: _NliRow | None = None
    nli_via: str | None = None
    signals: dict[str, Any] = field(default_factory=dict)

    @property
    def best_c(self) -> Candidate:
        assert self.best is not None
        return self.best.candidate

    def sim_cov(self, text: str) -> float:
        if not self.foreign:
            return 0.0
        lo, hi = self.cfg["crosslingual_low"], self.cfg["crosslingual_high"]
        return min(1.0, max(0.0, (semantic.similarities(self.claim_text, [text])[0] - lo) / (hi - lo)))

    def cov(self, text: str) -> float:
        """Coverage of the claim by a text, with the better of its wordings (and, for a German claim
        without English wording, its similarity)."""
        return max(max(_coverage(st, text, self.weights) for st in self.stems_per_text), self.sim_cov(text))

    def wcov(self, c: Candidate) -> float:
        """Coverage by a passage's window; similarity is asked of the passage itself too, since the
        neighbours a window adds dilute a sentence embedding where they add words to a word count."""
        return max(self.cov(_window(c)), self.sim_cov(c.text))

    @property
    def addresses(self) -> bool:
        return self.best_cov >= self.cfg["address_coverage"]

    @property
    def missing(self) -> list[str]:
        return [t for t, v in self.agreement.items() if v == "absent"]

    @property
    def rules_verify(self) -> bool:
        """The rules' verified: the cited source (or a report naming it) states enough of the claim, in
        one place, with every anchor found and none disagreeing anywhere."""
        cfg = self.cfg
        return (self.credible and self.best_cov >= cfg["verify_best_coverage"]
                and self.support_cov >= cfg["verify_coverage"] and not self.missing
                and not self.disagreeing and not self.any_disagreement)


def judge(
    claim_text: str,
    statement: str | None,
    cited: list[str],
    candidates: list[Candidate],
    *,
    attribution: str | None = None,
    settings: Mapping[str, Any] | None = None,
    glossed: str | None = None,
) -> Judgement:
    """Judge one claim against candidate passages (already retrieved) and explain the verdict.

    `glossed`: the claim's word gloss when the caller has made it already (a German claim without
    statement, glossed with the dictionary of `settings`), so it is not made twice."""
    cfg = _settings(settings)
    if not candidates:
        return Judgement(
            "unverified", 0.9,
            "No evidence passage was available for this claim (nothing captured from the cited source).",
            [], None, {"candidates": 0},
        )
    r = _gather(claim_text, statement, cited, candidates, attribution, cfg, glossed)
    for signal in SIGNALS:
        signal(r)
    return _decide(r)


class ToJudge(NamedTuple):
    """One claim for judge_many: judge()'s arguments."""

    claim_text: str
    statement: str | None
    cited: list[str]
    candidates: list[Candidate]
    attribution: str | None = None
    glossed: str | None = None


def judge_many(claims: Sequence[ToJudge], *, settings: Mapping[str, Any] | None = None,
               starting: Callable[[int], None] | None = None) -> list[Judgement]:
    """judge() of each claim, in order, with the same verdicts; with the reader on, the reader reads one
    claim's premises in a second thread while the rules work out the next claims (onnxruntime leaves
    Python's lock while it runs), so on two cores the reader costs little more than the rules alone.

    `starting(i)`: called as claim i's judging starts (a caller warming claims in another thread skips
    those the judging has reached, see warm)."""
    cfg = _settings(settings)

    def alone(i: int, c: ToJudge) -> Judgement:
        if starting is not None:
            starting(i)
        return judge(c.claim_text, c.statement, c.cited, c.candidates, attribution=c.attribution,
                     settings=settings, glossed=c.glossed)

    if len(claims) < 2 or not entail.enabled(cfg["nli"], cfg["nli_model"] or None):
        return [alone(i, c) for i, c in enumerate(claims)]
    at = SIGNALS.index(_reader)
    folder = cfg["nli_model"] or None
    pending: list[Judgement | tuple[Reading, list[_NliRow], Future[list[entail.Scores]] | None]] = []
    with ThreadPoolExecutor(1, thread_name_prefix="reader") as pool:
        for i, c in enumerate(claims):
            if not c.candidates:
                pending.append(alone(i, c))
                continue
            if starting is not None:
                starting(i)
            r = _gather(c.claim_text, c.statement, c.cited, c.candidates, c.attribution, cfg, c.glossed)
            for signal in SIGNALS[:at]:
                signal(r)
            rows = _reader_rows(r)
            pending.append((r, rows, pool.submit(entail.score, _reader_pairs(r, rows), folder=folder)
                            if rows else None))
        out = []
        for p in pending:
            if isinstance(p, Judgement):
                out.append(p)
                continue
            r, rows, scores = p
            _reader_decides(r, rows, scores.result() if scores is not None else [])
            for signal in SIGNALS[at + 1 :]:
                signal(r)
            out.append(_decide(r))
    return out


def warm(claims: Sequence[ToJudge], *, settings: Mapping[str, Any] | None = None,
         skip: Callable[[int], bool] | None = None) -> None:
    """Ask now what judging these claims will ask of the sentence encoder. A caller that judges in one
    thread calls it in another (desk.verify): the encoder's arithmetic (numpy, which leaves Python's lock
    while it multiplies) then runs beside the rules instead of between them. Verdicts are unchanged: the
    encoder's answers are kept by text (semantic.embed, which also waits for a text being encoded rather
    than encode it twice), as is the rest of _gather's work. `skip(i)`: asked before claim i; true leaves
    it out (the judging has reached it already)."""
    cfg = _settings(settings)
    read: list[tuple[Reading, list[ScoredPassage]]] = []
    for i, c in enumerate(claims):
        if skip is not None and skip(i):
            continue
        statement = c.statement if c.statement and c.statement.strip() else None
        if c.candidates and _across_languages(c.claim_text, statement, cfg):
            read.append(_read_claim(c.claim_text, c.statement, c.cited, c.candidates, c.attribution, cfg, c.glossed))
    # each of _gather's two asks, for all of the claims at once: a few large calls of the encoder instead of
    # two small ones a claim (each numpy step of a call lets go of Python's lock, and winning it back from
    # the judging thread is what a small call spends most of its time on)
    if read:
        semantic.embed([t for r, scored in read for t in _passage_texts(r, scored)])
        for r, scored in read:
            _rank(r, scored)
        semantic.embed([t for r, _scored in read for t in _window_texts(r)])


def _decide(r: Reading) -> Judgement:
    """The first rule that decides gives the verdict."""
    for rule in RULES:
        j = rule(r)
        if j is not None:
            return j
    raise AssertionError("the last rule always decides")


def _german(claim_text: str, statement: str | None) -> bool:
    """A German claim with no English wording (`statement`: None when blank)."""
    return statement is None and de_or_en(claim_text) == "de"


def _across_languages(claim_text: str, statement: str | None, cfg: Mapping[str, Any]) -> bool:
    """Whether the claim is read across languages (sentence similarity counts as coverage, see _gather)."""
    return _german(claim_text, statement) and bool(cfg["crosslingual"]) and semantic.available()


def prepare(claims: Sequence[tuple[str, str | None]], *, settings: Mapping[str, Any] | None = None) -> None:
    """Before judging (claim text, statement) pairs: the sentence encoder starts loading in the background
    when one of them will need it, so the load overlaps the caller's retrieval (semantic.preload)."""
    cfg = _settings(settings)
    if semantic.enabled(bool(cfg["semantic"])) or any(
            _across_languages(text, st if st and st.strip() else None, cfg) for text, st in claims):
        semantic.preload()


def _gather(claim_text: str, statement: str | None, cited: list[str], candidates: list[Candidate],
            attribution: str | None, cfg: dict[str, Any], given_gloss: str | None = None) -> Reading:
    """The claim's wordings and anchors, and its passages ranked by how much of it each states."""
    r, scored = _read_claim(claim_text, statement, cited, candidates, attribution, cfg, given_gloss)
    if r.foreign:
        semantic.embed(_passage_texts(r, scored))
    _rank(r, scored)
    if r.foreign:
        semantic.embed(_window_texts(r))
    return r


def _read_claim(claim_text: str, statement: str | None, cited: list[str], candidates: list[Candidate],
                attribution: str | None, cfg: dict[str, Any],
                given_gloss: str | None = None) -> tuple[Reading, list[ScoredPassage]]:
    """_gather up to the ranking, which asks the sentence encoder when the claim is read across
    languages: the Reading and its passages scored word for word."""
    statement = statement if statement and statement.strip() else None
    german = _german(claim_text, statement)
    glossed = None
    if german and cfg["gloss"]:
        glossed = given_gloss if given_gloss is not None else gloss.gloss(claim_text, cfg["gloss_dictionary"])
    reading = statement or glossed  # the claim's English form, when it has one
    texts = [claim_text] + ([reading] if reading else [])
    # The evidence the case ties to the claim speaks for it. Passages retrieved from elsewhere on the desk
    # (other pages of the same source, other claims' evidence) are consulted only when nothing is tied:
    # letting them support a claim whose own evidence does not is how unrelated pages of a shared source
    # turned false claims into "verified" (wice-dev through the desk: verified precision 0.84 -> 0.72).
    tied = [c for c in candidates if c.tied]
    if tied and cfg["tied_first"]:
        candidates = tied
    claim = _merged_claim_anchors(claim_text, statement)
    # who is cited is checked as attribution and credibility; the cited outlets' names are not part of
    # what the claim says ("Laut Bloomberg hat Oracle …": Oracle is a name to find, Bloomberg is not)
    said_by = normalise(" ".join([*cited, attribution or ""]))
    claim = dataclasses.replace(claim, names={n for n in claim.names if not name_found(n, said_by)})
    stems_per_text = [content_stems(t) for t in texts]
    # A German claim with no English wording meets English passages that share none of its words, and
    # its gloss shares only some: there, how close the passage is in meaning (multilingual sentence
    # similarity, scaled onto the coverage scale by the crosslingual_low/high settings) also counts as
    # coverage. It decides only which passage addresses the claim; the anchors still decide the label.
    foreign = _across_languages(claim_text, statement, cfg)
    r = Reading(cfg, claim_text, statement, glossed, texts, [c for c in cited if c], attribution, candidates,
                claim, stems_per_text, _weights(stems_per_text, candidates), foreign)
    # (the verdict reads neither the returned passages' anchor agreement nor their matched words)
    return r, score_passages(texts, candidates, top_k=max(cfg["top_k"], cfg["support_passages"]), details=False)


def _passage_texts(r: Reading, scored: list[ScoredPassage]) -> list[str]:
    """What ranking a foreign claim's passages embeds: similarity is only ever asked of the ranked passages
    and their windows (the ranking itself is lexical): embedding every candidate was most of its cost."""
    return [r.claim_text, *(s.candidate.text for s in scored)]


def _rank(r: Reading, scored: list[ScoredPassage]) -> None:
    r.ranked = sorted(((r.cov(s.candidate.text), s) for s in scored), key=lambda t: (-t[0], -t[1].score))
    r.best_cov, r.best = r.ranked[0]


def _window_texts(r: Reading) -> list[str]:
    """The windows _support weighs (of a foreign claim's ranked passages)."""
    return [r.claim_text, *(_window(s.candidate) for c, s in r.ranked
                            if c >= r.cfg["address_coverage"] / 2 or s is r.best)]


# ---------------------------------------------------------------- signals


def _support(r: Reading) -> None:
    """Which passage supports the claim, how much of it the support states, and the text whose anchors
    are compared."""
    cfg, ranked = r.cfg, r.ranked
    if cfg["support_mode"] != "window":
        r.support = [s for c, s in ranked[: cfg["support_passages"]]
                     if c >= cfg["address_coverage"] / 2 or s is r.best]
        r.support_cov = r.cov(" ".join(s.candidate.text for s in r.support))
        r.anchor_parts = [_window(s.candidate) for s in r.support]
        r.anchor_text = " ".join(r.anchor_parts)
        return
    # support is local: the best sentence with its neighbours (a claim often spans two sentences, and the
    # second says "he" or "the club"); sentences scattered over the page do not add up to support
    windowed = [(r.wcov(s.candidate), c, s) for c, s in ranked if c >= cfg["address_coverage"] / 2]
    windowed.sort(key=lambda t: (-t[0], -t[1]))
    if windowed and windowed[0][0] > r.wcov(r.best_c) and windowed[0][1] >= cfg["verify_best_coverage"]:
        r.support_cov, r.best_cov, r.best = windowed[0]
    else:
        r.support_cov = r.wcov(r.best_c)
    if r.claim.quantities and not _states_figures(r.claim, r.best_c.text):
        # the quote should be the sentence that carries the claim's figures when a neighbour of the
        # best sentence does ("The company intends to create 1,200 new jobs" beside the sentence
        # that names the plant): same window, but the reader is shown the number
        for wc, c, s in windowed:
            if s is not r.best and _states_figures(r.claim, s.candidate.text) and wc >= cfg["verify_coverage"] \
                    and c >= cfg["verify_best_coverage"]:
                r.support_cov, r.best_cov, r.best = wc, c, s
                break
    r.support = [r.best]
    r.anchor_parts = [_window(r.best_c)]
    if cfg["anchors_scope"] == "top":
        # anchors (names, numbers, years) may be confirmed by the other passages that address the claim
        # (none: the window and a space, as it always was)
        r.anchor_parts += [_window(s.candidate) for c, s in ranked[: cfg["support_passages"]]
                           if c >= cfg["address_coverage"] / 2 and s is not r.best] or [""]
    r.anchor_text = " ".join(r.anchor_parts)


def _anchors(r: Reading) -> None:
    """Numbers, years, dates, names, negation and ranks of the claim against the support and against the
    best sentence alone (negation and ranks: context would blur polarity)."""
    claim, cfg = r.claim, r.cfg
    # the support's and the page's negation are never read (the best sentence's is, below; the page's
    # agreement is a signal without it), and their language comes from their parts' counts
    ev_anchors = evidence_anchors(r.anchor_text, claim, language=de_or_en_joined(r.anchor_parts), negation=False)
    r.agreement = agreement = compare_anchors(claim, ev_anchors, r.anchor_text)
    page_parts = [c.text for c in r.candidates if c.snapshot_sha256 == r.best_c.snapshot_sha256]
    r.page = page = " ".join(page_parts)
    if agreement.get("names") == "absent" and claim.names:
        folded_page, folded_window = normalise(page), normalise(r.anchor_text)
        scope = cfg["names_scope"]
        if scope == "snapshot" or (scope == "pronoun" and _PRONOUN.search(r.anchor_text)):
            found = all(name_found(n, folded_page) for n in claim.names)
        else:
            found = False
        if scope == "pronoun" and not found:
            # "Richard Amardi" on the page and "Amardi" in the window: the window names him
            found = all(name_found(n, folded_window) or (name_found(n, folded_page) and
                                                         name_found(_last_word(n), folded_window))
                        for n in claim.names)
        if not found and r.foreign:
            # German capitalises nouns, so a German "name" may be a name and a noun ("Amazons Angebote"):
            # it is found when one of its words (without a genitive s) is in the window
            found = all(any(name_found(w, folded_window) for w in _name_words(n)) for n in claim.names)
        if found:
            agreement["names"] = "agree"
    r.best_anchors = evidence_anchors(r.best_c.text, claim)
    r.best_agreement = compare_anchors(claim, r.best_anchors, r.best_c.text)
    agreement["negation"] = r.best_agreement["negation"]
    if "ranks" in r.best_agreement:
        agreement["ranks"] = r.best_agreement["ranks"] if r.best_agreement["ranks"] != "absent" else agreement.get(
            "ranks", "absent"
        )
    r.page_anchors = evidence_anchors(page, claim, language=de_or_en_joined(page_parts), negation=False) \
        if page else Anchors()


def _who_said_it(r: Reading) -> None:
    """Attribution (who the claim says said it vs who the passage says said it), and whether the support
    is first-hand (the cited source) or second-hand (a passage naming it)."""
    # every way the claim says who said it: the citation's phrase and the "laut …" clause in its text
    # ("Laut dem internen Bericht …, schreibt die Harbor Times": the document is who said it)
    clauses = [r.attribution, _attribution_clause(r.claim_text),
               _attribution_clause(r.statement) if r.statement else None]
    r.claim_speakers = set().union(*(speakers(c) for c in clauses if c))
    r.ev_speakers = _reported_speakers(r.best_c.text)
    state = _attribution_state(r.claim_speakers, r.ev_speakers)
    if state:
        r.agreement["attribution"] = state
        r.best_agreement["attribution"] = state
    r.second_hand_from = None if r.best_c.cited else _naming_source(r.best_c, r.cited_names)
    r.credible = r.best_c.cited or r.second_hand_from is not None


def _tightness(r: Reading) -> None:
    """How tightly the best sentence states the claim: its content words close together, not scattered
    over a long block of page furniture."""
    r.tight_cov = max(max(_compact_coverage(st, r.best_c.text, r.weights) for st in r.stems_per_text),
                      r.sim_cov(r.best_c.text))


def _disagreements(r: Reading) -> None:
    """Which disagreements contest the claim, and which only rule out verified. A contradiction must be
    in the sentence that states the claim (a year or number elsewhere on the page, or in the neighbouring
    text, is not one), that sentence must state the claim tightly, and the claim's own value must not be
    stated anywhere on the page."""
    cfg, claim = r.cfg, r.claim
    # the claim's own number, year or date stated somewhere on the quoted page: the page disagrees with
    # itself, which neither contests the claim nor keeps a quote from it
    page_states_claims = {t: t in ("quantities", "years", "dates") and _value_on_page(t, claim, r.page_anchors)
                          for t in {*cfg["contest_on"], *r.best_agreement}}
    r.disagreeing = [
        t for t in cfg["contest_on"]
        if r.best_agreement.get(t) == "disagree"
        and r.tight_cov >= cfg["contest_coverage"]
        and (t not in cfg["strict_contest_types"] or r.tight_cov >= cfg["strict_contest_coverage"])
        and not page_states_claims[t]
    ]
    # a disagreement only counts when no other strong passage states the claim's anchor correctly
    if r.disagreeing:
        for _c, s in r.ranked:
            if _c < cfg["address_coverage"] or s is r.best:
                continue
            other = compare_anchors(claim, evidence_anchors(s.candidate.text, claim), s.candidate.text)
            kept = [t for t in r.disagreeing if other.get(t) != "agree" or t == "attribution"]
            r.overruled += [t for t in r.disagreeing if t not in kept]
            r.disagreeing = kept
    # any disagreement, strong or loose, rules out "verified" (a distorted number, a wrong attribution or a
    # negation must never end verified): in the support and its neighbours, and in the quoted sentence
    # itself when its page does not state the claim's value anywhere (another page of the source saying
    # 2020 does not make a quote that says 2019 support a claim's 2020; "this year, after 2018" beside a
    # heading that says 2019 does)
    window = [t for t, v in r.agreement.items() if v == "disagree"]
    r.any_disagreement = window + [
        t for t, v in r.best_agreement.items() if v == "disagree" and t not in window and not page_states_claims[t]
    ]


def _reader(r: Reading) -> None:
    """The reader (entailment model) reads the best passages: a contradiction of a passage that states
    a good part of the claim, or support that the anchors allow (see _nli_support_ok)."""
    rows = _reader_rows(r)
    _reader_decides(r, rows, entail.score(_reader_pairs(r, rows), folder=r.cfg["nli_model"] or None) if rows else [])


def _reader_rows(r: Reading) -> list[_NliRow]:
    """The premises the reader is to read for this claim (none when it is off, or cannot change the verdict)."""
    cfg = r.cfg
    if not entail.enabled(cfg["nli"], cfg["nli_model"] or None):
        return []
    if r.addresses and r.disagreeing:
        return []  # the anchors contest it, whatever the reader says (see _reader_contradicts)
    rows = _premises(r.ranked, r.cov, cfg["nli_windows"], cfg["nli_premise"])
    return [x for x in rows if _worth_reading(r, x)]


def _reader_pairs(r: Reading, rows: Sequence[_NliRow]) -> list[tuple[str, str]]:
    """(premise, hypothesis) of each row: the claim's English statement or gloss when it has one."""
    english = r.statement or r.glossed
    hypothesis = english if english and english.strip() else r.claim_text
    return [(x.premise, hypothesis) for x in rows]


def _reader_decides(r: Reading, rows: list[_NliRow], scores: Sequence[entail.Scores]) -> None:
    """What the reader's scores of the rows it read say: contested, supported, or nothing."""
    cfg = r.cfg
    for x, sc in zip(rows, scores, strict=True):
        x.scores = sc
    r.nli_rows = rows
    contra = max((x for x in r.nli_rows if x.coverage >= cfg["nli_contest_coverage"]),
                 key=lambda x: x.scores.contradiction, default=None)
    r.contra = contra if contra is not None and contra.scores.contradiction >= cfg["nli_contradict"] else None
    if r.contra is None:
        for x in sorted(r.nli_rows, key=lambda x: -x.scores.entailment):
            if x.scores.entailment < cfg["nli_support"]:
                break
            ok, via = _nli_support_ok(x, r.claim, r.claim_speakers, r.cited_names)
            if ok:
                r.nli_support, r.nli_via = x, via
                break


def _worth_reading(r: Reading, row: _NliRow) -> bool:
    """Whether the reader's view of a premise can change the verdict, so it is worth running the model on:
    a premise that states enough of the claim to contest it, or, where the rules do not verify, one from
    which _nli_support_ok would let the reader verify. Any other premise is left unread: the reader's
    scores of it could never be used."""
    if row.coverage >= r.cfg["nli_contest_coverage"]:
        return True
    return not r.rules_verify and _nli_support_ok(row, r.claim, r.claim_speakers, r.cited_names)[0]


def _record(r: Reading) -> None:
    """What a reviewer sees of the signals, stored with the verdict."""
    r.signals = {
        "candidates": len(r.candidates),
        "best_score": round(r.best.score if r.best else 0.0, 3),
        "best_coverage": round(r.best_cov, 3),
        "tight_coverage": round(r.tight_cov, 3),
        "support_coverage": round(r.support_cov, 3),
        "anchors": dict(r.agreement),
        "claim_speakers": sorted(r.claim_speakers),
        "evidence_speakers": sorted(r.ev_speakers),
        "second_hand_from": r.second_hand_from,
        "credible": r.credible,
    }
    if r.glossed:
        r.signals["gloss"] = r.glossed
    if r.foreign:
        r.signals["crosslingual_similarity"] = round(semantic.similarities(r.claim_text, [r.best_c.text])[0], 3)
    if semantic.enabled(bool(r.cfg["semantic"])):
        r.signals["semantic_similarity"] = round(semantic.similarities(r.texts[-1], [_window(r.best_c)])[0], 3)
    page_agreement = compare_anchors(r.claim, r.page_anchors, r.page)
    r.signals["page_anchors"] = {k: v for k, v in page_agreement.items() if k != "negation"}
    if r.nli_rows:
        r.signals["nli"] = [{"start": x.passage.candidate.start, "coverage": round(x.coverage, 3),
                             "entailment": round(x.scores.entailment, 3),
                             "contradiction": round(x.scores.contradiction, 3)} for x in r.nli_rows]


SIGNALS: list[Callable[[Reading], None]] = [_support, _anchors, _who_said_it, _tightness, _disagreements,
                                            _reader, _record]


# ---------------------------------------------------------------- rules


def _quote(s: ScoredPassage, role: str) -> Quote:
    c = s.candidate
    return Quote(c.url, c.snapshot_sha256, c.text, c.start, c.end, c.source, role)


def _reader_contradicts(r: Reading) -> Judgement | None:
    if r.contra is None or (r.addresses and r.disagreeing):
        return None
    conf = round(min(0.95, 0.5 + 0.45 * r.contra.scores.contradiction), 2)
    c = r.contra.passage.candidate
    rationale = (f"{_cite(c)}: '{_short(c.text)}' — the entailment model reads this passage as contradicting "
                 f"the claim (p {r.contra.scores.contradiction:.2f}); check it against the claim's wording.")
    return Judgement("contested", conf, rationale, [_quote(r.contra.passage, "contradicts")], None, r.signals)


def _anchors_contradict(r: Reading) -> Judgement | None:
    if not (r.addresses and r.disagreeing):
        return None
    assert r.best is not None
    conf = round(min(0.95, 0.5 + 0.4 * r.best_cov), 2)
    what = ", ".join(_WORDS[t] for t in r.disagreeing)
    detail = _disagreement_detail(r.disagreeing, r.claim, r.best_anchors, r.claim_speakers, r.ev_speakers)
    r.signals["differs"] = _differing_values(r.disagreeing, r.claim, r.best_anchors)
    rationale = (
        f"{_cite(r.best_c)}: '{_short(r.best_c.text)}' — addresses the claim but disagrees on {what}"
        f"{': ' + detail if detail else ''}."
    )
    return Judgement("contested", conf, rationale, [_quote(r.best, "contradicts")], None, r.signals)


def _reader_supports(r: Reading) -> Judgement | None:
    if r.rules_verify or r.nli_support is None:
        return None
    c = r.nli_support.passage.candidate
    agree = r.nli_support.agreement
    agreeing_n = [_WORDS[t] for t, v in agree.items() if v == "agree" and t != "negation"]
    parts = [f"the entailment model reads it as stating the claim (p {r.nli_support.scores.entailment:.2f})"]
    if agreeing_n:
        parts.append(", ".join(agreeing_n) + " agree")
    parts.append(f"reported second-hand from {r.nli_via}" if r.nli_via else "first-hand from the cited source")
    conf = round(min(0.95, 0.4 + 0.5 * r.nli_support.scores.entailment), 2)
    rationale = f"{_cite(c)}: '{_short(c.text)}' — {'; '.join(parts)}."
    r.signals["verified_by"] = "entailment"
    return Judgement("verified", conf, rationale, [_quote(r.nli_support.passage, "supports")], r.nli_via is None,
                     r.signals)


def _rules_support(r: Reading) -> Judgement | None:
    if not r.rules_verify:
        return None
    assert r.best is not None
    conf = round(min(0.97, 0.45 + 0.5 * r.support_cov), 2)
    agreeing = [_WORDS[t] for t, v in r.agreement.items() if v == "agree" and t != "negation"]
    joined = ", ".join(agreeing[:-1]) + " and " + agreeing[-1] if len(agreeing) > 1 else "".join(agreeing)
    parts = [f"{joined} agree" if agreeing else "states the claim"]
    if r.second_hand_from:
        parts.append(f"reported second-hand from {r.second_hand_from}")
    elif r.best_c.cited:
        parts.append("first-hand from the cited source")
    if r.foreign:
        parts.append(f"read across languages (similarity {r.signals['crosslingual_similarity']:.2f})")
    quotes = [_quote(r.best, "supports")] + [_quote(s, "supports") for s in r.support if s is not r.best]
    extra = ""
    if len(quotes) > 1:
        extra = " (with the next passage: '" + _short(quotes[1].quote, 120) + "')"
    rationale = f"{_cite(r.best_c)}: '{_short(r.best_c.text)}'{extra} — {'; '.join(parts)}."
    return Judgement("verified", conf, rationale, quotes, r.second_hand_from is None, r.signals)


_LANGUAGE = {"de": "German", "en": "English"}


def _unverified(r: Reading) -> Judgement:
    """Everything else, saying what is missing."""
    assert r.best is not None
    cfg = r.cfg
    reasons = []
    if r.best_cov < cfg["address_coverage"]:
        reasons.append(f"no passage states the claim (best covers {r.best_cov:.0%} of its content words)")
    elif r.support_cov < cfg["verify_coverage"] or r.best_cov < cfg["verify_best_coverage"]:
        reasons.append(f"only part of the claim is stated ({r.support_cov:.0%} of its content words)")
    if r.missing:
        reasons.append(f"{', '.join(_WORDS[t] for t in r.missing)} not found in the evidence")
    if not r.credible:
        reasons.append("the passage is not from the cited source and does not name it" if r.cited_names
                       else "the claim cites no source")
    if r.overruled:
        reasons.append(f"{', '.join(_WORDS[t] for t in r.overruled)} differ in the passage that states the claim, "
                       "but another passage that addresses it states the claim's")
    loose = [t for t in r.any_disagreement if t not in r.disagreeing and t not in r.overruled]
    if loose:
        reasons.append(f"{', '.join(_WORDS[t] for t in loose)} differ, but not in a passage that states the claim")
    if not reasons:
        reasons.append("the evidence does not settle it")
    if r.statement is None:
        claim_lang, page_lang = de_or_en(r.claim_text), de_or_en(r.best_c.text)
        if claim_lang != page_lang:
            reasons.append(f"the claim is in {_LANGUAGE[claim_lang]} and the evidence in {_LANGUAGE[page_lang]}: "
                           f"a restatement in {_LANGUAGE[page_lang]} (claims edit --statement) would let the "
                           "judge read it word for word")
    conf = round(min(0.9, 0.5 + 0.4 * (1 - r.best_cov)), 2)
    rationale = f"Closest: {_cite(r.best_c)}: '{_short(r.best_c.text, 160)}' — " + "; ".join(reasons) + "."
    return Judgement("unverified", conf, rationale, [_quote(r.best, "context")], None, r.signals)


RULES: list[Callable[[Reading], Judgement | None]] = [
    _reader_contradicts, _anchors_contradict, _reader_supports, _rules_support, _unverified,
]


@dataclass
class _NliRow:
    passage: ScoredPassage
    premise: str  # what the model read: the passage, or its window
    coverage: float
    scores: entail.Scores
    agreement: dict[str, str] = field(default_factory=dict)  # anchors of premise vs claim, once checked


def _premises(ranked: Sequence[tuple[float, ScoredPassage]], cov: Any, limit: int, premise: str) -> list[_NliRow]:
    """The best passages by coverage as premises for the reader (not yet read): their windows, the passages
    alone, or both."""
    rows: list[_NliRow] = []
    seen: set[str] = set()
    taken = 0
    for _c, s in ranked:
        texts = {"window": [_window(s.candidate)], "passage": [s.candidate.text],
                 "both": [_window(s.candidate), s.candidate.text]}[premise]
        fresh = [t for t in dict.fromkeys(texts) if t not in seen]
        if not fresh:
            continue
        for t in fresh:
            seen.add(t)
            rows.append(_NliRow(s, t, cov(t), entail.Scores(0.0, 0.0, 0.0)))
        taken += 1
        if taken >= limit:
            break
    return rows


def _nli_support_ok(row: _NliRow, claim: Anchors, claim_speakers: set[str],
                    cited_names: Sequence[str]) -> tuple[bool, str | None]:
    """Whether a premise the model reads as entailing the claim may verify it: from the cited source (or
    naming it), no anchor disagreeing, and every number, year and date of the claim in the premise (the
    model is not trusted with figures it cannot see). Returns (ok, second-hand source)."""
    c = row.passage.candidate
    via = None
    if not c.cited:
        via = _naming_source(c, cited_names)
        if via is None:
            return False, None
    ev = evidence_anchors(row.premise, claim)
    row.agreement = compare_anchors(claim, ev, row.premise)
    if any(v == "disagree" for v in row.agreement.values()):
        return False, via
    if any(row.agreement.get(t) == "absent" for t in ("quantities", "years", "dates")):
        return False, via
    if _attribution_state(claim_speakers, _reported_speakers(c.text)) == "disagree":
        return False, via
    return True, via


def _disagreement_detail(
    types: list[str], claim: Anchors, ev: Anchors, claim_speakers: set[str], ev_speakers: set[str]
) -> str:
    bits = []
    if "quantities" in types and claim.quantities and ev.quantities:
        bits.append(f"claim {_q(claim.quantities[0])} vs evidence {', '.join(_q(q) for q in ev.quantities[:3])}")
    if "years" in types:
        bits.append(f"claim {sorted(claim.years)} vs evidence {sorted(ev.years)}")
    if "attribution" in types:
        bits.append(f"claim attributes it to {', '.join(sorted(claim_speakers))}, "
                    f"the evidence to {', '.join(sorted(ev_speakers))}")
    if "negation" in types:
        bits.append("one states it, the other denies it")
    if "ranks" in types:
        bits.append(f"claim {', '.join(sorted(claim.ranks))} vs evidence {', '.join(sorted(ev.ranks)) or 'none'}")
    return "; ".join(bits)


def _differing_values(types: list[str], claim: Anchors, ev: Anchors) -> list[str]:
    """The evidence's numbers and years that the claim's disagree with, as digits, so a report can mark them
    in the quote (the claim's 45 against the page's 61)."""
    out: set[str] = set()
    if "quantities" in types:
        mine = {q.value for q in claim.quantities}
        out |= {_digits(q.value) for q in ev.quantities if q.value not in mine}
    if "years" in types:
        out |= {str(y) for y in ev.years - claim.years}
    return sorted(out)


def _digits(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _q(q: Any) -> str:
    qual = {"more_than": "more than ", "less_than": "less than ", "about": "about ", "at_least": "at least ",
            "at_most": "at most "}.get(q.qualifier or "", "")
    v = int(q.value) if float(q.value).is_integer() else q.value
    return f"{qual}{v}{' ' + q.unit if q.unit else ''}"
