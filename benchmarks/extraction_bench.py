"""Main-text extraction benchmark: factcheck.documents.extract vs. BeautifulSoup get_text, same pages, same run.

Dataset: <bench>/extraction/html/*.html.gz with ground-truth.json ({name: {"articleBody": ..., "url": ...}}).
Metric: 4-word shingles of lowercased \\w+ tokens, counted as multisets. Per page, precision =
|pred ∩ truth| / |pred| and recall = |pred ∩ truth| / |truth|. The headline F1 is the harmonic mean of
the *page-averaged* precision and recall: that averaging reproduces the published 0.665 for
BeautifulSoup get_text on this dataset (DESIGN.md). Also reported: the mean of per-page F1 and the
micro figure (shingle counts pooled over all pages).

Usage: python benchmarks/extraction_bench.py [--bench-dir DIR] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r"\w+")
SHINGLE = 4


def shingles(text: str | None, n: int = SHINGLE) -> Counter[str]:
    """Multiset of n-word shingles of the lowercased word tokens."""
    tokens = _TOKEN.findall((text or "").lower())
    if 0 < len(tokens) < n:  # a very short text still counts as one shingle
        return Counter([" ".join(tokens)])
    return Counter(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


@dataclass(frozen=True)
class PageScore:
    """Shingle overlap of one page's prediction with its truth."""

    overlap: int
    predicted: int
    truth: int

    @property
    def precision(self) -> float:
        return self.overlap / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.overlap / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        return f1(self.precision, self.recall)


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score_page(predicted: str | None, truth: str) -> PageScore:
    p, t = shingles(predicted), shingles(truth)
    return PageScore(sum((p & t).values()), sum(p.values()), sum(t.values()))


def aggregate(scores: Iterable[PageScore]) -> dict[str, float]:
    """Page-averaged precision/recall, F1 of those (headline), mean page F1, and micro P/R/F1."""
    items = list(scores)
    n = len(items) or 1
    p = sum(s.precision for s in items) / n
    r = sum(s.recall for s in items) / n
    overlap = sum(s.overlap for s in items)
    pred = sum(s.predicted for s in items)
    truth = sum(s.truth for s in items)
    mp = overlap / pred if pred else 0.0
    mr = overlap / truth if truth else 0.0
    return {
        "pages": len(items),
        "precision": p,
        "recall": r,
        "f1": f1(p, r),
        "mean_page_f1": sum(s.f1 for s in items) / n,
        "micro_precision": mp,
        "micro_recall": mr,
        "micro_f1": f1(mp, mr),
    }


def default_bench_dir() -> Path:
    """FACTCHECK_BENCH_DIR, else ../shared/bench relative to the repository root."""
    env = os.environ.get("FACTCHECK_BENCH_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "bench"


def load_pages(bench_dir: Path, limit: int | None = None) -> list[tuple[str, bytes, str]]:
    """(name, raw html bytes, true text) for each page that has a truth entry, in name order."""
    root = bench_dir / "extraction"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for name in sorted(truth):
        path = root / "html" / f"{name}.html.gz"
        if path.exists():
            pages.append((name, gzip.decompress(path.read_bytes()), truth[name]["articleBody"]))
        if limit is not None and len(pages) >= limit:
            break
    return pages


def ours(raw: bytes) -> str:
    from factcheck.documents.extract import ExtractionError, extract_bytes

    try:
        return extract_bytes(raw, content_type="text/html").text
    except ExtractionError:
        return ""


def baseline_get_text(raw: bytes) -> str:
    """The naive approach: all text of the page (decoded the same way as ours, so only extraction differs)."""
    from bs4 import BeautifulSoup

    from factcheck.documents.extract import decode_bytes

    html, _ = decode_bytes(raw, "text/html")
    return BeautifulSoup(html, "html.parser").get_text(" ")


def evaluate(fn: Callable[[bytes], str], pages: list[tuple[str, bytes, str]]) -> dict[str, Any]:
    scores: list[PageScore] = []
    start = time.perf_counter()
    for _name, raw, truth in pages:
        scores.append(score_page(fn(raw), truth))
    elapsed = time.perf_counter() - start
    result: dict[str, Any] = aggregate(scores)
    result["seconds"] = elapsed
    result["pages_per_second"] = len(pages) / elapsed if elapsed else 0.0
    result["per_page_f1"] = {name: s.f1 for (name, _, _), s in zip(pages, scores, strict=True)}
    return result


def run(bench_dir: Path, limit: int | None = None) -> dict[str, Any]:
    pages = load_pages(bench_dir, limit)
    if not pages:
        raise SystemExit(f"no benchmark pages found under {bench_dir / 'extraction'}")
    base = evaluate(baseline_get_text, pages)
    our = evaluate(ours, pages)
    return {
        "dataset": str(bench_dir / "extraction"),
        "pages": len(pages),
        "metric": "F1 of page-averaged precision/recall over 4-word lowercase shingles",
        "factcheck": our,
        "baseline_bs4_get_text": base,
        "f1_ratio": our["f1"] / base["f1"] if base["f1"] else None,
        "speed_ratio": our["pages_per_second"] / base["pages_per_second"] if base["pages_per_second"] else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench-dir", type=Path, default=None, help="bench root (default: FACTCHECK_BENCH_DIR or ../shared/bench)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N pages (name order)")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("--worst", type=int, default=0, help="also list the N pages with the lowest F1")
    args = ap.parse_args(argv)
    res = run(args.bench_dir or default_bench_dir(), args.limit)
    if args.json:
        out = {k: v for k, v in res.items()}
        for key in ("factcheck", "baseline_bs4_get_text"):
            out[key] = {k: v for k, v in res[key].items() if k != "per_page_f1"}
        print(json.dumps(out, indent=2))
        return 0
    print(f"{res['pages']} pages from {res['dataset']}")
    print(f"metric: {res['metric']}")
    print(f"{'extractor':<22}{'precision':>10}{'recall':>9}{'F1':>8}{'pageF1':>8}{'microF1':>9}{'pages/s':>9}")
    for label, key in (("factcheck.documents.extract", "factcheck"), ("bs4 get_text", "baseline_bs4_get_text")):
        r = res[key]
        print(f"{label:<22}{r['precision']:>10.3f}{r['recall']:>9.3f}{r['f1']:>8.3f}"
              f"{r['mean_page_f1']:>8.3f}{r['micro_f1']:>9.3f}{r['pages_per_second']:>9.1f}")
    print(f"F1 ratio factcheck/baseline: {res['f1_ratio']:.3f}   speed ratio: {res['speed_ratio']:.3f}")
    if args.worst:
        worst = sorted(res["factcheck"]["per_page_f1"].items(), key=lambda kv: kv[1])[: args.worst]
        for name, value in worst:
            print(f"  {value:.3f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
