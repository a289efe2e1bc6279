"""What a debtor owes, what they paid, and what they promised."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, str_enum


class DebtStatus(enum.StrEnum):
    ACTIVE = "active"
    PROMISE = "promise"
    PAID = "paid"
    DISPUTED = "disputed"
    CLOSED = "closed"
    LEGAL = "legal"
    # set by a disposition's effect (crm_core.disposition_effects): nobody dials the debt
    DECEASED = "deceased"
    BANKRUPT = "bankrupt"
    ATTORNEY = "attorney"  # the debtor is represented by a lawyer: talk to the lawyer only


# Debts no dialer, campaign or manual, may call about (the dialer's `debt_stopped` rule).
NO_DIALING_STATUSES = frozenset({DebtStatus.DECEASED, DebtStatus.BANKRUPT, DebtStatus.ATTORNEY})


class PromiseStatus(enum.StrEnum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class Debt(Base):
    __tablename__ = "debts"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    creditor: Mapped[str] = mapped_column(String(100))
    reference: Mapped[str] = mapped_column(String(64))
    principal: Mapped[Decimal]
    balance: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    due_date: Mapped[date]
    status: Mapped[DebtStatus] = mapped_column(str_enum(DebtStatus), default=DebtStatus.ACTIVE)
    segment: Mapped[str] = mapped_column(String(32), default="")
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("creditor", "reference", name="uq_debts_creditor_reference"),
        Index("ix_debts_contact", "contact_id"),
        Index("ix_debts_reference", "reference"),
    )

    def days_past_due(self, today: date) -> int:
        return max(0, (today - self.due_date).days)


# the dialer's lead order (dialer/lead_window.py): per status and due date, the biggest balance
# first, so a campaign's leads are read page by page in priority order (keyset pagination)
Index("ix_debts_dialer_order", Debt.status, Debt.due_date, Debt.balance.desc(), Debt.id)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    debt_id: Mapped[int] = mapped_column(ForeignKey("debts.id", ondelete="CASCADE"))
    amount: Mapped[Decimal]
    paid_on: Mapped[date]
    method: Mapped[str] = mapped_column(String(32), default="")
    # the payment's own reference (bank transaction id): unique when given, so an import or a
    # retried API call never posts the same payment twice
    reference: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(16), default="")  # desk, api, import
    created_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        Index("ix_payments_debt_paid_on", "debt_id", "paid_on"),
        Index(
            "uq_payments_reference",
            "reference",
            unique=True,
            sqlite_where=text("reference <> ''"),
            postgresql_where=text("reference <> ''"),
        ),
        Index("ix_payments_paid_on", "paid_on"),  # reports: payments of a range
    )


class PromiseToPay(Base):
    __tablename__ = "promises"

    id: Mapped[int] = mapped_column(primary_key=True)
    debt_id: Mapped[int] = mapped_column(ForeignKey("debts.id", ondelete="CASCADE"))
    amount: Mapped[Decimal]
    due_on: Mapped[date]
    status: Mapped[PromiseStatus] = mapped_column(
        str_enum(PromiseStatus), default=PromiseStatus.OPEN
    )
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id"))
    evaluated_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_promises_debt", "debt_id"),
        Index("ix_promises_status", "status"),
        # reports: promises made in a range, and a campaign's promises by their call
        Index("ix_promises_created", "created_at"),
        Index("ix_promises_interaction", "interaction_id"),
    )
