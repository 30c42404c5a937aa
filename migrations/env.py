"""Alembic environment: the engine comes from factcheck (config attribute) or from -x url=… / FACTCHECK_DB."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection

from factcheck.desk.db import include_name, make_engine
from factcheck.desk.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
            "FACTCHECK_DB", "sqlite:///factcheck.db"
        )
        engine = make_engine(url)
    with engine.begin() as connection:
        _run(connection)


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `factcheck init`")
run_migrations_online()
