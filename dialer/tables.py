"""Tables owned by the dialer: campaigns and the attempt ledger (do-not-call: crm_core).

The ledger is a legal record (attempt caps, abandoned calls): rows are never deleted with the
debt, so its foreign key to debts has no cascade.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, ForeignKey, ForeignKeyConstraint, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models import Base, DoNotCallEntry
from dialer.settings import CampaignSettings


class CampaignRow(Base):
    """A campaign's definition (settings as JSON, validated by dialer.campaign) and its state."""

    __tablename__ = "dialer_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="stopped")
    state_reason: Mapped[str] = mapped_column(String(200), default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    # THE mapping between a row and CampaignSettings, both ways: every reader and writer of
    # dialer_campaigns goes through these two (the row's name wins over any name in the JSON)
    def campaign_settings(self) -> CampaignSettings:
        """The row's settings as the dialer reads them; CampaignSettingsError names a bad key."""
        return CampaignSettings.from_dict({**(self.settings or {}), "name": self.name})

    @staticmethod
    def stored(settings: CampaignSettings) -> dict[str, Any]:
        """The JSON kept in `settings` for these settings (the name is the row's column)."""
        data = settings.to_dict()
        del data["name"]
        return data


class DialAttemptRow(Base):
    """One dial attempt; keyed by the Originate ChannelId so every write is idempotent."""

    __tablename__ = "dialer_attempts"

    attempt_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("dialer_campaigns.id"))
    debt_id: Mapped[int] = mapped_column(ForeignKey("debts.id"))
    phone: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    abandoned: Mapped[bool] = mapped_column(default=False)
    right_party_contact: Mapped[bool] = mapped_column(default=False)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    hangup_cause: Mapped[int | None]
    # the call's Linkedid: a manual dial's attempts (one per debt of the number) share one call
    call_id: Mapped[str | None] = mapped_column(String(64))
    # a conversation on a call the debtor made: counts for the quiet week, not for the caps
    inbound: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        Index("ix_dialer_attempts_debt_started", "debt_id", "started_at"),
        Index("ix_dialer_attempts_call", "call_id"),
        Index("ix_dialer_attempts_phone_started", "phone", "started_at"),
        Index("ix_dialer_attempts_campaign_started", "campaign_id", "started_at"),
        Index("ix_dialer_attempts_started", "started_at"),  # reports: all campaigns' range
    )


# The do-not-call lists belong to crm_core (crm_core.dnc: every edge and the dispositions obey
# them); the per-campaign entries point at this package's campaigns.
DoNotCallRow = DoNotCallEntry
cast(Table, DoNotCallEntry.__table__).append_constraint(
    ForeignKeyConstraint(["campaign_id"], ["dialer_campaigns.id"], ondelete="CASCADE")
)
