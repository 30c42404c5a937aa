"""Concurrent capture (fetch workers, capture workers, one batching writer) stores exactly what the plain
one-result-at-a-time road stores, and a failure in one result does not lose the others.

The reference is the road `fetch` took before captures were prepared beside the fetch: a fetcher with
one worker, and `record_result` (extraction, WARC record, rows) in the calling thread, one transaction
per result.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

import factcheck.desk.capture as capture
from factcheck.desk.audit import verify_chain
from factcheck.desk.capture import fetch_pending, pending_requests, policy_from_settings, record_result
from factcheck.desk.cases import import_case
from factcheck.desk.db import Desk, DeskRefused, upgrade
from factcheck.desk.models import AuditEvent, EvidenceUrl, FetchAttempt, Passage, Snapshot, TermStat
from factcheck.documents.archive import Archive
from factcheck.documents.fetch import Fetcher
from factcheck.settings import Settings, load_settings

try:
    from httpserver_util import LocalServer, send
except ImportError:  # pragma: no cover - when tests/ becomes a package
    from tests.httpserver_util import LocalServer, send

PNG = b"\x89PNG\r\n\x1a\n" + bytes(300)


def article(n: int, version: int = 1) -> bytes:
    paras = "".join(
        f"<p>Report {n} (version {version}), part {i}: the council said {n * 10 + i} homes were built in "
        f"{2010 + i}, and turnout rose to {40 + i} percent. Officials disputed the count.</p>"
        for i in range(4)
    )
    return (f"<html lang='en'><head><title>Report {n}</title></head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>Report {n}</h1>{paras}</article><footer>All rights reserved.</footer>"
            f"</body></html>").encode()


class Web:
    """Four hosts; each has articles, a page that is a PNG under an HTML type (it does not extract), a
    missing page and a page robots.txt forbids; two hosts serve the very same bytes at /same."""

    def __init__(self) -> None:
        self.servers = [LocalServer().start() for _ in range(4)]
        self.bodies: dict[tuple[int, str], bytes] = {}
        for h, srv in enumerate(self.servers):
            srv.routes["/robots.txt"] = lambda req: send(req, 200, b"User-agent: *\nDisallow: /private\n",
                                                         content_type="text/plain")
            for i in range(4):
                self.serve(h, f"/a/{i}", article(h * 10 + i))
            self.serve(h, "/png", PNG)
            srv.routes["/private/x"] = lambda req: send(req, 200, b"<p>secret</p>")
        self.serve(0, "/same", article(99))
        self.serve(1, "/same", article(99))

    def serve(self, host: int, path: str, body: bytes) -> None:
        self.bodies[(host, path)] = body

        def handler(req: BaseHTTPRequestHandler, key: tuple[int, str] = (host, path)) -> None:
            send(req, 200, self.bodies[key])

        self.servers[host].routes[path] = handler

    def urls(self) -> list[str]:
        paths = [f"/a/{i}" for i in range(4)] + ["/png", "/missing", "/private/x"]
        out = [srv.url(p) for srv in self.servers for p in paths]
        return [*out, self.servers[0].url("/same"), self.servers[1].url("/same")]

    def stop(self) -> None:
        for srv in self.servers:
            srv.stop()


@pytest.fixture
def web() -> Iterator[Web]:
    w = Web()
    yield w
    w.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def desk_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """Two empty desks of the same kind."""
    if request.param == "sqlite":
        yield [f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"]
        return
    server = request.getfixturevalue("pg_server")
    names = [f"factcheck_test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        for name in names:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    base = server.rsplit("/", 1)[0]
    try:
        yield [f"{base}/{name}" for name in names]
    finally:
        with admin.connect() as c:
            for name in names:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def open_desk(url: str, folder: Path, web: Web, **values: Any) -> tuple[Desk, Settings]:
    folder.mkdir(parents=True, exist_ok=True)
    settings = load_settings(
        {"db": url, "evidence_dir": str(folder / "evidence"), "allow_private_addresses": True,
         "per_host_delay": 0, "retries": 0, **values}, environ={}, desk_dir=folder)
    desk = Desk(url, check=False)
    upgrade(desk.engine)
    lines = ["sources:", "  - {name: Local, domains: [127.0.0.1]}", "evidence:"]
    lines += [f"  - {{url: '{u}', source: Local}}" for u in web.urls()]
    lines.append("claims: []")
    (folder / "case.yaml").write_text("\n".join(lines) + "\n")
    with desk.session() as s:
        import_case(s, settings, folder / "case.yaml", actor="t")
    return desk, settings


def one_at_a_time(desk: Desk, settings: Settings, *, refresh: bool = False) -> list[tuple[Any, ...]]:
    """The reference: one fetch worker, each result stored in the calling thread in its own transaction."""
    reqs = pending_requests(desk, settings, refresh=refresh)
    with Fetcher(policy_from_settings(settings)) as fetcher:
        rows = [record_result(desk, settings, res, actor="t") for res in fetcher.fetch_many(reqs)]
    return sorted(row_key(r) for r in rows)


def row_key(r: capture.FetchRow) -> tuple[Any, ...]:
    return (r.url, r.outcome, r.http_status, r.reason, r.snapshot_sha256, r.detail)


def state(desk: Desk, settings: Settings) -> dict[str, Any]:
    """Everything a capture leaves, without ids, times and the server's Date header."""
    with desk.session() as s:
        snaps = list(s.execute(select(Snapshot).order_by(Snapshot.url, Snapshot.fetched_at)).scalars())
        by_id = {x.id: x for x in snaps}
        snapshot_rows = [
            (x.url, x.final_url, x.status, x.origin, x.sha256, x.warc_path, x.content_type, x.encoding, x.title,
             x.author, x.published, x.language, x.text, x.meta, x.redirects, x.source_id,
             x.evidence_url.url if x.evidence_url else None,
             {k: v for k, v in x.headers.items() if k.lower() != "date"})
            for x in snaps
        ]
        passages = sorted((by_id[p.snapshot_id].url, by_id[p.snapshot_id].sha256, p.seq, p.start, p.end, p.text)
                          for p in s.execute(select(Passage)).scalars())
        eu_url = {e.id: e.url for e in s.execute(select(EvidenceUrl)).scalars()}
        attempts = sorted((eu_url[a.evidence_url_id], a.outcome, a.reason or "", a.http_status or 0,
                           by_id[a.snapshot_id].sha256 if a.snapshot_id else "")
                          for a in s.execute(select(FetchAttempt)).scalars())
        evidence = sorted((e.url, e.status, e.last_outcome or "", e.last_reason or "")
                          for e in s.execute(select(EvidenceUrl)).scalars())
        events = list(s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())
        chain = verify_chain(events)
        audit = sorted((e.actor, e.action, e.entity, str(e.after))
                       for e in events if e.action == "evidence.fetch")
        terms = {t: df for t, df in s.execute(select(TermStat.term, TermStat.df))}
    archive = Archive(settings.evidence_path)
    warcs = {p.relative_to(settings.evidence_path).as_posix(): archive.read_body(p.name.split(".")[0])
             for p in settings.evidence_path.glob("warc/*/*.warc.gz")}
    return {"snapshots": snapshot_rows, "passages": passages, "attempts": attempts, "evidence": evidence,
            "audit": audit, "chain_ok": chain.ok, "terms": terms, "warcs": warcs}


def test_concurrent_capture_stores_exactly_what_one_at_a_time_stores(desk_urls, web, tmp_path, monkeypatch):
    # results wait for each other, so that transactions hold several of them
    monkeypatch.setattr(capture, "WRITE_WAIT", 0.5)
    ref_desk, ref_settings = open_desk(desk_urls[0], tmp_path / "one", web, concurrency=1)
    desk, settings = open_desk(desk_urls[1], tmp_path / "many", web, concurrency=4)
    try:
        ref_rows = one_at_a_time(ref_desk, ref_settings)
        seen: list[capture.FetchRow] = []
        rows = fetch_pending(desk, settings, actor="t", capture_workers=3, on_row=seen.append).rows
        assert sorted(row_key(r) for r in rows) == ref_rows
        assert seen == rows  # on_row once per stored result, in the order stored
        outcomes = {(r[1], r[3]) for r in ref_rows}
        assert outcomes == {("fetched", None), ("failed", "unreadable"), ("failed", "http-404"),
                            ("skipped", "robots")}  # every kind of result is in the comparison
        ref, got = state(ref_desk, ref_settings), state(desk, settings)
        assert got == ref
        assert got["chain_ok"] and len(got["snapshots"]) == 18 and len(got["warcs"]) == 17  # /same: one WARC
        assert len(got["passages"]) > 18 * 4

        # one page changes; refreshing everything finds it changed and the others unchanged, on both roads
        web.serve(2, "/a/1", article(21, version=2))
        stale = {"stale_after_days": 0}
        ref_settings = load_settings({**ref_settings.values, **stale}, environ={}, desk_dir=tmp_path / "one")
        settings = load_settings({**settings.values, **stale}, environ={}, desk_dir=tmp_path / "many")
        ref_rows = one_at_a_time(ref_desk, ref_settings, refresh=True)
        rows = fetch_pending(desk, settings, actor="t", capture_workers=3, refresh=True).rows
        assert sorted(row_key(r) for r in rows) == ref_rows
        assert sorted(r.outcome for r in rows).count("fetched") == 1
        assert state(desk, settings) == state(ref_desk, ref_settings)
    finally:
        ref_desk.dispose()
        desk.dispose()


def test_capture_in_worker_processes_stores_the_same(web, tmp_path):
    ref_desk, ref_settings = open_desk(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "one", web, concurrency=1)
    desk, settings = open_desk(f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "many", web, concurrency=4)
    try:
        ref_rows = one_at_a_time(ref_desk, ref_settings)
        rows = fetch_pending(desk, settings, actor="t", capture_workers=2, capture_processes=True).rows
        assert sorted(row_key(r) for r in rows) == ref_rows
        assert state(desk, settings) == state(ref_desk, ref_settings)
    finally:
        ref_desk.dispose()
        desk.dispose()


def one_host(web: Web, tmp_path: Path) -> tuple[Desk, Settings, list[str]]:
    """A desk whose URLs are one host's four articles (fetched in this order, one worker)."""
    urls = [web.servers[0].url(f"/a/{i}") for i in range(4)]
    web.urls = lambda: urls  # type: ignore[method-assign]
    desk, settings = open_desk(f"sqlite:///{tmp_path / 'd.db'}", tmp_path, web, concurrency=1)
    return desk, settings, urls


def captured(desk: Desk) -> list[str]:
    with desk.session() as s:
        return sorted(s.execute(select(Snapshot.url)).scalars())


def test_a_refused_result_keeps_every_result_before_it_even_in_its_batch(web, tmp_path, monkeypatch):
    """The database refuses the third result of a batch of four: the two before it are committed (the batch
    is stored again one by one), the error is raised, and the failing one leaves nothing."""
    monkeypatch.setattr(capture, "WRITE_WAIT", 5.0)  # all four arrive in one batch
    desk, settings, urls = one_host(web, tmp_path)
    real = capture._record_many
    batches: list[int] = []

    def record(s: Any, settings: Settings, items: Any, **kw: Any) -> list[capture.FetchRow]:
        rows = real(s, settings, items, **kw)
        if any(res.url == urls[2] for res, _ in items):
            s.add(EvidenceUrl(url=urls[0]))  # a duplicate: the database refuses it
            s.flush()
        return rows

    real_session = desk.session

    def session() -> Any:
        batches.append(0)
        return real_session()

    monkeypatch.setattr(capture, "_record_many", record)
    monkeypatch.setattr(desk, "session", session)
    stored: list[str] = []
    with pytest.raises(DeskRefused, match="nothing was stored"):
        fetch_pending(desk, settings, actor="t", capture_workers=1, on_row=lambda r: stored.append(r.url))
    assert stored == urls[:2]
    assert captured(desk) == sorted(urls[:2])
    assert len(batches) >= 1 + 1 + 3  # latest hashes, the batch of four, then one by one up to the failure


def test_a_bug_in_a_capture_worker_keeps_every_result_before_it(web, tmp_path, monkeypatch):
    desk, settings, urls = one_host(web, tmp_path)
    real = capture.prepare_result

    def prepare(root: Path, res: Any, latest: str | None = None) -> Any:
        if res.url == urls[1]:
            raise RuntimeError("a bug")
        return real(root, res, latest)

    monkeypatch.setattr(capture, "prepare_result", prepare)
    with pytest.raises(RuntimeError, match="a bug"):
        fetch_pending(desk, settings, actor="t", capture_workers=1)
    assert captured(desk) == [urls[0]]


def test_a_batch_of_results_is_stored_in_as_many_statements_whatever_its_size(pg_url, web, tmp_path):
    """On PostgreSQL a batch is stored under the desk-wide audit lock, so its statements are what every writer on
    the desk waits for: a batch of fifteen results (six new captures, three each of a page that does not
    extract, a missing page and one robots.txt forbids) takes the statements a batch of four (one of each) takes,
    not some per result."""
    from sqlalchemy import event

    desk, settings = open_desk(pg_url, tmp_path / "d", web, concurrency=1)
    try:
        reqs = {r.url: r for r in pending_requests(desk, settings)}
        with Fetcher(policy_from_settings(settings)) as fetcher:
            results = {r.url: r for r in fetcher.fetch_many(list(reqs.values()))}
        statements: list[tuple[str, bool]] = []
        event.listen(desk.engine, "before_cursor_execute",
                     lambda conn, cursor, sql, params, context, many: statements.append((sql, many)))

        def store(hosts: list[int], paths: list[str]) -> tuple[list[tuple[str, bool]], list[str]]:
            items = [(results[u], capture.prepare_result(settings.evidence_path, results[u]))
                     for u in (web.servers[h].url(p) for h in hosts for p in paths)]
            with desk.session() as s:
                s.connection()  # the transaction's start is not the batch's
                statements.clear()
                rows = capture._record_many(s, settings, items, actor="t")
                return list(statements), sorted(r.outcome + (f"/{r.reason}" if r.reason else "") for r in rows)

        one = ["/a/0", "/png", "/missing", "/private/x"]
        small, small_outcomes = store([0], one)
        large, large_outcomes = store([1, 2, 3], ["/a/1", *one])
        assert small_outcomes == ["failed/http-404", "failed/unreadable", "fetched", "skipped/robots"]
        assert large_outcomes == sorted(3 * small_outcomes + 3 * ["fetched"])
        assert len(large) == len(small), (len(small), len(large))
        # all the batch's passages in one statement, not an executemany (psycopg sends those a row at a time)
        assert [many for sql, many in large if sql.lstrip().startswith("INSERT INTO passage")] == [False]
        with desk.session() as s:  # and what was stored is there
            assert s.execute(select(Snapshot.url)).scalars().all() and s.execute(select(Passage)).first()
    finally:
        desk.dispose()


def test_a_shared_capture_pool_stores_every_result_and_stays_open(web, tmp_path, monkeypatch):
    """A worker's fetch jobs prepare pages on the process's threads (`capture_pool`): a fetch that ends while
    its pages are still being prepared waits for them before its last write (none is lost), and leaves the
    pool open for the next job."""
    from concurrent.futures import ThreadPoolExecutor

    desk, settings, urls = one_host(web, tmp_path)
    real = capture.prepare_result

    def slow(root: Path, res: Any, latest: str | None = None) -> Any:
        import time

        time.sleep(0.2)  # still preparing when the fetch has ended
        return real(root, res, latest)

    monkeypatch.setattr(capture, "prepare_result", slow)
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        first = fetch_pending(desk, settings, actor="t", urls=urls[:2], capture_pool=pool)
        second = fetch_pending(desk, settings, actor="t", urls=urls[2:], capture_pool=pool)
        assert [r.outcome for r in first.rows + second.rows] == ["fetched"] * 4
        assert captured(desk) == sorted(urls)
        assert pool.submit(lambda: "open").result() == "open"
    finally:
        pool.shutdown()
        desk.dispose()
