"""Background workers: 1, 2 and 4 `factcheck worker` processes on one PostgreSQL desk, against the same work
done inline by one process in the same run (the baseline).

For each worker count a fresh desk gets a case file of N claims whose evidence is M URLs spread over H local
HTTP servers (different ports = different hosts, robots.txt on each, a small server-side delay per page).
The workers are started and registered first (their start-up is not timed); then

- fetch: the M URLs are queued (`fetch --queue`, no re-judging) in jobs of `--fetch-job-urls` URLs and timed
  until the last job is done;
- verify: a run of the N claims is queued in batches (`verify --queue`) and timed until the run is finished.

Printed per worker count, each row as soon as it is measured: wall time, throughput, speed-up over one worker,
efficiency (speed-up / workers) and the efficiency of the workers added since the previous row (extra
throughput per added worker, as a share of one worker's), the smallest gap any server saw between two
requests to it (vs the per-host delay, which must hold across workers), the most robots.txt requests any host
got during the run (the desk-wide robots cache: one per host), and the load average. Efficiency per added
worker means something up to the machine's core count (printed): beyond it, workers share cores.
The baseline is the library doing the same work inline in this process (`fetch_pending` with the desk's
fetcher, `verify`), in the same run. `--full` is the issue's size: 10,000 claims, 2,000 URLs on 20 hosts.
The case file is imported once into a template database that each worker count's desk is copied from.

    FACTCHECK_TEST_PG=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
    .venv/bin/python benchmarks/worker_bench.py [--full] [--claims 600] [--urls 200] [--hosts 20]
        [--workers 1 2 4] [--concurrency 4] [--per-host-delay 0.05] [--batch 50] [--fetch-job-urls 20]
        [--json-out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from httpserver_util import LocalServer, send
from sqlalchemy import create_engine, text

from factcheck.desk.db import Desk, upgrade
from factcheck.settings import load_settings

PAGE = "<html><head><title>Report {i}</title></head><body><article><p>{body}</p><p>{pad}</p></article></body></html>"
FACTCHECK = shutil.which("factcheck", path=str(Path(sys.executable).parent)) or "factcheck"


def fact(i: int) -> str:
    return f"The council of district {i} approved {i % 97 + 3} new parks and {i % 13 + 2} schools in 2024."


def start_servers(hosts: int, n_urls: int, server_delay: float) -> tuple[list[LocalServer], list[str]]:
    servers = [LocalServer().start() for _ in range(hosts)]
    for srv in servers:
        srv.routes["/robots.txt"] = lambda req: send(req, 200, b"User-agent: *\nDisallow: /private\n",
                                                     content_type="text/plain")

    def page(req: BaseHTTPRequestHandler) -> None:
        i = int(req.path.rsplit("/p", 1)[1])
        time.sleep(server_delay)
        send(req, 200, PAGE.format(i=i, body=fact(i), pad="Background. " * 100).encode())

    urls = []
    for i in range(n_urls):
        srv = servers[i % hosts]
        srv.routes[f"/p{i}"] = page
        urls.append(srv.url(f"/p{i}"))
    return servers, urls


def write_case(path: Path, urls: list[str], n_claims: int) -> None:
    m = len(urls)
    lines = ["sources:"] + [f"  - {{name: Source {i}}}" for i in range(m)]
    lines += ["evidence:"] + [f"  - {{url: '{u}', source: Source {i}}}" for i, u in enumerate(urls)]
    lines += ["claims:"] + [f"  - {{id: C{i}, text: '{fact(i % m)}', cited: [Source {i % m}], "
                            f"evidence: ['{urls[i % m]}']}}" for i in range(n_claims)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Database:
    def __init__(self, admin: str, template: str = "template0") -> None:
        self.admin = create_engine(admin, isolation_level="AUTOCOMMIT")
        self.name = f"factcheck_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.name}" TEMPLATE "{template}"'))
        self.url = f"{admin.rsplit('/', 1)[0]}/{self.name}"

    def drop(self) -> None:
        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


FETCH_JOB_URLS: dict[str, str] = {}  # set from --fetch-job-urls


def env_for(url: str, delay: float) -> dict[str, str]:
    return FETCH_JOB_URLS | {"FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "1", "FACTCHECK_PER_HOST_DELAY": str(delay),
            "FACTCHECK_NLI": "off", "FACTCHECK_DB": url, "FACTCHECK_USER": "bench",
            "FACTCHECK_WORKER_STALLED_AFTER": "30"}


def settings_for(url: str, folder: Path, delay: float, batch: int):
    return load_settings({"db": url}, environ=env_for(url, delay) | {"FACTCHECK_VERIFY_BATCH": str(batch)},
                         desk_dir=folder)


def template_desk(admin: str, folder: Path, urls: list[str], n_claims: int) -> Database:
    """The case imported once; every run's desk is a copy of this database (CREATE DATABASE … TEMPLATE)."""
    from factcheck.desk.cases import import_case

    db = Database(admin)
    folder.mkdir(parents=True, exist_ok=True)
    desk = Desk(db.url, check=False)
    upgrade(desk.engine)
    write_case(folder / "case.yaml", urls, n_claims)
    t0 = time.perf_counter()
    with desk.session() as s:
        import_case(s, settings_for(db.url, folder, 0.0, 50), folder / "case.yaml", actor="bench")
    print(f"case imported into the template desk: {n_claims} claims in {time.perf_counter() - t0:.1f}s", flush=True)
    desk.dispose()
    return db


def new_desk(admin: str, template: str, folder: Path, delay: float, batch: int):
    db = Database(admin, template)
    folder.mkdir(parents=True, exist_ok=True)
    return db, Desk(db.url, check=False), settings_for(db.url, folder, delay, batch)


def smallest_gap(servers: list[LocalServer]) -> float:
    gaps = []
    for srv in servers:
        starts = sorted(h.start for h in srv.hits)
        gaps += [b - a for a, b in itertools.pairwise(starts)]
    return min(gaps) if gaps else float("nan")


def robots_requests(servers: list[LocalServer]) -> int:
    """The most robots.txt requests one host got (one desk-wide cache: 1)."""
    return max(sum(1 for h in srv.hits if h.path == "/robots.txt") for srv in servers)


def load() -> float:
    return os.getloadavg()[0]


def reset(servers: list[LocalServer]) -> None:
    for srv in servers:
        with srv._lock:
            srv.hits.clear()


def wait_done(desk: Desk, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with desk.engine.connect() as c:
            left = c.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
                             ).scalar_one()
            failed = c.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'failed'")).scalar_one()
        if failed:
            raise SystemExit(f"{failed} job(s) failed; see `factcheck jobs`")
        if not left:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"jobs still pending after {timeout:.0f}s")
        time.sleep(0.05)  # the wall time is read to within this: jobs end every few hundred ms


def with_workers(n: int, args: argparse.Namespace, admin: str, template: str, servers: list[LocalServer],
                 urls: list[str], folder: Path) -> dict[str, float]:
    from factcheck.desk.jobs import enqueue_fetch, enqueue_verify, make_app

    db, desk, settings = new_desk(admin, template, folder, args.per_host_delay, args.batch)
    procs = []
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FACTCHECK_")} | env_for(db.url,
                                                                                                 args.per_host_delay)
        for i in range(n):
            log = (folder / f"worker-{i}.log").open("wb")
            procs.append(subprocess.Popen([FACTCHECK, "worker", "--concurrency", str(args.concurrency)],
                                          cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while True:  # all registered (their start-up is not part of the figures)
            with desk.engine.connect() as c:
                if c.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar_one() >= n:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start; see worker-*.log")
            time.sleep(0.1)
        app = make_app(desk, settings)
        reset(servers)
        load0 = load()
        t0 = time.perf_counter()
        queued = enqueue_fetch(desk, settings, actor="bench", rejudge=False, app=app)
        wait_done(desk, args.timeout)
        fetch_s = time.perf_counter() - t0
        gap, robots = smallest_gap(servers), robots_requests(servers)
        t0 = time.perf_counter()
        enqueue_verify(desk, settings, actor="bench", batch_size=args.batch, app=app)
        wait_done(desk, args.timeout)
        verify_s = time.perf_counter() - t0
        with desk.engine.connect() as c:
            snaps = c.execute(text("SELECT count(*) FROM snapshot")).scalar_one()
            verdicts = c.execute(text("SELECT count(*) FROM verdict")).scalar_one()
        queued_urls = sum(len(q.urls or ()) for q in queued)
        assert queued_urls == len(urls) and snaps == len(urls) and verdicts == args.claims, (queued_urls, snaps, verdicts)
        return {"fetch_s": fetch_s, "verify_s": verify_s, "gap": gap, "robots": robots,
                "load": (load0 + load()) / 2}
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        desk.dispose()
        db.drop()


def inline(args: argparse.Namespace, admin: str, template: str, servers: list[LocalServer],
           folder: Path) -> dict[str, float]:
    from factcheck.desk.capture import fetch_pending
    from factcheck.desk.verify import verify

    db, desk, settings = new_desk(admin, template, folder, args.per_host_delay, args.batch)
    try:
        reset(servers)
        load0 = load()
        t0 = time.perf_counter()
        summary = fetch_pending(desk, settings, actor="bench")
        fetch_s = time.perf_counter() - t0
        gap, robots = smallest_gap(servers), robots_requests(servers)
        assert summary.counts().get("fetched") == args.urls, summary.counts()
        t0 = time.perf_counter()
        verify(desk, settings, actor="bench")
        verify_s = time.perf_counter() - t0
        return {"fetch_s": fetch_s, "verify_s": verify_s, "gap": gap, "robots": robots,
                "load": (load0 + load()) / 2}
    finally:
        desk.dispose()
        db.drop()


HEADER = (f"\n{'':22}{'fetch s':>9}{'URLs/s':>8}{'vs 1':>6}{'eff.':>6}{'added':>7}{'min gap':>9}{'robots':>7}"
          f"{'verify s':>10}{'claims/s':>9}{'vs 1':>6}{'eff.':>6}{'added':>7}{'load':>6}")


def row(label: str, r: dict[str, float], args: argparse.Namespace, one: dict[str, float] | None = None,
        n: int = 1, prev: tuple[int, dict[str, float]] | None = None) -> str:
    """One table line; with `one` (the one-worker row): speed-up, efficiency, and the added workers'
    efficiency against `prev` (the previous worker count)."""
    fetch_tp, verify_tp = args.urls / r["fetch_s"], args.claims / r["verify_s"]

    def ratios(tp: float, key: str, total: float) -> str:
        if one is None:
            return f"{'':6}{'':6}{'':7}"
        base = total / one[key]
        sx = tp / base
        if prev is None or prev[0] == n:
            added = ""
        else:
            added = f"{(tp - total / prev[1][key]) / base / (n - prev[0]):7.2f}"
        return f"{sx:6.2f}{sx / n:6.2f}{added:>7}"

    return (f"{label:22}{r['fetch_s']:9.1f}{fetch_tp:8.1f}{ratios(fetch_tp, 'fetch_s', args.urls)}"
            f"{r['gap']:9.3f}{int(r['robots']):7d}{r['verify_s']:10.1f}{verify_tp:9.1f}"
            f"{ratios(verify_tp, 'verify_s', args.claims)}{r['load']:6.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="the issue's size: 10,000 claims, 2,000 URLs, 20 hosts")
    ap.add_argument("--claims", type=int, default=600)
    ap.add_argument("--urls", type=int, default=200)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--concurrency", type=int, default=4, help="jobs at once per worker process")
    ap.add_argument("--per-host-delay", type=float, default=0.05)
    ap.add_argument("--server-delay", type=float, default=0.02, help="server-side delay per page")
    ap.add_argument("--batch", type=int, default=50, help="claims per verify job")
    ap.add_argument("--fetch-job-urls", type=int, default=None,
                    help="URLs per fetch job (default: the `fetch_job_urls` setting's default)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per phase (default 600; --full 3600)")
    ap.add_argument("--json-out", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if args.full:
        args.claims, args.urls, args.hosts = 10_000, 2_000, 20
    args.timeout = args.timeout or (3600.0 if args.full else 600.0)
    if args.fetch_job_urls:
        FETCH_JOB_URLS["FACTCHECK_FETCH_JOB_URLS"] = str(args.fetch_job_urls)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: still stop the workers, drop the desks
    admin = os.environ.get("FACTCHECK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    servers, urls = start_servers(args.hosts, args.urls, args.server_delay)
    tmp = Path(tempfile.mkdtemp(prefix="worker-bench-"))
    cores = os.cpu_count() or 1
    print(f"worker bench: {args.claims} claims, {args.urls} URLs on {args.hosts} hosts, per-host delay "
          f"{args.per_host_delay}s, server delay {args.server_delay}s, concurrency {args.concurrency} per worker, "
          f"{args.batch} claims per verify job, {args.fetch_job_urls or 'default'} URLs per fetch job; {cores} CPU cores (efficiency per added worker is meaningful "
          f"up to {cores} workers); load average at start {load():.1f}", flush=True)
    template = template_desk(admin, tmp / "template", urls, args.claims)
    rows: dict[int, dict[str, float]] = {}
    try:
        base = inline(args, admin, template.name, servers, tmp / "inline")
        print(HEADER, flush=True)
        print(row("inline, one process", base, args), flush=True)
        prev: tuple[int, dict[str, float]] | None = None
        for n in args.workers:
            rows[n] = with_workers(n, args, admin, template.name, servers, urls, tmp / f"w{n}")
            one = rows.get(1) or rows[min(rows)]
            print(row(f"{n} worker(s)", rows[n], args, one, n, prev), flush=True)
            prev = (n, rows[n])
            if args.json_out:
                args.json_out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                     "cores": cores, "inline": base, "workers": rows}, indent=1))
    finally:
        for srv in servers:
            srv.stop()
        template.drop()
        shutil.rmtree(tmp, ignore_errors=True)
    last = rows[max(rows)]
    print(f"\nper-host delay {args.per_host_delay}s: smallest gap seen by any server across all worker counts "
          f"{min(r['gap'] for r in rows.values()):.3f}s; at most {int(max(r['robots'] for r in rows.values()))} "
          f"robots.txt request(s) per host per run; {max(rows)} worker(s) vs inline: "
          f"fetch x{base['fetch_s'] / last['fetch_s']:.2f}, verify x{base['verify_s'] / last['verify_s']:.2f}; "
          f"{cores} cores")


if __name__ == "__main__":
    main()
