"""Domain events published by the ACD (routing) on the bus.

Consumers: the agent desktop (card pop on AgentOffered, state on AgentStateChanged), supervisor
panels (queue and agent events, QueueStats), reports, the IVR/dialer (call outcomes).
All fields are plain data; datetimes are aware UTC. A call is keyed by its Asterisk Linkedid.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crm_core.bus import Event
from routing.agent_state import AgentState

__all__ = [
    "AgentOffered",
    "AgentRona",
    "AgentState",
    "AgentStateChanged",
    "CallAbandoned",
    "CallConnected",
    "CallDequeued",
    "CallOverflowed",
    "CallQueued",
    "CallbackOffered",
    "DequeueReason",
    "OfferFailure",
    "QueueStats",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStateChanged(Event):
    """Every agent state change, timestamped; `reason` is the pause code (e.g. 'lunch', 'rona')."""

    agent_id: str
    state: AgentState
    previous: AgentState
    reason: str | None = None
    at: datetime
    linkedid: str | None = None  # the call the agent is reserved for / on, if any


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentOffered(Event):
    """A call is offered to an agent. Published BEFORE the agent's phone is rung (card pop)."""

    agent_id: str
    linkedid: str
    queue: str
    caller_number: str | None
    card: dict[str, Any] | None  # crm_core Card.to_dict(), None when the caller is unknown
    contact_id: int | None = None
    ivr_path: tuple[str, ...] = ()  # menu choices the caller made, for the agent's context
    priority: int = 0
    waited_s: float = 0.0
    endpoint: str = ""  # the agent's phone endpoint about to ring
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CallQueued(Event):
    linkedid: str
    queue: str
    priority: int
    caller_number: str | None
    contact_id: int | None = None
    required_skills: dict[str, int] = field(default_factory=dict)  # skill -> minimum level
    waiting: int = 0  # calls waiting in the queue, this one included, when it was queued
    at: datetime


class DequeueReason(enum.StrEnum):
    CONNECTED = "connected"  # an agent answered
    CALLBACK = "callback"  # the caller accepted a callback and left the queue
    MAX_WAIT = "max_wait"  # the queue's maximum wait expired; the IVR/dialplan takes it on
    CANCELLED = "cancelled"  # removed by a supervisor or the system


@dataclass(frozen=True, slots=True, kw_only=True)
class CallDequeued(Event):
    """A call left its queue other than by abandoning."""

    linkedid: str
    queue: str
    reason: DequeueReason
    waited_s: float
    agent_id: str | None = None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAbandoned(Event):
    """The caller hung up while waiting in the queue (or while an agent was being rung)."""

    linkedid: str
    queue: str
    waited_s: float
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOverflowed(Event):
    """An overflow rule fired: requirements relaxed and/or the call moved to another queue."""

    linkedid: str
    queue: str  # the queue the call is in after the rule
    from_queue: str
    rule: str  # human-readable rule description
    # who may take the call now: any one alternative (skill -> minimum level) must be met
    alternatives: tuple[dict[str, int], ...] = ()
    waited_s: float
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackOffered(Event):
    """The call has waited long enough to be offered a callback instead of holding."""

    linkedid: str
    queue: str
    caller_number: str | None
    contact_id: int | None = None
    waited_s: float
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CallConnected(Event):
    """Caller and agent are bridged."""

    agent_id: str
    linkedid: str
    queue: str
    waited_s: float  # from queue entry to answer, what ASA is computed from
    agent_channel: str | None = None  # the agent leg (for ChanSpy, recording), when known
    at: datetime


class OfferFailure(enum.StrEnum):
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CONGESTION = "congestion"
    FAILED = "failed"  # any other originate failure


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentRona(Event):
    """Ring-on-no-answer (or a failed ring): the agent is paused with reason 'rona' and the call
    goes back to the head of its queue."""

    agent_id: str
    linkedid: str
    queue: str
    cause: OfferFailure
    rang_s: float
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStats(Event):
    """A snapshot of one queue for supervisor panels, over a window ('today' or '30m')."""

    queue: str
    window: str
    waiting: int
    longest_wait_s: float
    agents_ready: int
    agents_busy: int
    agents_paused: int
    offered: int
    answered: int
    answered_within_target: int
    abandoned: int
    # answered within target / (answered + abandoned after the short-abandon threshold), in %;
    # None while that is zero
    service_level: float | None
    asa_s: float | None  # average speed of answer of answered calls
    target_s: float
    target_pct: float
    at: datetime
