"""How long an audit report takes on a desk with many claims, against `claims list --json` on the same desk.

Builds a throwaway SQLite desk from the test case with N copies of its claims, verifies it once, then times
building the report model and rendering each text format. The baseline is the listing the CLI already
does (claim_dict for every claim), measured in the same run; figures are printed as ratios to it.

    .venv/bin/python benchmarks/report_bench.py [N]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

from factcheck.desk.cases import import_case
from factcheck.desk.claims import claim_dict, list_claims
from factcheck.desk.db import Desk, upgrade
from factcheck.desk.verify import verify
from factcheck.report import TEXT_FORMATS, build_report, render
from factcheck.settings import load_settings

CASE_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cases"


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(n: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="report-bench-"))
    try:
        shutil.copytree(CASE_DIR, tmp / "claims")
        spec = yaml.safe_load((tmp / "claims" / "case.yaml").read_text(encoding="utf-8"))
        base = spec["claims"]
        spec["claims"] = [dict(c, id=f"{c['id']}-{i}") for i in range(n) for c in base]
        (tmp / "claims" / "big.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
        url = f"sqlite:///{tmp / 'desk.db'}"
        settings = load_settings({"db": url, "evidence_dir": str(tmp / "evidence")}, environ={}, desk_dir=tmp)
        desk = Desk(url, check=False)
        upgrade(desk.engine)
        with desk.session() as s:
            import_case(s, settings, tmp / "claims" / "big.yaml", actor="bench")
        verify(desk, settings, actor="bench")
        claims = len(base) * n

        def listing() -> None:
            with desk.session() as s:
                [claim_dict(s, c) for c in list_claims(s)]

        def build() -> None:
            with desk.session() as s:
                build_report(s, settings)

        t_list = best_of(listing)
        t_build = best_of(build)
        with desk.session() as s:
            rep = build_report(s, settings)
        print(f"claims: {claims}")
        print(f"baseline claims list (claim_dict): {t_list * 1000:.0f} ms")
        print(f"build report model: {t_build * 1000:.0f} ms  ratio {t_build / t_list:.2f}x")
        for fmt in TEXT_FORMATS:
            t = best_of(lambda fmt=fmt: render(rep, fmt))
            size = len(render(rep, fmt).encode("utf-8"))
            print(f"render {fmt:11}: {t * 1000:.0f} ms  ratio {t / t_list:.2f}x  {size / 1024:.0f} KiB")
        desk.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
