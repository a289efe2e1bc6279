"""Ready agents, kept sorted per skill in each strategy's order of preference.

Choosing an agent for a call then walks only the list of one required skill from its best end and
stops at the first agent who meets the whole requirement, instead of scanning every agent.
An agent's sort key is fixed while it is ready (idle-since, calls today, last offer and levels
only change while it is not), so it can be removed by the key it was inserted with.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from routing.agents import Agent
from routing.queues import Strategy
from routing.skills import Alternative, Requirement

Key = tuple[float | int | str, ...]

ANY_SKILL = ""  # the list of every ready agent, for calls that need no skill


def preference(agent: Agent, strategy: Strategy, skill: str) -> Key:
    """Smaller is better. Ties go to the agent idle longest, then by id (deterministic)."""
    if strategy is Strategy.LONGEST_IDLE:
        return (agent.idle_since, agent.agent_id)
    if strategy is Strategy.HIGHEST_LEVEL:
        return (-agent.skills.get(skill, 0), agent.idle_since, agent.agent_id)
    if strategy is Strategy.LEAST_CALLS:
        return (agent.calls_today, agent.idle_since, agent.agent_id)
    return (agent.last_offer_seq, agent.idle_since, agent.agent_id)


def _meets(agent: Agent, alt: Alternative) -> bool:
    levels = agent.skills
    for skill, minimum in alt:
        if levels.get(skill, 0) < minimum:
            return False
    return True


class ReadyAgents:
    def __init__(self) -> None:
        self._strategies: set[Strategy] = set()
        self._agents: dict[str, Agent] = {}
        # (strategy, skill) -> sorted [(*key, agent_id)]; the key ends with the agent id
        self._lists: dict[tuple[Strategy, str], list[Key]] = {}
        self._keys: dict[str, list[tuple[tuple[Strategy, str], Key]]] = {}

    def __len__(self) -> int:
        return len(self._agents)

    def __contains__(self, agent: Agent) -> bool:
        return agent.agent_id in self._agents

    def use(self, strategy: Strategy) -> None:
        """Keep lists for `strategy` too (a queue with that strategy was configured)."""
        if strategy in self._strategies:
            return
        self._strategies.add(strategy)
        for agent in self._agents.values():
            self._insert(agent, (strategy,))

    def add(self, agent: Agent) -> None:
        if agent.agent_id in self._agents:
            return
        self._agents[agent.agent_id] = agent
        self._keys[agent.agent_id] = []
        self._insert(agent, tuple(self._strategies))

    def _insert(self, agent: Agent, strategies: tuple[Strategy, ...]) -> None:
        stored = self._keys[agent.agent_id]
        for strategy in strategies:
            for skill in (ANY_SKILL, *agent.skills):
                key = preference(agent, strategy, skill)
                where = (strategy, skill)
                insort(self._lists.setdefault(where, []), key)
                stored.append((where, key))

    def remove(self, agent: Agent) -> None:
        if self._agents.pop(agent.agent_id, None) is None:
            return
        for where, key in self._keys.pop(agent.agent_id):
            entries = self._lists[where]
            del entries[bisect_left(entries, key)]

    def best(self, requirement: Requirement, strategy: Strategy) -> Agent | None:
        """The most preferred ready agent who meets the requirement, or None."""
        best_key: Key | None = None
        best_agent: Agent | None = None
        for alt in requirement.alternatives:
            found = self._best_for(alt, strategy)
            if found is None:
                continue
            key, agent = found
            if best_key is None or key < best_key:
                best_key, best_agent = key, agent
        return best_agent

    def _best_for(self, alt: Alternative, strategy: Strategy) -> tuple[Key, Agent] | None:
        if not alt:
            entries = self._lists.get((strategy, ANY_SKILL), [])
            return (entries[0], self._agents[str(entries[0][-1])]) if entries else None
        if strategy is Strategy.HIGHEST_LEVEL:
            skill, minimum = alt[0]
            entries = self._lists.get((strategy, skill), [])
            for key in entries:
                if -int(key[0]) < minimum:
                    return None  # sorted by level: nobody further down is good enough
                agent = self._agents[str(key[-1])]
                if _meets(agent, alt):
                    return key, agent
            return None
        # walk the shortest list among the required skills
        entries = min((self._lists.get((strategy, skill), []) for skill, _ in alt), key=len)
        for key in entries:
            agent = self._agents[str(key[-1])]
            if _meets(agent, alt):
                return key, agent
        return None
