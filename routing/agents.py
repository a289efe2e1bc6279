"""Agents and their state machine.

Every change goes through `AgentBook.move`, which checks the transition table, timestamps the
change, accounts the time spent in the state left, and reports an AgentStateChanged event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from crm_core.clock import Clock
from routing.agent_state import ALLOWED, AgentState
from routing.errors import InvalidTransition, UnknownAgent
from routing.events import AgentStateChanged
from routing.skills import check_level

S = AgentState

# the states from which each state can be reached, for "expected ... but got ..." messages
_SOURCES: dict[AgentState, tuple[AgentState, ...]] = {
    target: tuple(src for src in AgentState if target in ALLOWED[src]) for target in AgentState
}


@dataclass(slots=True, eq=False)
class Agent:
    agent_id: str
    endpoint: str = ""
    skills: dict[str, int] = field(default_factory=dict)
    state: AgentState = S.LOGGED_OUT
    reason: str | None = None  # pause reason code while paused
    linkedid: str | None = None  # the call while reserved, ringing, on call or in wrap-up
    since: float = 0.0  # monotonic time the current state began
    changed_at: datetime | None = None
    idle_since: float = 0.0  # when the agent last became ready (longest-idle ordering)
    calls_today: int = 0
    last_offer_seq: int = 0  # round-robin ordering
    pending_pause: str | None = None  # pause asked for while busy; applied after wrap-up
    wrap_up_until: float | None = None
    seconds_in: dict[AgentState, float] = field(default_factory=dict)

    @property
    def skills_key(self) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(self.skills.items()))


class AgentBook:
    """All agents known to the ACD, by id."""

    def __init__(self, clock: Clock, report: Callable[[AgentStateChanged], None]) -> None:
        self._clock = clock
        self._report = report
        self._agents: dict[str, Agent] = {}

    def __len__(self) -> int:
        return len(self._agents)

    def __iter__(self) -> Iterator[Agent]:
        return iter(self._agents.values())

    def get(self, agent_id: str) -> Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise UnknownAgent(f"agent {agent_id!r} is not known to the ACD") from None

    def find(self, agent_id: str) -> Agent | None:
        return self._agents.get(agent_id)

    def register(self, agent_id: str) -> Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            agent = Agent(agent_id=agent_id, since=self._clock.monotonic())
            self._agents[agent_id] = agent
        return agent

    @staticmethod
    def set_skills(agent: Agent, skills: Mapping[str, int]) -> None:
        for skill, level in skills.items():
            if not skill:
                raise ValueError(f"agent {agent.agent_id!r}: empty skill name")
            check_level(level, f"agent {agent.agent_id!r}, skill {skill!r}")
        agent.skills = dict(skills)

    def expect(self, agent: Agent, *states: AgentState, doing: str) -> None:
        if agent.state not in states:
            expected = " or ".join(s.value for s in states)
            raise InvalidTransition(
                f"agent {agent.agent_id!r} cannot {doing}: expected {expected} "
                f"but got {agent.state.value}"
            )

    def move(
        self,
        agent: Agent,
        to: AgentState,
        *,
        reason: str | None = None,
        linkedid: str | None = None,
    ) -> None:
        previous = agent.state
        if to not in ALLOWED[previous]:
            expected = " or ".join(s.value for s in _SOURCES[to])
            raise InvalidTransition(
                f"agent {agent.agent_id!r} cannot go {to.value}: expected {expected} "
                f"but got {previous.value}"
            )
        now = self._clock.monotonic()
        agent.seconds_in[previous] = agent.seconds_in.get(previous, 0.0) + (now - agent.since)
        agent.state = to
        agent.since = now
        agent.changed_at = self._clock.now()
        agent.reason = reason if to is S.PAUSED else None
        agent.linkedid = linkedid
        if to is not S.WRAP_UP:
            agent.wrap_up_until = None
        self._report(
            AgentStateChanged(
                agent_id=agent.agent_id,
                state=to,
                previous=previous,
                reason=agent.reason,
                at=agent.changed_at,
                linkedid=linkedid,
            )
        )

    def seconds_in(self, agent: Agent, state: AgentState) -> float:
        """Time spent in `state` so far, the current stretch included."""
        total = agent.seconds_in.get(state, 0.0)
        if agent.state is state:
            total += self._clock.monotonic() - agent.since
        return total
