"""Trace 09: MixMonitor started, stopped, restarted; the second one ends silently at hangup.

Asterisk sends no MixMonitorStop then, so the tracker reports the stop itself.
"""

from __future__ import annotations

import pytest

from ami_bridge.events import CallEvent
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import clock_at, compact_all, replay_parts, trace

L0 = "1795445591.0"
L1 = "1795445592.2"

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
        ("RecordingStarted", L0, "100@cb-hold-0;2", "cb09-20261123-145310-part1.wav", ""),
        ("RecordingStopped", L0, "100@cb-hold-0;2", "cb09-20261123-145310-part1.wav", "stopped"),
        ("RecordingStarted", L0, "100@cb-hold-0;2", "cb09-20261123-145310-part2.wav", ""),
        ("ChannelHungUp", L0, "100@cb-hold-0;1", "16"),
        ("CallUnbridged", L0, "100@cb-hold-0;2", "agent1@cb-agents-1;1"),
        ("CallUnbridged", L0, "agent1@cb-agents-1;1"),
        ("ChannelHungUp", L0, "agent1@cb-agents-1;1", "16"),
        ("RecordingStopped", L0, "100@cb-hold-0;2", "cb09-20261123-145310-part2.wav", "hangup"),
        ("ChannelHungUp", L0, "100@cb-hold-0;2", "16"),
        ("CallEnded", L0, "16", "hangup"),
        ("LegEnded", L1, "16", "hangup"),
    ],
}


@pytest.fixture(scope="module")
def tracker() -> CallTracker:
    return CallTracker(clock_at(1795444000))


@pytest.fixture(scope="module")
def parts(tracker: CallTracker) -> dict[str, list[CallEvent]]:
    return replay_parts(trace("09").connection("A"), tracker)


def test_the_whole_event_sequence(parts: dict[str, list[CallEvent]]) -> None:
    assert list(parts) == [""]
    assert compact_all(parts[""]) == EXPECTED[""]
