"""Where a queued fetch's time goes: one `factcheck worker` process against the same fetch run inline, on the
same local hosts and desk template as `worker_bench.py`, with timestamps around each stage.

Both sides run with the same spans wrapped around the desk's own functions (no change to them): a fetch job
as a whole, its URL locks, the queries before fetching, the fetcher it makes, `fetch_pending` and its parts
(reading the latest hashes, the fetch itself, waiting for a host's desk-wide slot and holding it, the HTTP
requests, preparing each capture, the audit lock and each stored result, every desk transaction), and
procrastinate's own calls (taking a job, finishing it). Each worker process writes its spans to a file when it
stops; procrastinate's events table adds when each job was queued, started and ended (the database's clock).

Printed: the wall time of each side; per span, how many, the total and mean seconds and the share of the
side's wall time (spans overlap: many threads run at once); then the worker's jobs: queue latency (queued →
started), job wall time, and the gap between one job's end and the next job's start in the same slot.
`--cprofile` also runs cProfile in every thread of the worker process and prints its top functions by
cumulative time (slower; for where the CPU goes, not for the wall-clock figures).

    FACTCHECK_TEST_PG=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
    .venv/bin/python benchmarks/worker_profile.py [--urls 200] [--hosts 20] [--concurrency 4] [--workers 1]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

_SPANS: list[tuple[str, int, float, float]] = []
_SPANS_LOCK = threading.Lock()


def _note(name: str, t0: float) -> None:
    t1 = time.perf_counter()
    with _SPANS_LOCK:
        _SPANS.append((name, threading.get_ident(), t0, t1))


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            _note(name, t0)

    return run


def _timed_async(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def run(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await fn(*a, **k)
        finally:
            _note(name, t0)

    return run


def _timed_cm(name: str, fn: Callable[..., Any], inner: str | None = None) -> Callable[..., Any]:
    """A context manager function: `name` from entry to the body's start, `inner` for the body."""

    @functools.wraps(fn)
    @contextlib.contextmanager
    def run(*a: Any, **k: Any) -> Iterator[Any]:
        t0 = time.perf_counter()
        with fn(*a, **k) as value:
            _note(name, t0)
            t1 = time.perf_counter()
            try:
                yield value
            finally:
                if inner:
                    _note(inner, t1)
                t2 = time.perf_counter()
        _note(name + " (leaving)", t2)

    return run


def install() -> None:
    """Wrap the stages of a fetch (inline or in a job) in spans (those this version of the desk has)."""
    from procrastinate import manager
    from sqlalchemy.orm import Session

    from factcheck.desk import audit, capture, db, jobs, politeness
    from factcheck.documents import fetch

    def wrap(owner: Any, attr: str, name: str, how: Callable[..., Any] = _timed, *more: str) -> None:
        if hasattr(owner, attr):
            setattr(owner, attr, how(name, getattr(owner, attr), *more))

    wrap(jobs, "_fetch_task", "job: whole fetch job")
    wrap(jobs, "_lock_urls", "job: lock URLs")
    wrap(jobs, "_unlock_urls", "job: unlock URLs")
    wrap(jobs._WorkerState, "job_fetcher", "job: make fetcher")
    wrap(capture, "pending_requests", "pending_requests")
    wrap(capture, "fetch_pending", "fetch_pending")
    wrap(capture, "_latest_sha256", "fetch_pending: latest hashes")
    wrap(capture, "prepare_result", "prepare capture (extract, WARC, passages)")
    wrap(capture, "_record", "store one result")
    wrap(capture, "_record_many", "store a batch of results")
    wrap(audit, "hold_appends", "audit lock wait")
    wrap(fetch.Fetcher, "fetch_many", "fetcher.fetch_many")
    wrap(fetch.Fetcher, "_request_once", "HTTP request")
    wrap(fetch.RobotsCache, "get", "robots.txt answer")
    wrap(politeness.PgHostSlots, "hold", "host slot: wait", _timed_cm, "host slot: held")
    wrap(db.Desk, "session", "desk session: open", _timed_cm, "desk session: body")
    wrap(Session, "commit", "SQL commit")
    wrap(manager.JobManager, "fetch_job", "procrastinate: fetch_job", _timed_async)
    wrap(manager.JobManager, "finish_job", "procrastinate: finish_job", _timed_async)


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds of every postgres process on this machine (the desk's server; other users of it count too)."""
    total = 0.0
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if (d / "comm").read_text().strip().startswith("postgres"):
                    total += cpu_of(int(d.name))
    return total


CATEGORIES = [  # the first of these found anywhere in a sampled stack names its stage (function names or paths)
    ("http/server.py", "the local test servers (this bench)"),
    ("prepare_capture", "preparing captures (extraction, WARC, passages)"),
    ("_record_many", "storing results (ORM, SQL)"),
    ("_record", "storing results (ORM, SQL)"),
    ("record_result", "storing results (ORM, SQL)"),
    ("politeness.py", "host slots (desk-wide per-host delay)"),
    ("RobotsCache", "robots.txt answers"),
    ("get (/work", "robots.txt answers"),
    ("_request_once", "HTTP client"),
    ("_latest_sha256", "the job's reads before and after fetching"),
    ("pending_requests", "the job's reads before and after fetching"),
    ("documents/fetch.py", "fetcher threads (other)"),
    ("_fetch_and_store", "fetch_pending's writer loop (other)"),
    ("_fetch_task", "the job's reads before and after fetching"),
    ("procrastinate", "procrastinate (taking, finishing jobs, heartbeats)"),
    ("asyncio", "the event loop (other)"),
]


def _hit(marker: str, frame: str) -> bool:
    return frame.startswith(marker + " (") or (("/" in marker or " " in marker) and marker in frame)


def spy(binary: str, pid: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([binary, "record", "-p", str(pid), "-f", "raw", "-o", str(out), "-r", "250",
                             "--nonblocking", "--gil"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_spy(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


def categorise(raw: Path, others: dict[str, int] | None = None) -> dict[str, int]:
    """Samples of a py-spy raw profile (the thread holding the GIL: where the CPU went) by stage."""
    out: dict[str, int] = defaultdict(int)
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = stack.split(";")
        name = next((cat for marker, cat in CATEGORIES if any(_hit(marker, f) for f in frames)), "other")
        out[name] += int(n)
        if name == "other" and others is not None:
            key = " <- ".join(f.split(" (")[0] + " " + f.rsplit("/", 1)[-1] for f in frames[::-1][:3])
            others[key] = others.get(key, 0) + int(n)
    return dict(out)


def dump(path: Path) -> None:
    with _SPANS_LOCK:
        path.write_text(json.dumps(_SPANS))


# ------------------------------------------------------------------ the worker side


def as_worker(out: Path, cprofile: bool, argv: list[str]) -> None:
    install()
    atexit.register(dump, out)
    if cprofile:
        import cProfile
        import pstats

        profiles: list[cProfile.Profile] = []
        lock = threading.Lock()
        orig_run = threading.Thread.run

        def run(self: threading.Thread) -> None:  # every thread profiled, the stats merged at exit
            prof = cProfile.Profile()
            with lock:
                profiles.append(prof)
            prof.runcall(orig_run, self)

        threading.Thread.run = run  # type: ignore[method-assign]
        main = cProfile.Profile()
        profiles.append(main)

        def save() -> None:
            main.disable()
            stats = pstats.Stats(main)
            for p in profiles[1:]:
                with contextlib.suppress(TypeError):
                    stats.add(p)
            stats.dump_stats(str(out) + ".prof")

        atexit.register(save)
        main.enable()
    from factcheck.cli import run as cli

    sys.argv = ["factcheck", *argv]
    cli()


# ------------------------------------------------------------------ the driver


def table(spans: list[tuple[str, int, float, float]], wall: float, title: str) -> None:
    by: dict[str, list[float]] = defaultdict(list)
    for name, _, t0, t1 in spans:
        by[name].append(t1 - t0)
    print(f"\n{title}: wall {wall:.2f}s")
    print(f"  {'span':46}{'count':>7}{'total s':>9}{'mean ms':>9}{'% wall':>8}")
    for name in sorted(by, key=lambda n: -sum(by[n])):
        d = by[name]
        print(f"  {name:46}{len(d):7d}{sum(d):9.2f}{1000 * sum(d) / len(d):9.1f}{100 * sum(d) / wall:8.0f}")


def main() -> None:
    import worker_bench as wb
    from sqlalchemy import text

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--urls", type=int, default=200)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--per-host-delay", type=float, default=0.05)
    ap.add_argument("--server-delay", type=float, default=0.02)
    ap.add_argument("--fetch-job-urls", type=int, default=None)
    ap.add_argument("--cprofile", action="store_true")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--py-spy", metavar="BIN", help="sample each side with py-spy (CPU by stage)")
    args = ap.parse_args()
    if args.fetch_job_urls:
        wb.FETCH_JOB_URLS["FACTCHECK_FETCH_JOB_URLS"] = str(args.fetch_job_urls)
    admin = os.environ.get("FACTCHECK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    servers, urls = wb.start_servers(args.hosts, args.urls, args.server_delay)
    tmp = Path(tempfile.mkdtemp(prefix="worker-profile-"))
    template = wb.template_desk(admin, tmp / "template", urls, 10)
    install()
    try:
        # inline: this process, the spans it records
        db, desk, settings = wb.new_desk(admin, template.name, tmp / "inline", args.per_host_delay, 50)
        from factcheck.desk.capture import fetch_pending

        _SPANS.clear()
        sampler = spy(args.py_spy, os.getpid(), tmp / "inline.raw") if args.py_spy else None
        if sampler:
            time.sleep(1.0)
        cpu0, pg0, load0 = time.process_time(), postgres_cpu(), os.getloadavg()[0]
        t0 = time.perf_counter()
        fetch_pending(desk, settings, actor="bench")
        inline_wall = time.perf_counter() - t0
        if sampler:
            stop_spy(sampler)
        inline_cpu = (time.process_time() - cpu0, postgres_cpu() - pg0, (load0 + os.getloadavg()[0]) / 2)
        inline_spans = [s for s in _SPANS if s[2] >= t0]
        inline_gap = wb.smallest_gap(servers)
        desk.dispose()
        db.drop()

        # workers: subprocesses that record spans, a fresh copy of the desk
        from factcheck.desk.jobs import enqueue_fetch, make_app

        db, desk, settings = wb.new_desk(admin, template.name, tmp / "w", args.per_host_delay, 50)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FACTCHECK_")} | wb.env_for(
            db.url, args.per_host_delay)
        procs, outs = [], []
        for i in range(args.workers):
            out = tmp / f"spans-{i}.json"
            outs.append(out)
            cmd = [sys.executable, __file__, "--as-worker", str(out), *(["--cprofile"] if args.cprofile else []),
                   "--", "worker", "--concurrency", str(args.concurrency)]
            procs.append(subprocess.Popen(cmd, cwd=tmp, env=env, stdout=(tmp / f"w{i}.log").open("wb"),
                                          stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while True:
            with desk.engine.connect() as c:
                if c.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar_one() >= args.workers:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start: " + (tmp / "w0.log").read_text()[-2000:])
            time.sleep(0.1)
        app = make_app(desk, settings)
        wb.reset(servers)
        cpu0, pg0, load0 = time.process_time(), postgres_cpu(), os.getloadavg()[0]
        samplers = [spy(args.py_spy, p.pid, tmp / f"worker-{i}.raw") for i, p in enumerate(procs)] if args.py_spy else []
        if samplers:
            time.sleep(1.0)
        wcpu0 = sum(cpu_of(p.pid) for p in procs)
        t_enq = time.perf_counter()
        wall_clock0 = time.time()
        enqueue_fetch(desk, settings, actor="bench", rejudge=False, app=app)
        enq_s = time.perf_counter() - t_enq
        wb.wait_done(desk, 600)
        worker_wall = time.perf_counter() - t_enq
        worker_cpu = (time.process_time() - cpu0, postgres_cpu() - pg0, (load0 + os.getloadavg()[0]) / 2,
                      sum(cpu_of(p.pid) for p in procs) - wcpu0)
        worker_gap = wb.smallest_gap(servers)
        for sp in samplers:
            stop_spy(sp)
        with desk.engine.connect() as c:
            events = c.execute(text(
                "SELECT e.job_id, e.type::text, EXTRACT(EPOCH FROM e.at) FROM procrastinate_events e "
                "JOIN procrastinate_jobs j ON j.id = e.job_id WHERE j.task_name = 'factcheck.fetch_url' "
                "ORDER BY e.at")).all()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
        desk.dispose()
        db.drop()
        worker_spans = []
        for out in outs:
            worker_spans += [tuple(s) for s in json.loads(out.read_text())]
    finally:
        for srv in servers:
            srv.stop()
        template.drop()

    print(f"\n{args.urls} URLs on {args.hosts} hosts, per-host delay {args.per_host_delay}s, server delay "
          f"{args.server_delay}s; load average {os.getloadavg()[0]:.1f}; smallest per-host gap inline "
          f"{inline_gap:.3f}s, workers {worker_gap:.3f}s")
    print(f"CPU seconds: inline: this process (fetching and the local servers) {inline_cpu[0]:.2f}, PostgreSQL "
          f"{inline_cpu[1]:.2f} (load {inline_cpu[2]:.1f}); workers: the worker processes {worker_cpu[3]:.2f}, this "
          f"process (the local servers) {worker_cpu[0]:.2f}, PostgreSQL {worker_cpu[1]:.2f} (load {worker_cpu[2]:.1f})")
    table(inline_spans, inline_wall, "inline fetch_pending")
    print(f"\n{args.workers} worker(s), concurrency {args.concurrency}: queued in {enq_s:.2f}s; "
          f"queued until the last job is done {worker_wall:.2f}s (x{inline_wall / worker_wall:.2f} of inline)")
    table(worker_spans, worker_wall, "worker process(es), spans from their start")  # type: ignore[arg-type]

    per: dict[int, dict[str, float]] = defaultdict(dict)
    for job, kind, at in events:
        per[int(job)].setdefault(kind, float(at))
    started = sorted(v["started"] for v in per.values() if "started" in v)
    ended = [max(v.get("succeeded", 0), v.get("failed", 0)) for v in per.values()]
    lat = [v["started"] - v["deferred"] for v in per.values() if "started" in v and "deferred" in v]
    dur = [max(v.get("succeeded", 0), v.get("failed", 0)) - v["started"] for v in per.values() if "started" in v]
    # a slot's gap: each start after the first wave matched to the latest end before it
    ends = sorted(ended)
    gaps = []
    for s in started[args.workers * args.concurrency:]:
        before = [e for e in ends if e <= s]
        if before:
            gaps.append(s - before[-1])
            ends.remove(before[-1])
    print(f"\njobs ({len(per)}): first queued → first started {min(started) - wall_clock0:.3f}s after enqueue began; "
          f"queue latency mean {sum(lat) / len(lat):.3f}s (max {max(lat):.3f}); job wall mean {sum(dur) / len(dur):.3f}s "
          f"(min {min(dur):.3f}, max {max(dur):.3f}); a job's end to the next start in a slot: "
          + (f"mean {1000 * sum(gaps) / len(gaps):.0f} ms over {len(gaps)}" if gaps else "none")
          + f"; last end {max(ended) - wall_clock0:.2f}s after enqueue began")
    if args.py_spy:
        others: dict[str, dict[str, int]] = defaultdict(dict)
        sides = {"inline (this process)": categorise(tmp / "inline.raw", others["inline (this process)"])}
        for i in range(args.workers):
            sides[f"worker {i}"] = categorise(tmp / f"worker-{i}.raw", others[f"worker {i}"])
        print("\nCPU samples by stage (py-spy, 250 a second, the thread holding the GIL):")
        for side, cats in sides.items():
            total = sum(cats.values()) or 1
            print(f"  {side}: {total} samples")
            for name, n in sorted(cats.items(), key=lambda kv: -kv[1]):
                print(f"    {name:56}{n:7d}{100 * n / total:6.0f}%")
            for key, n in sorted(others[side].items(), key=lambda kv: -kv[1])[:5]:
                print(f"      other: {n:5d} {key[:150]}")
    if args.cprofile:
        import pstats

        for out in outs:
            print(f"\ncProfile of {out.name} (all threads, cumulative):")
            pstats.Stats(str(out) + ".prof").sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--as-worker":
        rest = sys.argv[2:]
        cprof = "--cprofile" in rest[: rest.index("--")]
        as_worker(Path(rest[0]), cprof, rest[rest.index("--") + 1:])
    else:
        main()
