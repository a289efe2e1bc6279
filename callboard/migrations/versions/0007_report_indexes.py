"""reports read ranges of time: indexes on the time columns they filter by (calls, agent state
changes, dial attempts, promises, payments) and on promises by their call

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 17:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_interactions_started", "interactions", ["started_at"]),
    ("ix_agent_state_log_at", "agent_state_log", ["at"]),
    ("ix_dialer_attempts_started", "dialer_attempts", ["started_at"]),
    ("ix_promises_created", "promises", ["created_at"]),
    ("ix_promises_interaction", "promises", ["interaction_id"]),
    ("ix_payments_paid_on", "payments", ["paid_on"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
