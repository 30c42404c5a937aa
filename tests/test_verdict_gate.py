"""Accuracy gate: the verdict benchmark must not fall below pinned floors (just under what was reached).

The figures are those of the real desk pipeline (case imported into an in-memory SQLite desk, verify()
run, stored verdicts compared with `expected`), as the benchmark prints them by default. At the time of
pinning (full sets): wice-dev accuracy 0.748 / verified precision 0.829 / macro-F1 0.425;
climate-fever-even accuracy 0.350 / verified precision 0.583 / macro-F1 0.237. The baseline is chosen with
hindsight on the same set. Skips cleanly when the bench data is not there.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("verdict_bench", REPO / "benchmarks" / "verdict_bench.py")
assert _spec and _spec.loader
bench = importlib.util.module_from_spec(_spec)
sys.modules["verdict_bench"] = bench  # dataclasses look their module up
_spec.loader.exec_module(bench)

FLOORS = {
    "wice-dev": {"accuracy": 0.74, "verified_precision": 0.82, "macro_f1": 0.415},
    "climate-fever-even": {"accuracy": 0.34, "verified_precision": 0.57, "macro_f1": 0.225},
}


# With the entailment model (factcheck[nli], built by `factcheck nli build`, recipe minilm-snli v1). At
# pinning: wice-dev accuracy 0.748 / verified precision 0.833 / macro-F1 0.429; climate-fever-even 0.375 /
# 0.620 / 0.284 (rules only, same run: 0.748/0.829/0.425 and 0.350/0.583/0.237). A rebuild is not
# bit-identical (threaded training), hence a little more room than above. CI builds the model and sets
# FACTCHECK_REQUIRE_NLI=1, so this gate cannot pass there by skipping.
NLI_FLOORS: dict[str, dict[str, float]] = {
    "wice-dev": {"accuracy": 0.735, "verified_precision": 0.80, "macro_f1": 0.415},
    "climate-fever-even": {"accuracy": 0.36, "verified_precision": 0.60, "macro_f1": 0.265},
}


FLOORS_BY_MODE = {"off": FLOORS, "on": NLI_FLOORS}  # the nli setting each table is measured with
GATES = [(mode, name) for mode, floors in FLOORS_BY_MODE.items() for name in floors]


@pytest.mark.parametrize(("nli", "name"), GATES)
def test_verdict_benchmark_floors(nli: str, name: str) -> None:
    """Rules only (nli off), and with the entailment model (nli on, when it is built)."""
    from factcheck.judge import reader as entail

    if not (bench.bench_dir() / "verdicts" / name / "case.yaml").is_file():
        pytest.skip(f"verdict bench data not found under {bench.bench_dir()} (set FACTCHECK_BENCH_DIR)")
    if nli == "on" and not entail.available():
        if os.environ.get("FACTCHECK_REQUIRE_NLI") == "1":
            pytest.fail(f"entailment model required (FACTCHECK_REQUIRE_NLI=1) but not built in {entail.model_dir()}")
        pytest.skip("entailment model not built (pip install 'factcheck[nli]' && factcheck nli build, see README)")
    r = bench.evaluate(name, nli=nli)
    ours = r["ours"]
    for key, floor in FLOORS_BY_MODE[nli][name].items():
        assert ours[key] >= floor, f"{name} {key} {ours[key]:.3f} < floor {floor} (model: {r['nli']})"
    # the costliest error: verified must be more precise than the plain fuzzy baseline
    assert ours["verified_precision"] > r["baseline"]["verified_precision"]


def test_metrics_are_computed_correctly() -> None:
    m = bench.metrics(["verified", "unverified", "contested", "verified"],
                      ["verified", "unverified", "verified", "unverified"])
    assert m["accuracy"] == 0.5
    assert m["verified_precision"] == 0.5
    assert m["contested_recall"] == 0.0
    assert m["confusion"]["contested"]["verified"] == 1
