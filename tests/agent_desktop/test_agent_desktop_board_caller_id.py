"""The live board shows a caller's new number when the PBX changes it (CallerIdChanged)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from agent_desktop.board import PANEL, LiveBoard, agent_topic
from ami_bridge.events import CallerIdChanged, CallStarted, Direction
from routing.events import AgentOffered

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _changed(number: str, previous: str) -> CallerIdChanged:
    return CallerIdChanged(
        linkedid="L1",
        at=T0,
        channel="Local/100@cb-inbound-00000000;2",
        caller_number=number,
        caller_name=None,
        previous_number=previous,
    )


def test_the_offered_call_and_the_agent_grid_show_the_new_number() -> None:
    board = LiveBoard(ZoneInfo("Europe/London"))
    board.apply(
        AgentOffered(
            agent_id="7", linkedid="L1", queue="q", caller_number="5551234", card=None, at=T0
        )
    )
    assert board.agent("7").party == "5551234"  # no card: the party is shown by number
    pushes = board.apply(_changed("+15551234", "5551234"))
    assert [topic for topic, _ in pushes] == [agent_topic("7"), PANEL]
    assert pushes[0][1]["call"]["caller_number"] == "+15551234"
    assert pushes[1][1]["agent"]["party"] == "+15551234"
    assert board.desk_snapshot("7")["call"]["caller_number"] == "+15551234"


def test_a_waiting_call_takes_the_new_number_quietly_and_a_named_party_stays() -> None:
    board = LiveBoard(ZoneInfo("Europe/London"))
    board.apply(
        CallStarted(
            linkedid="L1",
            at=T0,
            channel="Local/100@cb-inbound-00000000;1",
            uniqueid="L1",
            caller_number="5551234",
            caller_name=None,
            context="cb-inbound",
            exten="100",
            direction=Direction.INBOUND,
        )
    )
    assert board.apply(_changed("+15551234", "5551234")) == []  # nobody's desk has it yet
    assert board.calls["L1"].caller_number == "+15551234"
    board.apply(
        AgentOffered(
            agent_id="7",
            linkedid="L1",
            queue="q",
            caller_number="+15551234",
            card={"contact_id": 5, "name": "Ann"},
            at=T0,
        )
    )
    pushes = board.apply(_changed("+15550000", "+15551234"))
    assert [topic for topic, _ in pushes] == [agent_topic("7")]  # "Ann" stays on the grid
    assert board.agent("7").party == "Ann"
