"""Passage features: what judging reads of a passage's text alone, kept beside the text.

Verify ranks every candidate passage of every claim by its normalised words and stems; a passage met by
many claims was worked out again for each (about a fifth of judging). The features are now made when the
passage is stored (judge.match.passage_features) and read with the passage. Existing passages get theirs
here. On SQLite the full-text index's update trigger now fires only when a passage's text changes, so
writing the features does not re-index the text.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    from factcheck.judge.match import passage_features

    bind = op.get_bind()
    dialect = bind.dialect.name
    op.add_column("passage", sa.Column("features", sa.Text(), nullable=True))
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS passage_fts_au")
        op.execute(
            "CREATE TRIGGER passage_fts_au AFTER UPDATE OF text ON passage BEGIN "
            "INSERT INTO passage_fts(passage_fts, rowid, text) VALUES ('delete', old.id, old.text); "
            "INSERT INTO passage_fts(rowid, text) VALUES (new.id, new.text); END"
        )
    after = 0
    while True:
        rows = bind.execute(sa.text("SELECT id, text FROM passage WHERE id > :after ORDER BY id LIMIT :n"),
                            {"after": after, "n": BATCH}).all()
        if not rows:
            break
        after = rows[-1][0]
        ids = [r[0] for r in rows]
        features = [passage_features(r[1] or "") for r in rows]
        if dialect == "postgresql":
            bind.execute(sa.text("UPDATE passage SET features = u.f FROM unnest(CAST(:ids AS int[]), "
                                 "CAST(:fs AS text[])) AS u(id, f) WHERE passage.id = u.id"), {"ids": ids, "fs": features})
        else:
            bind.execute(sa.text("UPDATE passage SET features = :f WHERE id = :id"),
                         [{"id": i, "f": f} for i, f in zip(ids, features, strict=True)])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS passage_fts_au")
        op.execute(
            "CREATE TRIGGER passage_fts_au AFTER UPDATE ON passage BEGIN "
            "INSERT INTO passage_fts(passage_fts, rowid, text) VALUES ('delete', old.id, old.text); "
            "INSERT INTO passage_fts(rowid, text) VALUES (new.id, new.text); END"
        )
    op.drop_column("passage", "features")
