"""Fetch throughput and politeness: concurrency across hosts vs a sequential baseline, measured in one run.

Starts N local HTTP servers (different ports = different hosts to the fetcher), spreads URLs across them,
each response delayed server-side, and runs ``Fetcher.fetch_many`` with concurrency 1 (baseline) and higher.
Prints wall time, pages/s, speed-up vs the baseline, the smallest gap the *servers* saw between two requests
to the same host (vs the configured delay), and how many TCP connections were opened (keep-alive reuse).

    .venv/bin/python benchmarks/fetch_bench.py [--hosts 10] [--urls 200] [--server-delay 0.05]
                                               [--per-host-delay 0.2] [--concurrency 1 8 10] [--desk]
                                               [--page-kb 2] [--capture-workers 2] [--processes]

With --desk, after the library rows, the same URLs go into fresh desks (a case file) at the highest
concurrency and are fetched three ways, every capture stored (WARC record, extraction, passages, rows):

* ``factcheck fetch --json``, the real command in a subprocess (its start-up included), and beside it the
  same command's start-up alone (a second ``fetch`` on that desk, with nothing left to fetch);
* in this process: first as ``fetch`` stored captures before (``record_result`` for each result in the
  thread that called ``fetch_many``), then ``fetch_pending``, its capture work in threads
  (``--capture-workers``), and with ``--processes`` also in worker processes.

"vs seq" is the sequential library time divided by the row's time; "vs lib" is the row's time divided by
the library's at the same concurrency (1.00 = storing costs nothing). ``--page-kb`` sets the size of the
pages (2 = the bare pages of the original measurement; 30-100 is what news articles weigh, and their
extraction costs accordingly more).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from httpserver_util import LocalServer, send

from factcheck.documents.fetch import Fetcher, FetchPolicy, FetchRequest


def article(path: str, kb: int) -> bytes:
    """A page of about ``kb`` KiB: the bare page of the first measurement, or a news article's worth of
    distinct paragraphs inside navigation and footer boilerplate."""
    if kb <= 2:
        return f"<html><body><p>{path}</p>{'x' * 2000}</body></html>".encode()
    n = int(path.rsplit("/", 1)[-1]) if path.rsplit("/", 1)[-1].isdigit() else 0
    nav = "".join(f"<li><a href='/s/{i}'>Section {i}</a></li>" for i in range(30))
    paras, size, i = [], 0, 0
    while size < kb * 1024 - 1500:
        p = (f"<p>Report {n}, paragraph {i}: the council said {n * 7 + i} homes were built in {2000 + i % 25}, "
             f"and turnout rose to {40 + (n + i) % 50} percent, according to figures the office published "
             f"on {1 + i % 28} March. Officials in district {i % 12} disputed the count.</p>")
        paras.append(p)
        size += len(p)
        i += 1
    return (f"<html lang='en'><head><title>Report {n}</title><meta name='author' content='Desk {n % 5}'></head>"
            f"<body><nav><ul>{nav}</ul></nav><article><h1>Report {n}</h1>{''.join(paras)}</article>"
            f"<footer>Copyright, all rights reserved. <a href='/privacy'>Privacy</a></footer></body></html>"
            ).encode()


def make_servers(hosts: int, n_urls: int, server_delay: float, page_kb: int = 2
                 ) -> tuple[list[LocalServer], list[str]]:
    """Start the hosts and register ``n_urls`` pages round-robin across them; returns servers and URLs."""
    servers = [LocalServer().start() for _ in range(hosts)]
    for srv in servers:
        srv.routes["/robots.txt"] = lambda req: send(
            req, 200, b"User-agent: *\nDisallow: /private\n", content_type="text/plain"
        )

    bodies: dict[str, bytes] = {}

    def page(req: BaseHTTPRequestHandler) -> None:
        time.sleep(server_delay)
        send(req, 200, bodies[req.path])

    urls = []
    for i in range(n_urls):
        srv = servers[i % hosts]
        srv.routes[f"/page/{i}"] = page
        bodies[f"/page/{i}"] = article(f"/page/{i}", page_kb)
        urls.append(srv.url(f"/page/{i}"))
    return servers, urls


def run(
    servers: list[LocalServer], urls: list[str], concurrency: int, per_host_delay: float
) -> dict[str, float]:
    for srv in servers:
        srv.hits.clear()
    policy = FetchPolicy(
        allow_private_addresses=True,
        per_host_delay=per_host_delay,
        concurrency=concurrency,
        obey_robots=True,
        retries=0,
    )
    done = 0

    def progress(_r: object) -> None:
        nonlocal done
        done += 1

    with Fetcher(policy) as fetcher:
        t0 = time.perf_counter()
        results = fetcher.fetch_many([FetchRequest(u) for u in urls], on_result=progress)
        wall = time.perf_counter() - t0
    m = _server_side(servers)
    m.update(wall=wall, ok=sum(r.outcome == "fetched" for r in results), callbacks=done)
    return m


def _case_file(folder: Path, urls: list[str]) -> Path:
    lines = ["sources:", "  - {name: Local, domains: [127.0.0.1]}", "evidence:"]
    lines += [f"  - {{url: '{u}', source: Local}}" for u in urls]
    lines.append("claims: []")
    (folder / "case.yaml").write_text("\n".join(lines) + "\n")
    return folder / "case.yaml"


def run_desk(
    servers: list[LocalServer], urls: list[str], concurrency: int, per_host_delay: float
) -> dict[str, float]:
    """The same fetch through `factcheck fetch` on a fresh SQLite desk (start-up measured apart)."""
    for srv in servers:
        srv.hits.clear()
    folder = Path(tempfile.mkdtemp(prefix="fetch-bench-"))
    _case_file(folder, urls)
    exe = shutil.which("factcheck", path=str(Path(sys.executable).parent)) or "factcheck"
    env = dict(os.environ, FACTCHECK_ALLOW_PRIVATE_ADDRESSES="1", FACTCHECK_CONCURRENCY=str(concurrency),
               FACTCHECK_PER_HOST_DELAY=str(per_host_delay), FACTCHECK_RETRIES="0", FACTCHECK_DB="",
               FACTCHECK_EVIDENCE_DIR="")
    env = {k: v for k, v in env.items() if v != ""}
    for args in (["init"], ["claims", "import", "case.yaml"]):
        subprocess.run([exe, *args], cwd=folder, env=env, check=True, capture_output=True)
    t0 = time.perf_counter()
    p = subprocess.run([exe, "fetch", "--json"], cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rows = json.loads(p.stdout)["fetched"] if p.stdout else []
    m = _server_side(servers)
    t0 = time.perf_counter()
    again = subprocess.run([exe, "fetch", "--json"], cwd=folder, env=env, capture_output=True, text=True)
    startup = time.perf_counter() - t0
    assert again.returncode == 0 and not json.loads(again.stdout)["fetched"], again.stderr
    shutil.rmtree(folder, ignore_errors=True)
    m.update(wall=wall, ok=sum(r["outcome"] == "fetched" for r in rows), callbacks=len(rows), startup=startup)
    return m


def run_desk_inprocess(
    servers: list[LocalServer], urls: list[str], concurrency: int, per_host_delay: float,
    capture_workers: int, processes: bool, calling_thread: bool = False,
) -> dict[str, float]:
    """`fetch_pending` on a fresh SQLite desk in this process (no command start-up); with `calling_thread`
    the road it replaced: each result stored by `record_result` in the thread that called `fetch_many`."""
    from factcheck.desk.capture import fetch_pending, pending_requests, policy_from_settings, record_result
    from factcheck.desk.cases import import_case
    from factcheck.desk.db import Desk, upgrade
    from factcheck.settings import load_settings

    for srv in servers:
        srv.hits.clear()
    folder = Path(tempfile.mkdtemp(prefix="fetch-bench-"))
    db = f"sqlite:///{folder / 'desk.db'}"
    settings = load_settings(
        {"db": db, "evidence_dir": str(folder / "evidence"), "allow_private_addresses": True,
         "concurrency": concurrency, "per_host_delay": per_host_delay, "retries": 0},
        environ={}, desk_dir=folder)
    desk = Desk(db, check=False)
    upgrade(desk.engine)
    with desk.session() as s:
        import_case(s, settings, _case_file(folder, urls), actor="bench")
    t0 = time.perf_counter()
    if calling_thread:
        rows = []
        with Fetcher(policy_from_settings(settings)) as fetcher:
            fetcher.fetch_many(pending_requests(desk, settings), on_result=lambda res: rows.append(
                record_result(desk, settings, res, actor="bench")))
    else:
        rows = fetch_pending(desk, settings, actor="bench", capture_workers=capture_workers,
                             capture_processes=processes).rows
    wall = time.perf_counter() - t0
    desk.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    m = _server_side(servers)
    m.update(wall=wall, ok=sum(r.outcome == "fetched" for r in rows), callbacks=len(rows))
    return m


def _server_side(servers: list[LocalServer]) -> dict[str, float]:
    min_start_gap = min_idle_gap = float("inf")
    connections = 0
    for srv in servers:
        hits = sorted(srv.hits, key=lambda h: h.start)
        connections += len({h.client for h in hits})
        for a, b in itertools.pairwise(hits):
            min_start_gap = min(min_start_gap, b.start - a.start)
            min_idle_gap = min(min_idle_gap, b.start - a.end)
    return {"min_start_gap": min_start_gap, "min_idle_gap": min_idle_gap, "connections": connections,
            "requests": sum(len(s.hits) for s in servers)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--urls", type=int, default=200)
    ap.add_argument("--server-delay", type=float, default=0.05)
    ap.add_argument("--per-host-delay", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 10])
    ap.add_argument("--desk", action="store_true", help="also store every capture on a desk (see above)")
    ap.add_argument("--page-kb", type=int, default=2, help="page size in KiB (2: the bare pages)")
    ap.add_argument("--capture-workers", type=int, nargs="+", default=[2],
                    help="capture workers of the in-process desk rows")
    ap.add_argument("--processes", action="store_true", help="also run the desk's capture work in processes")
    args = ap.parse_args()

    servers, urls = make_servers(args.hosts, args.urls, args.server_delay, args.page_kb)
    per_host = args.urls / args.hosts
    floor = per_host * args.server_delay + per_host * args.per_host_delay  # robots.txt, then each page
    print(
        f"{args.urls} URLs on {args.hosts} local hosts, pages of ~{len(article('/page/1', args.page_kb)) / 1024:.0f} "
        f"KiB, server delay {args.server_delay * 1000:.0f} ms, per-host delay {args.per_host_delay:.2f} s, "
        f"robots.txt obeyed; {os.cpu_count()} CPUs"
    )
    print(f"politeness floor for one host's {per_host:.0f} pages: ~{floor:.2f} s\n")
    header = (
        f"{'what':<34} {'conc':>4} {'wall s':>7} {'pages/s':>8} {'vs seq':>7} {'vs lib':>7} {'ok':>4} "
        f"{'min gap s':>9} {'min idle':>8} {'conns':>5} {'reqs':>5}"
    )
    print(header)
    print("-" * len(header))
    base: float | None = None
    lib: dict[int, float] = {}

    def line(what: str, conc: int, m: dict[str, float], wall: float | None = None) -> None:
        wall = m["wall"] if wall is None else wall
        assert base is not None
        vs_lib = f"{wall / lib[conc]:>6.2f}x" if conc in lib else f"{'':>7}"
        print(
            f"{what:<34} {conc:>4} {wall:>7.2f} {args.urls / wall:>8.1f} {base / wall:>6.2f}x {vs_lib} "
            f"{m['ok']:>4.0f} {m['min_start_gap']:>9.3f} {m['min_idle_gap']:>8.3f} "
            f"{m['connections']:>5.0f} {m['requests']:>5.0f}"
        )
        assert m["callbacks"] == args.urls

    try:
        for conc in args.concurrency:
            m = run(servers, urls, conc, args.per_host_delay)
            base = base or m["wall"]
            lib[conc] = m["wall"]
            line("Fetcher.fetch_many (library)", conc, m)
        if args.desk:
            conc = max(args.concurrency)
            m = run_desk(servers, urls, conc, args.per_host_delay)
            line("`factcheck fetch` (command)", conc, m)
            print(f"{'  its start-up (nothing to fetch)':<34} {conc:>4} {m['startup']:>7.2f}")
            line("  command less its start-up", conc, m, wall=m["wall"] - m["startup"])
            m = run_desk_inprocess(servers, urls, conc, args.per_host_delay, 0, False, calling_thread=True)
            line("stored in the calling thread", conc, m)
            pools = [(w, False) for w in args.capture_workers]
            pools += [(w, True) for w in args.capture_workers] if args.processes else []
            for workers, processes in pools:
                m = run_desk_inprocess(servers, urls, conc, args.per_host_delay, workers, processes)
                kind = "processes" if processes else "threads"
                line(f"fetch_pending, {workers} {kind}", conc, m)
    finally:
        for srv in servers:
            srv.stop()
    print(
        "\nmin gap = smallest start-to-start interval between two requests to one host (server clock); "
        f"min idle = end of one to start of the next. Configured per-host delay: {args.per_host_delay:.3f} s."
    )


if __name__ == "__main__":
    main()
