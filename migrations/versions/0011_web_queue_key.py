"""An index for the triage queue's claim id sort (case key, then claim key, by code point): the queue read
case by case, each case's claims a range of `ix_claim_queue_key`, the cases in key order by
`ix_case_file_key_code_point` (the expressions of `models.QUEUE_KEY` and `models.CodePoint`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WORTH = "-coalesce(checkworthiness, -1.0)"
URGENCY = f"queue_rank, queue_flag, ({WORTH}), queue_conf, id"


def upgrade() -> None:
    key = '(key COLLATE "C")' if op.get_bind().dialect.name == "postgresql" else "key"  # SQLite: BINARY
    op.execute(f"CREATE INDEX ix_claim_queue_key ON claim (queue_out, case_id, {key}, {URGENCY})")
    op.execute(f"CREATE INDEX ix_case_file_key_code_point ON case_file ({key})")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_case_file_key_code_point")
    op.execute("DROP INDEX IF EXISTS ix_claim_queue_key")
