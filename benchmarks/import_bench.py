"""Case-import benchmark: synthetic case files of 2,000 and 10,000 claims into a fresh desk.

Each claim cites one of 50 declared sources and points at two of 500 evidence URLs, so the import writes
claims, citations, evidence links, evidence URLs and one audit event per created record. Prints, per
backend and size, claims/s of `import_case` (first import, then a re-import of the same file that must
write nothing), beside a baseline measured in the same run on the same desk: a bare `executemany` INSERT
of the same claim rows into an empty claim table (the floor any import pays). The audit chain is
verified after every import.

    python benchmarks/import_bench.py                      # sqlite (and postgresql when FACTCHECK_TEST_PG)
    python benchmarks/import_bench.py --sizes 2000 --backends sqlite
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

SOURCES = 50
URLS = 500


def case_file(folder: Path, n: int, seed: int = 11) -> Path:
    """A case file of `n` claims with sources, evidence URLs and citations."""
    rng = random.Random(seed)
    words = ["rate", "budget", "city", "council", "schools", "rose", "fell", "percent", "million", "report",
             "minister", "said", "year", "housing", "prices", "police", "hospital", "jobs", "taxes", "water"]
    urls = [f"https://s{i % SOURCES}.example/page/{i}" for i in range(URLS)]
    data = {
        "case": f"bench-{n}", "title": f"Import benchmark, {n} claims",
        "sources": [{"name": f"Source {i}", "aliases": [f"S{i}"], "domains": [f"s{i}.example"]}
                    for i in range(SOURCES)],
        "evidence": [{"url": u, "source": f"Source {i % SOURCES}"} for i, u in enumerate(urls)],
        "claims": [
            {"id": f"C{k}", "text": " ".join(rng.choices(words, k=14)).capitalize() + f" {rng.randint(1, 999)}.",
             "cited": [f"Source {rng.randrange(SOURCES)}"],
             "evidence": rng.sample(urls, 2), "language": "en"}
            for k in range(n)
        ],
    }
    path = folder / f"case-{n}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def fresh_desk(backend: str, folder: Path) -> tuple[str, object]:
    """A fresh desk URL and a cleanup callable."""
    if backend == "sqlite":
        return f"sqlite:///{folder / f'desk-{uuid.uuid4().hex[:6]}.db'}", lambda: None
    from sqlalchemy import create_engine, text

    admin_url = os.environ["FACTCHECK_TEST_PG"]
    name = f"fc_importbench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


def baseline(desk: object, path: Path) -> float:
    """Seconds for a bare executemany INSERT of the file's claim rows (then removed again)."""
    from sqlalchemy import delete, insert

    from factcheck.desk.models import Case, Claim, utcnow

    claims = yaml.safe_load(path.read_text(encoding="utf-8"))["claims"]
    now = utcnow()
    with desk.session() as s:  # type: ignore[attr-defined]
        case = Case(key="baseline", title="baseline")
        s.add(case)
        s.flush()
        t0 = time.perf_counter()
        s.execute(insert(Claim), [{"case_id": case.id, "key": c["id"], "text": c["text"], "language": "en",
                                   "created_at": now, "updated_at": now, "revision": 1} for c in claims])
        s.flush()
        took = time.perf_counter() - t0
        s.execute(delete(Claim).where(Claim.case_id == case.id))
        s.delete(case)
    return took


def run(backend: str, n: int, folder: Path) -> dict[str, float]:
    from factcheck.desk import audit
    from factcheck.desk.cases import import_case
    from factcheck.desk.db import Desk, upgrade
    from factcheck.settings import Settings

    path = case_file(folder, n)
    url, cleanup = fresh_desk(backend, folder)
    try:
        desk = Desk(url, check=False)
        upgrade(desk.engine)
        settings = Settings()
        base = baseline(desk, path)
        timings = {}
        for label in ("first", "again"):
            t0 = time.perf_counter()
            with desk.session() as s:
                summary = import_case(s, settings, path, actor="bench")
            timings[label] = time.perf_counter() - t0
            want = "created" if label == "first" else "unchanged"
            assert summary.claims[want] == n, summary.as_dict()
        with desk.session() as s:
            report = audit.verify_session(s)
        assert report.ok, report
        desk.dispose()
    finally:
        cleanup()  # type: ignore[operator]
    return {"baseline": base, **timings}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--backends", nargs="+", default=None)
    args = ap.parse_args(argv)
    backends = args.backends or (["sqlite", "postgresql"] if os.environ.get("FACTCHECK_TEST_PG") else ["sqlite"])
    print(f"{'backend':<11}{'claims':>8}{'import s':>10}{'claims/s':>10}{'re-import s':>13}"
          f"{'baseline s':>12}{'import/baseline':>17}")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            for n in args.sizes:
                t = run(backend, n, Path(tmp))
                print(f"{backend:<11}{n:>8}{t['first']:>10.2f}{n / t['first']:>10.0f}{t['again']:>13.2f}"
                      f"{t['baseline']:>12.3f}{t['first'] / t['baseline']:>16.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
