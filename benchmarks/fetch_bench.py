"""Fetch throughput and politeness: concurrency across hosts vs a sequential baseline, measured in one run.

Starts N local HTTP servers (different ports = different hosts to the fetcher), spreads URLs across them,
each response delayed server-side, and runs ``Fetcher.fetch_many`` with concurrency 1 (baseline) and higher.
Prints wall time, pages/s, speed-up vs the baseline, the smallest gap the *servers* saw between two requests
to the same host (vs the configured delay), and how many TCP connections were opened (keep-alive reuse).

    .venv/bin/python benchmarks/fetch_bench.py [--hosts 10] [--urls 200] [--server-delay 0.05]
                                               [--per-host-delay 0.2] [--concurrency 1 8 10] [--desk]

With --desk the same URLs go into a fresh desk (a case file) and the real `factcheck fetch --json` command
fetches them, storing every capture (archive, extraction, passages): the figures then include the desk's
own work and the command's start-up.
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


def make_servers(hosts: int, n_urls: int, server_delay: float) -> tuple[list[LocalServer], list[str]]:
    """Start the hosts and register ``n_urls`` pages round-robin across them; returns servers and URLs."""
    servers = [LocalServer().start() for _ in range(hosts)]
    for srv in servers:
        srv.routes["/robots.txt"] = lambda req: send(
            req, 200, b"User-agent: *\nDisallow: /private\n", content_type="text/plain"
        )

    def page(req: BaseHTTPRequestHandler) -> None:
        time.sleep(server_delay)
        send(req, 200, f"<html><body><p>{req.path}</p>{'x' * 2000}</body></html>".encode())

    urls = []
    for i in range(n_urls):
        srv = servers[i % hosts]
        srv.routes[f"/page/{i}"] = page
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


def run_desk(
    servers: list[LocalServer], urls: list[str], concurrency: int, per_host_delay: float
) -> dict[str, float]:
    """The same fetch through `factcheck fetch` on a fresh SQLite desk."""
    for srv in servers:
        srv.hits.clear()
    folder = Path(tempfile.mkdtemp(prefix="fetch-bench-"))
    lines = ["sources:", "  - {name: Local, domains: [127.0.0.1]}", "evidence:"]
    lines += [f"  - {{url: '{u}', source: Local}}" for u in urls]
    lines.append("claims: []")
    (folder / "case.yaml").write_text("\n".join(lines) + "\n")
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
    shutil.rmtree(folder, ignore_errors=True)
    m = _server_side(servers)
    m.update(wall=wall, ok=sum(r["outcome"] == "fetched" for r in rows), callbacks=len(rows))
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
    ap.add_argument("--desk", action="store_true", help="fetch through `factcheck fetch` on a fresh desk")
    args = ap.parse_args()

    servers, urls = make_servers(args.hosts, args.urls, args.server_delay)
    per_host = args.urls / args.hosts
    floor = per_host * args.server_delay + per_host * args.per_host_delay  # robots.txt, then each page
    print(
        f"{args.urls} URLs on {args.hosts} local hosts, server delay {args.server_delay * 1000:.0f} ms, "
        f"per-host delay {args.per_host_delay:.2f} s, robots.txt obeyed"
        + (", through `factcheck fetch` on a desk" if args.desk else ", Fetcher.fetch_many")
    )
    print(f"politeness floor for one host's {per_host:.0f} pages: ~{floor:.2f} s\n")
    header = (
        f"{'concurrency':>11} {'wall s':>8} {'pages/s':>8} {'vs base':>8} {'ok':>5} "
        f"{'min gap s':>10} {'min idle s':>10} {'conns':>6} {'reqs':>5}"
    )
    print(header)
    print("-" * len(header))
    base: float | None = None
    try:
        for conc in args.concurrency:
            m = (run_desk if args.desk else run)(servers, urls, conc, args.per_host_delay)
            base = base or m["wall"]
            print(
                f"{conc:>11} {m['wall']:>8.2f} {args.urls / m['wall']:>8.1f} {base / m['wall']:>7.2f}x "
                f"{m['ok']:>5.0f} {m['min_start_gap']:>10.3f} {m['min_idle_gap']:>10.3f} "
                f"{m['connections']:>6.0f} {m['requests']:>5.0f}"
            )
            assert m["callbacks"] == args.urls
    finally:
        for srv in servers:
            srv.stop()
    print(
        f"\nmin gap = smallest start-to-start interval between two requests to one host (server clock); "
        f"min idle = end of one to start of the next. Configured per-host delay: {args.per_host_delay:.3f} s."
    )


if __name__ == "__main__":
    main()
