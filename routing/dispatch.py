"""Matching agents and calls: the two decisions of the ACD.

A freed agent takes the best waiting call it can serve (its own sticky calls first, then the
highest priority, longest waiting call); a routable call takes the best qualifying ready agent
by its queue's strategy, or waits. Doing one of these after every change keeps the invariant the
ACD relies on: no ready agent qualifies for a call that waits for anyone.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from crm_core.clock import Clock
from routing.agent_state import BUSY_STATES, AgentState
from routing.agents import Agent, AgentBook
from routing.board import QueueBoard
from routing.ready_index import ReadyAgents
from routing.waiting import CallStatus, WaitingCall, WaitingCalls

S = AgentState


@dataclass(frozen=True, slots=True)
class Offer:
    """Decision: ring `endpoint` for this call. Push the card first, then call `Acd.ringing`."""

    agent_id: str
    endpoint: str
    linkedid: str
    queue: str
    caller_channel: str
    caller_number: str | None
    contact_id: int | None
    ivr_path: tuple[str, ...]
    priority: int
    waited_s: float
    ring_timeout_s: float


class Dispatcher:
    def __init__(self, clock: Clock, agents: AgentBook, board: QueueBoard) -> None:
        self._clock = clock
        self._agents = agents
        self._board = board
        self.ready = ReadyAgents()
        self.waiting = WaitingCalls()
        self.offers: list[Offer] = []
        self._offer_seq = itertools.count(1)

    def pause(self, agent: Agent, reason: str) -> None:
        self.ready.remove(agent)
        self._agents.move(agent, S.PAUSED, reason=reason)
        agent.pending_pause = None
        self.release_held(agent)

    def make_ready(self, agent: Agent, idle_since: float | None = None) -> None:
        self._agents.move(agent, S.READY)
        agent.idle_since = self._clock.monotonic() if idle_since is None else idle_since
        self.agent_free(agent)

    def agent_free(self, agent: Agent) -> None:
        """A ready agent takes the best call it can serve, or joins the ready index."""
        call = self.waiting.best_for(agent)
        if call is not None:
            self.offer(agent, call)
        else:
            self.ready.add(agent)

    def release_held(self, agent: Agent) -> None:
        """Calls held for an agent who will not take them soon go to everyone."""
        for call in self.waiting.held_for(agent.agent_id):
            call.sticky_agent = None
            self.route(call)

    def route(self, call: WaitingCall) -> None:
        """Give a routable call to the best qualifying ready agent, or let it wait."""
        if call.sticky_agent is not None:
            agent = self._agents.find(call.sticky_agent)
            if agent is not None and agent.state is S.READY:
                self.offer(agent, call)
                return
            if agent is not None and agent.state in BUSY_STATES:
                self.waiting.add(call, sticky=True)
                return
            call.sticky_agent = None  # not working now: nobody to wait for
        agent = self.ready.best(call.requirement, self._board.configs[call.queue].strategy)
        if agent is not None:
            self.offer(agent, call)
        else:
            self.waiting.add(call)

    def offer(self, agent: Agent, call: WaitingCall) -> None:
        now = self._clock.monotonic()
        self.waiting.discard(call)
        self.ready.remove(agent)
        call.status = CallStatus.OFFERED
        call.agent_id = agent.agent_id
        call.offered_at = now
        call.agent_idle_since = agent.idle_since
        agent.last_offer_seq = next(self._offer_seq)
        self._agents.move(agent, S.RESERVED, linkedid=call.linkedid)
        self.offers.append(
            Offer(
                agent_id=agent.agent_id,
                endpoint=agent.endpoint,
                linkedid=call.linkedid,
                queue=call.queue,
                caller_channel=call.caller_channel,
                caller_number=call.caller_number,
                contact_id=call.contact_id,
                ivr_path=call.ivr_path,
                priority=call.priority,
                waited_s=now - call.enqueued_at,
                ring_timeout_s=self._board.configs[call.queue].ring_timeout_s,
            )
        )
