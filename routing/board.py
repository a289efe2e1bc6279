"""The configured queues, with their service-level statistics and member agents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo

from routing.agent_state import BUSY_STATES, AgentState
from routing.agents import Agent, AgentBook
from routing.errors import InvalidQueueConfig, UnknownQueue
from routing.events import QueueStats
from routing.queues import QueueConfig
from routing.stats import QueueStatistics
from routing.waiting import WaitingCalls

WINDOWS = ("today", "30m")


class QueueBoard:
    def __init__(self, tz: tzinfo) -> None:
        self._tz = tz
        self._configs: dict[str, QueueConfig] = {}
        self._stats: dict[str, QueueStatistics] = {}
        self._members: dict[str, set[str]] = {}  # agents meeting the queue's own requirement

    @property
    def configs(self) -> Mapping[str, QueueConfig]:
        return self._configs

    def configure(self, queues: Iterable[QueueConfig], agents: Iterable[Agent]) -> None:
        """Add or replace definitions; overflow targets must exist once all are added.
        A replaced queue keeps its statistics."""
        queues = list(queues)
        known = set(self._configs) | {q.name for q in queues}
        for q in queues:
            for rule in q.overflow:
                if rule.move_to is not None and rule.move_to not in known:
                    raise InvalidQueueConfig(
                        f"queue {q.name!r}: overflow moves calls to unknown queue {rule.move_to!r}"
                    )
        agents = list(agents)
        for q in queues:
            self._configs[q.name] = q
            stats = self._stats.get(q.name)
            if stats is None:
                self._stats[q.name] = QueueStatistics(q.sl_target_s, q.short_abandon_s, self._tz)
            else:
                stats.target_s, stats.short_abandon_s = q.sl_target_s, q.short_abandon_s
            self._members[q.name] = {a.agent_id for a in agents if q.requirement.met_by(a.skills)}

    def get(self, name: str) -> QueueConfig:
        try:
            return self._configs[name]
        except KeyError:
            raise UnknownQueue(f"queue {name!r} is not configured") from None

    def stats(self, name: str) -> QueueStatistics:
        self.get(name)
        return self._stats[name]

    def members(self, name: str) -> set[str]:
        self.get(name)
        return self._members[name]

    def update_membership(self, agent: Agent) -> None:
        for name, q in self._configs.items():
            if q.requirement.met_by(agent.skills):
                self._members[name].add(agent.agent_id)
            else:
                self._members[name].discard(agent.agent_id)

    def snapshot(
        self,
        name: str,
        window: str,
        *,
        agents: AgentBook,
        waiting: WaitingCalls,
        mono: float,
        wall: datetime,
    ) -> QueueStats:
        """Supervisor view of one queue: live counts plus 'today' or '30m' statistics."""
        q = self.get(name)
        if window not in WINDOWS:
            raise ValueError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")
        stats = self._stats[name]
        tally = stats.today(wall) if window == "today" else stats.recent(mono)
        states = [agents.get(agent_id).state for agent_id in self._members[name]]
        waits = [mono - c.enqueued_at for c in waiting if c.queue == name]
        return QueueStats(
            queue=name,
            window=window,
            waiting=len(waits),
            longest_wait_s=max(waits, default=0.0),
            agents_ready=sum(s is AgentState.READY for s in states),
            agents_busy=sum(s in BUSY_STATES for s in states),
            agents_paused=sum(s is AgentState.PAUSED for s in states),
            offered=tally.offered,
            answered=tally.answered,
            answered_within_target=tally.answered_within_target,
            abandoned=tally.abandoned,
            service_level=tally.service_level(),
            asa_s=tally.asa(),
            target_s=q.sl_target_s,
            target_pct=q.sl_target_pct,
            at=wall,
        )
