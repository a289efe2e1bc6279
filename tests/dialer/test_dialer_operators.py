"""The nailed-up operator roster: who takes the next person, and what the pacer sees."""

from __future__ import annotations

import pytest

from dialer.operators import OperatorError, OperatorRoster, OperatorState
from dialer.pacing import Activity


def test_the_operator_ready_longest_takes_the_call() -> None:
    roster = OperatorRoster()
    roster.join("agent1", "agent1", now=10.0)
    roster.join("agent2", "agent2", now=5.0)
    taken = roster.take_ready(now=20.0, attempt_id="a1")
    assert taken is not None and taken.agent_id == "agent2"
    assert roster.on_call("a1") is taken
    assert roster.take_ready(now=21.0, attempt_id="a2").agent_id == "agent1"  # type: ignore[union-attr]
    assert roster.take_ready(now=22.0, attempt_id="a3") is None


def test_states_move_only_along_the_call_cycle() -> None:
    roster = OperatorRoster()
    roster.join("agent1", "agent1", now=0.0)
    roster.move("agent1", OperatorState.PAUSED, now=1.0)
    with pytest.raises(OperatorError, match="expected a move to one of ready from paused, but got"):
        roster.move("agent1", OperatorState.TALKING, now=2.0)
    with pytest.raises(OperatorError, match="not on this campaign"):
        roster.get("agent9")


def test_the_pacer_sees_everyone_but_paused_operators() -> None:
    roster = OperatorRoster()
    for n, now in ((1, 0.0), (2, 0.0), (3, 0.0)):
        roster.join(f"agent{n}", f"agent{n}", now=now)
    roster.take_ready(now=4.0, attempt_id="a1")
    roster.move("agent2", OperatorState.PAUSED, now=5.0)
    loads = sorted((load.activity, load.elapsed) for load in roster.loads(now=10.0))
    assert loads == [(Activity.READY, 10.0), (Activity.TALKING, 6.0)]
