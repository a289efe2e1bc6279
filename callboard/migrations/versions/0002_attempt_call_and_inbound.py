"""attempt ledger: the call an attempt belongs to, and conversations on calls we did not dial

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dialer_attempts") as batch:
        batch.add_column(sa.Column("call_id", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("inbound", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index("ix_dialer_attempts_call", ["call_id"])
    op.execute("UPDATE dialer_attempts SET call_id = attempt_id WHERE call_id IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("dialer_attempts") as batch:
        batch.drop_index("ix_dialer_attempts_call")
        batch.drop_column("inbound")
        batch.drop_column("call_id")
