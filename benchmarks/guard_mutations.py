"""Mutation pass over the verdict guards: break one guard at a time and see whether a test notices.

Calling a false claim verified is the worst failure the desk can have, and the guards that prevent it are a
handful of conditions in judge/verdict.py, judge/match.py and text/anchors.py. A guard no test pins can be
deleted by a later change with every test green, so each one is mutated here in a copy of the checkout
(the package and its tests, nothing else), the verdict tests are run against that copy, and the mutant is
"killed" when a test fails and "survived" when none does.

    python benchmarks/guard_mutations.py                  # every mutant, the verdict tests
    python benchmarks/guard_mutations.py --only rules_verify_missing,tolerance
    python benchmarks/guard_mutations.py --list           # what each mutant breaks
    python benchmarks/guard_mutations.py --json

A mutant whose original text is no longer in the file is reported "stale": the code moved, and the mutant
needs updating, which is a failure of this script (exit 2), not a pass. Survivors exit 1.
Reads the WiCE/climate bench data only through the tests (FACTCHECK_BENCH_DIR), like CI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# the tests that speak for the verdict (the slow bring-your-own-reader CLI test and the real builds are left
# out: they test the reader's plumbing, not the guards)
TESTS = [
    "tests/test_verdict_guards.py", "tests/test_verdict.py", "tests/test_match.py", "tests/test_anchors.py",
    "tests/test_crosslingual.py", "tests/test_german_case.py", "tests/test_entail.py",
]
DESELECT = ["bring_your_own", "tiny_build"]


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    why: str


V, M, A = "factcheck/judge/verdict.py", "factcheck/judge/match.py", "factcheck/text/anchors.py"

MUTANTS = [
    # ---- the rules' verified
    Mutant("rules_verify_credible", V, "return (self.credible and self.best_cov", "return (True and self.best_cov",
           "verified from a page that is not the cited source and does not name it"),
    Mutant("rules_verify_best_cov", V, 'self.best_cov >= cfg["verify_best_coverage"]\n', "True\n",
           "verified though no single passage states enough of the claim"),
    Mutant("rules_verify_support_cov", V, 'and self.support_cov >= cfg["verify_coverage"] and not self.missing',
           "and not self.missing", "verified though the support states too little of the claim"),
    Mutant("rules_verify_missing", V, "and not self.missing\n", "\n",
           "verified with a number, year, date or name of the claim not found in the evidence"),
    Mutant("rules_verify_disagreeing", V, "and not self.disagreeing and not self.any_disagreement)",
           "and not self.any_disagreement)", "verified with a strong disagreement (alone: any_disagreement covers it)"),
    Mutant("rules_verify_any_disagreement", V, "and not self.disagreeing and not self.any_disagreement)",
           "and not self.disagreeing)", "verified with a loose disagreement (a number elsewhere in the window)"),
    Mutant("any_disagreement_best_sentence", V, "r.any_disagreement = window + [", "r.any_disagreement = window + 0 * [",
           "the quoted sentence's own year or number disagreeing no longer rules out verified when a neighbour "
           "or another page states the claim's"),
    Mutant("negation_from_best_sentence", V, 'agreement["negation"] = r.best_agreement["negation"]\n', "\n",
           "negation read over the whole window instead of the sentence that states the claim"),
    Mutant("credible_always", V, "r.credible = r.best_c.cited or r.second_hand_from is not None", "r.credible = True",
           "any page counts as the cited source"),
    Mutant("second_hand_any_page", V, "r.second_hand_from = None if r.best_c.cited else _naming_source(r.best_c, "
           "r.cited_names)", "r.second_hand_from = None if r.best_c.cited else (r.cited_names[0] if r.cited_names "
           "else None)", "a page that does not name the cited source is taken as a second-hand report of it"),
    Mutant("attribution_disagree", V, 'return "agree" if claim_speakers & ev_speakers else "disagree"',
           'return "agree"', "a passage naming someone else as the speaker agrees on who said it"),
    # ---- contesting
    Mutant("contest_value_elsewhere", V, "        and not page_states_claims[t]\n    ]", "    ]",
           "contested although the claim's own value is stated elsewhere on the page"),
    Mutant("contest_tightness", V, 'and r.tight_cov >= cfg["contest_coverage"]\n', "\n",
           "contested from a sentence that only loosely states the claim"),
    Mutant("contest_other_passage_agrees", V,
           'kept = [t for t in r.disagreeing if other.get(t) != "agree" or t == "attribution"]',
           "kept = list(r.disagreeing)",
           "contested although another strong passage states the claim's value"),
    Mutant("value_on_page_years_subset", V, "return bool(claim.years) and claim.years <= page.years",
           "return bool(claim.years & page.years)", "one of the claim's years on the page counts as all of them"),
    Mutant("value_on_page_quantities_all", V,
           "return bool(claim.quantities) and all(\n        any(quantities_match(q, e) for e in page.quantities)",
           "return bool(claim.quantities) and any(\n        any(quantities_match(q, e) for e in page.quantities)",
           "one of the claim's numbers on the page counts as all of them"),
    # ---- the reader's verified and contested
    Mutant("reader_disagreeing_anchor", V,
           '    if any(v == "disagree" for v in row.agreement.values()):\n        return False, via\n', "",
           "the reader verifies with an anchor of the premise disagreeing"),
    Mutant("reader_absent_figures", V,
           '    if any(row.agreement.get(t) == "absent" for t in ("quantities", "years", "dates")):\n'
           "        return False, via\n", "", "the reader verifies figures it cannot see in the premise"),
    Mutant("reader_attribution", V,
           '    if _attribution_state(claim_speakers, _reported_speakers(c.text)) == "disagree":\n'
           "        return False, via\n", "", "the reader verifies a misattributed claim"),
    Mutant("reader_uncited_source", V, "        if via is None:\n            return False, None\n", "",
           "the reader verifies from a page that neither is nor names the cited source"),
    Mutant("reader_support_threshold", V, 'if x.scores.entailment < cfg["nli_support"]:', "if False:",
           "any entailment probability is enough for the reader to verify"),
    Mutant("reader_contest_threshold", V,
           'contra.scores.contradiction >= cfg["nli_contradict"] else None', "True else None",
           "any contradiction probability contests"),
    Mutant("reader_contest_coverage", V,
           'for x in r.nli_rows if x.coverage >= cfg["nli_contest_coverage"]),', "for x in r.nli_rows),",
           "the reader contests from a passage that states little of the claim"),
    # ---- anchors
    Mutant("tolerance", A, "tolerance: float = 0.005", "tolerance: float = 0.1",
           "600 matches 605, 45 % matches 46 %"),
    Mutant("tolerance_about", A, "tol = max(tol, 0.05)", "tol = max(tol, 0.2)",
           "'about 600' matches 700"),
    Mutant("qualifier_compatible", A, "    return (cq, eq) in compatible\n", "    return True\n",
           "'more than 600' matches a bare 600"),
    Mutant("unit_mismatch", A, "        return False\n    cv, ev = claim.value, evidence.value",
           "        pass\n    cv, ev = claim.value, evidence.value", "600 euros matches 600 percent"),
    Mutant("years_agree_subset", M, "if claim.years <= evidence.years:", "if claim.years & evidence.years:",
           "a claim naming 2019 and 2020 agrees with a page naming 2019 only"),
    Mutant("dates_disagree", M, 'states.append("disagree")\n            else:\n                states.append("absent")'
           '\n        out["dates"]', 'states.append("absent")\n            else:\n                states.append('
           '"absent")\n        out["dates"]', "a different day of the same year is not a disagreement"),
    Mutant("negation_compare", M, 'out["negation"] = "agree" if claim.negated == evidence.negated else "disagree"',
           'out["negation"] = "agree"', "'did not hire' agrees with 'hired'"),
    Mutant("ranks_disagree", M, 'elif theirs:\n                states.append("disagree")',
           'elif theirs:\n                states.append("absent")', "'bottom third' vs 'lower end' no longer differs"),
    Mutant("names_all", M, 'out["names"] = "agree" if all(name_found(n, folded) for n in claim.names) else "absent"',
           'out["names"] = "agree" if any(name_found(n, folded) for n in claim.names) else "absent"',
           "one of the claim's names found counts as all"),
]


def _copy_checkout(dest: Path) -> None:
    # the package, its tests, and what the tests read beside them (the sample case, its evidence pages)
    for part in ("factcheck", "tests", "claims", "evidence", "migrations"):
        shutil.copytree(REPO / part, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")


def _run_tests(where: Path, tests: list[str], timeout: float) -> tuple[bool, str, float]:
    env = dict(os.environ, PYTHONPATH=str(where), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-n", "0",
           "-k", " and ".join(f"not {d}" for d in DESELECT), *tests]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=where, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, "timeout", time.perf_counter() - t0
    failed = next((ln.split(" ", 1)[1].split(" - ")[0] for ln in p.stdout.splitlines() if ln.startswith("FAILED ")),
                  None)
    lines = p.stdout.strip().splitlines()
    return p.returncode == 0, failed or (lines[-1] if lines else ""), time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated mutant names")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    mutants = MUTANTS
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m.name for m in MUTANTS}
        if unknown:
            print(f"Error: unknown mutant(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        mutants = [m for m in MUTANTS if m.name in wanted]
    if args.list:
        for m in mutants:
            print(f"{m.name:32} {m.path:28} {m.why}")
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="guard-mutations-") as tmp:
        where = Path(tmp)
        _copy_checkout(where)
        probe = subprocess.run([sys.executable, "-c", "import factcheck; print(factcheck.__file__)"], cwd=where,
                               env=dict(os.environ, PYTHONPATH=str(where)), capture_output=True, text=True)
        if not probe.stdout.strip().startswith(str(where)):
            print(f"Error: the copy is not what the tests import ({probe.stdout.strip()})", file=sys.stderr)
            return 2
        ok, last, secs = _run_tests(where, TESTS, args.timeout)
        if not ok:
            print(f"Error: the tests fail without any mutant: {last}", file=sys.stderr)
            return 2
        print(f"unmutated: tests pass in {secs:.0f} s", file=sys.stderr)
        for m in mutants:
            target = where / m.path
            original = target.read_text(encoding="utf-8")
            n = original.count(m.old)
            if n != 1:
                results.append({"name": m.name, "state": "stale", "test": f"original text found {n} times",
                                "seconds": 0.0, "why": m.why})
                continue
            target.write_text(original.replace(m.old, m.new), encoding="utf-8")
            try:
                passed, test, secs = _run_tests(where, TESTS, args.timeout)
            finally:
                target.write_text(original, encoding="utf-8")
            state = "survived" if passed else "killed"
            results.append({"name": m.name, "state": state, "test": "" if passed else test,
                            "seconds": round(secs, 1), "why": m.why})
            print(f"{m.name:32} {state:8} {secs:6.0f} s  {'' if passed else test}", file=sys.stderr, flush=True)
    counts = {s: sum(r["state"] == s for r in results) for s in ("killed", "survived", "stale")}
    if args.json:
        print(json.dumps({"counts": counts, "mutants": results}, indent=2))
    else:
        print(f"\n{counts['killed']} killed, {counts['survived']} survived, {counts['stale']} stale "
              f"of {len(results)} mutants")
        for r in results:
            if r["state"] != "killed":
                print(f"  {r['state']:8} {r['name']}: {r['why']} ({r['test']})" if r["test"] else
                      f"  {r['state']:8} {r['name']}: {r['why']}")
    return 2 if counts["stale"] else 1 if counts["survived"] else 0


if __name__ == "__main__":
    sys.exit(main())
