"""Verdict rules on the bundled sample case and on small hand-made cases."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from factcheck.judge.match import Candidate
from factcheck.judge.verdict import Judgement, judge
from factcheck.text.passages import split_passages

REPO = Path(__file__).resolve().parent.parent
CASE = REPO / "claims" / "sample.yaml"


def html_text(raw: bytes, url: str) -> tuple[str, str | None]:
    """Main text and date of a saved page: the desk's extractor when present, else BeautifulSoup."""
    try:
        from factcheck.documents.extract import extract_bytes

        ex = extract_bytes(raw, content_type="text/html", url=url)
        return ex.text, ex.published
    except ImportError:  # pragma: no cover - extractor not there yet
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(raw, "html.parser")
        meta = soup.find("meta", attrs={"property": "article:published_time"})
        body = soup.find("article") or soup.find("main") or soup.body or soup
        return body.get_text("\n", strip=True), (meta.get("content") if meta else None)


def load_sample() -> tuple[dict, dict[str, list[Candidate]]]:
    data = yaml.safe_load(CASE.read_text(encoding="utf-8"))
    pages: dict[str, list[Candidate]] = {}
    for ev in data["evidence"]:
        raw = (CASE.parent / ev["file"]).read_bytes()
        text, published = html_text(raw, ev["url"])
        sha = hashlib.sha256(raw).hexdigest()
        pages[ev["url"]] = [
            Candidate(None, p.text, p.start, p.end, sha, ev["url"], ev["source"], True, False, published)
            for p in split_passages(text)
        ]
    return data, pages


def judge_claim(claim: dict, pages: dict[str, list[Candidate]]) -> Judgement:
    cands: list[Candidate] = []
    for url in claim.get("evidence") or []:
        for c in pages[url]:
            cands.append(Candidate(c.passage_id, c.text, c.start, c.end, c.snapshot_sha256, c.url, c.source,
                                   True, c.source in (claim.get("cited") or []), c.published))
    return judge(claim["text"], claim.get("statement"), list(claim.get("cited") or []), cands)


SAMPLE, PAGES = load_sample()


@pytest.mark.parametrize("claim", SAMPLE["claims"], ids=[c["id"] for c in SAMPLE["claims"]])
def test_sample_claims_get_their_expected_label(claim: dict) -> None:
    j = judge_claim(claim, PAGES)
    assert j.label == claim["expected"], j.rationale
    assert j.rationale and j.quotes
    q = j.quotes[0]
    assert len(q.snapshot_sha256) == 64
    assert q.end > q.start


def test_sample_covers_the_three_verdicts() -> None:
    labels = [c["expected"] for c in SAMPLE["claims"]]
    assert {"verified", "unverified", "contested"} <= set(labels)
    assert 6 <= len(labels) <= 8
    for ev in SAMPLE["evidence"]:
        assert "SAMPLE MATERIAL" in (CASE.parent / ev["file"]).read_text(encoding="utf-8")


def test_quote_offsets_point_into_the_stored_text() -> None:
    claim = SAMPLE["claims"][0]
    url = claim["evidence"][0]
    raw = (CASE.parent / next(e["file"] for e in SAMPLE["evidence"] if e["url"] == url)).read_bytes()
    text, _ = html_text(raw, url)
    j = judge_claim(claim, PAGES)
    for q in j.quotes:
        assert text[q.start : q.end] == q.quote


def test_second_hand_support_is_stated() -> None:
    j = judge_claim(next(c for c in SAMPLE["claims"] if c["id"] == "S2"), PAGES)
    assert j.label == "verified"
    assert j.first_hand is False
    assert "second-hand from Bloomberg" in j.rationale
    assert "Business Insider" in j.rationale


def test_first_hand_support_is_stated() -> None:
    j = judge_claim(next(c for c in SAMPLE["claims"] if c["id"] == "S1"), PAGES)
    assert j.first_hand is True
    assert "first-hand" in j.rationale


def _cands(*sentences: str, cited: bool = True, source: str = "Example News") -> list[Candidate]:
    text = " ".join(sentences)
    out, pos = [], 0
    for s in sentences:
        start = text.index(s, pos)
        out.append(Candidate(None, s, start, start + len(s), "ab" * 32, "https://example.org/a", source, True,
                             cited, "2025-09-04"))
        pos = start + len(s)
    return out


def test_distorted_number_is_contested_not_verified() -> None:
    ev = _cands("Oracle has hired more than 400 former Amazon employees over the past two years.")
    j = judge("Oracle has hired more than 600 former Amazon employees over the past two years.", None,
              ["Example News"], ev)
    assert j.label == "contested"
    assert j.quotes[0].role == "contradicts"


def test_matching_number_is_verified_with_rationale() -> None:
    ev = _cands("Oracle has hired more than 600 former Amazon employees over the past two years.")
    j = judge("Oracle has hired more than 600 former Amazon employees over the past two years.", None,
              ["Example News"], ev)
    assert j.label == "verified"
    assert "4 Sep 2025" in j.rationale and "snapshot abab" in j.rationale


def test_qualifier_distortion_is_not_verified() -> None:
    ev = _cands("Oracle has hired about 600 former Amazon employees over the past two years.")
    j = judge("Oracle has hired more than 600 former Amazon employees over the past two years.", None,
              ["Example News"], ev)
    assert j.label != "verified"


def test_wrong_year_is_contested() -> None:
    ev = _cands("The robotics vice president left the company in 2019 after a dispute over his pay band.")
    j = judge("The robotics vice president left the company in 2020 after a dispute over his pay band.", None,
              ["Example News"], ev)
    assert j.label == "contested"


def test_negated_claim_against_affirmative_source_is_contested() -> None:
    ev = _cands("Amazon has changed the structure of its engineering pay since the review.")
    j = judge("Amazon has not changed the structure of its engineering pay since the review.", None,
              ["Example News"], ev)
    assert j.label == "contested"


def test_no_candidates_is_unverified() -> None:
    j = judge("Something was said.", None, ["Example News"], [])
    assert j.label == "unverified"
    assert j.quotes == []


def test_partial_support_of_compound_claim_is_unverified() -> None:
    ev = _cands("Amazon lost its chip designer in the spring.", "The weather was fine all summer long.")
    j = judge("Amazon lost its chip designer in the spring and its AI services vice president in June.",
              None, ["Example News"], ev)
    assert j.label == "unverified"


def test_uncited_source_not_naming_the_cited_one_does_not_verify() -> None:
    ev = _cands("Oracle has hired more than 600 former Amazon employees over the past two years.", cited=False,
                source="Some Blog")
    j = judge("Oracle has hired more than 600 former Amazon employees over the past two years.", None,
              ["Bloomberg"], ev)
    assert j.label == "unverified"
    assert "cited source" in j.rationale


def _cand(text: str, *, tied: bool, sha: str) -> Candidate:
    return Candidate(None, text, 0, len(text), sha, f"https://example.org/{sha}", "Example Times", tied, True)


def test_tied_evidence_speaks_first() -> None:
    """Another page of the cited source must not verify a claim its own (tied) evidence does not state."""
    claim = "The city council approved the new harbour bridge in March 2021."
    own = _cand("The council discussed the budget for parks and schools.", tied=True, sha="a" * 64)
    other = _cand("The city council approved the new harbour bridge in March 2021.", tied=False, sha="b" * 64)
    j = judge(claim, None, ["Example Times"], [own, other])
    assert j.label != "verified"
    assert all(q.snapshot_sha256 == "a" * 64 for q in j.quotes)
    # without tied evidence the rest of the desk is consulted, and there it does state the claim
    assert judge(claim, None, ["Example Times"], [other]).label == "verified"
    # and the old behaviour stays available as a setting
    assert judge(claim, None, ["Example Times"], [own, other], settings={"tied_first": False}).label == "verified"


def _page(*sentences: str) -> list[Candidate]:
    """Candidates of one page with the text around each as context, as the desk retrieves them."""
    text = " ".join(sentences)
    out, pos = [], 0
    for s in sentences:
        start = text.index(s, pos)
        end = start + len(s)
        out.append(Candidate(None, s, start, end, "cd" * 32, "https://example.org/p", "Example News", True, True,
                             None, text[max(0, start - 300) : end + 300]))
        pos = end
    return out


def test_claim_spanning_two_sentences_is_supported_by_the_window() -> None:
    ev = _page("Maria Lopez joined the Riverside orchestra as principal cellist.",
               "She later founded a chamber music festival in Valencia.",
               "Tickets for the summer season go on sale in May.")
    j = judge("Maria Lopez was principal cellist of the Riverside orchestra and founded a chamber music festival "
              "in Valencia.", None, ["Example News"], ev)
    assert j.label == "verified", j.rationale


def test_another_number_on_the_page_is_not_a_contradiction() -> None:
    ev = _page("The delegates were en route to the International Energy Conference in Lisbon, starting on 20 July.",
               "Some 298 people were on board the flight.")
    j = judge("The delegates were en route to the International Energy Conference in Lisbon, starting on 20 July.",
              None, ["Example News"], ev)
    assert j.label == "verified", j.rationale
    ev2 = _page("Some 298 people were on board the flight to the International Energy Conference in Lisbon.")
    j2 = judge("Some 410 people were on board the flight to the International Energy Conference in Lisbon.",
               None, ["Example News"], ev2)
    assert j2.label == "contested", j2.rationale


def test_negation_in_a_loose_match_still_blocks_verified() -> None:
    ev = _page("Rachel Green never signed the contract with the Boston studio.",
               "The studio is in Boston.")
    j = judge("Rachel Green signed a contract with the Boston studio.", None, ["Example News"], ev)
    assert j.label != "verified"
