"""Domain events the dialer publishes on the bus.

The card pop itself is routing's `AgentOffered` (published before the debtor is moved into the
operator's conference), so the desktop needs no dialer-specific code to show the debtor.
These events feed the supervisor's campaign panel and reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_core.bus import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignStateChanged(Event):
    campaign_id: int
    name: str
    state: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptPlaced(Event):
    attempt_id: str  # also the call's Linkedid (the Originate ChannelId)
    campaign_id: int
    debt_id: int
    phone: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptResolved(Event):
    """The attempt's outcome is known (the call may still be going on)."""

    attempt_id: str
    campaign_id: int
    debt_id: int
    outcome: str  # dialer.attempts.AttemptOutcome value
    abandoned: bool
    agent_id: str | None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorActivity(Event):
    campaign_id: int
    agent_id: str
    state: str  # dialer.operators.OperatorState value, or OPERATOR_LEFT
    attempt_id: str | None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignFigures(Event):
    """Live counters and the pacer's reasoning, for the campaign panel."""

    campaign_id: int
    counters: dict[str, Any]
    pacing: str
    abandon_rate_24h: float
    abandon_rate_30d: float
    next_eligible_at: datetime | None  # when a lead passed over by the rules may be dialled
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class DialerAlert(Event):
    """Something a supervisor must act on, e.g. the breaker paused the campaign because the
    PBX or the trunk cannot place calls (dialer/breaker.py). Shown on the campaign panel."""

    campaign_id: int
    name: str
    kind: str  # "pbx_failures"
    detail: str
    at: datetime
