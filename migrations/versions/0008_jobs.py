"""Background workers: procrastinate's job queue on a PostgreSQL desk (its own tables and functions, as the
pinned procrastinate release ships them), the batches of verification runs made of jobs, the desk-wide
per-host politeness slots and notes on jobs. The desk's own tables exist on SQLite too (empty there:
a SQLite desk runs everything inline).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("claim_ids", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name=op.f("fk_run_batch_run_id_run"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_batch")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_run_batch_run_id")),
    )
    with op.batch_alter_table("run_batch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_batch_run_id"), ["run_id"], unique=False)
    op.create_table(
        "host_slot",
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("origin", name=op.f("pk_host_slot")),
    )
    op.create_table(
        "job_note",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_job_note")),
    )
    with op.batch_alter_table("job_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_note_job_id"), ["job_id"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        # the whole script in one go through the driver (no parameters, so no placeholder parsing), inside
        # the migration's transaction
        bind.connection.driver_connection.execute(SchemaManager.get_schema())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("""
DO $$
DECLARE r record;
BEGIN
  DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
    procrastinate_workers CASCADE;
  FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%' LOOP
    EXECUTE 'DROP ROUTINE IF EXISTS ' || r.sig || ' CASCADE';
  END LOOP;
  DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type, procrastinate_job_status
    CASCADE;
END $$;
""")
    op.drop_table("job_note")
    op.drop_table("host_slot")
    with op.batch_alter_table("run_batch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_batch_run_id"))
    op.drop_table("run_batch")
