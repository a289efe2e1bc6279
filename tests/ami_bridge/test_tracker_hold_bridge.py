"""Trace 03: a caller on music on hold, connected to agent1 by Originate Application=Bridge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ami_bridge.channels import ChannelState
from ami_bridge.events import CallEnded, CallEvent, CallStarted, Direction
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import clock_at, compact_all, replay_parts, trace

L0 = "1795444938.0"
L1 = "1795444941.2"

EXPECTED = {
    "": [
        ("CallStarted", L0, "inbound", "100@cb-hold-0;1", "5551234"),
        ("CallAnswered", L0, "100@cb-hold-0;2"),
        ("CallHeld", L0, "music_on_hold", "100@cb-hold-0;2"),
        ("LegStarted", L1, "leg", "agent1@cb-agents-1;1"),
        ("CallResumed", L0, "music_on_hold", "100@cb-hold-0;2"),
        ("CallBridged", L0, "100@cb-hold-0;2", "100@cb-hold-0;2"),
        ("ChannelJoined", L0, "agent1@cb-agents-1;1", L1),
        ("CallBridged", L0, "agent1@cb-agents-1;1", "100@cb-hold-0;2", "agent1@cb-agents-1;1"),
        ("ChannelHungUp", L0, "100@cb-hold-0;1", "16"),
        ("CallUnbridged", L0, "100@cb-hold-0;2", "agent1@cb-agents-1;1"),
        ("CallUnbridged", L0, "agent1@cb-agents-1;1"),
        ("ChannelHungUp", L0, "100@cb-hold-0;2", "16"),
        ("ChannelHungUp", L0, "agent1@cb-agents-1;1", "16"),
        ("CallEnded", L0, "16", "hangup"),
        ("LegEnded", L1, "16", "hangup"),
    ],
}


@pytest.fixture(scope="module")
def tracker() -> CallTracker:
    return CallTracker(clock_at(1795444000))


@pytest.fixture(scope="module")
def parts(tracker: CallTracker) -> dict[str, list[CallEvent]]:
    return replay_parts(trace("03").connection("A"), tracker)


def test_the_whole_event_sequence(parts: dict[str, list[CallEvent]]) -> None:
    assert list(parts) == [""]
    assert compact_all(parts[""]) == EXPECTED[""]


def test_times_come_from_the_pbx_timestamps(parts: dict[str, list[CallEvent]]) -> None:
    events = parts[""]
    assert all(event.at.tzinfo is UTC for event in events)
    started = next(e for e in events if isinstance(e, CallStarted) and e.linkedid == L0)
    ended = next(e for e in events if isinstance(e, CallEnded) and e.linkedid == L0)
    # CallStarted carries the Newchannel time of ;1 although it is emitted after the burst
    assert started.at == datetime.fromtimestamp(1795444938.607234, UTC)
    assert ended.at == datetime.fromtimestamp(1795444957.611090, UTC)
    assert ended.duration_s == pytest.approx(19.003856)
    # talk runs from the agent leg's BridgeEnter (second party) to the end
    assert ended.talk_s == pytest.approx(1795444957.611090 - 1795444943.634420)
    assert ended.cause_text == "Normal Clearing"


def test_nothing_is_left_once_every_channel_hung_up(
    tracker: CallTracker, parts: dict[str, list[CallEvent]]
) -> None:
    assert (tracker.call_count, tracker.channel_count) == (0, 0)
    assert tracker.calls == {}


def _feed_until(tracker: CallTracker, event: str, channel: str) -> None:
    for message in trace("03").connection("A").received():
        tracker.feed(message)
        if message.get("Event") == event and message.get("Channel") == channel:
            return
    raise AssertionError(f"{event} on {channel} not in trace 03")


def test_the_waiting_caller_is_the_channel_to_bridge() -> None:
    tracker = CallTracker(clock_at(1795444000))
    _feed_until(tracker, "MusicOnHoldStart", "Local/100@cb-hold-00000000;2")
    assert tracker.caller_channel(L0) == "Local/100@cb-hold-00000000;2"
    call = tracker.call(L0)
    assert call is not None
    assert (call.direction, call.answered) == (Direction.INBOUND, True)
    assert [c.name for c in call.channels] == [
        "Local/100@cb-hold-00000000;1",
        "Local/100@cb-hold-00000000;2",
    ]
    caller = tracker.channel("Local/100@cb-hold-00000000;2")
    assert caller is not None
    assert (caller.state, caller.application, caller.music_on_hold) == (
        ChannelState.UP,
        "MusicOnHold",
        True,
    )
    assert (caller.context, caller.exten, caller.originated) == ("cb-hold", "100", False)
    handset = tracker.channel("Local/100@cb-hold-00000000;1")
    assert handset is not None and handset.originated


def test_the_agent_leg_moves_to_the_callers_call_at_bridge_enter() -> None:
    tracker = CallTracker(clock_at(1795444000))
    _feed_until(tracker, "BridgeEnter", "Local/agent1@cb-agents-00000001;1")
    caller_call, agent_call = tracker.call(L0), tracker.call(L1)
    assert caller_call is not None and agent_call is not None
    assert [c.name for c in caller_call.channels][-1] == "Local/agent1@cb-agents-00000001;1"
    # the agent's phone (;2) keeps its own Linkedid (README behaviour 12)
    assert [c.name for c in agent_call.channels] == ["Local/agent1@cb-agents-00000001;2"]
    leg = tracker.channel("Local/agent1@cb-agents-00000001;1")
    caller = tracker.channel("Local/100@cb-hold-00000000;2")
    assert leg is not None and caller is not None
    assert leg.linkedid == L0
    assert leg.bridge_id == caller.bridge_id is not None
    assert not caller.music_on_hold
