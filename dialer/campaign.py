"""Campaigns at run time: their state (with the reason of the last move), their leads'
filter and priority order, and live counters.

Leads (a debt and its debtor's numbers) are plain data loaded by dialer/leads.py; filtering
and priority are pure functions of a lead and the time. Settings live in dialer/settings.py.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crm_core.models import NO_DIALING_STATUSES
from dialer.attempts import AttemptOutcome

if TYPE_CHECKING:
    from dialer.settings import CampaignSettings


class CampaignState(enum.StrEnum):
    STOPPED = "stopped"
    RUNNING = "running"
    PAUSED = "paused"  # dialling suspended, calls in progress finish, operators stay assigned
    FINISHED = "finished"  # nothing left to dial


_MOVES: dict[CampaignState, frozenset[CampaignState]] = {
    CampaignState.STOPPED: frozenset({CampaignState.RUNNING}),
    CampaignState.RUNNING: frozenset(
        {CampaignState.PAUSED, CampaignState.STOPPED, CampaignState.FINISHED}
    ),
    CampaignState.PAUSED: frozenset({CampaignState.RUNNING, CampaignState.STOPPED}),
    CampaignState.FINISHED: frozenset({CampaignState.RUNNING, CampaignState.STOPPED}),
}


class CampaignError(ValueError):
    pass


class CampaignStateError(CampaignError):
    pass


@dataclass(frozen=True, slots=True)
class LeadPhone:
    e164: str
    do_not_call: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Lead:
    """A debt that could be dialled, with what filtering, priority and the rules need."""

    debt_id: int
    contact_id: int
    creditor: str
    balance: Decimal
    days_past_due: int
    status: str
    segment: str = ""
    address_zone: str | None = None
    phones: tuple[LeadPhone, ...] = ()  # preference order: primary first
    callback_due_at: datetime | None = None  # an open callback task, due at
    broken_promise: bool = False

    @property
    def score(self) -> Decimal:
        return self.balance * self.days_past_due

    @property
    def disputed(self) -> bool:
        return self.status == "disputed"

    @property
    def stopped(self) -> bool:
        """Deceased, bankrupt or represented by a lawyer: never dialled."""
        return self.status in NO_DIALING_STATUSES


@dataclass(frozen=True, slots=True, kw_only=True)
class DebtFilter:
    """Which debts belong to the campaign; an empty set means "any"."""

    creditors: frozenset[str] = frozenset()
    min_balance: Decimal | None = None
    max_balance: Decimal | None = None
    min_days_past_due: int | None = None
    max_days_past_due: int | None = None
    statuses: frozenset[str] = frozenset({"active", "promise"})
    segments: frozenset[str] = frozenset()
    time_zones: frozenset[str] = frozenset()
    debt_ids: frozenset[int] = frozenset()  # an imported list

    def matches(self, lead: Lead) -> bool:
        return (
            (not self.creditors or lead.creditor in self.creditors)
            and (self.min_balance is None or lead.balance >= self.min_balance)
            and (self.max_balance is None or lead.balance <= self.max_balance)
            and (self.min_days_past_due is None or lead.days_past_due >= self.min_days_past_due)
            and (self.max_days_past_due is None or lead.days_past_due <= self.max_days_past_due)
            and (not self.statuses or lead.status in self.statuses)
            and (not self.segments or lead.segment in self.segments)
            and (not self.time_zones or (lead.address_zone or "") in self.time_zones)
            and (not self.debt_ids or lead.debt_id in self.debt_ids)
        )


def priority_key(lead: Lead, now: datetime) -> tuple[int, datetime, Decimal]:
    """Sort key, smallest first: callbacks due, then broken promises, then balance x days late."""
    if lead.callback_due_at is not None and lead.callback_due_at <= now:
        return (0, lead.callback_due_at, Decimal(0))
    if lead.broken_promise:
        return (1, now, -lead.score)
    return (2, now, -lead.score)


@dataclass(slots=True)
class CampaignCounters:
    """Live figures for the supervisor panel."""

    dialled: int = 0
    in_progress: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    abandoned: int = 0
    connected: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialled": self.dialled,
            "in_progress": self.in_progress,
            "outcomes": dict(self.outcomes),
            "abandoned": self.abandoned,
            "connected": self.connected,
        }

    def resolved(self, outcome: AttemptOutcome, *, abandoned: bool, connected: bool) -> None:
        self.in_progress = max(0, self.in_progress - 1)
        self.outcomes[outcome.value] += 1
        self.abandoned += abandoned
        self.connected += connected


class Campaign:
    """A campaign at run time: its settings, its state (with the reason of the last move) and
    its counters."""

    def __init__(
        self,
        campaign_id: int,
        settings: CampaignSettings,
        state: CampaignState = CampaignState.STOPPED,
        reason: str = "",
    ) -> None:
        self.id = campaign_id
        self.settings = settings
        self.state = state
        self.reason = reason
        self.counters = CampaignCounters()

    def move(self, to: CampaignState, reason: str) -> None:
        if to not in _MOVES[self.state]:
            allowed = ", ".join(sorted(_MOVES[self.state]))
            raise CampaignStateError(
                f"campaign {self.settings.name!r}: expected a move to one of {allowed} "
                f"from {self.state}, but got {to}"
            )
        self.state = to
        self.reason = reason

    def start(self, reason: str = "started") -> None:
        self.move(CampaignState.RUNNING, reason)

    def pause(self, reason: str) -> None:
        self.move(CampaignState.PAUSED, reason)

    def stop(self, reason: str) -> None:
        self.move(CampaignState.STOPPED, reason)

    @property
    def dialling(self) -> bool:
        return self.state is CampaignState.RUNNING
