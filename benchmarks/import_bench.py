"""Case-import benchmark: synthetic case files (10,000 claims by default) into a fresh desk, the current import
beside the previous one, measured in the same run on the same file.

Each claim cites one of 50 declared sources and points at two of 500 evidence URLs, so the import writes
claims, citations, evidence links, evidence URLs and one audit event per created record. Per backend and size:

- parse: seconds to read and check the file. Previous: the whole document through the YAML loader
  (`parse_case`). Current: `read_case` (the file checked whole, claims not kept) plus one `claims()` pass
  (the claims read again for storing), i.e. everything the import spends on YAML.
- import: `import_case` into a fresh desk, first import (claims/s) and a re-import that must write nothing.
  The current import commits after each batch of 1,000 claims, as `factcheck claims import` does. The previous
  import is the code of git revision --previous (the batched ORM path: ORM objects and one audit event at a
  time, one transaction), run in a subprocess on the same file, backend and machine.
- bare INSERT: a bare `executemany` INSERT of the same claim rows into an empty claim table (the floor any
  import pays), on the current desk.

The audit chain is verified after every import.

    python benchmarks/import_bench.py                       # sqlite (and postgresql when FACTCHECK_TEST_PG)
    python benchmarks/import_bench.py --sizes 2000 10000 --backends sqlite
    python benchmarks/import_bench.py --previous none       # the current import only
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

SOURCES = 50
URLS = 500
PREVIOUS = "9a40d37"
"""The last commit before the bulk import (#15): the batched ORM path of benchmarks run on 2026-11-29."""
REPO = Path(__file__).resolve().parent.parent


def case_file(folder: Path, n: int, seed: int = 11, sources: int = SOURCES, urls: int = URLS) -> Path:
    """A case file of `n` claims with `sources` sources, `urls` evidence URLs and citations."""
    rng = random.Random(seed)
    words = ["rate", "budget", "city", "council", "schools", "rose", "fell", "percent", "million", "report",
             "minister", "said", "year", "housing", "prices", "police", "hospital", "jobs", "taxes", "water"]
    pages = [f"https://s{i % sources}.example/page/{i}" for i in range(urls)]
    data = {
        "case": f"bench-{n}", "title": f"Import benchmark, {n} claims",
        "sources": [{"name": f"Source {i}", "aliases": [f"S{i}"], "domains": [f"s{i}.example"]}
                    for i in range(sources)],
        "evidence": [{"url": u, "source": f"Source {i % sources}"} for i, u in enumerate(pages)],
        "claims": [
            {"id": f"C{k}", "text": " ".join(rng.choices(words, k=14)).capitalize() + f" {rng.randint(1, 999)}.",
             "cited": [f"Source {rng.randrange(sources)}"],
             "evidence": rng.sample(pages, 2), "language": "en"}
            for k in range(n)
        ],
    }
    path = folder / f"case-{n}-{sources}-{urls}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def fresh_desk(backend: str, folder: Path) -> tuple[str, Any]:
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


def bare_insert(desk: Any, path: Path) -> float:
    """Seconds for a bare executemany INSERT of the file's claim rows (then removed again)."""
    from sqlalchemy import delete, insert

    from factcheck.desk.models import Case, Claim, utcnow

    claims = yaml.safe_load(path.read_text(encoding="utf-8"))["claims"]
    now = utcnow()
    with desk.session() as s:
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


def parse_seconds(path: Path) -> float:
    """Reading and checking the file the way the import on sys.path does it (all its YAML work)."""
    from factcheck.desk import cases

    t0 = time.perf_counter()
    if hasattr(cases, "read_case"):
        case_file = cases.read_case(path)
        for _ in case_file.claims():
            pass
    else:
        cases.parse_case(path)
    return time.perf_counter() - t0


def measure(backend: str, n: int, path: Path, folder: Path, *, bare: bool) -> dict[str, float]:
    """Parse, first import and re-import of `path` with the `factcheck` on sys.path, on a fresh desk."""
    from factcheck.desk import audit
    from factcheck.desk.cases import import_case
    from factcheck.desk.db import Desk, upgrade
    from factcheck.settings import Settings

    out = {"parse": parse_seconds(path)}
    url, cleanup = fresh_desk(backend, folder)
    try:
        desk = Desk(url, check=False)
        upgrade(desk.engine)
        settings = Settings()
        if bare:
            out["bare"] = bare_insert(desk, path)
        batched = "commit" in inspect.signature(import_case).parameters
        for label in ("first", "again"):
            t0 = time.perf_counter()
            with desk.session() as s:
                if batched:  # as `factcheck claims import` runs it: committed batch by batch
                    summary = import_case(s, settings, path, actor="bench", commit=lambda s=s: desk.commit(s))
                else:
                    summary = import_case(s, settings, path, actor="bench")
            out[label] = time.perf_counter() - t0
            want = "created" if label == "first" else "unchanged"
            assert summary.claims[want] == n, summary.as_dict()
            with desk.session() as s:
                report = audit.verify_session(s)
            assert report.ok, report
        desk.dispose()
    finally:
        cleanup()
    return out


def previous_tree(rev: str, folder: Path) -> Path:
    """The `factcheck` package of git revision `rev`, extracted under `folder`."""
    tree = folder / f"previous-{rev}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev, "factcheck"],
                             capture_output=True, check=True).stdout
    tar_path = tree / "factcheck.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(tree, filter="data")
    return tree


def measure_previous(tree: Path, backend: str, n: int, path: Path, folder: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    run = subprocess.run([sys.executable, __file__, "--worker", backend, str(n), str(path), str(folder)],
                         capture_output=True, text=True, env=env, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"the previous import failed: {run.stderr.strip().splitlines()[-1:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def worker(args: list[str]) -> int:
    backend, n, path, folder = args
    import factcheck

    assert "previous-" in factcheck.__file__, f"not the previous code: {factcheck.__file__}"
    print(json.dumps(measure(backend, int(n), Path(path), Path(folder), bare=False)))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000])
    ap.add_argument("--backends", nargs="+", default=None)
    ap.add_argument("--previous", default=PREVIOUS, help="git revision of the previous import, or 'none'")
    ap.add_argument("--sources", type=int, default=SOURCES, help="sources the file declares (and claims cite)")
    ap.add_argument("--urls", type=int, default=URLS, help="evidence URLs of the file")
    args = ap.parse_args(argv)
    backends = args.backends or (["sqlite", "postgresql"] if os.environ.get("FACTCHECK_TEST_PG") else ["sqlite"])
    print(f"{args.sources} sources, {args.urls} evidence URLs")
    print(f"{'backend':<11}{'claims':>7} | {'parse s prev':>12}{'now':>6} | {'import s prev':>13}{'now':>7}"
          f"{'claims/s prev':>15}{'now':>7}{'now/prev':>10} | {'re-import s prev':>16}{'now':>6} | "
          f"{'bare INSERT s':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tree = None
        if args.previous != "none":
            try:
                tree = previous_tree(args.previous, folder)
            except (OSError, subprocess.CalledProcessError) as exc:
                print(f"(previous import not measured: no git revision {args.previous}: {exc})")
        for backend in backends:
            for n in args.sizes:
                path = case_file(folder, n, sources=args.sources, urls=args.urls)
                now = measure(backend, n, path, folder, bare=True)
                prev = measure_previous(tree, backend, n, path, folder) if tree else None

                def cell(d: dict[str, float] | None, k: str, w: int, f: str = ".2f") -> str:
                    return f"{format(d[k], f):>{w}}" if d else f"{'-':>{w}}"

                rate_prev = {"r": n / prev["first"]} if prev else None
                ratio = f"{prev['first'] / now['first']:>9.1f}x" if prev else f"{'-':>10}"
                print(f"{backend:<11}{n:>7} | {cell(prev, 'parse', 12)}{now['parse']:>6.2f} | "
                      f"{cell(prev, 'first', 13)}{now['first']:>7.2f}{cell(rate_prev, 'r', 15, '.0f')}"
                      f"{n / now['first']:>7.0f}{ratio} | {cell(prev, 'again', 16)}{now['again']:>6.2f} | "
                      f"{now['bare']:>13.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
