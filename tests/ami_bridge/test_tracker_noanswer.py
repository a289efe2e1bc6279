"""Trace 04: an agent who never answers (Originate timeout), then agent2 answers."""

from __future__ import annotations

import pytest

from ami_bridge.events import CallEvent
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import clock_at, compact_all, replay_parts, trace

L0 = "1795444965.0"
L1 = "1795444967.2"
L2 = "1795444978.4"

EXPECTED = {
    "": [
        ("CallStarted", L0, "inbound", "100@cb-hold-0;1", "5551234"),
        ("CallAnswered", L0, "100@cb-hold-0;2"),
        ("CallHeld", L0, "music_on_hold", "100@cb-hold-0;2"),
        ("LegStarted", L1, "leg", "noanswer1@cb-agents-1;1"),
        ("LegEnded", L1, "19", "hangup"),
        ("LegStarted", L2, "leg", "agent2@cb-agents-2;1"),
        ("CallResumed", L0, "music_on_hold", "100@cb-hold-0;2"),
        ("CallBridged", L0, "100@cb-hold-0;2", "100@cb-hold-0;2"),
        ("ChannelJoined", L0, "agent2@cb-agents-2;1", L2),
        ("CallBridged", L0, "agent2@cb-agents-2;1", "100@cb-hold-0;2", "agent2@cb-agents-2;1"),
        ("ChannelHungUp", L0, "100@cb-hold-0;1", "16"),
        ("CallUnbridged", L0, "100@cb-hold-0;2", "agent2@cb-agents-2;1"),
        ("ChannelHungUp", L0, "100@cb-hold-0;2", "16"),
        ("CallUnbridged", L0, "agent2@cb-agents-2;1"),
        ("ChannelHungUp", L0, "agent2@cb-agents-2;1", "16"),
        ("CallEnded", L0, "16", "hangup"),
        ("LegEnded", L2, "16", "hangup"),
    ],
}


@pytest.fixture(scope="module")
def tracker() -> CallTracker:
    return CallTracker(clock_at(1795444000))


@pytest.fixture(scope="module")
def parts(tracker: CallTracker) -> dict[str, list[CallEvent]]:
    return replay_parts(trace("04").connection("A"), tracker)


def test_the_whole_event_sequence(parts: dict[str, list[CallEvent]]) -> None:
    assert list(parts) == [""]
    assert compact_all(parts[""]) == EXPECTED[""]
