"""Do-not-call lists: numbers nobody may dial (campaign_id NULL, the global list) and numbers one
campaign may not dial. The table keeps the name the dialer gave it; the foreign key to the
dialer's campaigns is added by `dialer.tables` (crm_core imports nothing of ours)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base


class DoNotCallEntry(Base):
    __tablename__ = "dialer_do_not_call"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    campaign_id: Mapped[int | None]  # NULL: the global list
    reason: Mapped[str] = mapped_column(String(200), default="")
    added_at: Mapped[datetime]
    # where the entry came from: manual, api, import, disposition (a cease request), ...
    source: Mapped[str] = mapped_column(String(32), default="manual")
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        UniqueConstraint("phone", "campaign_id", name="uq_dialer_do_not_call_phone_campaign"),
        Index("ix_dialer_do_not_call_phone", "phone"),
    )
