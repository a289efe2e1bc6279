"""The ACD decision core: agents, waiting calls, and who takes which call.

Plain synchronous code over plain data with an injected clock; no I/O. The service feeds it what
happened (agent actions, enqueue requests, call outcomes, the passing of time) and drains two
outboxes: `take_offers()` (ring this agent for this call) and `take_events()` (domain events).

Invariant kept after every method: no ready agent qualifies for a routable waiting call. So only
two decisions are ever needed: a freed agent takes the best call it can serve, and a new (or newly
routable) call takes the best ready agent that qualifies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, tzinfo

from crm_core.bus import Event
from crm_core.clock import Clock
from routing.agent_state import AgentState
from routing.agents import Agent, AgentBook
from routing.board import QueueBoard
from routing.dispatch import Dispatcher, Offer
from routing.errors import DuplicateCall, RoutingError, UnknownCall
from routing.events import (
    AgentRona,
    CallAbandoned,
    CallConnected,
    CallDequeued,
    CallQueued,
    DequeueReason,
    OfferFailure,
    QueueStats,
)
from routing.overflow import apply_wait_rules, merged, next_due
from routing.queues import QueueConfig
from routing.skills import alternative
from routing.timers import Timers
from routing.waiting import CallStatus, WaitingCall

S = AgentState

PAUSE_REASON = {
    OfferFailure.NO_ANSWER: "rona",
    OfferFailure.BUSY: "phone_busy",
    OfferFailure.CONGESTION: "phone_unreachable",
    OfferFailure.FAILED: "phone_unreachable",
}


class Acd:
    def __init__(self, clock: Clock, queues: Iterable[QueueConfig] = (), *, tz: tzinfo = UTC):
        self._clock = clock
        self._tz = tz
        self._events: list[Event] = []
        self.agents = AgentBook(clock, self._events.append)
        self.board = QueueBoard(tz)
        self._dispatch = Dispatcher(clock, self.agents, self.board)
        self.waiting = self._dispatch.waiting
        self._ready = self._dispatch.ready
        self._calls: dict[str, WaitingCall] = {}  # waiting, offered and connected calls
        self._timers = Timers()
        self._day = clock.now().astimezone(tz).date()
        self.configure(queues)

    # ---- configuration ----------------------------------------------------------------------

    def configure(self, queues: Iterable[QueueConfig]) -> None:
        """Add or replace queue definitions (calls already waiting keep their requirement)."""
        queues = list(queues)
        self.board.configure(queues, self.agents)
        for q in queues:
            self._ready.use(q.strategy)

    def queue(self, name: str) -> QueueConfig:
        return self.board.get(name)

    def snapshot(self, queue: str, window: str = "today") -> QueueStats:
        return self.board.snapshot(
            queue,
            window,
            agents=self.agents,
            waiting=self.waiting,
            mono=self._clock.monotonic(),
            wall=self._clock.now(),
        )

    # ---- outboxes ----------------------------------------------------------------------------

    def take_events(self) -> list[Event]:
        events = list(self._events)
        self._events.clear()  # the agent book appends to this same list
        return events

    def take_offers(self) -> list[Offer]:
        offers = list(self._dispatch.offers)
        self._dispatch.offers.clear()
        return offers

    # ---- agents ------------------------------------------------------------------------------

    def agent(self, agent_id: str) -> Agent:
        return self.agents.get(agent_id)

    def login(
        self,
        agent_id: str,
        endpoint: str,
        skills: Mapping[str, int],
        *,
        paused_reason: str | None = None,
    ) -> None:
        """Log an agent in on a phone endpoint, ready (or paused with a reason)."""
        if not endpoint:
            raise ValueError(f"agent {agent_id!r}: a phone endpoint is needed to log in")
        agent = self.agents.register(agent_id)
        self.agents.expect(agent, S.LOGGED_OUT, doing="log in")
        self.agents.set_skills(agent, skills)
        agent.endpoint = endpoint
        self.board.update_membership(agent)
        if paused_reason:
            self.agents.move(agent, S.PAUSED, reason=paused_reason)
        else:
            self._dispatch.make_ready(agent)

    def logout(self, agent_id: str) -> None:
        agent = self.agents.get(agent_id)
        self._ready.remove(agent)
        self.agents.move(agent, S.LOGGED_OUT)
        agent.pending_pause = None
        self._dispatch.release_held(agent)

    def make_ready(self, agent_id: str) -> None:
        """The agent takes calls again (end of pause, or wrap-up finished early)."""
        agent = self.agents.get(agent_id)
        self.agents.expect(agent, S.PAUSED, S.WRAP_UP, doing="become ready")
        agent.pending_pause = None
        self._dispatch.make_ready(agent)

    def pause(self, agent_id: str, reason: str) -> None:
        """Pause now, or after the current call's wrap-up when busy with a call."""
        if not reason:
            raise ValueError(f"agent {agent_id!r}: a pause needs a reason code")
        agent = self.agents.get(agent_id)
        if agent.state in (S.RESERVED, S.RINGING, S.ON_CALL):
            agent.pending_pause = reason
            return
        self.agents.expect(agent, S.READY, S.PAUSED, S.WRAP_UP, doing="pause")
        self._dispatch.pause(agent, reason)

    def extend_wrap_up(self, agent_id: str, seconds: float) -> float:
        """More after-call work time; returns the new end (monotonic seconds)."""
        if seconds <= 0:
            raise ValueError(f"agent {agent_id!r}: wrap-up extension must be > 0, got {seconds}")
        agent = self.agents.get(agent_id)
        self.agents.expect(agent, S.WRAP_UP, doing="extend wrap-up")
        base = max(agent.wrap_up_until or 0.0, self._clock.monotonic())
        agent.wrap_up_until = base + seconds
        self._timers.schedule(agent.wrap_up_until, "wrap", agent.agent_id, 0)
        return agent.wrap_up_until

    def set_skills(self, agent_id: str, skills: Mapping[str, int]) -> None:
        agent = self.agents.get(agent_id)
        was_ready = agent in self._ready
        self._ready.remove(agent)
        self.agents.set_skills(agent, skills)
        self.board.update_membership(agent)
        if was_ready:
            self._dispatch.agent_free(agent)

    # ---- calls -------------------------------------------------------------------------------

    def call(self, linkedid: str) -> WaitingCall | None:
        return self._calls.get(linkedid)

    def enqueue(
        self,
        linkedid: str,
        queue: str,
        *,
        caller_channel: str,
        caller_number: str | None = None,
        contact_id: int | None = None,
        priority: int = 0,
        skills: Mapping[str, int] | None = None,
        sticky_agent: str | None = None,
        ivr_path: Iterable[str] = (),
    ) -> WaitingCall:
        """A caller starts waiting. `skills` adds to the queue's own required skills (the IVR
        chose them, e.g. a language); `sticky_agent` is the debtor's own operator, tried first
        for the queue's sticky_s."""
        if linkedid in self._calls:
            raise DuplicateCall(f"call {linkedid} is already in the ACD")
        q = self.queue(queue)
        try:
            own_skills = alternative(skills or {}, f"call {linkedid}")
        except ValueError as exc:
            raise RoutingError(str(exc)) from exc
        requirement = merged(q.skills, own_skills)
        now = self._clock.monotonic()
        call = WaitingCall(
            linkedid=linkedid,
            queue=queue,
            origin_queue=queue,
            caller_channel=caller_channel,
            caller_number=caller_number,
            contact_id=contact_id,
            ivr_path=tuple(ivr_path),
            base_priority=priority,
            priority=q.priority + priority,
            requirement=requirement,
            own_skills=own_skills,
            enqueued_at=now,
            queue_entered_at=now,
        )
        if sticky_agent is not None and q.sticky_s > 0:
            call.sticky_agent = sticky_agent
            call.sticky_until = now + q.sticky_s
        self._calls[linkedid] = call
        wall = self._clock.now()
        self.board.stats(queue).record_offered(now, wall)
        self._events.append(
            CallQueued(
                linkedid=linkedid,
                queue=queue,
                priority=call.priority,
                caller_number=caller_number,
                contact_id=contact_id,
                required_skills=dict(requirement.alternatives[0]),
                waiting=self.waiting.count(queue) + 1,
                at=wall,
            )
        )
        self._evaluate(call)
        return call

    def caller_id_changed(self, linkedid: str, caller_number: str | None) -> bool:
        """The PBX changed the caller's number while the call waits (the dialplan set
        CALLERID): the offer, the agent's caller ID and the card lookup use the new one. An
        offered or connected call keeps the number it was offered with. True if it changed."""
        call = self._calls.get(linkedid)
        if (
            call is None
            or call.status is not CallStatus.WAITING
            or not caller_number
            or caller_number == call.caller_number
        ):
            return False
        call.caller_number = caller_number
        return True

    def _offered(self, linkedid: str, doing: str) -> tuple[WaitingCall, Agent]:
        call = self._calls.get(linkedid)
        if call is None or call.status is not CallStatus.OFFERED or call.agent_id is None:
            status = "unknown" if call is None else call.status.value
            raise UnknownCall(f"call {linkedid}: cannot {doing}: expected offered but got {status}")
        return call, self.agents.get(call.agent_id)

    def ringing(self, linkedid: str) -> None:
        """The agent's phone is being rung (the card has been pushed)."""
        _, agent = self._offered(linkedid, "ring the agent")
        self.agents.move(agent, S.RINGING, linkedid=linkedid)

    def answered(self, linkedid: str, agent_channel: str | None = None) -> None:
        """The agent answered and is bridged with the caller."""
        call, agent = self._offered(linkedid, "connect")
        now, wall = self._clock.monotonic(), self._clock.now()
        self.agents.move(agent, S.ON_CALL, linkedid=linkedid)
        call.status = CallStatus.CONNECTED
        call.agent_channel = agent_channel
        day = wall.astimezone(self._tz).date()
        if day != self._day:
            self._day = day
            for other in self.agents:
                other.calls_today = 0
        agent.calls_today += 1
        waited = now - call.enqueued_at  # speed of answer: queue time plus ring time
        self.board.stats(call.origin_queue).record_answered(now, wall, waited)
        self._events.append(
            CallDequeued(
                linkedid=linkedid,
                queue=call.queue,
                reason=DequeueReason.CONNECTED,
                waited_s=waited,
                agent_id=agent.agent_id,
                at=wall,
            )
        )
        self._events.append(
            CallConnected(
                agent_id=agent.agent_id,
                linkedid=linkedid,
                queue=call.queue,
                waited_s=waited,
                agent_channel=agent_channel,
                at=wall,
            )
        )

    def offer_failed(self, linkedid: str, cause: OfferFailure) -> None:
        """Ring no answer / busy / unreachable: the agent is paused and the call goes back to the
        head of its queue (it keeps its arrival time) and is offered to someone else."""
        call, agent = self._offered(linkedid, "fail the offer")
        now = self._clock.monotonic()
        self._events.append(
            AgentRona(
                agent_id=agent.agent_id,
                linkedid=linkedid,
                queue=call.queue,
                cause=cause,
                rang_s=now - call.offered_at,
                at=self._clock.now(),
            )
        )
        call.status = CallStatus.WAITING
        call.agent_id = None
        if call.sticky_agent == agent.agent_id:
            call.sticky_agent = None
        self._dispatch.pause(agent, PAUSE_REASON[cause])
        self._evaluate(call)

    def call_ended(self, linkedid: str) -> CallStatus | None:
        """The call is over (caller or agent hung up). Returns what the call was doing then:
        WAITING (abandoned), OFFERED (abandoned while the agent rang: cancel the agent leg),
        CONNECTED (the agent goes to wrap-up); None for calls the ACD does not hold."""
        call = self._calls.pop(linkedid, None)
        if call is None:
            return None
        status = call.status
        now, wall = self._clock.monotonic(), self._clock.now()
        if status is CallStatus.CONNECTED:
            self._agent_done(call)
            return status
        waited = now - call.enqueued_at
        self.waiting.discard(call)
        call.version += 1
        self.board.stats(call.origin_queue).record_abandoned(now, wall, waited)
        self._events.append(
            CallAbandoned(linkedid=linkedid, queue=call.queue, waited_s=waited, at=wall)
        )
        if status is CallStatus.OFFERED and call.agent_id is not None:
            agent = self.agents.get(call.agent_id)
            if agent.pending_pause:
                self._dispatch.pause(agent, agent.pending_pause)
            else:  # not the agent's fault: it keeps its place in the idle order
                self._dispatch.make_ready(agent, idle_since=call.agent_idle_since)
        return status

    def agent_left(self, linkedid: str) -> None:
        """The caller was transferred elsewhere and the call goes on without the agent: the
        agent's part is over, wrap-up starts now (not when the whole call ends)."""
        call = self._calls.get(linkedid)
        if call is not None and call.status is CallStatus.CONNECTED:
            self._agent_done(call)

    def _agent_done(self, call: WaitingCall) -> None:
        agent = self.agents.find(call.agent_id) if call.agent_id else None
        if agent is not None and agent.linkedid == call.linkedid and agent.state is S.ON_CALL:
            self._start_wrap_up(agent, self.board.configs[call.queue].wrap_up_s)

    def accept_callback(self, linkedid: str) -> WaitingCall:
        """The caller chose a callback: it leaves the queue (the caller of this method schedules
        the callback)."""
        return self._dequeue_waiting(linkedid, DequeueReason.CALLBACK)

    def cancel(self, linkedid: str) -> WaitingCall:
        return self._dequeue_waiting(linkedid, DequeueReason.CANCELLED)

    def _dequeue_waiting(self, linkedid: str, reason: DequeueReason) -> WaitingCall:
        call = self._calls.get(linkedid)
        if call is None or call.status is not CallStatus.WAITING:
            status = "unknown" if call is None else call.status.value
            raise UnknownCall(
                f"call {linkedid}: cannot {reason.value}: expected waiting but got {status}"
            )
        self._dequeue(call, reason)
        return call

    def _dequeue(self, call: WaitingCall, reason: DequeueReason) -> None:
        self.waiting.discard(call)
        call.version += 1
        del self._calls[call.linkedid]
        self._events.append(
            CallDequeued(
                linkedid=call.linkedid,
                queue=call.queue,
                reason=reason,
                waited_s=self._clock.monotonic() - call.enqueued_at,
                at=self._clock.now(),
            )
        )

    # ---- time --------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """Monotonic time of the next timer (overflow, callback, sticky end, wrap-up end)."""
        return self._timers.next_due()

    def advance(self) -> None:
        """Apply everything that has come due by the clock's current time."""
        now = self._clock.monotonic()
        for due, kind, key, version in self._timers.pop_due(now):
            if kind == "call":
                call = self._calls.get(key)
                if call and call.timer_version == version and call.status is CallStatus.WAITING:
                    self._evaluate(call)
            else:
                agent = self.agents.find(key)
                if agent and agent.state is S.WRAP_UP and agent.wrap_up_until == due:
                    self._end_wrap_up(agent)

    def _start_wrap_up(self, agent: Agent, seconds: float) -> None:
        self.agents.move(agent, S.WRAP_UP, linkedid=agent.linkedid)
        agent.wrap_up_until = self._clock.monotonic() + seconds
        if seconds <= 0:
            self._end_wrap_up(agent)
        else:
            self._timers.schedule(agent.wrap_up_until, "wrap", agent.agent_id, 0)

    def _end_wrap_up(self, agent: Agent) -> None:
        if agent.pending_pause:
            self._dispatch.pause(agent, agent.pending_pause)
        else:
            self._dispatch.make_ready(agent)

    def _evaluate(self, call: WaitingCall) -> None:
        """Apply what the call's wait has made due, route it, and set its next timer."""
        self.waiting.discard(call)  # before its queue or requirement may change
        due = apply_wait_rules(call, self.board.configs, self._clock.monotonic(), self._clock.now())
        self._events.extend(due.events)
        if due.max_wait_reached:
            self._dequeue(call, DequeueReason.MAX_WAIT)
            return
        self._dispatch.route(call)
        if call.status is CallStatus.WAITING:
            call.timer_version += 1
            when = next_due(call, self.board.configs[call.queue])
            if when is not None:
                self._timers.schedule(when, "call", call.linkedid, call.timer_version)
