"""Web desk load benchmark: a desk with many claims, the web desk served by uvicorn on loopback, and U
signed-in users requesting the queue and claim pages at once; bounded by a request count and a time limit.

Prints p50 / p95 / max latency and errors per user count, side by side with a baseline measured in the same
run on the same server: the sign-in page (a small page that reads nothing from the desk), so what the
desk's pages cost shows apart from the server and the client.

    python benchmarks/web_load.py                                   # PostgreSQL 100k if FACTCHECK_TEST_PG is set
    python benchmarks/web_load.py --claims 20000 --users 1 10 --seconds 20
    python benchmarks/web_load.py --backend sqlite --claims 5000
    python benchmarks/web_load.py --workers 2 --think 1       # two server processes; users pause 1 s a page

Each user is one client making one request at a time. With --think 0 (the default) users ask again the
moment an answer comes: 50 such users are 50 requests always in flight, a saturation test. With --think S a
user reads for S seconds (0.5-1.5 S, drawn) between pages, as people do. The load average is printed with the
figures: on a small shared machine the same run varies with what else runs. Every sort of the queue is loaded at
its first page and at its later pages (pages 2-21, reached by the page links). Every statement a queue page
sends, first page and deep page of each sort, is shown with EXPLAIN ANALYZE, to see that an index serves it.
On PostgreSQL each user count also says how many connections the server held to the desk's database at
most at once, and how many it opened (a server that opens and closes connections under load can be refused
one by a database near its `max_connections`). What the server wrote to stderr is kept (`--server-log`) and
the exceptions of its tracebacks are counted at the end.

`fill_desk` (bulk SQL inserts, not the import path) is also what tests/test_web_pages.py builds its desks with;
the triage queue's stored order (`desk.queue`) follows the inserts, as it follows every change made through a
desk session.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from factcheck.desk.models import Article, AuditEvent, Case, Citation, Claim, ClaimTag, Run, Verdict

PASSWORD = "correct horse battery"
BATCH = 5000
LABELS = ("contested", "unverified", "verified", "unverified", "verified")


def _batches(rows: list[dict[str, Any]]) -> Any:
    for i in range(0, len(rows), BATCH):
        yield rows[i : i + BATCH]


def fill_desk(session: Session, claims: int, *, seed: int = 1, runs: int = 3, events: int | None = None) -> None:
    """`claims` claims (one case, an article per 100 claims) with machine verdicts of one finished run in
    mixed labels and confidences, some tags and citations, `runs` runs and audit events (not hash-chained:
    for listing, not for `audit verify`), all by bulk INSERT."""
    rng = random.Random(seed)
    now = datetime.now(UTC) - timedelta(days=1)
    session.execute(insert(Case), [{"key": "load", "title": "load test", "created_at": now, "updated_at": now}])
    case_id = session.execute(select(Case.id).where(Case.key == "load")).scalar_one()
    n_art = max(1, claims // 100)
    for part in _batches([{"case_id": case_id, "url": f"https://news.example/a{i}", "title": f"Article {i}",
                           "created_at": now} for i in range(n_art)]):
        session.execute(insert(Article), part)
    art_ids = list(session.execute(select(Article.id).order_by(Article.id)).scalars())
    run_rows = [{"started_at": now + timedelta(seconds=i), "finished_at": now + timedelta(seconds=i, minutes=1),
                 "version": "load", "actor": "load", "counts": {}, "settings": {}} for i in range(max(1, runs))]
    session.execute(insert(Run), run_rows)
    run_id = session.execute(select(Run.id).order_by(Run.id.desc()).limit(1)).scalar_one()
    rows = []
    for i in range(claims):
        cw = None if i % 11 == 0 else round(rng.random(), 3)
        rows.append({"case_id": case_id, "article_id": art_ids[i // 100 % len(art_ids)], "key": f"L{i}",
                     "text": f"Claim {i}: the company grew {rng.randint(1, 99)} percent in {2000 + i % 25}.",
                     "checkworthiness": cw, "revision": 0, "created_at": now + timedelta(seconds=i % 5000),
                     "updated_at": now})
    for part in _batches(rows):
        session.execute(insert(Claim), part)
    ids = list(session.execute(select(Claim.id).order_by(Claim.id)).scalars())
    verdicts, tags, cites = [], [], []
    for n, cid in enumerate(ids):
        if n % 3 != 2:
            label = LABELS[n % len(LABELS)]
            verdicts.append({"claim_id": cid, "run_id": run_id, "kind": "machine", "label": label,
                             "confidence": round(rng.random(), 3), "rationale": "load", "quotes": [],
                             "signals": {}, "created_at": now + timedelta(seconds=n % 7000)})
        if n % 7 == 0:
            tags.append({"claim_id": cid, "tag": "seven", "created_at": now})
        if n % 5 == 0:
            cites.append({"claim_id": cid, "name": "Source A" if n % 10 == 0 else "Source B", "kind": "named"})
    for table, data in ((Verdict, verdicts), (ClaimTag, tags), (Citation, cites)):
        for part in _batches(data):
            session.execute(insert(table), part)
    n_ev = claims // 2 if events is None else events
    for part in _batches([{"at": now + timedelta(seconds=i), "actor": "load", "action": "claim.assign",
                           "entity": "claim", "entity_id": ids[i % len(ids)] if ids else None,
                           "claim_id": ids[i % len(ids)] if ids else None, "before": None, "after": None,
                           "prev_hash": "0" * 64, "hash": uuid.uuid4().hex + uuid.uuid4().hex}
                          for i in range(n_ev)]):
        session.execute(insert(AuditEvent), part)


# ---------------------------------------------------------------- the load run

PG_ADMIN = os.environ.get("FACTCHECK_TEST_PG")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def build_desk(url: str, claims: int, users_n: int) -> list[int]:
    """Migrate and fill the desk, add users u0…u(N-1); returns the claim ids (for the claim pages)."""
    from factcheck.desk import users
    from factcheck.desk.db import Desk, upgrade

    desk = Desk(url, check=False)
    upgrade(desk.engine)
    with desk.session() as s:
        fill_desk(s, claims)
        for i in range(users_n):
            users.add_user(s, f"u{i}", role="checker", password=PASSWORD, actor="bench")
    with desk.session() as s:
        ids = list(s.execute(select(Claim.id)).scalars())
    if url.startswith("postgresql"):
        with desk.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum does to a desk after a bulk load
    desk.dispose()
    return ids


def explain_queue(url: str) -> list[str]:
    """EXPLAIN ANALYZE of every statement `queue.page` sends for the first page of each sort and for the
    page after its 30,000th row (position and total counted afresh): the node lines that say which index
    or scan reads the claims, and the time."""
    from sqlalchemy import event

    from factcheck.desk import counts, queue
    from factcheck.desk.db import Desk
    from factcheck.desk.models import utcnow
    from factcheck.desk.triage import SORTS

    desk = Desk(url)
    out: list[str] = []
    sent: list[tuple[str, Any]] = []

    def note(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((statement, parameters))

    pg = desk.dialect == "postgresql"
    try:
        for sort in SORTS:
            with desk.session() as s:
                now = utcnow()
                rows = queue.ordered(s, queue.Filters(), sort=sort, now=now, limit=30_000)
                for title, after in (("first page", None), ("after row 30,000", rows[-1][1] if rows else None)):
                    counts.forget()
                    sent.clear()
                    event.listen(desk.engine, "before_cursor_execute", note)
                    try:
                        queue.page(s, queue.Filters(), sort=sort, after=after, now=now)
                    finally:
                        event.remove(desk.engine, "before_cursor_execute", note)
                    out.append(f"-- sort {sort}, {title}: {len(sent)} statements")
                    conn = s.connection()
                    for statement, params in sent:
                        prefix = "EXPLAIN (ANALYZE, COSTS OFF) " if pg else "EXPLAIN QUERY PLAN "
                        plan = [str(r[-1]) for r in conn.exec_driver_sql(prefix + statement, params)]
                        head = " ".join(statement.split())[:90]
                        shown = [x.strip() for x in plan if re.search(
                            r"Scan|Sort|SCAN|SEARCH|TEMP|Execution Time", x)]
                        out.append(f"   {head} …")
                        out += [f"      {x[:150]}" for x in shown]
    finally:
        desk.dispose()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, folder: Path, port: int, workers: int = 1,
                 log: Path | None = None) -> subprocess.Popen[bytes]:
    """The web desk in its own process; what it says on stderr (uvicorn's errors, any traceback) goes to
    `log` (a file read by nobody would block the server once a pipe's buffer filled)."""
    env = {**os.environ, "FACTCHECK_DB": url, "FACTCHECK_EVIDENCE_DIR": str(folder / "evidence")}
    err = open(log or (folder / "server.log"), "ab")  # noqa: SIM115  # the server holds it open
    proc = subprocess.Popen([sys.executable, "-m", "factcheck", "serve", "--port", str(port),
                             "--workers", str(workers)], env=env,
                            cwd=folder, stdout=subprocess.DEVNULL, stderr=err)
    err.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None:
                said = (log or (folder / "server.log")).read_text(errors="replace")[-2000:]
                raise SystemExit(f"the web desk did not start: {said}") from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the web desk did not start within 60 s")


async def sign_in(client: Any, name: str) -> None:
    page = await client.get("/login")
    m = CSRF.search(page.text)
    if m is None:
        raise SystemExit("no CSRF field on the sign-in page")
    r = await client.post("/login", data={"name": name, "password": PASSWORD, "csrf": m.group(1), "next": "/queue"})
    if r.status_code != 303:
        raise SystemExit(f"sign-in of {name} failed: HTTP {r.status_code}")


async def phase(clients: list[Any], paths: Any, *, seconds: float, per_user: int,
                think: float = 0.0) -> dict[str, Any]:
    """Every user requests `paths(user, n)` one after another until `per_user` requests or `seconds`,
    pausing 0.5-1.5 × `think` seconds between requests (users start spread over one pause)."""
    times: list[float] = []
    errors = 0
    kinds: Counter[str] = Counter()  # what the errors were: "HTTP 500", "ReadTimeout", ...
    deadline = time.monotonic() + seconds
    load_before = os.getloadavg()[0]

    async def user(i: int, client: Any) -> None:
        nonlocal errors
        pause = random.Random(i)
        if think:
            await asyncio.sleep(pause.uniform(0, think))
        for n in range(per_user):
            if n and think:
                await asyncio.sleep(think * pause.uniform(0.5, 1.5))
            if time.monotonic() > deadline:
                return
            t0 = time.perf_counter()
            try:
                r = await client.get(paths(i, n))
                ok = r.status_code == 200
                if not ok:
                    kinds[f"HTTP {r.status_code}"] += 1
            except Exception as exc:  # a timeout or a dropped connection counts as an error, the run goes on
                ok = False
                kinds[type(exc).__name__] += 1
            times.append(time.perf_counter() - t0)
            errors += not ok

    t0 = time.perf_counter()
    await asyncio.gather(*(user(i, c) for i, c in enumerate(clients)))
    wall = time.perf_counter() - t0
    times.sort()
    load = max(load_before, os.getloadavg()[0])
    if not times:
        return {"n": 0, "errors": errors, "kinds": kinds, "p50": 0.0, "p95": 0.0, "max": 0.0, "rps": 0.0,
                "load": load}
    return {"n": len(times), "errors": errors, "kinds": kinds, "p50": statistics.median(times) * 1000,
            "p95": times[min(len(times) - 1, int(len(times) * 0.95))] * 1000, "max": times[-1] * 1000,
            "rps": len(times) / wall, "load": load}


class ConnectionWatch:
    """The server's connections to the desk's database (PostgreSQL), seen from another connection: the most
    open at once (sampled every 0.1 s) and how many were opened (`pg_stat_database.sessions`), per stretch."""

    def __init__(self, admin: Any, name: str) -> None:
        import threading

        self.admin, self.name = admin, name
        self.most = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conn = admin.connect()
        self._opened = self._sessions()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sessions(self) -> int:
        return int(self._conn.execute(text("SELECT sessions FROM pg_stat_database WHERE datname = :n"),
                                      {"n": self.name}).scalar_one())

    def _run(self) -> None:
        with self.admin.connect() as c:
            while not self._stop.wait(0.1):
                n = int(c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :n "
                                       "AND backend_type = 'client backend'"), {"n": self.name}).scalar_one())
                with self._lock:
                    self.most = max(self.most, n)

    def take(self) -> str:
        """What happened since the last take, said in a line; starts the next stretch."""
        time.sleep(0.2)  # the statistics of connections just closed reach pg_stat_database
        self._conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        opened = self._sessions()
        with self._lock:
            most, self.most = self.most, 0
        said = f"at most {most} open at once, {opened - self._opened} opened"
        self._opened = opened
        return said

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._conn.close()


async def load(port: int, ids: list[int], user_counts: list[int], seconds: float, per_user: int,
               think: float = 0.0, watch: ConnectionWatch | None = None) -> list[str]:
    import httpx

    lines = []
    rng = random.Random(3)
    picks = [rng.choice(ids) for _ in range(10_000)]
    later = {sort: await _queue_pages(port, 20, sort) for sort in SORT_NAMES}
    if watch is not None:
        watch.take()
    for u in user_counts:
        clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120,
                                     limits=httpx.Limits(max_connections=1)) for _ in range(u)]
        try:
            for i, c in enumerate(clients):
                await sign_in(c, f"u{i}")
            kw = {"think": think}
            runs = {"baseline /login": await phase(clients, lambda i, n: "/login", seconds=seconds,
                                                   per_user=per_user, **kw)}
            for sort in SORT_NAMES:
                first = "/queue" if sort == "urgency" else f"/queue?sort={sort}"
                pages = later[sort]
                runs[f"{first} first"] = await phase(clients, lambda i, n, first=first: first, seconds=seconds / 2,
                                                     per_user=per_user // 2, **kw)
                runs[f"{first} later"] = await phase(clients, lambda i, n, pages=pages: pages[(i + n) % len(pages)],
                                                     seconds=seconds / 2, per_user=per_user // 2, **kw)
            runs["/claims/ID"] = await phase(clients, lambda i, n: f"/claims/{picks[(i * 997 + n) % len(picks)]}",
                                             seconds=seconds, per_user=per_user, **kw)
            runs["/claims"] = await phase(clients, lambda i, n: "/claims", seconds=seconds / 2,
                                          per_user=per_user // 2, **kw)
        finally:
            for c in clients:
                await c.aclose()
        for name, r in runs.items():
            lines.append(f"{u:>5} {name:<28} {r['n']:>6} {r['errors']:>6} {r['p50']:>9.1f} {r['p95']:>9.1f} "
                         f"{r['max']:>9.1f} {r['rps']:>8.1f} {r['load']:>6.1f}"
                         + (f"  errors: {', '.join(f'{k} x{v}' for k, v in r['kinds'].most_common())}"
                            if r["errors"] else ""))
        if watch is not None:
            lines.append(f"{u:>5} server's database connections: {watch.take()}")
    return lines


SORT_NAMES = ("urgency", "worth", "oldest", "newest", "confidence", "id")
"""The queue's orders (`triage.SORTS`), each loaded at its first page and at its later pages."""


async def _queue_pages(port: int, n: int, sort: str = "urgency") -> list[str]:
    """The links to the queue's pages 2 to n+1 in one order (followed once, by one user): later pages."""
    import html

    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
        await sign_in(c, "u0")
        out: list[str] = []
        url = "/queue" if sort == "urgency" else f"/queue?sort={sort}"
        for _ in range(n):
            m = re.search(r'<a href="([^"]+)" rel="next"', (await c.get(url)).text)
            if m is None:
                break
            url = html.unescape(m.group(1))
            out.append(url)
    return out or ["/queue"]


def server_errors(log: Path) -> str:
    """What went wrong on the server side: the exceptions its tracebacks end in (each one of a chain), counted."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    ends: Counter[str] = Counter()
    inside = False
    for line in lines:
        if line.startswith("Traceback"):
            inside = True
        elif inside and line.strip() and not line.startswith((" ", "\t")):
            ends[line[:200]] += 1
            inside = False
    if not ends:
        return f"server log: no tracebacks ({len(lines)} lines)"
    return "server log: " + "; ".join(f"{k} x{v}" for k, v in ends.most_common())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgresql"],
                    default="postgresql" if PG_ADMIN else "sqlite")
    ap.add_argument("--claims", type=int, help="claims on the desk (default 100000 on PostgreSQL, 20000 on SQLite)")
    ap.add_argument("--users", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--seconds", type=float, default=20.0, help="time limit of each phase")
    ap.add_argument("--requests", type=int, default=200, help="most requests per user in each phase")
    ap.add_argument("--workers", type=int, default=1, help="server processes (`factcheck serve --workers`)")
    ap.add_argument("--think", type=float, nargs="+", default=[0.0],
                    help="seconds a user reads between pages (each value is one run over all user counts)")
    ap.add_argument("--server-log", type=Path, help="keep what the server says on stderr in this file "
                    "(default: a temporary file; its errors are summed up at the end either way)")
    ap.add_argument("--explain", action=argparse.BooleanOptionalAction, default=True,
                    help="print the EXPLAIN of every statement of each sort's first and a deep page")
    args = ap.parse_args()
    claims = args.claims or (100_000 if args.backend == "postgresql" else 20_000)
    from sqlalchemy import create_engine

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        admin = None
        name = f"fc_webload_{uuid.uuid4().hex[:8]}"
        if args.backend == "postgresql":
            if not PG_ADMIN:
                raise SystemExit("set FACTCHECK_TEST_PG to a PostgreSQL admin URL for --backend postgresql")
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
            url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        else:
            url = f"sqlite:///{folder / 'desk.db'}"
        proc = None
        try:
            t0 = time.perf_counter()
            ids = build_desk(url, claims, max(args.users))
            print(f"desk: {args.backend}, {claims} claims, built in {time.perf_counter() - t0:.1f} s "
                  f"(bulk inserts, then the queue's stored order; {os.cpu_count()} cores)", flush=True)
            if args.explain:
                print("\n".join(explain_queue(url)), flush=True)
            port = free_port()
            log = args.server_log or folder / "server.log"
            proc = start_server(url, folder, port, args.workers, log)
            for think in args.think:
                print(f"\nserver: {args.workers} worker process(es); users pause {think:g} s between pages "
                      f"(load = 1-minute load average, the higher of start and end)", flush=True)
                watch = ConnectionWatch(admin, name) if admin is not None else None
                try:
                    lines = asyncio.run(load(port, ids, args.users, args.seconds, args.requests, think, watch))
                finally:
                    if watch is not None:
                        watch.close()
                print(f"{'users':>5} {'pages':<28} {'reqs':>6} {'errors':>6} {'p50 ms':>9} {'p95 ms':>9} "
                      f"{'max ms':>9} {'req/s':>8} {'load':>6}")
                print("\n".join(lines), flush=True)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
                print(server_errors(log), flush=True)
            if admin is not None:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
