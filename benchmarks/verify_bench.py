"""Verify benchmark: `factcheck verify` rules only on a seeded 100k-passage desk, old path against new.

Seeds one desk (SQLite and/or PostgreSQL) with synthetic news-like pages from 50 sources and claims of
every kind the desk judges: tied evidence and a cited source, a cited source only (found by full-text
search), no evidence at all, a German claim without English wording (searched and read with its word
gloss), a claim with an English statement, and claims of an article that is itself captured on the desk.
Then, on that same desk, it runs verify() twice, each in a fresh process:

  baseline  the code of a git revision (`--baseline-ref`, default `main`), checked out into a temporary
            folder and imported from there: the path as it was;
  current   this checkout.

It prints claims/s and CPU seconds for both and the ratio (with --rounds N the paths take turns N times and
the median run of each is reported), and compares every verdict of the two runs (label, confidence,
rationale, quotes with offsets, first-hand, signals): any difference is printed and the exit status is 1.

    python benchmarks/verify_bench.py                               # sqlite and postgresql, 100k passages
    python benchmarks/verify_bench.py --backends sqlite --passages 20000 --claims 500
    python benchmarks/verify_bench.py --profile current             # cProfile of the current path (top 40)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("FACTCHECK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSAGES_PER_PAGE = 20
SOURCES = 50
_FUNCTION = ["the", "and", "of", "to", "in", "that", "for", "with", "was", "has", "by", "from", "its", "are"]
_UNITS = ["percent", "million dollars", "employees", "stores", "days"]


def _vocab(rng: random.Random, n: int) -> list[str]:
    syll = ["ka", "lo", "mer", "tin", "sa", "ro", "ve", "del", "an", "ur", "pol", "gri", "ne", "sto", "ba",
            "qui", "fe", "zu", "har", "mi", "ost", "le", "dro", "cas"]
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(syll) for _ in range(rng.randint(2, 5))))
    return sorted(words)


class Corpus:
    """English-looking sentences: Zipf-distributed content words over a vocabulary that grows with the
    archive, English function words, a proper name, and often a figure with a unit or a year."""

    def __init__(self, rng: random.Random, size: int) -> None:
        self.rng = rng
        n_words = int(30 * size**0.6)
        self.vocab = _vocab(rng, n_words + 5000)
        self.names = [w.capitalize() for w in self.vocab[n_words:]]
        self.cum = list(itertools.accumulate(1.0 / (r + 1) ** 1.05 for r in range(n_words)))

    def sentence(self) -> str:
        rng = self.rng
        k = rng.randint(10, 20)
        words = rng.choices(self.vocab[: len(self.cum)], cum_weights=self.cum, k=k)
        for _ in range(k // 3):
            words.insert(rng.randint(0, len(words)), rng.choice(_FUNCTION))
        words.insert(rng.randint(1, len(words)), rng.choice(self.names) + " " + rng.choice(self.names))
        r = rng.random()
        if r < 0.4:
            words.insert(rng.randint(1, len(words)), f"{rng.randint(2, 900)} {rng.choice(_UNITS)}")
        elif r < 0.6:
            words.insert(rng.randint(1, len(words)), f"in {rng.randint(1990, 2030)}")
        if rng.random() < 0.1:
            words.insert(rng.randint(1, len(words)), "not")
        return " ".join(words).capitalize() + "."


_GERMAN = [
    "Laut {src} hat {name} im vergangenen Jahr {n} Prozent mehr Umsatz gemacht.",
    "Nach Angaben von {src} will {name} bis {year} rund {n} neue Stellen schaffen.",
    "{src} zufolge ist der Gewinn von {name} nicht gestiegen.",
]


MIX = {"tied": 0.35, "cited": 0.30, "none": 0.10, "german": 0.10, "statement": 0.08, "article": 0.07}


def build(url: str, size: int, n_claims: int, seed: int = 11, german: float | None = None) -> dict[str, Any]:
    """Seed the desk; returns what was made."""
    from sqlalchemy import insert

    from factcheck.desk.db import Desk, upgrade
    from factcheck.desk.models import (
        Article,
        Case,
        Citation,
        Claim,
        ClaimEvidence,
        EvidenceUrl,
        Passage,
        Snapshot,
        Source,
        utcnow,
    )
    from factcheck.desk.retrieve import count_terms
    from factcheck.judge.match import passage_features

    rng = random.Random(seed)
    corpus = Corpus(rng, size)
    desk = Desk(url, check=False)
    upgrade(desk.engine)
    now = utcnow()
    n_pages = max(1, size // PASSAGES_PER_PAGE)
    pages: list[list[tuple[int, int, str]]] = []
    page_text: list[str] = []
    for _ in range(n_pages):
        sents, parts, at = [], [], 0
        for _k in range(PASSAGES_PER_PAGE):
            s = corpus.sentence()
            sents.append((at, at + len(s), s))
            parts.append(s)
            at += len(s) + 1
        pages.append(sents)
        page_text.append(" ".join(parts))
    with desk.session() as s:
        s.execute(insert(Source), [{"name": f"Source {i}", "aliases": [], "domains": [f"s{i}.example"],
                                    "reviewed": True, "created_at": now} for i in range(SOURCES)])
        s.add(Case(key="bench", title="verify bench", created_at=now, updated_at=now))
    batch = 2000
    with desk.session() as s:
        ev_rows = [{"url": f"https://s{i % SOURCES}.example/page/{i}", "source_id": i % SOURCES + 1,
                    "status": "captured", "created_at": now} for i in range(n_pages)]
        for j in range(0, n_pages, batch):
            s.execute(insert(EvidenceUrl), ev_rows[j : j + batch])
        snap_rows = [{"evidence_url_id": i + 1, "url": f"https://s{i % SOURCES}.example/page/{i}",
                      "final_url": None, "status": 200, "headers": {}, "redirects": [], "fetched_at": now,
                      "origin": "fetch", "sha256": f"{i:064x}", "text": page_text[i], "meta": {},
                      "published": f"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}", "source_id": i % SOURCES + 1}
                     for i in range(n_pages)]
        for j in range(0, n_pages, batch):
            s.execute(insert(Snapshot), snap_rows[j : j + batch])
    with desk.session() as s:
        rows: list[dict[str, Any]] = []
        for i, sents in enumerate(pages):
            for seq, (a, b, t) in enumerate(sents):
                rows.append({"snapshot_id": i + 1, "seq": seq, "start": a, "end": b, "text": t,
                             "features": passage_features(t)})
            if len(rows) >= batch or i == n_pages - 1:
                s.execute(insert(Passage), rows)
                count_terms(s, (r["text"] for r in rows))
                rows = []
    # a few articles that are themselves captured pages: their claims must never be judged on them
    n_articles = 20
    with desk.session() as s:
        s.execute(insert(Article), [{"case_id": 1, "url": f"https://s{a % SOURCES}.example/page/{a}",
                                     "title": f"Article {a}", "snapshot_id": a + 1, "created_at": now}
                                    for a in range(n_articles)])
    kinds: dict[str, int] = {}
    mix = dict(MIX)
    if german is not None:  # the German share given, the others scaled to fill the rest
        rest = 1.0 - mix.pop("german")
        mix = {k: v * (1.0 - german) / rest for k, v in mix.items()} | {"german": german}
    bounds = list(itertools.accumulate(mix.values()))
    with desk.session() as s:
        for k in range(n_claims):
            page = rng.randrange(n_articles, n_pages)
            src = page % SOURCES + 1
            a, b, sent = rng.choice(pages[page])
            words = sent.rstrip(".").split()
            r = rng.random()
            kind = next((k for k, b in zip(mix, bounds, strict=True) if r < b), "article")
            statement = None
            tied = False
            cite = True
            article_id = None
            if kind == "tied":  # tied evidence and a cited source, the sentence reworded
                tied = True
                text = " ".join(words[: max(6, len(words) - 3)]) + "."
                if rng.random() < 0.3:  # a figure that drifted
                    text = text.replace(next((w for w in words if w.isdigit()), "xx"), str(rng.randint(2, 900)))
            elif kind == "cited":  # cited source only: found by search
                shuffled = words[:]
                rng.shuffle(shuffled)
                text = " ".join(shuffled[: max(6, len(shuffled) - 4)]) + "."
            elif kind == "none":  # nothing to go on
                cite = False
                text = " ".join(rng.choices(corpus.vocab[:2000], k=10)) + "."
            elif kind == "german":  # German, no English wording: searched and read with its gloss
                tied = rng.random() < 0.5
                text = rng.choice(_GERMAN).format(src=f"Source {src - 1}", name=rng.choice(corpus.names),
                                                  n=rng.randint(2, 900), year=rng.randint(2020, 2030))
            elif kind == "statement":  # an English restatement
                tied = True
                text = "Ein Satz über " + " ".join(words[:4]) + "."
                statement = " ".join(words[: max(6, len(words) - 2)]) + "."
            else:  # a claim of an article captured on the desk
                article_id = rng.randrange(n_articles) + 1
                text = " ".join(words) + "."
            kinds[kind] = kinds.get(kind, 0) + 1
            c = Claim(case_id=1, key=f"K{k}", text=text, statement=statement, article_id=article_id,
                      created_at=now, updated_at=now)
            if cite:
                phrase = f"according to Source {src - 1}" if rng.random() < 0.5 else None
                c.citations.append(Citation(name=f"Source {src - 1}", source_id=src, kind="named", phrase=phrase))
            if tied:
                c.evidence_links.append(ClaimEvidence(evidence_url_id=page + 1))
            s.add(c)
    desk.dispose()
    return {"passages": n_pages * PASSAGES_PER_PAGE, "pages": n_pages, "claims": n_claims, "kinds": kinds}


# ---------------------------------------------------------------- one verify run, in its own process

_RUNNER = r"""
import json, sys, time
from factcheck.desk.db import Desk
from factcheck.desk.verify import verify
from factcheck.settings import load_settings
url, folder, profile = sys.argv[1], sys.argv[2], sys.argv[3]
settings = load_settings({"db": url, "evidence_dir": folder + "/evidence", "nli": "off"},
                         environ={}, desk_dir=__import__("pathlib").Path(folder))
desk = Desk(url, check=False)
from factcheck.text import gloss
gloss.load(settings.gloss_dictionary)  # parsing the word list is not part of the run
t0 = time.perf_counter()
c0 = time.process_time()
if profile != "-":
    import cProfile, pstats
    prof = cProfile.Profile()
    prof.enable()
res = verify(desk, settings, actor="bench")
secs = time.perf_counter() - t0
cpu = time.process_time() - c0
if profile != "-":
    prof.disable()
    pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(30)
desk.dispose()
print(json.dumps({"run": res.run_id, "claims": len(res.claim_ids), "seconds": secs, "cpu": cpu,
                  "counts": res.counts}))
"""


def _checkout(ref: str, into: Path) -> Path:
    """The package as it was at `ref` (git archive into a folder), to import the baseline from."""
    tree = into / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", ref, "factcheck"], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def run_verify(url: str, folder: Path, code: Path, profile: bool = False) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(code), FACTCHECK_NLI="off")
    p = subprocess.run([sys.executable, "-c", _RUNNER, url, str(folder), "1" if profile else "-"],
                       capture_output=True, text=True, env=env, cwd=str(folder))
    if p.returncode != 0:
        raise SystemExit(f"verify failed ({code}):\n{p.stderr[-3000:]}")
    if profile:
        print(p.stderr, file=sys.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def compare(url: str, run_a: int, run_b: int) -> list[str]:
    """Every difference between the verdicts of two runs, claim by claim."""
    from sqlalchemy import select

    from factcheck.desk.db import Desk
    from factcheck.desk.models import Verdict

    desk = Desk(url, check=False)
    fields = ("label", "confidence", "rationale", "quotes", "first_hand", "signals")
    out: list[str] = []
    with desk.session() as s:
        got: dict[int, dict[int, tuple[Any, ...]]] = {run_a: {}, run_b: {}}
        for v in s.execute(select(Verdict).where(Verdict.run_id.in_([run_a, run_b]))).scalars():
            got[v.run_id][v.claim_id] = tuple(getattr(v, f) for f in fields)
    desk.dispose()
    a, b = got[run_a], got[run_b]
    if set(a) != set(b):
        out.append(f"claims judged differ: {len(a)} vs {len(b)}")
    for cid in sorted(set(a) & set(b)):
        if a[cid] != b[cid]:
            diff = [f for f, x, y in zip(fields, a[cid], b[cid], strict=True) if x != y]
            out.append(f"claim {cid}: {', '.join(diff)} differ: {a[cid][0]} vs {b[cid][0]}")
    return out


def one_backend(backend: str, args: argparse.Namespace, baseline: Path) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    tmp = Path(tempfile.mkdtemp())
    admin = name = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp}/bench.db"
    else:
        name = f"factcheck_vbench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        t0 = time.perf_counter()
        made = build(url, args.passages, args.claims, german=args.german)
        build_s = time.perf_counter() - t0
        if backend == "postgresql":
            e = create_engine(url, isolation_level="AUTOCOMMIT")
            with e.connect() as c:
                c.execute(text("VACUUM ANALYZE"))
            e.dispose()
        res: dict[str, Any] = {"backend": backend, "build_s": build_s, **made}
        order = ["baseline", "current"] if args.profile is None else [args.profile]
        runs: dict[str, list[dict[str, Any]]] = {which: [] for which in order}
        for _round in range(args.rounds if args.profile is None else 1):  # the two paths take turns
            for which in order:
                code = baseline if which == "baseline" else REPO
                runs[which].append(run_verify(url, tmp, code, profile=args.profile == which))
        for which, got in runs.items():  # the median run by time speaks for each path
            res[which] = sorted(got, key=lambda g: g["seconds"])[len(got) // 2]
            res[which]["rounds"] = [round(g["claims"] / g["seconds"], 1) for g in got]
        if args.profile is None:
            res["differences"] = [d for a, b in zip(runs["baseline"], runs["current"], strict=True)
                                  for d in compare(url, a["run"], b["run"])]
        return res
    finally:
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    ap.add_argument("--passages", type=int, default=100_000)
    ap.add_argument("--claims", type=int, default=2000)
    ap.add_argument("--german", type=float, help=f"share of German claims without statement ({MIX['german']})")
    ap.add_argument("--baseline-ref", default="main", help="git revision whose verify is the baseline")
    ap.add_argument("--profile", choices=["baseline", "current"], help="profile one path instead of comparing")
    ap.add_argument("--rounds", type=int, default=1,
                    help="runs of each path, taking turns; the median by time is reported (the machine is noisy)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    failed = False
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        baseline = _checkout(args.baseline_ref, Path(tmp))
        for backend in args.backends:
            r = one_backend(backend, args, baseline)
            results.append(r)
            if args.json or args.profile:
                continue
            old, new = r["baseline"], r["current"]
            old_cps, new_cps = old["claims"] / old["seconds"], new["claims"] / new["seconds"]
            print(f"{backend:10} {r['passages']:,} passages, {r['claims']:,} claims {r['kinds']} "
                  f"(seeded in {r['build_s']:.0f} s)")
            print(f"  baseline ({args.baseline_ref}): {old['seconds']:7.1f} s  {old_cps:7.1f} claims/s  "
                  f"CPU {old['cpu']:5.1f} s  {old['counts']}  rounds {old['rounds']}")
            print(f"  current:{'':{len(args.baseline_ref) + 5}}{new['seconds']:7.1f} s  {new_cps:7.1f} claims/s  "
                  f"CPU {new['cpu']:5.1f} s  {new['counts']}  rounds {new['rounds']}  x{new_cps / old_cps:.2f}  "
                  f"(load {os.getloadavg()[0]:.1f})")
            diffs = r["differences"]
            print(f"  verdicts identical: {'yes' if not diffs else 'NO'} ({len(diffs)} differences)", flush=True)
            for d in diffs[:20]:
                print("    " + d)
            failed = failed or bool(diffs)
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
