"""Score candidate passages for one claim: how much of the claim each passage states, and whether its
anchors (numbers, years, dates, names, negation, ranks) agree.

Retrieval (which passages are candidates) lives elsewhere; this module only ranks what it is given.
The claim's text and its English `statement` are both scored and the better one counts, so a German
claim can be matched against English sources.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from factcheck.text.anchors import (
    RANK_FAMILIES,
    Anchors,
    TextMemo,
    extract_anchors,
    fold,
    quantities_match,
)
from factcheck.text.language import de_or_en

__all__ = [
    "Candidate",
    "ScoredPassage",
    "compare_anchors",
    "content_stems",
    "normalise",
    "score_passages",
]


@dataclass
class Candidate:
    """A passage that might speak to a claim, with where it came from."""

    passage_id: int | None
    text: str
    start: int
    end: int
    snapshot_sha256: str
    url: str
    source: str | None = None  # name of the source the snapshot belongs to
    tied: bool = False  # evidence tied to the claim in the case file
    cited: bool = False  # the snapshot belongs to a source the claim cites
    published: str | None = None
    context: str | None = None  # surrounding text (neighbouring sentences), optional


@dataclass
class ScoredPassage:
    candidate: Candidate
    score: float  # 0..1 relevance
    anchor_agreement: dict[str, str]  # anchor type -> "agree" / "disagree" / "absent"
    matched_terms: list[str] = field(default_factory=list)
    coverage: float = 0.0  # share of the claim's content words this passage states
    text_index: int = 0  # which claim text (0 = text, 1 = statement) matched best


STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for from with without into onto over under about as is are
    was were be been being has have had do does did this that these those it its it's he she they them his
    her their our we you i me my your there here which who whom whose what when where why how than then so
    such also only just very can could would should will shall may might must not no nor all any both each
    few more most other some own same too s t also after before during while since until up down out off
    again further once one said says say according reported report reports per via
    der die das den dem des ein eine einer eines einem einen und oder aber wenn als wie im in am an auf aus
    bei mit nach von vom zu zum zur ist sind war waren wird werden wurde wurden hat haben hatte sein seine
    ihr ihre es er sie wir man sich nicht kein keine auch noch nur schon sehr so dass daß laut zufolge
    über ueber unter für fuer durch gegen ohne um bis seit dies diese dieser dieses jener""".split()
)

_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "s", "ly",
             "en", "e")


# Passages are read again and again (every claim of an article meets the same pages), so what is derived
# from a passage's text alone is kept per text.
NORMALISED = TextMemo[str]()
_STEMS = TextMemo[tuple[frozenset[str], frozenset[str]]]()  # text -> (stems of its content words, of all)
_DIGIT_SEP = re.compile(r"(?<=\d)[.,](?=\d)")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _normalise(text: str) -> str:
    t = fold(text)
    t = _DIGIT_SEP.sub("", t)
    return _NON_ALNUM.sub(" ", t).strip()


def normalise(text: str) -> str:
    """Folded, punctuation-free, single-spaced text: the form every fuzzy comparison uses."""
    return NORMALISED.get(text, _normalise_or_kept)


def _normalise_or_kept(text: str) -> str:
    kept = _kept(text)
    return kept[1] if kept is not None else _normalise(text)


@functools.lru_cache(maxsize=1 << 18)
def stem(word: str) -> str:
    """A crude, language-agnostic stem: strip one common suffix, cap the length (cheap and predictable)."""
    if word.isdigit() or len(word) <= 4:
        return word
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 4:
            word = word[: -len(suf)] + ("y" if suf in ("ies", "ied") else "")
            break
    if word.endswith("y") and len(word) > 4:
        word = word[:-1] + "i"  # county / counties, study / studied
    return word[:7]


def content_stems(text: str) -> list[str]:
    """Distinct stems of the content words of text, in order of appearance."""
    seen: dict[str, None] = {}
    for w in normalise(text).split():
        if w in STOPWORDS or (len(w) < 2 and not w.isdigit()):
            continue
        seen.setdefault(stem(w), None)
    return list(seen)


def _stem_set(text: str) -> frozenset[str]:
    """Stems of text's words other than stopwords."""
    return _STEMS.get(text, _stem_sets)[0]


def stem_set_all(text: str) -> frozenset[str]:
    """Stems of all of text's words."""
    return _STEMS.get(text, _stem_sets)[1]


def _stem_sets(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """Both stem sets of a text, each distinct word stemmed once (every passage is asked for both)."""
    kept = _kept(text)
    if kept is not None:
        content = frozenset(kept[2].split())
        return content, content.union(kept[3].split())
    return _stems_of_normalised(normalise(text))


def _stems_of_normalised(folded: str) -> tuple[frozenset[str], frozenset[str]]:
    words = set(folded.split())
    content = frozenset(map(stem, words - STOPWORDS))
    return content, content.union(map(stem, words & STOPWORDS))


# ---------------------------------------------------------------- features kept with each passage

# What judging reads of a passage's text alone (its normalised form and its two stem sets) is worked out when
# the passage is stored and kept beside it (column passage.features), so verify reads it instead of working
# it out for every claim that meets the passage. The version names the way they are made: change normalise,
# stem or STOPWORDS and it must change (tests/test_passage_terms.py pins it), so features kept by an older
# version are never read (they are worked out again, as for a passage stored without any).
FEATURES_VERSION = "1"
_FEATURE_SEP = "\x1f"


def passage_features(text: str) -> str:
    """A passage's features as stored: version, normalised text, content stems, the other stems."""
    folded = _normalise(text)
    content, every = _stems_of_normalised(folded)
    return _FEATURE_SEP.join((FEATURES_VERSION, folded, " ".join(sorted(content)), " ".join(sorted(every - content))))


# features read with passages, by text, until judging asks for them (parsed then, once: a passage read is
# not always a passage judging looks at closely)
_KEPT = TextMemo[str](100_000)


def remember(text: str, features: str | None) -> None:
    """Take a passage's stored features as what normalise and the stem sets make of its text (as if worked
    out here, when judging first asks); features of another version are never read (see _kept)."""
    if features:
        _KEPT.put(text, features)


def _kept(text: str) -> list[str] | None:
    features = _KEPT.data.get(text)
    if features is None:
        return None
    parts = features.split(_FEATURE_SEP)
    return parts if len(parts) == 4 and parts[0] == FEATURES_VERSION else None


def name_found(name: str, folded_text: str) -> bool:
    """Every significant word of a name appears as a word in the (normalised) text."""
    words = [w for w in normalise(name).split() if w not in STOPWORDS]
    return bool(words) and all(re.search(r"\b" + re.escape(w) + r"\b", folded_text) for w in words)


def _overall(states: Iterable[str]) -> str:
    states = list(states)
    if not states:
        return "absent"
    if "disagree" in states:
        return "disagree"
    if all(s == "agree" for s in states):
        return "agree"
    return "absent"


def compare_anchors(claim: Anchors, evidence: Anchors, evidence_text: str) -> dict[str, str]:
    """Per anchor type: 'agree' when every claim anchor of that type is in the evidence, 'disagree' when
    the evidence states a different value of the same kind instead, 'absent' otherwise (or no anchor).

    Types without anchors in the claim are left out, except negation, which is always compared.
    """
    out: dict[str, str] = {}
    if claim.quantities:
        states = []
        for q in claim.quantities:
            if any(quantities_match(q, e) for e in evidence.quantities):
                states.append("agree")
            elif any(
                e.unit == q.unit and (e.value != q.value or e.qualifier != q.qualifier)
                # bare numbers contradict only when they count the same thing ("600 employees" vs
                # "400 employees"), not any other number nearby ("20 July" vs "298 people")
                and (q.unit is not None or (q.noun is not None and e.noun == q.noun))
                for e in evidence.quantities
            ):
                states.append("disagree")
            else:
                states.append("absent")
        out["quantities"] = _overall(states)
    if claim.years:
        if claim.years <= evidence.years:
            out["years"] = "agree"
        elif evidence.years and not (claim.years & evidence.years):
            out["years"] = "disagree"
        else:
            out["years"] = "absent"
    if claim.dates:
        states = []
        for d in claim.dates:
            if any(e.startswith(d) for e in evidence.dates):
                states.append("agree")
            elif any(len(e) >= len(d) and e[:4] == d[:4] for e in evidence.dates):
                states.append("disagree")
            else:
                states.append("absent")
        out["dates"] = _overall(states)
    if claim.names:
        folded = normalise(evidence_text)
        out["names"] = "agree" if all(name_found(n, folded) for n in claim.names) else "absent"
    out["negation"] = "agree" if claim.negated == evidence.negated else "disagree"
    if claim.ranks:
        states = []
        for concepts in RANK_FAMILIES.values():
            mine = claim.ranks & concepts
            if not mine:
                continue
            theirs = evidence.ranks & concepts
            if mine & theirs:
                states.append("agree")
            elif theirs:
                states.append("disagree")
            else:
                states.append("absent")
        out["ranks"] = _overall(states)
    return out


def evidence_anchors(text: str, claim: Anchors, *, language: str | None = None, negation: bool = True) -> Anchors:
    """The anchors of evidence text as compare_anchors reads them against `claim`: no names (it looks for
    the claim's names in the evidence's words, never at names found in it), ranks only when the claim has
    some, and numbers (quantities, years, dates: found together) only when it has any of them (finding the
    numbers of evidence, most of all of whole pages, was a third of judging's time); every other kind as
    extract_anchors makes it. `language`: the text's de_or_en when the caller knows it (a text joined from
    parts: language.de_or_en_joined); `negation=False` for a caller that never reads the text's negation."""
    return extract_anchors(text, language or de_or_en(text), names=False, ranks=bool(claim.ranks),
                           numbers=bool(claim.quantities or claim.years or claim.dates), negation=negation)


def claim_anchors(claim_texts: list[str]) -> list[Anchors]:
    return [extract_anchors(t, de_or_en(t)) for t in claim_texts]


def score_passages(
    claim_texts: list[str], candidates: list[Candidate], *, top_k: int = 5, workers: int = 1,
    details: bool = True,
) -> list[ScoredPassage]:
    """The top_k candidates by relevance to any of claim_texts, each with its anchor agreement and the
    words that matched (`details=False` leaves both empty, for a caller that reads neither).

    Relevance mixes coverage of the claim's content words (what a fact-checker looks for first) and the
    rapidfuzz token-set similarity of the whole strings.
    """
    texts = [t for t in claim_texts if t and t.strip()]
    if not texts or not candidates:
        return []
    norm_claims = [normalise(t) for t in texts]
    norm_passages = [normalise(c.text) for c in candidates]
    fuzzy = process.cdist(
        norm_claims, norm_passages, scorer=fuzz.token_set_ratio, processor=None, workers=workers
    )
    claim_stems = [content_stems(t) for t in texts]

    def one(i: int) -> ScoredPassage:
        cand = candidates[i]
        pstems = _stem_set(cand.text)
        best: ScoredPassage | None = None
        for j, stems in enumerate(claim_stems):
            hit = [s for s in stems if s in pstems]
            cov = len(hit) / len(stems) if stems else 0.0
            score = 0.7 * cov + 0.3 * float(fuzzy[j][i]) / 100.0
            if best is None or score > best.score:
                best = ScoredPassage(cand, score, {}, hit, cov, j)
        assert best is not None
        return best

    if workers > 1 and len(candidates) > 200:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            scored = list(pool.map(one, range(len(candidates))))
    else:
        # anchors are costly; only the passages that can make the top list need them
        # (a claim text's stems are distinct, so the stems a passage has of them are counted by a set
        # intersection; the best similarity of each passage is taken once, as the numbers themselves)
        best_fuzzy = fuzzy.max(axis=0).tolist()
        prelim = []
        for i, cand in enumerate(candidates):
            pstems = _stem_set(cand.text)
            cov = max((len(pstems.intersection(st)) / len(st) if st else 0.0) for st in claim_stems)
            prelim.append((0.7 * cov + 0.3 * best_fuzzy[i] / 100.0, i))
        prelim.sort(reverse=True)
        scored = [one(i) for _, i in prelim[: max(top_k * 3, top_k)]]
    scored.sort(key=lambda s: (-s.score, s.candidate.start))
    if not details:
        for best in scored[:top_k]:
            best.matched_terms = []
        return scored[:top_k]
    # anchors and surface terms take no part in the ranking: worked out only for the passages returned
    anchors = claim_anchors(texts)
    for best in scored[:top_k]:
        cand = best.candidate
        claim = anchors[best.text_index]
        best.anchor_agreement = compare_anchors(claim, evidence_anchors(cand.text, claim), cand.text)
        best.matched_terms = _surface_terms(cand.text, set(best.matched_terms))
    return scored[:top_k]


def _surface_terms(text: str, stems: set[str]) -> list[str]:
    """The words of text whose stems matched, as written (for highlighting)."""
    out: list[str] = []
    for m in re.finditer(r"[\w'’-]+", text):
        w = m.group()
        n = normalise(w)
        if n and n not in STOPWORDS and stem(n) in stems and w not in out:
            out.append(w)
    return out
