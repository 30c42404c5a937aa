"""Ingest, pure-text core: sentence units, attribution, source linking, check-worthiness, claim selection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from factcheck.claimfinding.analysis import (
    ClaimCandidate,
    IngestError,
    SourceRef,
    analyse_article,
    article_provenance,
    link_source,
    split_sentences,
    text_and_links_from_html,
)
from factcheck.errors import FactcheckError
from factcheck.text.language import de_or_en

REPO = Path(__file__).resolve().parent.parent
FIX = REPO / "tests" / "fixtures" / "ingest"
SEED = Path(os.environ.get("FACTCHECK_FIXTURES_DIR", REPO.parent / "shared" / "fixtures")) / (
    "seed-article-eulerpool-2025-09-01.txt")

REGISTRY = [
    SourceRef("Business Insider", ["BI", "Insider"], ["businessinsider.com"]),
    SourceRef("SignalFire", [], ["signalfire.com"]),
    SourceRef("Bloomberg", [], ["bloomberg.com"]),
]
EN_REGISTRY = [*REGISTRY, SourceRef("Reuters", [], ["reuters.com"]), SourceRef("The Verge", ["Verge"], ["theverge.com"])]


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def find(cands: list[ClaimCandidate], prefix: str) -> ClaimCandidate:
    hits = [c for c in cands if c.text.startswith(prefix)]
    assert hits, f"no unit starts with {prefix!r}"
    return hits[0]


def sources(c: ClaimCandidate) -> list[str | None]:
    return [a.source for a in c.attributions]


# ---------------------------------------------------------------- sentences


def test_german_abbreviations_numbers_and_dates_do_not_split() -> None:
    text = ("Dr. Müller sagte, dass z. B. 1.500 Mitarbeiter u. a. in Berlin arbeiten. Am 01. September 2025 "
            "waren es 3,5 Prozent mehr als am 3. Oktober. Ca. 20 Werke sind betroffen.")
    assert sentences(text) == [
        "Dr. Müller sagte, dass z. B. 1.500 Mitarbeiter u. a. in Berlin arbeiten.",
        "Am 01. September 2025 waren es 3,5 Prozent mehr als am 3. Oktober.",
        "Ca. 20 Werke sind betroffen.",
    ]


def test_english_abbreviations_split_only_at_real_ends() -> None:
    text = ("Acme Inc. said revenue rose 3.5% to $1.2 billion on Sept. 3. Most staff work in the U.S. "
            "The rest are in Berlin. Mr. Smith left Acme Corp. in 2020.")
    assert sentences(text) == [
        "Acme Inc. said revenue rose 3.5% to $1.2 billion on Sept. 3.",
        "Most staff work in the U.S.",
        "The rest are in Berlin.",
        "Mr. Smith left Acme Corp. in 2020.",
    ]


def test_quotes_are_not_cut_inside() -> None:
    de = "„Wir wachsen. Das ist klar“, sagte er. Danach ging er."
    assert sentences(de) == ["„Wir wachsen. Das ist klar“, sagte er.", "Danach ging er."]
    en = '"We grow. That is clear," he said. Then he left.'
    assert sentences(en) == ['"We grow. That is clear," he said.', "Then he left."]


def test_headings_and_captions_are_units_of_their_own() -> None:
    text = ("Pay falls behind\n\nThe company pays less. Rivals pay more.\n\nA short caption line\n"
            "A much longer paragraph follows right below the caption line and it ends here.\n")
    assert sentences(text) == [
        "Pay falls behind",
        "The company pays less.",
        "Rivals pay more.",
        "A short caption line",
        "A much longer paragraph follows right below the caption line and it ends here.",
    ]


def test_dashes_and_hard_wrapped_lines() -> None:
    text = "Meta warb 50 Forscher ab – Amazon wird kaum erwähnt. Die Zahl stieg\nim Juli weiter an."
    assert sentences(text) == ["Meta warb 50 Forscher ab – Amazon wird kaum erwähnt.",
                               "Die Zahl stieg\nim Juli weiter an."]


# ---------------------------------------------------------------- linking and language


@pytest.mark.parametrize("variant", ["Business Insider", "BI", "Insider", "Business-Insider", "BusinessInsider",
                                     "businessinsider.com", "https://www.businessinsider.com/x", "Business Insiders",
                                     "the Business Insider"])
def test_link_source_variants(variant: str) -> None:
    assert link_source(variant, REGISTRY) == ("Business Insider", True)


def test_link_source_unknown_and_short_names() -> None:
    assert link_source("Gartner", REGISTRY) == ("Gartner", False)
    assert link_source("Bloombergs", REGISTRY) == ("Bloomberg", True)
    assert link_source("Signal Fire", REGISTRY) == ("SignalFire", True)
    assert link_source("BO", REGISTRY) == ("BO", False)  # short names need an exact alias
    assert link_source("„Meta“", REGISTRY) == ("Meta", False)


def test_de_or_en() -> None:
    assert de_or_en(seed_text()) == "de"
    assert de_or_en((FIX / "english_article.txt").read_text(encoding="utf-8")) == "en"


# ---------------------------------------------------------------- the real German article


def seed_text() -> str:
    """The real German article (FACTCHECK_FIXTURES_DIR); skipped where it is not there, unless
    FACTCHECK_FIXTURES_DIR names where it must be (as CI does)."""
    if not SEED.is_file():
        if os.environ.get("FACTCHECK_FIXTURES_DIR"):
            pytest.fail(f"seed article missing: {SEED} (FACTCHECK_FIXTURES_DIR is set)")
        pytest.skip(f"seed article missing: {SEED} (set FACTCHECK_FIXTURES_DIR)")
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seed() -> tuple[str, list[ClaimCandidate]]:
    text = seed_text()
    return text, analyse_article(text, registry=REGISTRY)


def test_seed_offsets_point_into_the_text(seed: tuple[str, list[ClaimCandidate]]) -> None:
    text, cands = seed
    assert cands and all(text[c.start:c.end] == c.text for c in cands)
    assert all(0.0 <= c.checkworthiness <= 1.0 for c in cands)


def test_seed_attributed_claims(seed: tuple[str, list[ClaimCandidate]]) -> None:
    _, cands = seed
    doc = find(cands, "Laut einem internen Dokument")
    assert doc.is_claim
    (a,) = doc.attributions
    assert (a.source, a.kind, a.known) == ("Business Insider", "document", True)
    assert a.phrase == "Laut einem internen Dokument, das Business Insider vorliegt"

    sf1 = find(cands, "Talente wandern ab")
    sf2 = find(cands, "Eine Auswertung der Risikokapitalfirma SignalFire")
    bloom = find(cands, "Laut Bloomberg hat Oracle")
    for c, name in ((sf1, "SignalFire"), (sf2, "SignalFire"), (bloom, "Bloomberg")):
        assert c.is_claim
        assert sources(c) == [name]
        assert c.attributions[0].known and c.attributions[0].kind == "named"
        assert not c.attributions[0].second_hand

    rec = find(cands, "Laut Recruitern")
    assert rec.is_claim
    assert [(a.source, a.kind, a.known) for a in rec.attributions] == [("Recruiter", "anonymous", False)]
    hr = find(cands, "Interne HR-Analysen bestätigen")
    assert hr.is_claim
    assert [(a.source, a.kind) for a in hr.attributions] == [("interne HR-Analysen", "anonymous")]


def test_seed_pointer_back_inherits_the_document_source(seed: tuple[str, list[ClaimCandidate]]) -> None:
    _, cands = seed
    c = find(cands, "Das Dokument weist")
    assert [(a.source, a.kind, a.phrase) for a in c.attributions] == [("Business Insider", "inherited", "Das Dokument")]


def test_seed_unattributed_checkable_claims(seed: tuple[str, list[ClaimCandidate]]) -> None:
    _, cands = seed
    for prefix in ("Meta hat in den vergangenen Monaten mehr als 50",
                   "Ein Beispiel: Bereits 2020 verließ",
                   "Seit 2023 gilt die „Hub“-Strategie",
                   "Während Meta in den letzten zwölf Monaten",
                   "Dazu zählen Chipentwickler Rami Sinno",
                   "In der Bilanzpressekonferenz im Juli"):
        c = find(cands, prefix)
        assert c.is_claim, (prefix, c.checkworthiness, c.signals)
        assert c.attributions == []
    meta = find(cands, "Meta hat in den vergangenen")
    assert meta.signals["numbers"] == 1.0 and meta.signals["comparatives"] == 1.0 and meta.signals["names"] > 0


def test_seed_no_teasers_headings_or_credit_line(seed: tuple[str, list[ClaimCandidate]]) -> None:
    text, cands = seed
    claims = [c for c in cands if c.is_claim]
    teaser_start = text.index("Das könnte Sie auch interessieren")
    assert all(c.start < teaser_start for c in claims)
    assert find(cands, "Wie AlleAktien").signals.get("teaser") == 1.0
    for heading in ("KI", "Rückstand bei KI-Talenten", "Vergütung unter Marktniveau", "Geringe Bindungsrate",
                    "Zweifel am Markt", "Amazon verliert im KI-Wettrennen den Anschluss", "01. September, 2025"):
        units = [c for c in cands if c.text == heading]
        assert units and not any(u.is_claim for u in units), heading
        assert all(u.signals.get("heading") == 1.0 for u in units)
    credit = find(cands, "Quelle: Eulerpool")
    assert not credit.is_claim and credit.attributions == [] and credit.signals["credit_line"] == 1.0
    assert all(a.source != "Eulerpool" for c in cands for a in c.attributions)
    assert article_provenance(text) == ["Eulerpool"]


def test_seed_opinion_and_commentary_are_not_claims(seed: tuple[str, list[ClaimCandidate]]) -> None:
    _, cands = seed
    for prefix in ("Diese Praxis schreckt", "Diese Politik reduziert", "Die Konkurrenz nutzt diesen Hebel",
                   "Seitdem hat sich", "Die Unsicherheit zeigt sich"):
        assert not find(cands, prefix).is_claim, prefix


def test_threshold_is_configurable(seed: tuple[str, list[ClaimCandidate]]) -> None:
    text, cands = seed
    strict = analyse_article(text, registry=REGISTRY, threshold=0.85)
    loose = analyse_article(text, registry=REGISTRY, threshold=0.0)
    n = sum(c.is_claim for c in cands)
    assert sum(c.is_claim for c in strict) < n < sum(c.is_claim for c in loose)
    # vetoes hold at any threshold: headings and teasers never become claims
    assert not any(c.is_claim for c in loose if c.signals.get("heading") or c.signals.get("teaser"))


# ---------------------------------------------------------------- English article with links


@pytest.fixture(scope="module")
def english() -> tuple[str, list[ClaimCandidate]]:
    text, links = text_and_links_from_html((FIX / "english_article.html").read_text(encoding="utf-8"))
    return text, analyse_article(text, registry=EN_REGISTRY, links=links)


def test_html_reader_matches_text_fixture() -> None:
    text, links = text_and_links_from_html((FIX / "english_article.html").read_text(encoding="utf-8"))
    assert text + "\n" == (FIX / "english_article.txt").read_text(encoding="utf-8")
    anchors = {text[s:e]: h for s, e, h in links}
    assert anchors["Business Insider"] == "https://www.businessinsider.com/northwind-memo-2025-8"
    assert "Home" not in anchors  # navigation is not article text
    assert "analytics" not in text


def test_english_patterns(english: tuple[str, list[ClaimCandidate]]) -> None:
    _, cands = english
    memo = find(cands, "Northwind Robotics Inc. lost")
    (a,) = memo.attributions
    assert (a.source, a.kind, a.known) == ("Business Insider", "document", True)
    assert a.url == "https://www.businessinsider.com/northwind-memo-2025-8"
    assert "according to an internal memo seen by Business Insider" in a.phrase

    assert [(x.source, x.kind) for x in find(cands, "Recruiters say").attributions] == [("recruiters", "anonymous")]
    assert sources(find(cands, "\"They are paying")) == ["Maria Gomez"]
    data = find(cands, "Data from SignalFire shows")
    assert sources(data) == ["SignalFire"] and data.attributions[0].url.startswith("https://www.signalfire.com/")
    assert sources(find(cands, "Bloomberg reported in May")) == ["Bloomberg"]
    assert find(cands, "Bloomberg reported in May").attributions[0].url.startswith("https://www.bloomberg.com/")
    said = find(cands, "Northwind said in a filing")
    assert [(x.source, x.known) for x in said.attributions] == [("Northwind", False)]
    gartner = find(cands, "Warehouse automation spending")
    assert [(x.source, x.known, x.phrase) for x in gartner.attributions] == [("Gartner", False, "according to Gartner")]
    told = find(cands, "Chief executive Tom Becker told analysts")
    assert [(x.source, x.second_hand) for x in told.attributions] == [("Tom Becker", False)]


def test_english_second_hand_chains(english: tuple[str, list[ClaimCandidate]]) -> None:
    _, cands = english
    (a,) = find(cands, "Citing Bloomberg, Reuters reported").attributions
    assert (a.source, a.second_hand, a.via, a.known) == ("Bloomberg", True, "Reuters", True)
    assert a.url and "reuters.com" in a.url  # the intermediary's link is the evidence to fetch
    (b,) = find(cands, "Business Insider reported last month").attributions
    assert (b.source, b.kind, b.second_hand, b.via) == (
        "people familiar with the matter", "anonymous", True, "Business Insider")
    (c,) = find(cands, "A Northwind spokesperson told The Verge").attributions
    assert (c.source, c.second_hand, c.via) == ("Northwind", True, "The Verge")


def test_english_pointers_back(english: tuple[str, list[ClaimCandidate]]) -> None:
    _, cands = english
    memo = find(cands, "The memo, dated June 12")
    assert [(a.source, a.kind) for a in memo.attributions] == [("Business Insider", "inherited")]
    report = find(cands, "The report also found")
    assert [(a.source, a.kind) for a in report.attributions] == [("SignalFire", "inherited")]
    company = find(cands, "\"We pay competitively")
    assert [(a.source, a.kind, a.second_hand) for a in company.attributions] == [("Northwind", "inherited", False)]
    he = find(cands, "He said the company had added 300")
    assert [(a.source, a.kind) for a in he.attributions] == [("Tom Becker", "inherited")]


def test_english_link_without_wording_becomes_citation(english: tuple[str, list[ClaimCandidate]]) -> None:
    _, cands = english
    c = find(cands, "Northwind's retention problems were first described")
    assert [(a.source, a.known, a.url) for a in c.attributions] == [
        ("Business Insider", True, "https://www.businessinsider.com/northwind-retention-2025-5")]
    munich = find(cands, "The rest are based in Berlin")
    assert munich.attributions == []  # a link to a non-source domain is not a citation


def test_english_claim_selection(english: tuple[str, list[ClaimCandidate]]) -> None:
    text, cands = english
    for prefix in ("Dr. Lena Hart, the company's former chief scientist, left in 2020",
                   "Shares of the company", "The company employs about 2,400 people"):
        c = find(cands, prefix)
        assert c.is_claim and c.attributions == [], prefix
    q = find(cands, "Is that enough?")
    assert not q.is_claim and q.signals["question"] == 1.0
    op = find(cands, "In my view")
    assert not op.is_claim and op.signals["opinion"] == 1.0
    assert not find(cands, "Source: Reuters").is_claim
    assert article_provenance(text) == ["Reuters", "staff reporting"]
    read_more = text.index("Read more:")
    assert not any(c.is_claim for c in cands if c.start >= read_more)
    assert not find(cands, "Pay bands that never move").is_claim


# ---------------------------------------------------------------- German patterns of our own fixture


def test_german_patterns_and_chain() -> None:
    text = (FIX / "german_article.txt").read_text(encoding="utf-8")
    reg = [*REGISTRY, SourceRef("Reuters", [], ["reuters.com"]), SourceRef("Handelsblatt", [], ["handelsblatt.com"])]
    cands = analyse_article(text, registry=reg)
    assert [(a.source, a.known) for a in find(cands, "Dem Handelsblatt zufolge").attributions] == [("Handelsblatt", True)]
    assert sources(find(cands, "Wie die Nachrichtenagentur Reuters berichtete")) == ["Reuters"]
    assert sources(find(cands, "Nach Angaben der Gewerkschaft IG Metall")) == ["IG Metall"]
    kreise = find(cands, "Aus Unternehmenskreisen")
    assert [(a.source, a.kind) for a in kreise.attributions] == [("Unternehmenskreise", "anonymous")]
    cfo = find(cands, "Finanzchef Dr. Jens Albrecht sagte")
    assert sources(cfo) == ["Jens Albrecht"] and cfo.is_claim
    assert [(a.source, a.kind) for a in find(cands, "Er kündigte an").attributions] == [("Jens Albrecht", "inherited")]
    (chain,) = find(cands, "Der Spiegel berichtete unter Berufung").attributions
    assert (chain.source, chain.second_hand, chain.via) == ("internes Papier", True, "Spiegel")
    paper = find(cands, "Das Papier beziffert")
    assert [(a.source, a.kind, a.via) for a in paper.attributions] == [("internes Papier", "inherited", "Spiegel")]
    assert sources(find(cands, "Eine Studie des Branchenverbands BWE")) == ["BWE"]
    # "Das Unternehmen" has no attributed company to point back to: better no source than the union
    assert find(cands, "Das Unternehmen erklärte").attributions == []
    assert not find(cands, "Meiner Meinung nach").is_claim
    assert not find(cands, "Warum die Windbranche").is_claim


def test_second_hand_in_german_with_registry_variant() -> None:
    text = "Business-Insider berichtete unter Berufung auf Bloomberg, dass Oracle 600 Mitarbeiter abwarb."
    (c,) = analyse_article(text, language="de", registry=REGISTRY)
    (a,) = c.attributions
    assert (a.source, a.second_hand, a.via, a.known) == ("Bloomberg", True, "Business Insider", True)
    assert a.phrase == "Business-Insider berichtete unter Berufung auf Bloomberg"


def test_english_citing_after_reporter() -> None:
    text = "Apple plans to cut 200 jobs, Reuters reported, citing Bloomberg."
    (c,) = analyse_article(text, language="en", registry=EN_REGISTRY)
    assert [(a.source, a.via, a.second_hand) for a in c.attributions] == [("Bloomberg", "Reuters", True)]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("bad", ["", "   \n\n ", "abc\x00def", "word " * 500_000])
def test_unusable_text_raises_typed_error(bad: str) -> None:
    with pytest.raises(IngestError) as exc:
        analyse_article(bad)
    assert isinstance(exc.value, FactcheckError)


def test_english_frames_that_are_not_sources() -> None:
    text = ("Alden on Tuesday announced that it had become the largest shareholder. "
            "Sen. Jane Roe said Smith's death is a symptom of deeper problems. "
            "Rainfall occurs on Titan, but the poles are wetter than the equator, said the study's lead author. "
            "In-feed ads earn a lower RPM (Revenue Per Thousand) than display ads.")
    cands = analyse_article(text, language="en")
    assert sources(cands[0]) == ["Alden"]
    assert sources(cands[1]) == ["Jane Roe"]
    assert "Titan" not in sources(cands[2])
    assert sources(cands[3]) == []


def test_document_holder_and_named_author_form_a_chain() -> None:
    text = '"This is the toughest summer we have faced," chief operating officer Dana Cole told staff in an email seen by The Times.'
    (c,) = analyse_article(text, language="en")
    assert [(a.source, a.second_hand, a.via) for a in c.attributions] == [("Dana Cole", True, "Times")]
