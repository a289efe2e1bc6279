"""The live picture the desktop and the panels show, built from bus events.

Plain synchronous code: `apply(event)` updates the picture and returns what must be pushed to
whom (a topic and a message). Topics: `agent:<id>` for one operator's own desk, `panel` for
supervisors. Time comes from the events themselves (and `sample` is handed `now`), so the board
can be driven in virtual time by tests.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from ami_bridge.events import (
    CallBridged,
    CallEnded,
    CallerIdChanged,
    CallHeld,
    CallResumed,
    CallStarted,
    ChannelJoined,
)
from ami_bridge.service import LinkStatusChanged
from crm_core.bus import Event
from dialer.events import OperatorActivity
from routing.agent_state import BUSY_STATES, AgentState
from routing.events import (
    AgentOffered,
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallDequeued,
    CallQueued,
    QueueStats,
)

PANEL = "panel"
HISTORY_POINTS = 240  # one hour at one point per 15 s
# Contacts an operator may open, per operator, most recent kept: a node runs for weeks and an
# operator meets hundreds of debtors a day, so the grants are bounded. 200 is more than a day's
# calls of one operator; the current call's grant is always the newest. (Cards opened from a
# search are granted by crm_core.search_scope: with a purpose, expiring, fewer.)
GRANTS_PER_AGENT = 200
HANDLING = frozenset({AgentState.ON_CALL, AgentState.WRAP_UP})

Push = tuple[str, dict[str, Any]]


def agent_topic(agent_id: str) -> str:
    return f"agent:{agent_id}"


@dataclass(slots=True)
class AgentView:
    agent_id: str
    name: str = ""
    state: AgentState = AgentState.LOGGED_OUT
    reason: str | None = None
    since: datetime | None = None
    linkedid: str | None = None
    party: str = ""
    queue: str = ""
    calls_today: int = 0
    handle_s_today: float = 0.0
    day: date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "state": self.state.value,
            "reason": self.reason,
            "since": self.since.isoformat() if self.since else None,
            "linkedid": self.linkedid,
            "party": self.party,
            "queue": self.queue,
            "calls_today": self.calls_today,
            "handle_s_today": round(self.handle_s_today),
        }


@dataclass(slots=True)
class CallView:
    """One call as an operator's desk sees it: the offer, its card, and the channels to act on."""

    linkedid: str
    agent_id: str | None = None
    queue: str = ""
    caller_number: str | None = None
    endpoint: str = ""
    card: dict[str, Any] | None = None
    contact_id: int | None = None
    ivr_path: tuple[str, ...] = ()
    waited_s: float = 0.0
    offered_at: datetime | None = None
    caller_channel: str | None = None
    agent_channel: str | None = None
    bridged: bool = False
    held: bool = False
    ended: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "queue": self.queue,
            "caller_number": self.caller_number,
            "card": self.card,
            "contact_id": self.contact_id,
            "ivr_path": list(self.ivr_path),
            "waited_s": round(self.waited_s, 1),
            "offered_at": self.offered_at.isoformat() if self.offered_at else None,
            "bridged": self.bridged,
            "held": self.held,
            "ended": self.ended,
        }


@dataclass(slots=True)
class QueueView:
    name: str
    waiting_since: dict[str, datetime] = field(default_factory=dict)
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)  # window -> QueueStats

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "waiting": len(self.waiting_since),
            "oldest": min(self.waiting_since.values()).isoformat() if self.waiting_since else None,
            "today": self.stats.get("today"),
            "recent": self.stats.get("30m"),
        }


class LiveBoard:
    def __init__(self, tz: tzinfo) -> None:
        self._tz = tz
        self.agents: dict[str, AgentView] = {}
        self.queues: dict[str, QueueView] = {}
        self.calls: dict[str, CallView] = {}
        # agent id -> contact id they may open -> why (the audit reason of a card view)
        self._grants: dict[str, dict[int, dict[str, str]]] = {}
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY_POINTS)
        self.link: dict[str, str] | None = None  # the AMI link to the PBX, as last reported

    # -- reading -------------------------------------------------------------------------------

    def agent(self, agent_id: str) -> AgentView:
        view = self.agents.get(agent_id)
        if view is None:
            view = self.agents[agent_id] = AgentView(agent_id)
        return view

    def current_call(self, agent_id: str) -> CallView | None:
        view = self.agents.get(agent_id)
        if view is None or view.linkedid is None:
            return None
        return self.calls.get(view.linkedid)

    def may_open(self, agent_id: str, contact_id: int) -> bool:
        return contact_id in self._grants.get(agent_id, {})

    def grant(self, agent_id: str, contact_id: int, reason: str, **context: str) -> None:
        """An operator searched for ("search"), created ("created") or was offered ("offer",
        linkedid=...) this contact: they may open the card, and a view is audited with why."""
        grants = self._grants.setdefault(agent_id, {})
        grants.pop(contact_id, None)  # re-granted: now the newest
        grants[contact_id] = {"reason": reason, **context}
        while len(grants) > GRANTS_PER_AGENT:
            del grants[next(iter(grants))]  # the oldest (dicts keep insertion order)

    def grant_reason(self, agent_id: str, contact_id: int) -> dict[str, str] | None:
        """Why this agent may open this contact's card (the server's own record), if they may."""
        return self._grants.get(agent_id, {}).get(contact_id)

    def desk_snapshot(self, agent_id: str) -> dict[str, Any]:
        call = self.current_call(agent_id)
        return {
            "agent": self.agent(agent_id).to_dict(),
            "call": call.to_dict() if call is not None else None,
        }

    def panel_snapshot(self) -> dict[str, Any]:
        return {
            "agents": [a.to_dict() for a in self.agents.values() if a.name or a.since],
            "queues": [q.to_dict() for q in sorted(self.queues.values(), key=lambda q: q.name)],
            "history": list(self.history),
            "link": self.link,
        }

    # -- changing ------------------------------------------------------------------------------

    def name_agent(self, agent_id: str, name: str) -> None:
        self.agent(agent_id).name = name

    def apply(self, event: Event) -> list[Push]:
        handler = _HANDLERS.get(type(event))
        return handler(self, event) if handler is not None else []

    def sample(self, now: datetime) -> Push:
        """One point of the wallboard chart: calls waiting and the last-30-minutes service level."""
        waiting = sum(len(q.waiting_since) for q in self.queues.values())
        within = counted = 0
        for q in self.queues.values():
            recent = q.stats.get("30m")
            if recent:
                within += recent["answered_within_target"]
                counted += recent["answered"] + recent["abandoned"]
        point = {
            "t": now.isoformat(),
            "waiting": waiting,
            "sl": round(100.0 * within / counted, 1) if counted else None,
        }
        self.history.append(point)
        return PANEL, {"type": "history", "point": point}

    def _on_state(self, ev: AgentStateChanged) -> list[Push]:
        view = self.agent(ev.agent_id)
        self._roll_day(view, ev.at)
        if view.since is not None and view.state in HANDLING:
            view.handle_s_today += max(0.0, (ev.at - view.since).total_seconds())
        if ev.state is AgentState.ON_CALL:
            view.calls_today += 1
        view.state = ev.state
        view.reason = ev.reason
        view.since = ev.at
        if ev.state in BUSY_STATES:
            view.linkedid = ev.linkedid or view.linkedid
        else:
            self._release(ev.agent_id, view.linkedid)
            view.linkedid = None
            view.party = ""
            view.queue = ""
        message = {"type": "agent", "agent": view.to_dict()}
        return [(agent_topic(ev.agent_id), message), (PANEL, message)]

    def _on_campaign_operator(self, ev: OperatorActivity) -> list[Push]:
        """Operators on a campaign's nailed-up lines are the dialer's, not the ACD's; the
        supervisor sees them in the same grid, in the same states."""
        view = self.agent(ev.agent_id)
        state = _CAMPAIGN_STATES.get(ev.state)
        if state is None:
            return []
        return self._on_state(
            AgentStateChanged(
                agent_id=ev.agent_id,
                state=state,
                previous=view.state,
                at=ev.at,
                linkedid=ev.attempt_id,
            )
        )

    def _on_offer(self, ev: AgentOffered) -> list[Push]:
        call = self.calls.get(ev.linkedid) or CallView(ev.linkedid)
        self.calls[ev.linkedid] = call
        call.agent_id = ev.agent_id
        call.queue = ev.queue
        call.caller_number = ev.caller_number
        call.endpoint = ev.endpoint
        call.card = ev.card
        call.contact_id = ev.contact_id if ev.contact_id is not None else _card_contact(ev.card)
        call.ivr_path = ev.ivr_path
        call.waited_s = ev.waited_s
        call.offered_at = ev.at
        if call.contact_id is not None:
            self.grant(ev.agent_id, call.contact_id, "offer", linkedid=ev.linkedid)
        view = self.agent(ev.agent_id)
        view.linkedid = ev.linkedid
        view.queue = ev.queue
        view.party = (ev.card or {}).get("name") or ev.caller_number or ""
        return [
            (agent_topic(ev.agent_id), {"type": "offer", "call": call.to_dict()}),
            (PANEL, {"type": "agent", "agent": view.to_dict()}),
        ]

    def _on_queued(self, ev: CallQueued) -> list[Push]:
        queue = self._queue(ev.queue)
        queue.waiting_since[ev.linkedid] = ev.at
        return [(PANEL, {"type": "queue", "queue": queue.to_dict()})]

    def _on_left_queue(self, ev: CallDequeued | CallAbandoned | CallConnected) -> list[Push]:
        queue = self._queue(ev.queue)
        if queue.waiting_since.pop(ev.linkedid, None) is None:
            return []
        return [(PANEL, {"type": "queue", "queue": queue.to_dict()})]

    def _on_connected(self, ev: CallConnected) -> list[Push]:
        pushes = self._on_left_queue(ev)
        call = self.calls.get(ev.linkedid)
        if call is None or call.agent_id != ev.agent_id:
            return pushes
        if ev.agent_channel:  # the ACD knows the agent leg for sure: better than a prefix
            call.agent_channel = ev.agent_channel
        return pushes + self._call_update(call)

    def _on_stats(self, ev: QueueStats) -> list[Push]:
        queue = self._queue(ev.queue)
        queue.stats[ev.window] = {
            "waiting": ev.waiting,
            "longest_wait_s": round(ev.longest_wait_s, 1),
            "agents_ready": ev.agents_ready,
            "agents_busy": ev.agents_busy,
            "agents_paused": ev.agents_paused,
            "offered": ev.offered,
            "answered": ev.answered,
            "answered_within_target": ev.answered_within_target,
            "abandoned": ev.abandoned,
            "service_level": None if ev.service_level is None else round(ev.service_level, 1),
            "asa_s": None if ev.asa_s is None else round(ev.asa_s, 1),
            "target_s": ev.target_s,
            "target_pct": ev.target_pct,
            "at": ev.at.isoformat(),
        }
        return [(PANEL, {"type": "queue", "queue": queue.to_dict()})]

    def _on_link(self, ev: LinkStatusChanged) -> list[Push]:
        self.link = {"state": ev.state.value, "detail": ev.detail, "at": ev.at.isoformat()}
        return [(PANEL, {"type": "link", "link": self.link})]

    def _on_call_started(self, ev: CallStarted) -> list[Push]:
        call = self.calls.get(ev.linkedid)
        if call is not None and call.caller_channel is None:
            call.caller_channel = ev.channel
        elif call is None:
            self.calls[ev.linkedid] = CallView(
                ev.linkedid, caller_number=ev.caller_number, caller_channel=ev.channel
            )
        return []

    def _on_caller_id(self, ev: CallerIdChanged) -> list[Push]:
        """The PBX changed the caller's number (e.g. the IVR set CALLERID): the desk and the
        supervisor's agent grid show the new one."""
        call = self.calls.get(ev.linkedid)
        if call is None or not ev.caller_number or ev.caller_number == call.caller_number:
            return []
        previous, call.caller_number = call.caller_number, ev.caller_number
        pushes = self._call_update(call)
        view = self.agents.get(call.agent_id) if call.agent_id else None
        if view is not None and view.linkedid == call.linkedid and view.party == previous:
            view.party = ev.caller_number  # the party was shown by number (no card name)
            pushes.append((PANEL, {"type": "agent", "agent": view.to_dict()}))
        return pushes

    def _on_bridged(self, ev: CallBridged | ChannelJoined) -> list[Push]:
        call = self.calls.get(ev.linkedid)
        if call is None or call.agent_id is None:
            return []
        parties = ev.parties if isinstance(ev, CallBridged) else (ev.channel,)
        for channel in parties:
            if call.endpoint and _is_leg_of(channel, call.endpoint):
                call.agent_channel = channel
            elif isinstance(ev, CallBridged):
                call.caller_channel = channel
        if isinstance(ev, CallBridged) and len(ev.parties) >= 2 and call.agent_channel:
            call.bridged = True
            call.held = False
        return self._call_update(call)

    def _on_hold(self, ev: CallHeld | CallResumed) -> list[Push]:
        call = self.calls.get(ev.linkedid)
        if call is None or call.agent_id is None or ev.channel != call.caller_channel:
            return []
        call.held = isinstance(ev, CallHeld)
        return self._call_update(call)

    def _on_ended(self, ev: CallEnded) -> list[Push]:
        for queue in self.queues.values():
            queue.waiting_since.pop(ev.linkedid, None)
        call = self.calls.get(ev.linkedid)
        if call is None:
            return []
        if call.agent_id is None:
            del self.calls[ev.linkedid]
            return []
        # kept until the operator leaves wrap-up: the card stays on screen for the disposition
        call.ended = True
        call.bridged = False
        return self._call_update(call)

    def _release(self, agent_id: str, linkedid: str | None) -> None:
        call = self.calls.get(linkedid) if linkedid else None
        if call is None or call.agent_id != agent_id:
            return
        if call.ended:
            del self.calls[call.linkedid]
        else:  # e.g. ring-no-answer: the call goes back to its queue for someone else
            call.agent_id = None

    def _call_update(self, call: CallView) -> list[Push]:
        if call.agent_id is None:
            return []
        return [(agent_topic(call.agent_id), {"type": "call", "call": call.to_dict()})]

    def _queue(self, name: str) -> QueueView:
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = QueueView(name)
        return queue

    def _roll_day(self, view: AgentView, at: datetime) -> None:
        day = at.astimezone(self._tz).date()
        if view.day != day:
            view.day = day
            view.calls_today = 0
            view.handle_s_today = 0.0


def _card_contact(card: dict[str, Any] | None) -> int | None:
    value = (card or {}).get("contact_id")
    return value if isinstance(value, int) else None


def _is_leg_of(channel: str, endpoint: str) -> bool:
    """`PJSIP/1001-0000002a` and `Local/agent1@cb-agents-00000001;1` are legs of their endpoint;
    of a Local pair only `;1` is the leg that is bridged with the caller."""
    if not channel.startswith(endpoint + "-"):
        return False
    return not endpoint.startswith("Local/") or channel.endswith(";1")


_CAMPAIGN_STATES = {
    "ready": AgentState.READY,
    "talking": AgentState.ON_CALL,
    "wrap_up": AgentState.WRAP_UP,
    "paused": AgentState.PAUSED,
    "left": AgentState.LOGGED_OUT,  # dialer.operators.OPERATOR_LEFT
}

_HANDLERS: dict[type[Event], Any] = {
    OperatorActivity: LiveBoard._on_campaign_operator,
    AgentStateChanged: LiveBoard._on_state,
    AgentOffered: LiveBoard._on_offer,
    CallQueued: LiveBoard._on_queued,
    CallDequeued: LiveBoard._on_left_queue,
    CallAbandoned: LiveBoard._on_left_queue,
    CallConnected: LiveBoard._on_connected,
    QueueStats: LiveBoard._on_stats,
    CallStarted: LiveBoard._on_call_started,
    CallerIdChanged: LiveBoard._on_caller_id,
    CallBridged: LiveBoard._on_bridged,
    ChannelJoined: LiveBoard._on_bridged,
    CallHeld: LiveBoard._on_hold,
    CallResumed: LiveBoard._on_hold,
    CallEnded: LiveBoard._on_ended,
    LinkStatusChanged: LiveBoard._on_link,
}
EVENT_TYPES: tuple[type[Event], ...] = tuple(_HANDLERS)
