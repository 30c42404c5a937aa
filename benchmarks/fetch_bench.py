"""Fetch throughput and politeness: concurrency across hosts vs a sequential baseline, measured in one run.

Starts N local HTTP servers (different ports = different hosts to the fetcher), spreads URLs across them,
each response delayed server-side, and runs ``Fetcher.fetch_many`` with concurrency 1 (baseline) and higher.
Prints wall time, pages/s, speed-up vs the baseline, the smallest gap the *servers* saw between two requests
to the same host (vs the configured delay), and how many TCP connections were opened (keep-alive reuse).

    .venv/bin/python benchmarks/fetch_bench.py [--hosts 10] [--urls 200] [--server-delay 0.05]
                                               [--per-host-delay 0.2] [--concurrency 1 8 10]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from httpserver_util import LocalServer, send

from factcheck.fetch import Fetcher, FetchPolicy, FetchRequest


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
    ok = sum(r.outcome == "fetched" for r in results)
    min_start_gap = min_idle_gap = float("inf")
    connections = 0
    for srv in servers:
        hits = sorted(srv.hits, key=lambda h: h.start)
        connections += len({h.client for h in hits})
        for a, b in itertools.pairwise(hits):
            min_start_gap = min(min_start_gap, b.start - a.start)
            min_idle_gap = min(min_idle_gap, b.start - a.end)
    return {
        "wall": wall,
        "ok": ok,
        "callbacks": done,
        "min_start_gap": min_start_gap,
        "min_idle_gap": min_idle_gap,
        "connections": connections,
        "requests": sum(len(s.hits) for s in servers),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--urls", type=int, default=200)
    ap.add_argument("--server-delay", type=float, default=0.05)
    ap.add_argument("--per-host-delay", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 10])
    args = ap.parse_args()

    servers, urls = make_servers(args.hosts, args.urls, args.server_delay)
    per_host = args.urls / args.hosts
    floor = per_host * args.server_delay + per_host * args.per_host_delay  # robots.txt, then each page
    print(
        f"{args.urls} URLs on {args.hosts} local hosts, server delay {args.server_delay * 1000:.0f} ms, "
        f"per-host delay {args.per_host_delay:.2f} s, robots.txt obeyed"
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
            m = run(servers, urls, conc, args.per_host_delay)
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
