"""do-not-call entries say where they came from and who added them; dispositions become data
(disposition_codes), seeded with the built-in set and its effects

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import crm_core.models.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The codes the desk had before they were data (crm_core.dispositions.DEFAULT_DISPOSITIONS),
# written out here so that later edits of the defaults never change this migration.
# (code, label_en, label_ru, right_party, needs_promise, needs_callback, effect)
SEED = (
    ("rpc", "Right party contact", "Контакт с должником", True, False, False, ""),
    ("ptp", "Promise to pay", "Обещание оплаты", True, True, False, ""),
    ("callback", "Callback", "Перезвонить", True, False, True, ""),
    ("refused", "Refused to pay", "Отказ от оплаты", True, False, False, ""),
    ("dispute", "Dispute", "Оспаривает долг", True, False, False, "dispute"),
    ("wrong_number", "Wrong number", "Неверный номер", False, False, False, "wrong_number"),
    ("deceased", "Deceased", "Умер", False, False, False, "deceased"),
    ("bankrupt", "Bankrupt", "Банкрот", False, False, False, "bankrupt"),
    ("attorney", "Represented by a lawyer", "Представлен юристом", True, False, False, "attorney"),
    ("cease", "Stop calling (cease request)", "Просит не звонить", True, False, False, "cease"),
)


def upgrade() -> None:
    with op.batch_alter_table("dialer_do_not_call") as batch:
        batch.add_column(
            sa.Column("source", sa.String(length=32), nullable=False, server_default="manual")
        )
        batch.add_column(
            sa.Column(
                "added_by",
                sa.Integer(),
                sa.ForeignKey(
                    "users.id",
                    name=op.f("fk_dialer_do_not_call_added_by_users"),
                    ondelete="SET NULL",
                ),
                nullable=True,
            )
        )
    codes = op.create_table(
        "disposition_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("label_en", sa.String(length=100), nullable=False),
        sa.Column("label_ru", sa.String(length=100), nullable=False),
        sa.Column("right_party", sa.Boolean(), nullable=False),
        sa.Column("needs_promise", sa.Boolean(), nullable=False),
        sa.Column("needs_callback", sa.Boolean(), nullable=False),
        sa.Column("needs_arrangement", sa.Boolean(), nullable=False),
        sa.Column("effect", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", crm_core.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposition_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_disposition_codes_code")),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        codes,
        [
            {
                "code": code,
                "label_en": en,
                "label_ru": ru,
                "right_party": rp,
                "needs_promise": promise,
                "needs_callback": callback,
                "needs_arrangement": False,
                "effect": effect,
                "active": True,
                "position": (i + 1) * 10,
                "updated_at": now,
            }
            for i, (code, en, ru, rp, promise, callback, effect) in enumerate(SEED)
        ],
    )


def downgrade() -> None:
    op.drop_table("disposition_codes")
    with op.batch_alter_table("dialer_do_not_call") as batch:
        batch.drop_constraint(op.f("fk_dialer_do_not_call_added_by_users"), type_="foreignkey")
        batch.drop_column("added_by")
        batch.drop_column("source")
