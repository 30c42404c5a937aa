"""Bulk INSERTs for the desk's big writes (a case import): many rows in one statement, numbered in order."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlalchemy.orm import Session

from factcheck.errors import FactcheckError


class OutOfOrder(FactcheckError):
    """New rows got ids out of the order they were given in (never seen; a guard)."""


def insert_in_order(session: Session, table: Table, rows: Sequence[dict[str, Any]], key: str) -> list[int]:
    """Insert `rows` (all with the same columns) into `table` in bulk; the new rows' ids, in the order of
    `rows`.

    `key` names a column whose values tell the rows apart, so the ids that come back (RETURNING) are matched
    to their rows whatever order the database returns them in. The ids must also rise in the order given:
    a desk lists claims, citations and audit events by id (the audit chain is walked that way), so a database
    that numbered them otherwise is an error here, never a list quietly out of order."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        found = dict(_pg_insert(session, table, rows, returning=key))
    else:
        found = dict(session.execute(insert(table).returning(table.c[key], table.c.id), rows).all())
    ids = [found[r[key]] for r in rows]
    if any(b <= a for a, b in itertools.pairwise(ids)):
        raise OutOfOrder(f"the database numbered new {table.name} rows out of their order; they were not stored")
    return ids


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (all with the same columns) into `table` in bulk, numbered in the order given."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        _pg_insert(session, table, rows)
    else:  # one statement per row (sqlite3's executemany), in order
        session.execute(insert(table), rows)


def _pg_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]], *,
               returning: str | None = None) -> list[tuple[Any, int]]:
    """One INSERT … SELECT FROM unnest(arrays) ORDER BY position for all `rows` on PostgreSQL: one short
    statement with an array per column, where a multi-row VALUES list would be a statement of hundreds of
    thousands of characters for the driver to take apart; ORDER BY gives the new ids in the rows' order.
    Values pass through the columns' own bind processing (UTC times, JSON as the column's type writes it)."""
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    names = list(rows[0])
    params: dict[str, list[Any]] = {}
    casts = []
    for i, name in enumerate(names):
        col = table.c[name]
        values = [r[name] for r in rows]
        if isinstance(col.type, JSON):
            dumps = getattr(dialect, "_json_serializer", None) or json.dumps
            values = [dumps(v) for v in values]  # None too: JSON's null, as the column's own binding writes it
            casts.append(f"%(c{i})b::text[]::json[]")
        else:
            process = col.type._cached_bind_processor(dialect)
            if process is not None:
                values = [process(v) for v in values]
            casts.append(f"%(c{i})b::{col.type.compile(dialect)}[]")
        params[f"c{i}"] = values
    cols = ", ".join(quote(n) for n in names)
    aliases = ", ".join(f"v{i}" for i in range(len(names)))
    sql = (f"INSERT INTO {quote(table.name)} ({cols}) SELECT {aliases} FROM unnest({', '.join(casts)}) "
           f"WITH ORDINALITY AS t({aliases}, position) ORDER BY position")
    if returning is None:
        session.connection().exec_driver_sql(sql, params)
        return []
    sql += f" RETURNING {quote(returning)}, {quote('id')}"
    return [(k, i) for k, i in session.connection().exec_driver_sql(sql, params).all()]
