"""Verdict benchmark on the labelled case files in ../shared/bench/verdicts/*.

Prints, per set: accuracy, macro-F1, verified precision, contested recall, the 3x3 confusion matrix and
claims/second for factcheck, beside a baseline measured in the same run (plain rapidfuzz
token_set_ratio between claim and best passage, verified at >= T; T is the baseline's best on the set,
which flatters the baseline). Each set is also reported on two fixed halves (by CRC32 of the claim id)
so tuning on one half can be checked on the other.

By default the figures are those of the real desk pipeline: the case is imported into an in-memory
SQLite desk (factcheck.desk.cases.import_case), `factcheck.desk.verify.verify` retrieves and judges every claim,
and the stored machine verdicts are compared with `expected`. `--direct` instead feeds each claim's own
pages straight to judge() (faster, for iteration; no retrieval from the rest of the desk).

With a reader installed (one ships with the package) it is used unless `--nli=off`;
`--nli=on` fails when it is missing. Run both to see what the model adds, beside the same baseline.

    FACTCHECK_BENCH_DIR=/path/to/bench .venv/bin/python benchmarks/verdict_bench.py [--direct]
        [--nli=auto|on|off|both] [--reader=FOLDER ...] [set ...]

`--nli=both` measures rules only and the shipped reader in the same run (plus every --reader folder, e.g.
a previous build) and prints them side by side, full set and held-out half B.
"""

from __future__ import annotations

import os
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from factcheck.judge.match import Candidate, normalise
from factcheck.judge.verdict import LABELS, judge
from factcheck.text.passages import split_passages

REPO = Path(__file__).resolve().parent.parent
SETS = ("wice-dev", "wice-dev-de", "climate-fever-even")


def bench_dir() -> Path:
    return Path(os.environ.get("FACTCHECK_BENCH_DIR", REPO.parent / "shared" / "bench"))


@dataclass
class BenchClaim:
    id: str
    text: str
    statement: str | None
    cited: list[str]
    expected: str
    candidates: list[Candidate] = field(default_factory=list)


def candidates_from_text(text: str, url: str, source: str | None, sha: str, *, tied: bool = True,
                         cited: bool = True, published: str | None = None) -> list[Candidate]:
    """Passages of one page as Candidates, each with the text around it as context (as the desk gives it:
    300 characters either side, see factcheck.desk.retrieve)."""
    passages = split_passages(text)
    out = []
    for p in passages:
        ctx = text[max(0, p.start - 300) : min(len(text), p.end + 300)]
        out.append(Candidate(None, p.text, p.start, p.end, sha, url, source, tied, cited, published, ctx))
    return out


def load_cases(name: str, base: Path | None = None) -> list[BenchClaim]:
    """Read one set's case.yaml and its pages (to be replaced by the desk's case importer later)."""
    import hashlib

    root = (base or bench_dir()) / "verdicts" / name
    data = yaml.safe_load((root / "case.yaml").read_text(encoding="utf-8"))
    pages: dict[str, tuple[str | None, str]] = {}
    for ev in data.get("evidence") or []:
        if ev.get("file"):
            pages[ev["url"]] = (ev.get("source"), (root / ev["file"]).read_text(encoding="utf-8"))
    claims = []
    for c in data.get("claims") or []:
        bc = BenchClaim(str(c["id"]), c["text"], c.get("statement"), list(c.get("cited") or []), c["expected"])
        for url in c.get("evidence") or []:
            if url in pages:
                source, text = pages[url]
                sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
                bc.candidates.extend(candidates_from_text(text, url, source, sha))
        claims.append(bc)
    return claims


def half(claim_id: str) -> str:
    return "A" if zlib.crc32(claim_id.encode()) % 2 == 0 else "B"


# ---------------------------------------------------------------- metrics


def metrics(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 (over labels seen in gold or predictions), verified precision, contested recall."""
    n = len(gold)
    conf = {g: {p: 0 for p in LABELS} for g in LABELS}
    for g, p in zip(gold, pred, strict=True):
        conf[g][p] += 1
    labels = [lab for lab in LABELS if any(g == lab for g in gold) or any(p == lab for p in pred)]
    f1s = []
    for lab in labels:
        tp = conf[lab][lab]
        fp = sum(conf[g][lab] for g in LABELS if g != lab)
        fn = sum(conf[lab][p] for p in LABELS if p != lab)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    pv = sum(conf[g]["verified"] for g in LABELS)
    gc = sum(conf["contested"].values())
    return {
        "n": n,
        "accuracy": sum(conf[g][g] for g in LABELS) / n if n else 0.0,
        "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "verified_precision": conf["verified"]["verified"] / pv if pv else 0.0,
        "verified_predicted": pv,
        "contested_recall": conf["contested"]["contested"] / gc if gc else None,
        "confusion": conf,
    }


# ---------------------------------------------------------------- systems


def run_judge(claims: Sequence[BenchClaim], settings: dict[str, Any] | None = None) -> tuple[list[str], float]:
    """judge() straight on each claim's own pages (settings may switch the entailment model: "nli")."""
    t0 = time.perf_counter()
    preds = [judge(c.text, c.statement, c.cited, c.candidates, settings=settings).label for c in claims]
    return preds, time.perf_counter() - t0


def run_desk(name: str, claims: Sequence[BenchClaim], base: Path | None = None,
             nli: str = "auto", reader: str | None = None) -> tuple[list[str], float, float]:
    """The real pipeline: import the case into an in-memory SQLite desk, run verify(), read the verdicts.

    Returns the predictions (in the order of claims), the import time and the verify time (seconds).
    """
    import tempfile

    from sqlalchemy import select

    from factcheck.desk.cases import import_case
    from factcheck.desk.db import Desk, check_ready, upgrade
    from factcheck.desk.models import Case, Claim, Verdict
    from factcheck.desk.verify import verify
    from factcheck.settings import load_settings

    case_path = (base or bench_dir()) / "verdicts" / name / "case.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = load_settings({"db": "sqlite://", "evidence_dir": str(folder / "evidence"), "nli": nli,
                                  "nli_model": reader}, environ={}, desk_dir=folder)
        desk = Desk("sqlite://", check=False)
        try:
            upgrade(desk.engine)
            check_ready(desk.engine)
            t0 = time.perf_counter()
            with desk.session() as s:
                summary = import_case(s, settings, case_path, actor="bench")
            t1 = time.perf_counter()
            verify(desk, settings, actor="bench", case=summary.case)
            t2 = time.perf_counter()
            with desk.session() as s:
                rows = s.execute(
                    select(Claim.key, Verdict.label, Verdict.quotes).join(Verdict, Verdict.claim_id == Claim.id)
                    .join(Case, Case.id == Claim.case_id).where(Case.key == summary.case)
                    .order_by(Verdict.id)
                ).all()
        finally:
            desk.dispose()
    latest = {key: label for key, label, _q in rows}  # newest verdict per claim wins
    LAST_QUOTES.clear()
    LAST_QUOTES.update({key: [q["quote"] for q in (quotes or [])] for key, _l, quotes in rows})
    return [latest.get(c.id, "unverified") for c in claims], t1 - t0, t2 - t1


LAST_QUOTES: dict[str, list[str]] = {}  # claim id -> quotes of its verdict, from the last run


def quote_hits(name: str, claims: Sequence[BenchClaim], preds: Sequence[str],
               quotes: dict[str, list[str]]) -> dict[str, Any] | None:
    """Of the claims called verified, how many show a gold supporting line (annotators' sets, WiCE's
    gold-lines.json) as their first quote. None for sets without gold lines."""
    gold_file = bench_dir() / "verdicts" / name / "gold-lines.json"
    if not gold_file.is_file():
        gold_file = bench_dir() / "verdicts" / name.removesuffix("-de") / "gold-lines.json"
    if not gold_file.is_file():
        return None
    import json

    gold = json.loads(gold_file.read_text(encoding="utf-8"))
    root = bench_dir() / "verdicts" / name
    data = yaml.safe_load((root / "case.yaml").read_text(encoding="utf-8"))
    files = {ev["url"]: root / ev["file"] for ev in data.get("evidence") or [] if ev.get("file")}
    evidence = {str(c["id"]): list(c.get("evidence") or []) for c in data.get("claims") or []}
    hit = total = 0
    for c, p in zip(claims, preds, strict=True):
        if p != "verified" or not quotes.get(c.id):
            continue
        total += 1
        wanted = {i for group in gold.get(c.id, []) for i in group}
        lines: list[str] = []
        for url in evidence.get(c.id, []):
            if url in files:
                lines = files[url].read_text(encoding="utf-8").splitlines()
                break
        q = quotes[c.id][0].strip()
        at = {i for i, line in enumerate(lines) if q and (q in line or (line.strip() and line.strip() in q))}
        hit += bool(at & wanted)
    return {"verified": total, "gold_quote": hit, "share": hit / total if total else None}


def baseline_scores(claims: Sequence[BenchClaim]) -> tuple[list[float], float]:
    """Best token_set_ratio of the claim against any of its passages (0 without passages)."""
    t0 = time.perf_counter()
    out = []
    for c in claims:
        if not c.candidates:
            out.append(0.0)
            continue
        res = process.cdist([normalise(c.text)], [normalise(p.text) for p in c.candidates],
                            scorer=fuzz.token_set_ratio, processor=None)
        out.append(float(res.max()))
    return out, time.perf_counter() - t0


def best_threshold(gold: Sequence[str], scores: Sequence[float]) -> tuple[float, list[str]]:
    """The baseline's best threshold on this very set, by macro-F1 (an optimistic baseline)."""
    best: tuple[float, float, list[str]] = (-1.0, 0.0, [])
    for t in range(30, 101, 2):
        pred = ["verified" if s >= t else "unverified" for s in scores]
        f1 = metrics(gold, pred)["macro_f1"]
        if f1 > best[0]:
            best = (f1, float(t), pred)
    return best[1], best[2]


# ---------------------------------------------------------------- report


def evaluate(name: str, settings: dict[str, Any] | None = None, *, direct: bool = False,
             nli: str = "auto", reader: str | None = None) -> dict[str, Any]:
    """Load a set, run factcheck (desk pipeline, or judge() directly) and the baseline; all figures.

    Used by the test gate too. `settings` only applies to the direct path. `nli` is the entailment-model
    setting (auto: when built; on: required; off).
    """
    from factcheck.judge import reader as entail

    claims = load_cases(name)
    gold = [c.expected for c in claims]
    import_secs = None
    use_nli = entail.enabled(nli, reader)
    if direct:
        preds, secs = run_judge(claims, {"nli": use_nli, "nli_model": reader or ""} | (settings or {}))
    else:
        preds, import_secs, secs = run_desk(name, claims, nli="on" if use_nli else "off", reader=reader)
    quotes = quote_hits(name, claims, preds, LAST_QUOTES) if not direct else None
    scores, bsecs = baseline_scores(claims)
    t, bpred = best_threshold(gold, scores)
    halves = {}
    for h in ("A", "B"):
        idx = [i for i, c in enumerate(claims) if half(c.id) == h]
        halves[h] = metrics([gold[i] for i in idx], [preds[i] for i in idx])
    return {
        "set": name,
        "mode": ("direct judge()" if direct else "desk pipeline (import_case + verify)")
        + (f", reader {entail.model_id(reader)}" if use_nli else ", rules only (no reader)"),
        "nli": entail.model_id(reader) if use_nli else None,
        "import_seconds": import_secs,
        "ours": metrics(gold, preds),
        "ours_cps": len(claims) / secs if secs else float("inf"),
        "baseline": metrics(gold, bpred),
        "baseline_threshold": t,
        "baseline_cps": len(claims) / bsecs if bsecs else float("inf"),
        "halves": halves,
        "quotes": quotes,
        "predictions": dict(zip((c.id for c in claims), preds, strict=True)),
    }


def _fmt(v: Any) -> str:
    return "  n/a" if v is None else f"{v:5.3f}"


def print_report(r: dict[str, Any], out: Callable[[str], None] = print) -> None:
    o, b = r["ours"], r["baseline"]
    out(f"\n== {r['set']} ({o['n']} claims) — factcheck = {r['mode']}")
    out(f"{'':22}{'factcheck':>10}{'baseline':>10}{'ratio':>8}")
    for key in ("accuracy", "macro_f1", "verified_precision", "contested_recall"):
        ov, bv = o[key], b[key]
        ratio = f"{ov / bv:7.2f}x" if ov is not None and bv else "     -"
        out(f"{key:22}{_fmt(ov):>10}{_fmt(bv):>10}{ratio:>8}")
    out(f"{'verified predicted':22}{o['verified_predicted']:>10}{b['verified_predicted']:>10}")
    out(f"{'claims/second':22}{r['ours_cps']:>10.0f}{r['baseline_cps']:>10.0f}"
        f"{r['ours_cps'] / r['baseline_cps']:>7.2f}x")
    if r.get("import_seconds") is not None:
        out(f"(claims/second counts verify() only; importing the case took {r['import_seconds']:.1f}s)")
    out(f"baseline: token_set_ratio >= {r['baseline_threshold']:.0f} -> verified, else unverified "
        "(threshold chosen as the baseline's best macro-F1 on this set)")
    out("confusion (rows = expected, columns = factcheck):")
    out(f"{'':14}" + "".join(f"{p:>12}" for p in LABELS))
    for g in LABELS:
        out(f"{g:14}" + "".join(f"{o['confusion'][g][p]:>12}" for p in LABELS))
    if r.get("quotes"):
        q = r["quotes"]
        out(f"quotes: {q['gold_quote']} of {q['verified']} verified claims show a gold supporting line"
            + (f" ({q['share']:.2f})" if q["share"] is not None else ""))
    for h, m in r["halves"].items():
        out(f"half {h} ({m['n']}): accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}  "
            f"verified precision {m['verified_precision']:.3f}  contested recall {_fmt(m['contested_recall'])}")


def print_side_by_side(results: Sequence[dict[str, Any]], out: Callable[[str], None] = print) -> None:
    """One set's figures for every system measured in this run, side by side (half B: the held-out half)."""
    name = results[0]["set"]
    cols = ["baseline"] + [r["nli"] or "rules only" for r in results]
    out(f"\n-- {name}: side by side (full set | half B)")
    out(f"{'':22}" + "".join(f"{c[:22]:>24}" for c in cols))
    for key in ("accuracy", "macro_f1", "verified_precision", "contested_recall"):
        cells = [f"{_fmt(results[0]['baseline'][key])}      -"]
        cells += [f"{_fmt(r['ours'][key])} | {_fmt(r['halves']['B'][key])}" for r in results]
        out(f"{key:22}" + "".join(f"{c:>24}" for c in cells))
    out(f"{'claims/second':22}" + f"{results[0]['baseline_cps']:>24.0f}"
        + "".join(f"{r['ours_cps']:>24.1f}" for r in results))
    if any(r.get("quotes") for r in results):
        out(f"{'gold quote share':22}{'-':>24}" + "".join(
            f"{_fmt((r.get('quotes') or {}).get('share')):>24}" for r in results))


def main(argv: Sequence[str]) -> int:
    direct = "--direct" in argv
    nli = next((a.split("=", 1)[1] for a in argv if a.startswith("--nli=")), "auto")
    readers = [a.split("=", 1)[1] for a in argv if a.startswith("--reader=")]
    names = [a for a in argv if not a.startswith("--")] or list(SETS)
    if not (bench_dir() / "verdicts").is_dir():
        print(f"bench dir not found: {bench_dir() / 'verdicts'} (set FACTCHECK_BENCH_DIR)", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    for name in names:
        if nli != "both":
            print_report(evaluate(name, direct=direct, nli=nli))
            continue
        # rules only, the shipped reader, and any other reader folders, in the same run
        results = [evaluate(name, direct=direct, nli="off"), evaluate(name, direct=direct, nli="on")]
        results += [evaluate(name, direct=direct, nli="on", reader=f) for f in readers]
        for r in results:
            print_report(r)
        print_side_by_side(results)
    print(f"\ntotal {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
