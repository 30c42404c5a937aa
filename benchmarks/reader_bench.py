"""Reader benchmark: three-way accuracy of a reader on the XNLI dev pairs (English and German side by side).

XNLI is CC BY-NC 4.0: it measures readers here, it never trains one. Directions:
  en-en   English premise, English hypothesis
  de-en   English premise, German hypothesis (a German claim against an English source), read as written
  de-en+g the same, the German hypothesis read through the word gloss the verdict uses (text.gloss)
  de-de   German premise and hypothesis, as written
Each figure is printed for every reader given (the shipped one by default, plus --compare FOLDER …), in
the same run, with pairs/second, and on the two fixed halves (CRC32 of the pair id).

    FACTCHECK_BENCH_DIR=/path/to/bench python benchmarks/reader_bench.py [--limit N] [--compare FOLDER …]
"""

from __future__ import annotations

import json
import os
import sys
import time
import zlib
from pathlib import Path

from factcheck.judge import reader
from factcheck.text import gloss

REPO = Path(__file__).resolve().parent.parent


def bench_dir() -> Path:
    return Path(os.environ.get("FACTCHECK_BENCH_DIR", REPO.parent / "shared" / "bench"))


def load(limit: int | None = None) -> list[dict]:
    path = bench_dir() / "reader" / "xnli-dev-even.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def half(row_id: str) -> str:
    return "A" if zlib.crc32(row_id.encode()) % 2 == 0 else "B"


def directions(rows: list[dict]) -> dict[str, list[tuple[str, str]]]:
    g = gloss.load()
    out = {
        "en-en": [(r["premise_en"], r["hypothesis_en"]) for r in rows],
        "de-en": [(r["premise_en"], r["hypothesis_de"]) for r in rows],
        "de-de": [(r["premise_de"], r["hypothesis_de"]) for r in rows],
    }
    if g is not None:
        out["de-en+g"] = [(r["premise_en"], g.gloss(r["hypothesis_de"])) for r in rows]
    return out


def evaluate(folder: str | None, rows: list[dict], pairs: dict[str, list[tuple[str, str]]]) -> dict:
    gold = [r["nli_label"] for r in rows]
    res: dict = {"reader": reader.model_id(folder) or str(folder)}
    for name, ps in pairs.items():
        t = time.perf_counter()
        scores = reader.score(ps, folder=folder, batch_size=32)
        secs = time.perf_counter() - t
        pred = [reader.label_of(s) for s in scores]
        ok = [p == g for p, g in zip(pred, gold, strict=True)]
        res[name] = {
            "accuracy": round(sum(ok) / len(ok), 3),
            "A": round(sum(o for o, r in zip(ok, rows, strict=True) if half(r["id"]) == "A")
                       / max(1, sum(half(r["id"]) == "A" for r in rows)), 3),
            "B": round(sum(o for o, r in zip(ok, rows, strict=True) if half(r["id"]) == "B")
                       / max(1, sum(half(r["id"]) == "B" for r in rows)), 3),
            "pairs_per_s": round(len(ps) / secs, 1),
        }
    return res


def main(argv: list[str]) -> int:
    limit = int(argv[argv.index("--limit") + 1]) if "--limit" in argv else None
    folders: list[str | None] = [None]
    for i, a in enumerate(argv):
        if a == "--compare":
            folders.append(argv[i + 1])
    rows = load(limit)
    pairs = directions(rows)
    print(f"xnli-dev-even: {len(rows)} pairs; gloss {'on' if 'de-en+g' in pairs else 'missing (no trans-de-en)'}")
    results = [evaluate(f, rows, pairs) for f in folders]
    print(f"{'direction':<9}" + "".join(f"{r['reader'][:28]:>30}" for r in results))
    for name in pairs:
        cells = "".join(f"{r[name]['accuracy']:>12.3f} (A {r[name]['A']:.3f} B {r[name]['B']:.3f})"[:30].rjust(30)
                        for r in results)
        print(f"{name:<9}{cells}")
    print("pairs/s  " + "".join(f"{r['en-en']['pairs_per_s']:>30}" for r in results))
    print("chance: 0.333 (three balanced labels)")
    if "--json" in argv:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
