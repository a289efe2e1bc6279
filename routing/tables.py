"""Tables owned by routing: the agent state log that reports (occupancy, pause time, RONA
counts, login hours) are computed from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models import Base


class AgentStateLog(Base):
    """One row per agent state change, in the order they happened."""

    __tablename__ = "agent_state_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64))  # the ACD agent id: the User id as text
    state: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))  # pause reason code
    linkedid: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]

    __table_args__ = (
        Index("ix_agent_state_log_agent_at", "agent_id", "at"),
        Index("ix_agent_state_log_at", "at"),  # reports: every agent's changes in a range
    )
