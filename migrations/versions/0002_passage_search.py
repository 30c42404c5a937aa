"""Full-text search over passages: SQLite FTS5 (external content, kept in step by triggers) or a
PostgreSQL GIN index on to_tsvector('simple', text). 'simple' keeps it language-independent.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE passage_fts USING fts5("
            "text, content='passage', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER passage_fts_ai AFTER INSERT ON passage BEGIN "
            "INSERT INTO passage_fts(rowid, text) VALUES (new.id, new.text); END"
        )
        op.execute(
            "CREATE TRIGGER passage_fts_ad AFTER DELETE ON passage BEGIN "
            "INSERT INTO passage_fts(passage_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
        )
        op.execute(
            "CREATE TRIGGER passage_fts_au AFTER UPDATE ON passage BEGIN "
            "INSERT INTO passage_fts(passage_fts, rowid, text) VALUES ('delete', old.id, old.text); "
            "INSERT INTO passage_fts(rowid, text) VALUES (new.id, new.text); END"
        )
        op.execute("INSERT INTO passage_fts(passage_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        op.execute("CREATE INDEX passage_tsv_idx ON passage USING gin (to_tsvector('simple', text))")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trig in ("passage_fts_ai", "passage_fts_ad", "passage_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trig}")
        op.execute("DROP TABLE IF EXISTS passage_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS passage_tsv_idx")
