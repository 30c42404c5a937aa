"""Term statistics for retrieval: passages per term, kept up to date as captures are stored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "term_stat",
        sa.Column("term", sa.String(length=100), nullable=False),
        sa.Column("df", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_term_stat")),
    )
    # backfill from the passages already on the desk
    from factcheck.desk.retrieve import passage_terms

    bind = op.get_bind()
    counts: dict[str, int] = {}
    for (text,) in bind.execute(sa.text("SELECT text FROM passage")):
        for term in passage_terms(text):
            counts[term] = counts.get(term, 0) + 1
    if counts:
        table = sa.table("term_stat", sa.column("term"), sa.column("df"))
        rows = [{"term": t, "df": n} for t, n in counts.items()]
        for i in range(0, len(rows), 5000):
            op.bulk_insert(table, rows[i : i + 5000])


def downgrade() -> None:
    op.drop_table("term_stat")
