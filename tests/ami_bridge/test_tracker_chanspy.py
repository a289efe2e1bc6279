"""Trace 10: a supervisor listens, whispers and barges on an agent leg (ChanSpy)."""

from __future__ import annotations

import pytest

from ami_bridge.events import CallEvent
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import clock_at, compact_all, replay_parts, trace

L0 = "1795445210.0"
L1 = "1795445212.2"
L2 = "1795445214.5"
L3 = "1795445220.7"
L4 = "1795445226.9"

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
    ],
    "10.1": [
        ("LegStarted", L2, "leg", "sup1@cb-supervisor-2;1"),
        ("SpyStarted", L0, "sup1@cb-supervisor-2;1", "agent1@cb-agents-1;1"),
        ("SpyStopped", L0, "sup1@cb-supervisor-2;1", "agent1@cb-agents-1;1"),
        ("LegEnded", L2, "0", "hangup"),
    ],
    "10.2": [
        ("LegStarted", L3, "leg", "sup1@cb-supervisor-3;1"),
        ("SpyStarted", L0, "sup1@cb-supervisor-3;1", "agent1@cb-agents-1;1"),
        ("SpyStopped", L0, "sup1@cb-supervisor-3;1", "agent1@cb-agents-1;1"),
        ("LegEnded", L3, "0", "hangup"),
    ],
    "10.3": [
        ("LegStarted", L4, "leg", "sup1@cb-supervisor-4;1"),
        ("SpyStarted", L0, "sup1@cb-supervisor-4;1", "agent1@cb-agents-1;1"),
        ("SpyStopped", L0, "sup1@cb-supervisor-4;1", "agent1@cb-agents-1;1"),
        ("LegEnded", L4, "0", "hangup"),
        ("ChannelHungUp", L0, "100@cb-hold-0;1", "16"),
        ("CallUnbridged", L0, "100@cb-hold-0;2", "agent1@cb-agents-1;1"),
        ("ChannelHungUp", L0, "100@cb-hold-0;2", "16"),
        ("CallUnbridged", L0, "agent1@cb-agents-1;1"),
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
    return replay_parts(trace("10").connection("A"), tracker)


@pytest.mark.parametrize("part", list(EXPECTED))
def test_each_part_gives_the_whole_event_sequence(
    parts: dict[str, list[CallEvent]], part: str
) -> None:
    assert compact_all(parts[part]) == EXPECTED[part]
