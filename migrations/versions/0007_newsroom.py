"""Newsroom basics: tags and comment threads on claims, the desk rating a reviewer chose, and full-text
search over claim text (SQLite FTS5 kept in step by triggers; a PostgreSQL GIN expression index).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CLAIM_TSV = "to_tsvector('simple', coalesce(text, '') || ' ' || coalesce(statement, ''))"


def upgrade() -> None:
    op.create_table(
        "claim_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"], name=op.f("fk_claim_tag_claim_id_claim"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_tag")),
        sa.UniqueConstraint("claim_id", "tag", name=op.f("uq_claim_tag_claim_id")),
    )
    with op.batch_alter_table("claim_tag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_tag_tag"), ["tag"], unique=False)
    op.create_table(
        "claim_comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"], name=op.f("fk_claim_comment_claim_id_claim"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_comment")),
    )
    with op.batch_alter_table("claim_comment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_comment_claim_id"), ["claim_id"], unique=False)
    op.add_column("verdict", sa.Column("rating", sa.String(length=64), nullable=True))

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE claim_fts USING fts5("
            "text, statement, content='claim', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER claim_fts_ai AFTER INSERT ON claim BEGIN "
            "INSERT INTO claim_fts(rowid, text, statement) VALUES (new.id, new.text, new.statement); END"
        )
        op.execute(
            "CREATE TRIGGER claim_fts_ad AFTER DELETE ON claim BEGIN "
            "INSERT INTO claim_fts(claim_fts, rowid, text, statement) "
            "VALUES ('delete', old.id, old.text, old.statement); END"
        )
        # only when the words change: assignments and revisions update claim rows all day
        op.execute(
            "CREATE TRIGGER claim_fts_au AFTER UPDATE OF text, statement ON claim BEGIN "
            "INSERT INTO claim_fts(claim_fts, rowid, text, statement) "
            "VALUES ('delete', old.id, old.text, old.statement); "
            "INSERT INTO claim_fts(rowid, text, statement) VALUES (new.id, new.text, new.statement); END"
        )
        op.execute("INSERT INTO claim_fts(claim_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        op.execute(f"CREATE INDEX claim_tsv_idx ON claim USING gin ({CLAIM_TSV})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trig in ("claim_fts_ai", "claim_fts_ad", "claim_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trig}")
        op.execute("DROP TABLE IF EXISTS claim_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS claim_tsv_idx")
    with op.batch_alter_table("verdict", schema=None) as batch_op:
        batch_op.drop_column("rating")
    with op.batch_alter_table("claim_comment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_comment_claim_id"))
    op.drop_table("claim_comment")
    with op.batch_alter_table("claim_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_tag_tag"))
    op.drop_table("claim_tag")
