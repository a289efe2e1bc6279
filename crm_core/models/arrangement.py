"""Payment plans (arrangements): a debt paid in instalments, each one kept or broken."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, str_enum


class ArrangementStatus(enum.StrEnum):
    ACTIVE = "active"  # some instalments are still open
    COMPLETED = "completed"  # every instalment kept
    BROKEN = "broken"  # every instalment settled, at least one broken
    CANCELLED = "cancelled"  # replaced by a correction of its wrap-up


class InstalmentStatus(enum.StrEnum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class Arrangement(Base):
    __tablename__ = "arrangements"

    id: Mapped[int] = mapped_column(primary_key=True)
    debt_id: Mapped[int] = mapped_column(ForeignKey("debts.id", ondelete="CASCADE"))
    status: Mapped[ArrangementStatus] = mapped_column(
        str_enum(ArrangementStatus), default=ArrangementStatus.ACTIVE
    )
    total: Mapped[Decimal]
    starts_on: Mapped[date]  # payments from this day on count towards the plan
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interactions.id", ondelete="SET NULL")
    )
    queue: Mapped[str] = mapped_column(String(64), default="")  # where it was made (for tasks)
    settled_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_arrangements_debt", "debt_id"),
        Index("ix_arrangements_status", "status"),
    )


class Instalment(Base):
    __tablename__ = "instalments"

    id: Mapped[int] = mapped_column(primary_key=True)
    arrangement_id: Mapped[int] = mapped_column(ForeignKey("arrangements.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, ... in date order
    amount: Mapped[Decimal]
    due_on: Mapped[date]
    status: Mapped[InstalmentStatus] = mapped_column(
        str_enum(InstalmentStatus), default=InstalmentStatus.OPEN
    )
    paid: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))  # allocated so far
    evaluated_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("arrangement_id", "seq", name="uq_instalments_seq"),
        Index("ix_instalments_status_due", "status", "due_on"),
    )


class ScheduledRun(Base):
    """One row per daily job and day: the claim that makes a job run once a day, whichever node
    and however many restarts."""

    __tablename__ = "scheduled_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    ran_at: Mapped[datetime]
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
