"""SQLite: two narrow indexes that the full-text search reads its hits' snapshot, source and URL from.

A search on a large desk finds about a thousand passages per claim; each hit's snapshot id was read from
its passage row and its source and URL from the snapshot row, and those rows hold the texts (a snapshot's
whole page), so every hit meant reading pages of text it did not need. These indexes hold only the ids,
the source and the URL (retrieve._Batch._search names them), about a tenth of the reads. They are derived
from the rows by the database, so they can never disagree with them. PostgreSQL desks are unchanged (their
search joins the hits to the snapshot once per claim, after the ranking).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE INDEX IF NOT EXISTS passage_fts_hit ON passage (id, snapshot_id)")
        op.execute("CREATE INDEX IF NOT EXISTS passage_fts_hit_snapshot ON snapshot (id, source_id, url)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX IF EXISTS passage_fts_hit")
        op.execute("DROP INDEX IF EXISTS passage_fts_hit_snapshot")
