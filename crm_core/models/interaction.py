"""What happened with a debtor: calls (one row per Asterisk Linkedid), notes, messages."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, str_enum


class InteractionKind(enum.StrEnum):
    CALL = "call"
    NOTE = "note"
    SMS = "sms"
    EMAIL = "email"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class Interaction(Base):
    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[InteractionKind] = mapped_column(
        str_enum(InteractionKind), default=InteractionKind.CALL
    )
    direction: Mapped[Direction] = mapped_column(str_enum(Direction), default=Direction.INBOUND)
    # Unique: every AMI transition of one call lands on the same row, however often it repeats.
    linkedid: Mapped[str | None] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    debt_id: Mapped[int | None] = mapped_column(ForeignKey("debts.id", ondelete="SET NULL"))
    caller_number: Mapped[str] = mapped_column(String(40), default="")
    caller_name: Mapped[str] = mapped_column(String(100), default="")
    queue: Mapped[str] = mapped_column(String(64), default="")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    campaign: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    hangup_cause: Mapped[int | None]
    hangup_cause_text: Mapped[str] = mapped_column(String(64), default="")
    end_reason: Mapped[str] = mapped_column(String(100), default="")
    disposition: Mapped[str] = mapped_column(String(32), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    recording_ref: Mapped[str] = mapped_column(String(300), default="")
    ivr_path: Mapped[list[str]] = mapped_column(JSON, default=list)
    ivr_digits: Mapped[str] = mapped_column(String(100), default="")  # masked before storing
    transitions: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)

    __table_args__ = (
        Index("ix_interactions_contact_started", "contact_id", "started_at"),
        Index("ix_interactions_agent_started", "agent_id", "started_at"),
        Index("ix_interactions_open", "ended_at"),
        Index("ix_interactions_started", "started_at"),  # reports: a range of calls
    )
