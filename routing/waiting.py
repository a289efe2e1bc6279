"""Calls waiting for an agent, indexed so a freed agent finds its next call quickly.

Calls are grouped by requirement (queues x overflow stages: a handful of groups, not one per
call), each group a heap ordered by priority then arrival. A freed agent looks only at the heads
of the groups it qualifies for. Calls held for their debtor's own operator (sticky) wait in that
operator's own heap and are invisible to everyone else until the sticky time ends.
Removal is lazy: a heap entry is live only while its version matches the call's.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from routing.agents import Agent
from routing.skills import Alternative, Requirement


class CallStatus(enum.Enum):
    WAITING = "waiting"
    OFFERED = "offered"  # an agent is reserved / ringing for it
    CONNECTED = "connected"


@dataclass(slots=True, eq=False)
class WaitingCall:
    linkedid: str
    queue: str
    origin_queue: str  # statistics stay with the queue the caller entered
    caller_channel: str
    caller_number: str | None
    contact_id: int | None
    ivr_path: tuple[str, ...]
    base_priority: int  # the call's own priority; its queue's priority is added to it
    priority: int
    requirement: Requirement
    own_skills: Alternative  # skills the call itself asked for, on top of its queue's
    enqueued_at: float  # monotonic; wait times and ordering count from here
    queue_entered_at: float  # overflow rules of the current queue count from here
    sticky_agent: str | None = None
    sticky_until: float = 0.0
    stage: int = 0  # overflow rules of the current queue already applied
    callback_offered: bool = False
    status: CallStatus = CallStatus.WAITING
    agent_id: str | None = None
    agent_channel: str | None = None  # the agent's leg once connected
    seq: int = 0
    version: int = 0
    timer_version: int = 0
    offered_at: float = 0.0
    agent_idle_since: float = 0.0  # the offered agent's idle-since, restored if undone

    def rank(self) -> tuple[int, float, int]:
        return (-self.priority, self.enqueued_at, self.seq)


Rank = tuple[int, float, int]  # (-priority, enqueued_at, seq): smaller is served first
Entry = tuple[Rank, int, WaitingCall]  # (rank, version, call)


class _Group:
    __slots__ = ("heap", "live", "requirement")

    def __init__(self, requirement: Requirement) -> None:
        self.requirement = requirement
        self.heap: list[Entry] = []
        self.live = 0


def _head(heap: list[Entry]) -> Entry | None:
    while heap:
        entry = heap[0]
        if entry[1] == entry[2].version:
            return entry
        heapq.heappop(heap)
    return None


class WaitingCalls:
    def __init__(self) -> None:
        self._calls: dict[str, WaitingCall] = {}
        self._groups: dict[Requirement, _Group] = {}
        self._sticky: dict[str, list[Entry]] = {}  # agent id -> calls held for that agent
        self._where: dict[str, _Group | str] = {}  # linkedid -> its group, or sticky agent id
        self._per_queue: dict[str, int] = {}
        self._eligible: dict[tuple[tuple[str, int], ...], list[_Group]] = {}
        self._eligible_groups = 0  # number of groups when the eligibility cache was built
        self._seq = itertools.count(1)

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[WaitingCall]:
        return iter(self._calls.values())

    def __contains__(self, call: WaitingCall) -> bool:
        return call.linkedid in self._calls

    def add(self, call: WaitingCall, *, sticky: bool = False) -> None:
        """Wait in the general pool, or (sticky) only for `call.sticky_agent`."""
        self.discard(call)
        call.version += 1
        if not call.seq:
            call.seq = next(self._seq)
        entry: Entry = (call.rank(), call.version, call)
        self._calls[call.linkedid] = call
        self._per_queue[call.queue] = self._per_queue.get(call.queue, 0) + 1
        if sticky and call.sticky_agent is not None:
            heapq.heappush(self._sticky.setdefault(call.sticky_agent, []), entry)
            self._where[call.linkedid] = call.sticky_agent
            return
        group = self._groups.get(call.requirement)
        if group is None:
            group = self._groups[call.requirement] = _Group(call.requirement)
        heapq.heappush(group.heap, entry)
        group.live += 1
        self._where[call.linkedid] = group
        if len(group.heap) > 64 and len(group.heap) > 4 * group.live:
            self._compact(group)

    def discard(self, call: WaitingCall) -> None:
        if self._calls.pop(call.linkedid, None) is None:
            return
        call.version += 1
        self._per_queue[call.queue] -= 1
        where = self._where.pop(call.linkedid)
        if isinstance(where, _Group):
            where.live -= 1

    @staticmethod
    def _compact(group: _Group) -> None:
        group.heap = [e for e in group.heap if e[1] == e[2].version]
        heapq.heapify(group.heap)

    def best_for(self, agent: Agent) -> WaitingCall | None:
        """The call this agent should take: its own sticky calls first, then the highest
        priority, longest waiting call among the groups it qualifies for."""
        own = self._sticky.get(agent.agent_id)
        if own:
            entry = _head(own)
            if entry is not None:
                return entry[2]
        best: Entry | None = None
        for group in self._groups_for(agent):
            if not group.live:
                continue
            entry = _head(group.heap)
            if entry is not None and (best is None or entry[0] < best[0]):
                best = entry
        return best[2] if best is not None else None

    def _groups_for(self, agent: Agent) -> list[_Group]:
        if self._eligible_groups != len(self._groups):
            self._eligible.clear()
            self._eligible_groups = len(self._groups)
        key = agent.skills_key
        groups = self._eligible.get(key)
        if groups is None:
            groups = [g for g in self._groups.values() if g.requirement.met_by(agent.skills)]
            self._eligible[key] = groups
        return groups

    def count(self, queue: str) -> int:
        return self._per_queue.get(queue, 0)

    def held_for(self, agent_id: str) -> list[WaitingCall]:
        """Calls currently held (sticky) for this agent."""
        return [e[2] for e in self._sticky.get(agent_id, []) if e[1] == e[2].version]
