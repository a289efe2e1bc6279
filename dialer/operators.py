"""The operators working a campaign on nailed-up lines, and what each is doing.

A nailed-up operator sits in their own conference (`agentN` in cb-conf, trace 08) for the whole
session; a debtor who answers is moved into it. The roster is plain state with times passed in,
so the pacer can read it as a snapshot and tests can drive it directly.

An operator may share their time with the ACD (blended, or not yet freed by it): `free` tells
whether the ACD lets the dialer have them now. One the ACD holds (an inbound call offered, on
the phone or in its wrap-up) is never given a debtor, and the pacer sees them as busy. An
operator who is leaving finishes the call they are on and takes no other.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from dialer.pacing import Activity, AgentLoad


class OperatorState(enum.StrEnum):
    READY = "ready"
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


_MOVES = {
    OperatorState.READY: {OperatorState.TALKING, OperatorState.PAUSED},
    OperatorState.TALKING: {OperatorState.WRAP_UP},
    OperatorState.WRAP_UP: {OperatorState.READY, OperatorState.PAUSED},
    OperatorState.PAUSED: {OperatorState.READY},
}
_ACTIVITY = {
    OperatorState.READY: Activity.READY,
    OperatorState.TALKING: Activity.TALKING,
    OperatorState.WRAP_UP: Activity.WRAP_UP,
}


OPERATOR_LEFT = "left"  # OperatorActivity.state when an operator is taken off a campaign
OPERATOR_LEAVING = "leaving"  # OperatorActivity.state: asked to leave, finishing their call


class Sharing(Protocol):
    """How a campaign shares its operators with the ACD (dialer/seats.py)."""

    def free(self, agent_id: str) -> bool:
        """May the dialer give them a debtor now (the ACD does not hold them)?"""
        ...

    def engaged(self, agent_id: str) -> None:
        """The dialer just gave them a debtor: the ACD must not offer them a call."""
        ...

    def released(self, agent_id: str) -> None:
        """Their campaign call and its wrap-up are over; they are ready for the campaign."""
        ...

    def finished(self, agent_id: str) -> None:
        """A leaving operator's last call is over: their line may be hung up."""
        ...

    def left(self, agent_id: str) -> None:
        """They are off the campaign's roster."""
        ...


class NoSharing:
    """A campaign on its own: its operators are always free for it."""

    def free(self, agent_id: str) -> bool:
        return True

    def engaged(self, agent_id: str) -> None:
        pass

    def released(self, agent_id: str) -> None:
        pass

    def finished(self, agent_id: str) -> None:
        pass

    def left(self, agent_id: str) -> None:
        pass


class OperatorError(ValueError):
    pass


@dataclass(slots=True)
class Operator:
    agent_id: str
    conference: str  # the cb-conf extension of their nailed-up conference, e.g. "agent1"
    state: OperatorState = OperatorState.PAUSED
    since: float = 0.0  # monotonic seconds
    attempt_id: str | None = None  # the call they are on / wrapping up
    leaving: bool = False  # asked to leave: no new call; the line goes after the current one


Free = Callable[[str], bool]  # agent id -> may the dialer give them a debtor now


def _always(_agent_id: str) -> bool:
    return True


class OperatorRoster:
    def __init__(self) -> None:
        self._operators: dict[str, Operator] = {}

    def join(self, agent_id: str, conference: str, now: float) -> Operator:
        """The operator's nailed-up line is up: ready for calls."""
        op = Operator(agent_id, conference, OperatorState.READY, now)
        self._operators[agent_id] = op
        return op

    def leave(self, agent_id: str) -> None:
        self._operators.pop(agent_id, None)

    def get(self, agent_id: str) -> Operator:
        try:
            return self._operators[agent_id]
        except KeyError:
            raise OperatorError(f"operator {agent_id!r} is not on this campaign") from None

    def __iter__(self) -> Iterator[Operator]:
        return iter(list(self._operators.values()))

    def move(
        self, agent_id: str, to: OperatorState, now: float, attempt_id: str | None = None
    ) -> Operator:
        op = self.get(agent_id)
        if to not in _MOVES[op.state]:
            raise OperatorError(
                f"operator {agent_id}: expected a move to one of "
                f"{', '.join(sorted(_MOVES[op.state]))} from {op.state}, but got {to}"
            )
        op.state, op.since = to, now
        if to is OperatorState.TALKING:
            op.attempt_id = attempt_id
        elif to is not OperatorState.WRAP_UP:
            op.attempt_id = None
        return op

    def take_ready(self, now: float, attempt_id: str, free: Free = _always) -> Operator | None:
        """The operator ready the longest (and free of the ACD, not leaving), now TALKING on
        `attempt_id`; None if nobody is."""
        ready = [
            op
            for op in self._operators.values()
            if op.state is OperatorState.READY and not op.leaving and free(op.agent_id)
        ]
        if not ready:
            return None
        op = min(ready, key=lambda o: o.since)
        return self.move(op.agent_id, OperatorState.TALKING, now, attempt_id)

    def on_call(self, attempt_id: str) -> Operator | None:
        for op in self._operators.values():
            if op.attempt_id == attempt_id and op.state is OperatorState.TALKING:
                return op
        return None

    def loads(self, now: float, free: Free = _always) -> tuple[AgentLoad, ...]:
        """What the pacer sees: every operator not paused and not leaving, and for how long;
        a ready operator the ACD holds (an inbound call) counts as busy, just started."""
        loads = []
        for op in self._operators.values():
            if op.state is OperatorState.PAUSED or op.leaving:
                continue
            if op.state is OperatorState.READY and not free(op.agent_id):
                loads.append(AgentLoad(Activity.TALKING, 0.0))
            else:
                loads.append(AgentLoad(_ACTIVITY[op.state], max(0.0, now - op.since)))
        return tuple(loads)
