"""Keyset pages for the web desk's long lists: a page is the rows after (or before) a cursor on the list's
sort key, never an OFFSET, so a page costs the same at row 20 and at row 100,000 and rows that arrive or
leave meanwhile neither repeat nor vanish between pages.

A cursor is the sort key of the row at a page's edge, in JSON, base64url-encoded so it travels in a link.
It is untrusted input: anything that is not a key of the list's shape is a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy import Select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

T = TypeVar("T")

PAGE_SIZE = 50
"""Rows a list page shows."""
MAX_CURSOR = 2000
"""Longest cursor accepted (a key of a few numbers and a short claim id fits many times over)."""

MAX_DB_ID = 2**31 - 1
"""The largest row id any desk database can hold in every table (PostgreSQL's `integer` ids); the whole
numbers in a cursor (ids, ranks, flags) lie between 0 and it, so none reaches the driver out of range."""

Key = tuple[Any, ...]


@dataclass
class Page:
    """One page of a list and the cursors to its neighbours (None where there is nothing more that way)."""

    rows: list[Any]
    after: str | None = None  # cursor for the next page
    before: str | None = None  # cursor for the previous page
    first: int = 0  # position of the first row in the whole list, when known (0-based)
    keep: dict[str, str] = field(default_factory=dict)  # query parameters the links carry (filters, sort)

    def link(self, path: str, which: str) -> str | None:
        """The URL of the next ("after") or previous ("before") page, keeping filters and sort."""
        cursor = self.after if which == "after" else self.before
        if cursor is None:
            return None
        return f"{path}?{urlencode({**self.keep, which: cursor})}"


def encode(key: Key) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, shape: Sequence[type]) -> Key:
    """The key a cursor names, checked against the list's key shape (one type per part); 400 otherwise."""
    bad = HTTPException(400, "This page link is damaged or out of date; start again from the first page.")
    if not cursor or len(cursor) > MAX_CURSOR or not cursor.isascii():
        raise bad
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(value, list) or len(value) != len(shape):
        raise bad
    out: list[Any] = []
    for part, kind in zip(value, shape, strict=True):
        if kind is float and isinstance(part, int) and not isinstance(part, bool):
            part = float(part)
        if type(part) is not kind or (kind is float and not math.isfinite(part)):
            raise bad
        if kind is int and not 0 <= part <= MAX_DB_ID:
            raise bad
        out.append(part)
    return tuple(out)


def cursors(params: Any, shape: Sequence[type]) -> tuple[Key | None, Key | None]:
    """The `after` and `before` cursors of a request (at most one of them), decoded."""
    after, before = params.get("after"), params.get("before")
    if after is not None and before is not None:
        raise HTTPException(400, "A page is either after or before a row, not both.")
    return (decode(after, shape) if after is not None else None,
            decode(before, shape) if before is not None else None)


def page_of(items: Sequence[T], key: Callable[[T], Key], *, after: Key | None, before: Key | None,
            size: int = PAGE_SIZE) -> Page:
    """A page of a list already in `key` order (for lists whose order is computed, not stored)."""
    keys = [key(it) for it in items]
    if after is not None:
        start = next((i for i, k in enumerate(keys) if k > after), len(keys))
        end = min(len(keys), start + size)
    elif before is not None:
        end = next((i for i, k in enumerate(keys) if k >= before), len(keys))
        start = max(0, end - size)
    else:
        start, end = 0, min(len(keys), size)
    return Page(rows=list(items[start:end]), first=start,
                after=encode(keys[end - 1]) if end < len(keys) and end > start else None,
                before=encode(keys[start]) if start > 0 and end > start else None)


def sql_page(session: Session, query: Select[Any], column: Any, *, descending: bool, after: Key | None,
             before: Key | None, size: int = PAGE_SIZE) -> Page:
    """A page of `query` (its filters, without ORDER BY) by keyset on the unique `column` (a row id): one
    query for the rows, one indexed EXISTS for the far side."""
    fwd = (column < after[0] if descending else column > after[0]) if after is not None else None
    if before is not None:
        cond = column > before[0] if descending else column < before[0]
        order = column.asc() if descending else column.desc()
    else:
        cond = fwd
        order = column.desc() if descending else column.asc()
    q = query.order_by(order).limit(size + 1)
    if cond is not None:
        q = q.where(cond)
    rows = list(session.execute(q).scalars())
    more = len(rows) > size
    rows = rows[:size]
    if before is not None:
        rows.reverse()
    page = Page(rows=rows)
    if not rows:
        return page

    def any_beyond(edge: Any) -> bool:
        return session.execute(query.with_only_columns(column).where(edge).limit(1)).first() is not None

    first, last = getattr(rows[0], column.key), getattr(rows[-1], column.key)
    has_next = more if before is None else any_beyond(column < last if descending else column > last)
    has_prev = more if before is not None else (
        after is not None and any_beyond(column > first if descending else column < first))
    page.after = encode((last,)) if has_next else None
    page.before = encode((first,)) if has_prev else None
    return page
