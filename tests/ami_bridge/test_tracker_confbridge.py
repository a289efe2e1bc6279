"""Trace 08: a nailed-up agent in ConfBridge; two callers redirected in one after the other."""

from __future__ import annotations

import pytest

from ami_bridge.events import CallEvent
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import clock_at, compact_all, replay_parts, trace

L0 = "1795445149.0"
L1 = "1795445152.4"
L2 = "1795445166.6"

EXPECTED = {
    "1": [
        ("LegStarted", L0, "leg", "agent1@cb-agent-phone-0;1"),
    ],
    "caller 100": [
        ("CallStarted", L1, "inbound", "100@cb-hold-2;1", "5551234"),
        ("CallAnswered", L1, "100@cb-hold-2;2"),
        ("CallHeld", L1, "music_on_hold", "100@cb-hold-2;2"),
        ("CallResumed", L1, "music_on_hold", "100@cb-hold-2;2"),
        ("CallTransferred", L1, "redirect", "100@cb-hold-2;2", "cb-conf,agent1,1"),
        ("CallBridged", L1, "100@cb-hold-2;2", "agent1@cb-agent-phone-0;1", "100@cb-hold-2;2"),
        ("ChannelHungUp", L1, "100@cb-hold-2;1", "16"),
        ("CallUnbridged", L1, "100@cb-hold-2;2", "agent1@cb-agent-phone-0;1"),
        ("ChannelHungUp", L1, "100@cb-hold-2;2", "16"),
        ("CallEnded", L1, "16", "hangup"),
    ],
    "caller 101": [
        ("CallStarted", L2, "inbound", "101@cb-hold-3;1", "5552222"),
        ("CallAnswered", L2, "101@cb-hold-3;2"),
        ("CallHeld", L2, "music_on_hold", "101@cb-hold-3;2"),
        ("CallResumed", L2, "music_on_hold", "101@cb-hold-3;2"),
        ("CallTransferred", L2, "redirect", "101@cb-hold-3;2", "cb-conf,agent1,1"),
        ("CallBridged", L2, "101@cb-hold-3;2", "agent1@cb-agent-phone-0;1", "101@cb-hold-3;2"),
        ("CallUnbridged", L2, "101@cb-hold-3;2", "agent1@cb-agent-phone-0;1"),
        ("ChannelHungUp", L2, "101@cb-hold-3;2", "16"),
        ("ChannelHungUp", L2, "101@cb-hold-3;1", "16"),
        ("CallEnded", L2, "16", "hangup"),
    ],
    "4": [],
    "5": [
        ("LegEnded", L0, "16", "hangup"),
    ],
}


@pytest.fixture(scope="module")
def tracker() -> CallTracker:
    return CallTracker(clock_at(1795444000))


@pytest.fixture(scope="module")
def parts(tracker: CallTracker) -> dict[str, list[CallEvent]]:
    return replay_parts(trace("08").connection("A"), tracker)


@pytest.mark.parametrize("part", list(EXPECTED))
def test_each_part_gives_the_whole_event_sequence(
    parts: dict[str, list[CallEvent]], part: str
) -> None:
    assert compact_all(parts[part]) == EXPECTED[part]
