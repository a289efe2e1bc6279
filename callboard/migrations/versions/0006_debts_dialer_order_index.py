"""the dialer pages a campaign's leads through an index in its priority order
(status, due date, balance descending, id)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_debts_dialer_order",
        "debts",
        ["status", "due_date", sa.literal_column("balance").desc(), "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_debts_dialer_order", table_name="debts")
