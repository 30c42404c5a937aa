"""Scale benchmark: synthetic desks of 10k / 100k / 1M passages, 1k claims each.

Prints, per backend and size, the time per claim for retrieval (full-text index) and for judging, and the
peak resident memory of the process that ran it. Each (backend, size) runs in a fresh subprocess so peak
memory is its own. The 10k desk is the baseline: growth is quoted as ratios against it.

    python benchmarks/scale_bench.py                      # sqlite and postgresql, 10k 100k 1M
    python benchmarks/scale_bench.py --sizes 10000 100000 --backends sqlite --claims 300
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PG_ADMIN = os.environ.get("FACTCHECK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSAGES_PER_SNAPSHOT = 20
SOURCES = 50


def _vocab(rng: random.Random, n: int) -> list[str]:
    syll = ["ka", "lo", "mer", "tin", "sa", "ro", "ve", "del", "an", "ur", "pol", "gri", "ne", "sto", "ba", "qui",
            "fe", "zu", "har", "mi", "ost", "le", "dro", "cas"]
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(syll) for _ in range(rng.randint(2, 5))))
    return sorted(words)


class Corpus:
    """Synthetic news-like text: Zipf-distributed words over a vocabulary that grows with the archive
    (Heaps' law, as real archives do), plus a proper name and often a number in each sentence."""

    def __init__(self, rng: random.Random, size: int) -> None:
        self.rng = rng
        n_words = int(30 * size**0.6)  # ~7.5k words at 10k passages, ~120k at 1M
        self.vocab = _vocab(rng, n_words + 5000)
        self.names = self.vocab[n_words:]
        self.cum = list(itertools.accumulate(1.0 / (r + 1) ** 1.05 for r in range(n_words)))

    def sentence(self) -> str:
        rng = self.rng
        k = rng.randint(12, 25)
        words = rng.choices(self.vocab[: len(self.cum)], cum_weights=self.cum, k=k)
        words.insert(rng.randint(0, k), rng.choice(self.names).capitalize())
        if rng.random() < 0.5:
            words.insert(rng.randint(0, k), str(rng.randint(2, 2000)))
        return " ".join(words).capitalize() + "."


def build(url: str, size: int, n_claims: int, seed: int = 7) -> None:
    from sqlalchemy import insert

    from factcheck.desk.db import Desk, upgrade
    from factcheck.desk.models import Case, Citation, Claim, Passage, Snapshot, Source, utcnow
    from factcheck.desk.retrieve import count_terms
    from factcheck.judge.match import passage_features

    rng = random.Random(seed)
    corpus = Corpus(rng, size)
    desk = Desk(url, check=False)
    upgrade(desk.engine)
    now = utcnow()
    with desk.session() as s:
        s.execute(insert(Source), [{"name": f"Source {i}", "aliases": [], "domains": [f"s{i}.example"],
                                    "reviewed": True, "created_at": now} for i in range(SOURCES)])
        s.add(Case(key="scale", title="scale", created_at=now, updated_at=now))
    n_snap = max(1, size // PASSAGES_PER_SNAPSHOT)
    claims_from: list[tuple[str, int]] = []
    chosen = set(rng.sample(range(size), n_claims))
    batch = 2000
    with desk.session() as s:
        snap_rows = []
        for i in range(n_snap):
            snap_rows.append({"url": f"https://s{i % SOURCES}.example/page/{i}", "final_url": None, "status": 200,
                              "headers": {}, "redirects": [], "fetched_at": now, "origin": "fetch",
                              "sha256": f"{i:064x}", "text": "", "meta": {}, "source_id": i % SOURCES + 1})
        for j in range(0, len(snap_rows), batch):
            s.execute(insert(Snapshot), snap_rows[j : j + batch])
    with desk.session() as s:
        rows = []
        for pid in range(size):
            text = corpus.sentence()
            if pid in chosen:
                claims_from.append((text, pid // PASSAGES_PER_SNAPSHOT % SOURCES + 1))
            rows.append({"snapshot_id": pid // PASSAGES_PER_SNAPSHOT + 1, "seq": pid % PASSAGES_PER_SNAPSHOT,
                         "start": 0, "end": len(text), "text": text, "features": passage_features(text)})
            if len(rows) == batch:
                s.execute(insert(Passage), rows)
                count_terms(s, (r["text"] for r in rows))
                rows = []
        if rows:
            s.execute(insert(Passage), rows)
            count_terms(s, (r["text"] for r in rows))
    with desk.session() as s:
        for k, (text, src) in enumerate(claims_from):
            words = text.rstrip(".").split()
            rng.shuffle(words)
            c = Claim(case_id=1, key=f"K{k}", text=" ".join(words[: max(6, len(words) - 4)]) + ".",
                      created_at=now, updated_at=now)
            c.citations.append(Citation(name=f"Source {src - 1}", source_id=src, kind="named"))
            s.add(c)
    desk.dispose()


def measure(url: str) -> dict[str, float]:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from factcheck.desk.db import Desk
    from factcheck.desk.models import Claim
    from factcheck.desk.retrieve import candidates_for
    from factcheck.judge.verdict import judge

    desk = Desk(url)
    t_retrieve = t_judge = 0.0
    n = hits = 0
    with desk.session() as s:
        claims = list(s.execute(select(Claim).options(selectinload(Claim.citations))).scalars())
        for c in claims:
            t0 = time.perf_counter()
            cands = candidates_for(s, c)
            t1 = time.perf_counter()
            judge(c.text, None, [ci.name for ci in c.citations], cands)
            t2 = time.perf_counter()
            t_retrieve += t1 - t0
            t_judge += t2 - t1
            n += 1
            hits += bool(cands)
    desk.dispose()
    return {"claims": n, "retrieve_ms": 1000 * t_retrieve / n, "judge_ms": 1000 * t_judge / n,
            "with_candidates": hits / n}


def one(backend: str, size: int, n_claims: int) -> dict[str, float]:
    from sqlalchemy import create_engine, text

    tmp = tempfile.mkdtemp()
    admin = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp}/scale.db"
    else:
        name = f"factcheck_scale_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        t0 = time.perf_counter()
        build(url, size, n_claims)
        build_s = time.perf_counter() - t0
        if backend == "postgresql":
            from factcheck.desk.db import make_engine

            e = make_engine(url)
            with e.connect() as c:
                c.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
            e.dispose()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        res = measure(url)
        res.update(build_s=build_s, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   rss_after_build_mb=rss_before / 1024)
        return res
    finally:
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--claims", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--one", nargs=2, metavar=("BACKEND", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.claims)))
        return
    results = []
    for backend in args.backends:
        base = None
        for size in args.sizes:
            p = subprocess.run([sys.executable, __file__, "--one", backend, str(size), "--claims", str(args.claims)],
                               capture_output=True, text=True, cwd=Path(__file__).parent.parent)
            if p.returncode != 0:
                print(f"{backend} {size}: failed\n{p.stderr[-2000:]}", file=sys.stderr)
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            r.update(backend=backend, passages=size)
            per_claim = r["retrieve_ms"] + r["judge_ms"]
            if base is None:
                base = per_claim
            r["per_claim_ms"] = per_claim
            r["ratio_vs_smallest"] = per_claim / base
            results.append(r)
            if not args.json:
                print(f"{backend:10} {size:>9,} passages  {r['claims']} claims  "
                      f"retrieve {r['retrieve_ms']:7.2f} ms/claim  judge {r['judge_ms']:6.2f} ms/claim  "
                      f"total {per_claim:7.2f} ms/claim (x{r['ratio_vs_smallest']:.2f} vs {args.sizes[0]:,}; "
                      f"archive x{size / args.sizes[0]:.0f})  peak RSS {r['peak_rss_mb']:.0f} MB  "
                      f"build {r['build_s']:.0f} s", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
