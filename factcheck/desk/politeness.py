"""Politeness for the desk as a whole: the per-host delay and robots.txt kept in the desk's PostgreSQL database,
so that every process fetching for one desk (workers, and `factcheck fetch` run inline in any terminal) keeps
one delay per host and asks each site's robots.txt once. A SQLite desk has one process at a time fetching for
it and keeps both in that process (the fetcher's own `HostThrottle` and `RobotsCache`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from factcheck.desk.db import Desk
from factcheck.documents.fetch import Fetcher, FetchFailure, FetchPolicy, RobotsRecord


@contextlib.contextmanager
def desk_fetcher(desk: Desk, policy: FetchPolicy, **kwargs: Any) -> Iterator[Fetcher]:
    """A fetcher for `desk` under `policy`, closed (with its connections) on leaving: on PostgreSQL with the
    desk-wide host slots and robots.txt, on any other desk with the in-process ones. `kwargs` go to `Fetcher`
    (a shared `session`)."""
    if desk.dialect != "postgresql":
        with Fetcher(policy, **kwargs) as fetcher:
            yield fetcher
        return
    slots, robots = desk_engine(desk, policy.concurrency), desk_engine(desk, policy.concurrency)
    try:
        with Fetcher(policy, host_slots=PgHostSlots(slots), robots_store=PgRobots(robots), **kwargs) as fetcher:
            yield fetcher
    finally:
        slots.dispose()
        robots.dispose()


def desk_engine(desk: Desk, threads: int) -> Engine:
    """Connections apart from the desk's pool for `threads` fetching threads: a host slot's row lock is held for
    a whole request, and a robots.txt row's while the site is asked, so each thread may hold one of each
    (hence two engines); running out would fail fetches that are only waiting their turn."""
    return create_engine(desk.url, pool_size=max(1, threads) + 1, max_overflow=max(1, threads))


class PgHostSlots:
    """`documents.fetch.SharedHostSlots` in the desk's PostgreSQL database: one `host_slot` row per origin
    holding when the next request may start, by the database's clock (so workers on several machines agree).
    The row is locked (INSERT … ON CONFLICT DO UPDATE) while its holder waits and talks to the origin."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # Take the origin's row (made if new) in one statement: the lock timeout set for this transaction (so that
    # `stop` is heard while another process holds the row), the row inserted or locked, the wait read back.
    # Three round trips a request with the release, not six (insert, commit, set, select for update, update,
    # commit): every fetching thread of every process makes them for every request.
    _TAKE = text("INSERT INTO host_slot (origin, next_at) SELECT :o, clock_timestamp() "
                 "FROM (SELECT set_config('lock_timeout', '1s', true)) AS timeout "
                 "ON CONFLICT (origin) DO UPDATE SET origin = EXCLUDED.origin "
                 "RETURNING EXTRACT(EPOCH FROM (host_slot.next_at - clock_timestamp()))")

    @contextlib.contextmanager
    def hold(self, origin: str, interval: float, stop: threading.Event) -> Iterator[None]:
        with self.engine.connect() as conn:
            wait = _wait_row_lock(conn, self._TAKE, {"o": origin[:300]}, stop, timeout_in_query=True)[0]
            if wait is not None and float(wait) > 0 and stop.wait(float(wait)):
                conn.rollback()
                raise FetchFailure("cancelled", "fetching was cancelled", outcome="skipped")
            try:
                yield
            finally:
                conn.execute(text("UPDATE host_slot SET next_at = clock_timestamp() + make_interval(secs => :i) "
                                  "WHERE origin = :o"), {"o": origin[:300], "i": float(interval)})
                conn.commit()


def _wait_row_lock(conn: Connection, query: Any, params: dict[str, Any], stop: threading.Event, *,
                   timeout_in_query: bool = False) -> Any:
    """Run a SELECT … FOR UPDATE (or a statement that locks a row likewise), asking again every second
    (lock_timeout) so that `stop` is heard while another process holds the row; its first row, or None.
    `timeout_in_query`: the statement sets the transaction's lock_timeout itself (one round trip less)."""
    while True:
        if stop.is_set():
            raise FetchFailure("cancelled", "fetching was cancelled", outcome="skipped")
        try:
            if not timeout_in_query:
                conn.execute(text("SET LOCAL lock_timeout = '1s'"))
            return conn.execute(query, params).first()
        except OperationalError as exc:
            conn.rollback()
            if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available: ask again
                raise


class PgRobots:
    """`documents.fetch.SharedRobots` in the desk's PostgreSQL database (`robots_txt`, one row per origin):
    an answer is read by every worker until it runs out (the database's clock); the worker that finds none
    locks the row while it asks the site, and the others wait for it and read what it stored."""

    _READ = ("SELECT status, body, detail, reason, outcome, EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) "
             "AS left_s FROM robots_txt WHERE origin = :o")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def answer(self, origin: str, load: Callable[[], tuple[RobotsRecord, float]],
               stop: threading.Event) -> tuple[RobotsRecord, float]:
        key = origin[:300]
        with self.engine.connect() as conn:
            live = self._live(conn.execute(text(self._READ), {"o": key}).first())
            conn.commit()
            if live is not None:
                return live
            conn.execute(text("INSERT INTO robots_txt (origin, status, fetched_at, expires_at) "
                              "VALUES (:o, 'asking', clock_timestamp(), clock_timestamp()) "
                              "ON CONFLICT (origin) DO NOTHING"), {"o": key})
            conn.commit()
            try:
                live = self._live(_wait_row_lock(conn, text(self._READ + " FOR UPDATE"), {"o": key}, stop))
                if live is not None:  # stored by the worker this one waited for
                    conn.commit()
                    return live
                record, lifetime = load()
                conn.execute(text(
                    "UPDATE robots_txt SET status = :status, body = :body, detail = :detail, reason = :reason, "
                    "outcome = :outcome, fetched_at = t.now, expires_at = t.now + make_interval(secs => :life) "
                    "FROM (SELECT clock_timestamp() AS now) t WHERE origin = :o"),  # one reading of the clock
                    {"o": key, "life": float(lifetime), "status": record.status, "body": _no_nul(record.body),
                     "detail": _no_nul(record.detail), "reason": (record.reason or "")[:40] or None,
                     "outcome": record.outcome})
                conn.commit()
                return record, lifetime
            except BaseException:
                conn.rollback()
                raise

    @staticmethod
    def _live(row: Any) -> tuple[RobotsRecord, float] | None:
        if row is None or row.status == "asking" or row.left_s is None or float(row.left_s) <= 0:
            return None
        record = RobotsRecord(row.status, body=row.body, detail=row.detail, reason=row.reason, outcome=row.outcome)
        return record, float(row.left_s)


def _no_nul(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL characters; a robots.txt may carry them (they match no rule)."""
    return None if value is None else value.replace("\x00", "")
