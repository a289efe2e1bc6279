"""One disposition per call leg: what one operator recorded about one call, and its corrections.

The unique (interaction, user) pair is the database's guarantee that two saves of a wrap-up
(two tabs, a double click with a fresh key, two web nodes) cannot both write a promise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base


class CallDisposition(Base):
    __tablename__ = "call_dispositions"

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))  # the client's key of the first save
    code: Mapped[str] = mapped_column(String(32))
    notes: Mapped[str] = mapped_column(Text, default="")
    promise_id: Mapped[int | None] = mapped_column(ForeignKey("promises.id", ondelete="SET NULL"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    saved_at: Mapped[datetime]
    # what the save (or the last correction) answered; a repeat with its key gets it again
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    revision: Mapped[int] = mapped_column(Integer, default=0)  # corrections so far
    revision_key: Mapped[str] = mapped_column(String(64), default="")  # the last correction's
    revision_result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    corrected_at: Mapped[datetime | None]
    corrected_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        UniqueConstraint("interaction_id", "user_id", name="uq_call_dispositions_leg"),
    )


class DispositionDefinition(Base):
    """A disposition code as an administrator configures it (crm_core.disposition_codes).
    `effect` names what saving it does beyond the record (crm_core.disposition_effects)."""

    __tablename__ = "disposition_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    label_en: Mapped[str] = mapped_column(String(100))
    label_ru: Mapped[str] = mapped_column(String(100))
    right_party: Mapped[bool] = mapped_column(default=False)
    needs_promise: Mapped[bool] = mapped_column(default=False)
    needs_callback: Mapped[bool] = mapped_column(default=False)
    needs_arrangement: Mapped[bool] = mapped_column(default=False)
    effect: Mapped[str] = mapped_column(String(16), default="")
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]
