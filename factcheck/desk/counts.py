"""Totals that every page of a long list shows (the queue's size, the desk's claims, the tags in use),
counted by an indexed query and kept for a moment.

Counting a 100,000-claim queue is an index-only scan of 100,000 entries: cheap once, the dominant cost when
fifty people page at once. So each server process keeps a total for `TTL` seconds. It is exact as of at most
that long ago: a change committed through this process clears every kept total at once (the desk's sessions
report their commits here, see `queue.track`); a change made by another process (another server worker, a
command-line run) shows within `TTL`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")

TTL = 2.0
"""Seconds a total is kept."""

_kept: dict[Hashable, tuple[float, Any]] = {}
_lock = threading.Lock()


def total(session: Session, key: Hashable, count: Callable[[], T]) -> T:
    """The total named `key` on this session's database (a count, or a small summary such as the tags in
    use): kept, or computed now by `count`."""
    k = (session.get_bind().engine.url.render_as_string(hide_password=False), key)
    now = time.monotonic()
    with _lock:
        hit = _kept.get(k)
    if hit is not None and now - hit[0] < TTL:
        return hit[1]  # type: ignore[no-any-return]
    n = count()
    with _lock:
        _kept[k] = (now, n)
        if len(_kept) > 10_000:  # filters make keys; never let them pile up
            _kept.clear()
    return n


def forget() -> None:
    """Drop every kept total (this process committed a change)."""
    with _lock:
        _kept.clear()
