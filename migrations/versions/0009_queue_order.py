"""The triage queue's order in the database: each claim's queue outcome stored on its row (kept by
`factcheck.desk.queue`), one index per queue order, the URLs a claim's current verdict quotes, and a backfill
of both from the verdicts and captures already on the desk.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

WORTH = "-coalesce(checkworthiness, -1.0)"
SINCE = "coalesce(queue_since, created_at)"
CONFIDENCE = "coalesce(queue_confidence, -1.0)"
URGENCY = f"queue_rank, queue_flag, ({WORTH}), queue_conf, id"
INDEXES = {  # the same expressions as models.QUEUE_* (a query's expression must match its index's)
    "ix_claim_queue": f"queue_out, {URGENCY}",
    "ix_claim_queue_since": f"queue_out, ({SINCE}), {URGENCY}",
    "ix_claim_queue_worth": f"queue_out, ({WORTH}), queue_rank, queue_flag, queue_conf, id",
    "ix_claim_queue_confidence": f"queue_out, ({CONFIDENCE}), {URGENCY}",
}


def upgrade() -> None:
    # plain ALTER TABLE … ADD COLUMN (no batch copy on SQLite: that would drop the claim table's FTS triggers)
    op.add_column("claim", sa.Column("queue_out", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("claim", sa.Column("queue_status", sa.String(length=16), server_default="unchecked",
                                     nullable=False))
    op.add_column("claim", sa.Column("queue_changed", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("claim", sa.Column("queue_rank", sa.Integer(), server_default="1", nullable=False))
    op.add_column("claim", sa.Column("queue_flag", sa.Integer(), server_default="1", nullable=False))
    op.add_column("claim", sa.Column("queue_conf", sa.Float(), server_default="0", nullable=False))
    op.add_column("claim", sa.Column("queue_confidence", sa.Float(), nullable=True))
    op.add_column("claim", sa.Column("queue_since", sa.DateTime(timezone=True), nullable=True))
    for name, cols in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON claim ({cols})")
    op.create_table(
        "queue_watch",
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"], name=op.f("fk_queue_watch_claim_id_claim"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("claim_id", "url", name=op.f("pk_queue_watch")),
    )
    with op.batch_alter_table("queue_watch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queue_watch_url"), ["url"], unique=False)

    # backfill: the queue outcome of every claim that already has verdicts (the rest keep the defaults)
    from sqlalchemy.orm import Session

    from factcheck.desk.queue import rebuild

    session = Session(bind=op.get_bind())
    rebuild(session)
    session.flush()


def downgrade() -> None:
    with op.batch_alter_table("queue_watch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_watch_url"))
    op.drop_table("queue_watch")
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    for col in ("queue_since", "queue_confidence", "queue_conf", "queue_flag", "queue_rank", "queue_changed",
                "queue_status", "queue_out"):
        op.execute(f"ALTER TABLE claim DROP COLUMN {col}")  # SQLite >= 3.35: no table copy (FTS triggers stay)
