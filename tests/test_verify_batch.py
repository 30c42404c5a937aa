"""Verify in batches: a batch's candidates are each claim's own, memoised anchors cannot be changed by a
caller, and a German claim is glossed once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from factcheck.desk.db import Desk
from factcheck.desk.models import Claim, Verdict
from factcheck.desk.retrieve import candidates_for, candidates_for_claims
from factcheck.desk.verify import verify
from factcheck.text import anchors, gloss
from factcheck.text.language import de_or_en

REPO = Path(__file__).resolve().parent.parent


def _verdicts(desk: Desk, run_id: int) -> dict[int, tuple]:
    with desk.session() as s:
        return {v.claim_id: (v.label, v.confidence, v.rationale, v.quotes, v.first_hand, v.signals)
                for v in s.execute(select(Verdict).where(Verdict.run_id == run_id)).scalars()}


def test_batch_candidates_are_each_claims_own(verify_seeded):
    desk, _settings = verify_seeded
    with desk.session() as s:
        claims = list(s.execute(select(Claim).options(selectinload(Claim.citations)).order_by(Claim.id)).scalars())
        together = candidates_for_claims(s, claims)
        assert sum(bool(v) for v in together.values()) > len(claims) // 2
        kinds = {(c.tied, c.cited) for cands in together.values() for c in cands}
        assert {(True, True), (False, True), (False, False)} <= kinds  # every tier is exercised
        for c in claims:
            assert candidates_for(s, c) == together[c.id], c.key


def test_anchors_from_the_memo_cannot_be_changed_by_a_caller():
    text = "In 2023 the plant employed 1,200 people, 45 percent more than in 2021."
    a = anchors.extract_anchors(text)
    a.years.add(1999)
    a.quantities.clear()
    b = anchors.extract_anchors(text)
    assert 1999 not in b.years and b.quantities


def test_a_german_claim_is_glossed_once(verify_seeded, monkeypatch):
    desk, settings = verify_seeded
    if not gloss.available(settings.gloss_dictionary):
        pytest.skip("no German-English word list installed (Debian trans-de-en)")
    calls: dict[str, int] = {}
    real = gloss.gloss

    def counting(text, path=None):
        calls[text] = calls.get(text, 0) + 1
        return real(text, path)

    monkeypatch.setattr(gloss, "gloss", counting)
    run = verify(desk, settings, actor="t")
    with desk.session() as s:
        german = [c.text for c in s.execute(select(Claim).where(Claim.statement.is_(None))).scalars()
                  if de_or_en(c.text) == "de"]
    assert german and set(calls) == set(german)
    assert set(calls.values()) == {1}
    assert any("gloss" in v[5] for v in _verdicts(desk, run.run_id).values())
