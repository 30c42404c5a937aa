"""Reader speed: `verify` of one benchmark set with the reader, old code against new, rules only beside them.

Imports one set of ../shared/bench/verdicts (default wice-dev) into a SQLite desk once, then runs verify()
on it, each run in a fresh process, in this order per round:

  rules     this checkout, nli off (what the reader adds is measured against this);
  baseline  the code of a git revision (`--baseline-ref`, default `main`), nli on: the reader as it was;
  current   this checkout, nli on.

It prints claims/s of each, the ratios, the load average, and compares every verdict of the two reader runs
(label, confidence, rationale, quotes with offsets, first-hand; the signals are counted apart, since the
reader's signals list only the passages it read). A difference in the verdicts is printed and the exit
status is 1.

    FACTCHECK_BENCH_DIR=/path/to/bench python benchmarks/reader_speed_bench.py [--rounds N] [set]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from verdict_bench import bench_dir  # noqa: E402
from verify_bench import _checkout  # noqa: E402

_RUNNER = r"""
import json, sys, time
from pathlib import Path
from factcheck.desk.db import Desk
from factcheck.desk.verify import verify
from factcheck.settings import load_settings
url, folder, nli, case = sys.argv[1:5]
settings = load_settings({"db": url, "evidence_dir": folder + "/evidence", "nli": nli},
                         environ={}, desk_dir=Path(folder))
desk = Desk(url, check=False)
from factcheck.text import gloss
gloss.load(settings.gloss_dictionary)  # parsing the word list is not part of the run
t0 = time.perf_counter()
res = verify(desk, settings, actor="bench", case=case)
secs = time.perf_counter() - t0
desk.dispose()
print(json.dumps({"run": res.run_id, "claims": len(res.claim_ids), "seconds": secs, "counts": res.counts}))
"""

FIELDS = ("label", "confidence", "rationale", "quotes", "first_hand")


def run_verify(url: str, folder: Path, code: Path, nli: str, case: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(code))
    env.pop("FACTCHECK_NLI", None)
    p = subprocess.run([sys.executable, "-c", _RUNNER, url, str(folder), nli, case],
                       capture_output=True, text=True, env=env, cwd=str(folder))
    if p.returncode != 0:
        raise SystemExit(f"verify failed ({code}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def compare(url: str, run_a: int, run_b: int) -> tuple[list[str], int]:
    """Every difference in the verdicts of two runs, claim by claim, and how many differ only in signals."""
    from sqlalchemy import select

    from factcheck.desk.db import Desk
    from factcheck.desk.models import Verdict

    desk = Desk(url, check=False)
    got: dict[int, dict[int, tuple[Any, ...]]] = {run_a: {}, run_b: {}}
    with desk.session() as s:
        for v in s.execute(select(Verdict).where(Verdict.run_id.in_([run_a, run_b]))).scalars():
            got[v.run_id][v.claim_id] = (*(getattr(v, f) for f in FIELDS), v.signals)
    desk.dispose()
    a, b = got[run_a], got[run_b]
    out = [] if set(a) == set(b) else [f"claims judged differ: {len(a)} vs {len(b)}"]
    signals_only = 0
    for cid in sorted(set(a) & set(b)):
        diff = [f for f, x, y in zip(FIELDS, a[cid], b[cid], strict=False) if x != y]
        if diff:
            out.append(f"claim {cid}: {', '.join(diff)} differ: {a[cid][0]} vs {b[cid][0]}")
        elif a[cid][-1] != b[cid][-1]:
            signals_only += 1
    return out, signals_only


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set", nargs="?", default="wice-dev")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--baseline-ref", default="main", help="git revision whose reader path is the baseline")
    args = ap.parse_args()
    case_path = bench_dir() / "verdicts" / args.set / "case.yaml"
    if not case_path.is_file():
        print(f"no such set: {case_path} (set FACTCHECK_BENCH_DIR)", file=sys.stderr)
        return 1
    from factcheck.desk.cases import import_case
    from factcheck.desk.db import Desk, upgrade
    from factcheck.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        baseline = _checkout(args.baseline_ref, folder)
        url = f"sqlite:///{folder}/bench.db"
        settings = load_settings({"db": url, "evidence_dir": str(folder / "evidence")}, environ={},
                                 desk_dir=folder)
        desk = Desk(url, check=False)
        upgrade(desk.engine)
        with desk.session() as s:
            case = import_case(s, settings, case_path, actor="bench").case
        desk.dispose()
        runs: dict[str, list[dict[str, Any]]] = {"rules": [], "baseline": [], "current": []}
        load = [os.getloadavg()[0]]
        for _ in range(args.rounds):
            runs["rules"].append(run_verify(url, folder, REPO, "off", case))
            runs["baseline"].append(run_verify(url, folder, baseline, "on", case))
            runs["current"].append(run_verify(url, folder, REPO, "on", case))
            load.append(os.getloadavg()[0])
        differences, signals_only = compare(url, runs["baseline"][-1]["run"], runs["current"][-1]["run"])
    n = runs["rules"][0]["claims"]
    cps = {k: [n / r["seconds"] for r in v] for k, v in runs.items()}
    best = {k: max(v) for k, v in cps.items()}
    print(f"{args.set}: {n} claims, {args.rounds} round(s), load average (1 min) "
          + " -> ".join(f"{x:.2f}" for x in load))
    for k, label in (("rules", "rules only (current)"), ("baseline", f"reader ({args.baseline_ref})"),
                     ("current", "reader (current)")):
        print(f"  {label:24} best {best[k]:6.1f} claims/s   all: {', '.join(f'{x:.1f}' for x in cps[k])}")
    print(f"  reader current / {args.baseline_ref}: x{best['current'] / best['baseline']:.2f};  "
          f"reader current / rules only: {best['current'] / best['rules']:.2f}")
    print(f"  counts: {args.baseline_ref} {runs['baseline'][-1]['counts']}  current {runs['current'][-1]['counts']}")
    print(f"  verdicts compared ({', '.join(FIELDS)}): {len(differences)} differ; "
          f"{signals_only} differ in signals only")
    for d in differences[:40]:
        print("   ", d)
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main())
