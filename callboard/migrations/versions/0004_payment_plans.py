"""payments entered and imported (source, author, unique reference); payment plans
(arrangements and their instalments); daily job runs

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm_core.models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOT_EMPTY = "reference <> ''"


def upgrade() -> None:
    op.create_table(
        "scheduled_runs",
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ran_at", crm_core.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("job", "day", name=op.f("pk_scheduled_runs")),
    )
    op.create_table(
        "arrangements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debt_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "completed",
                "broken",
                "cancelled",
                name="arrangementstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("total", crm_core.models.base.Money(precision=14, scale=2), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("created_at", crm_core.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("interaction_id", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("settled_at", crm_core.models.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_arrangements_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["debt_id"],
            ["debts.id"],
            name=op.f("fk_arrangements_debt_id_debts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name=op.f("fk_arrangements_interaction_id_interactions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arrangements")),
    )
    with op.batch_alter_table("arrangements", schema=None) as batch_op:
        batch_op.create_index("ix_arrangements_debt", ["debt_id"], unique=False)
        batch_op.create_index("ix_arrangements_status", ["status"], unique=False)
    op.create_table(
        "instalments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arrangement_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("amount", crm_core.models.base.Money(precision=14, scale=2), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "kept",
                "broken",
                "cancelled",
                name="instalmentstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("paid", crm_core.models.base.Money(precision=14, scale=2), nullable=False),
        sa.Column("evaluated_at", crm_core.models.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["arrangement_id"],
            ["arrangements.id"],
            name=op.f("fk_instalments_arrangement_id_arrangements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instalments")),
        sa.UniqueConstraint("arrangement_id", "seq", name="uq_instalments_seq"),
    )
    with op.batch_alter_table("instalments", schema=None) as batch_op:
        batch_op.create_index("ix_instalments_status_due", ["status", "due_on"], unique=False)
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("created_at", crm_core.models.base.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
        batch_op.create_index(
            "uq_payments_reference",
            ["reference"],
            unique=True,
            sqlite_where=sa.text(_NOT_EMPTY),
            postgresql_where=sa.text(_NOT_EMPTY),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_payments_created_by_users"),
            "users",
            ["created_by"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.alter_column("source", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_payments_created_by_users"), type_="foreignkey")
        batch_op.drop_index(
            "uq_payments_reference",
            sqlite_where=sa.text(_NOT_EMPTY),
            postgresql_where=sa.text(_NOT_EMPTY),
        )
        batch_op.drop_column("created_by")
        batch_op.drop_column("created_at")
        batch_op.drop_column("source")
    with op.batch_alter_table("instalments", schema=None) as batch_op:
        batch_op.drop_index("ix_instalments_status_due")
    op.drop_table("instalments")
    with op.batch_alter_table("arrangements", schema=None) as batch_op:
        batch_op.drop_index("ix_arrangements_status")
        batch_op.drop_index("ix_arrangements_debt")
    op.drop_table("arrangements")
    op.drop_table("scheduled_runs")
