"""Short claim ids for ingested articles: the sentence hash moves to its own column.

Ingested claims used to be keyed by their sentence hash ("c-f8dba0a6"); new ones get short per-article ids
("A3-7") and keep the hash as `fingerprint`, which re-ingest matches on and lookups still accept. Claims
already on the desk keep their keys; their hash keys are copied into `fingerprint`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claim") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_claim_fingerprint"), ["fingerprint"], unique=False)
    op.execute("UPDATE claim SET fingerprint = key WHERE key LIKE 'c-%' AND article_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("claim") as batch:
        batch.drop_index(batch.f("ix_claim_fingerprint"))
        batch.drop_column("fingerprint")
