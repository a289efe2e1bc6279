"""The live board of a node that runs for weeks: what it keeps per call or per contact is
bounded, whatever the number of calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agent_desktop.board import GRANTS_PER_AGENT, LiveBoard
from ami_bridge.events import CallEnded, CallStarted, Direction, EndReason
from routing.agent_state import AgentState
from routing.events import AgentOffered, AgentStateChanged

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
S = AgentState


def test_an_operators_grants_are_bounded_and_keep_the_newest() -> None:
    board = LiveBoard(ZoneInfo("Europe/London"))
    for n in range(5 * GRANTS_PER_AGENT):
        at = T0 + timedelta(seconds=n)
        board.apply(
            AgentOffered(
                agent_id="7",
                linkedid=f"L{n}",
                queue="q",
                caller_number="+4411",
                card={"contact_id": 1000 + n, "name": "Ann"},
                at=at,
            )
        )
        board.apply(AgentStateChanged(agent_id="7", state=S.READY, previous=S.WRAP_UP, at=at))
    assert len(board._grants["7"]) == GRANTS_PER_AGENT
    newest = 1000 + 5 * GRANTS_PER_AGENT - 1
    assert board.may_open("7", newest)
    assert board.grant_reason("7", newest) == {"reason": "offer", "linkedid": f"L{newest - 1000}"}
    assert not board.may_open("7", 1000)


def test_a_contact_granted_again_becomes_the_newest() -> None:
    board = LiveBoard(ZoneInfo("Europe/London"))
    board.grant("7", 1, "search")
    for contact in range(2, GRANTS_PER_AGENT + 1):
        board.grant("7", contact, "search")
    board.grant("7", 1, "search")  # searched again: kept over the next one
    board.grant("7", GRANTS_PER_AGENT + 1, "search")
    assert board.may_open("7", 1)
    assert not board.may_open("7", 2)


def test_ended_calls_leave_nothing_behind() -> None:
    board = LiveBoard(ZoneInfo("Europe/London"))
    for n in range(1000):
        at = T0 + timedelta(seconds=n)
        lid = f"L{n}"
        board.apply(
            CallStarted(
                linkedid=lid,
                at=at,
                channel=f"PJSIP/trunk-{n}",
                uniqueid=lid,
                caller_number="+4411",
                caller_name=None,
                context="cb-inbound",
                exten="100",
                direction=Direction.INBOUND,
            )
        )
        board.apply(
            AgentOffered(
                agent_id=str(n % 10),
                linkedid=lid,
                queue="q",
                caller_number="+4411",
                card=None,
                at=at,
            )
        )
        board.apply(
            CallEnded(
                linkedid=lid,
                at=at,
                cause=16,
                cause_text="Normal Clearing",
                duration_s=1.0,
                talk_s=1.0,
                reason=EndReason.HANGUP,
            )
        )
        board.apply(
            AgentStateChanged(agent_id=str(n % 10), state=S.READY, previous=S.WRAP_UP, at=at)
        )
    assert board.calls == {}
