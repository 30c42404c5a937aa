"""Schema: the models and the Alembic migrations agree, on SQLite and PostgreSQL; times stay UTC-aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from factcheck.desk.db import (
    Desk,
    DeskError,
    DeskNotReady,
    check_ready,
    head_revision,
    include_name,
    normalise_url,
    upgrade,
)
from factcheck.desk.models import Base, Source


def test_models_and_migrations_agree(desk):
    with desk.desk.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        assert compare_metadata(ctx, Base.metadata) == []


def test_upgrade_is_idempotent(desk):
    before, after = upgrade(desk.desk.engine)
    assert before == after == head_revision()


def test_missing_schema_is_reported(tmp_path):
    d = Desk(f"sqlite:///{tmp_path / 'x.db'}", check=False)
    with pytest.raises(DeskNotReady, match="factcheck init"):
        check_ready(d.engine)


def test_behind_schema_is_reported(sqlite_desk):
    with sqlite_desk.desk.engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num='0000old'"))
    with pytest.raises(DeskNotReady, match="behind"):
        check_ready(sqlite_desk.desk.engine)


def test_times_are_utc_aware(desk):
    berlin = timezone(timedelta(hours=2))
    with desk.desk.session() as s:
        s.add(Source(name="X", aliases=[], domains=[], created_at=datetime(2025, 9, 1, 12, 0, tzinfo=berlin)))
    with desk.desk.session() as s:
        got = s.query(Source).one().created_at
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)
    assert got == datetime(2025, 9, 1, 10, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused(memory_desk):
    from sqlalchemy.exc import StatementError

    with pytest.raises(StatementError, match="naive"), memory_desk.desk.session() as s:
        s.add(Source(name="Y", aliases=[], domains=[], created_at=datetime(2025, 1, 1)))
        s.flush()


def test_url_normalisation():
    assert normalise_url("desk.db") == "sqlite:///desk.db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


def test_bad_url_and_missing_folder(tmp_path):
    with pytest.raises(DeskError, match="does not exist"):
        Desk(f"sqlite:///{tmp_path}/nope/x.db", check=False)
    with pytest.raises(DeskError):
        Desk("nosuchdialect://x", check=False)


def test_term_stat_migration_backfills_existing_passages(tmp_path):
    from sqlalchemy import select

    from factcheck.desk.models import TermStat
    from tests.conftest import old_desk

    d = old_desk(tmp_path / "old.db", "0003", ["Turnout rose.", "Turnout fell."])
    upgrade(d.engine)
    with d.session() as s:
        df = dict(s.execute(select(TermStat.term, TermStat.df)).all())
    assert df == {"turnout": 2, "rose": 1, "fell": 1}
