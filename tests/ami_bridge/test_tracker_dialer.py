"""Trace 11: dialer Originates with AMD: human, machine, silence and every failure outcome."""

from __future__ import annotations

import pytest

from ami_bridge.events import CallEvent
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import clock_at, compact_all, replay_parts, trace

L0 = "dial-1-a"
L1 = "dial-2-a"
L2 = "dial-3-a"
L3 = "dial-4-a"
L4 = "dial-5-a"
L5 = "dial-6-a"
L6 = "dial-7-a"
L7 = "dial-8-a"
L8 = "dial-9-a"
L9 = "dial-10-a"
L10 = "dial-11-a"

EXPECTED = {
    "11.1": [
        ("LegStarted", L0, "dialed", "5551234@pstn-sim-0;1"),
        ("CallStarted", L0, "outbound", "5551234@pstn-sim-0;1", "5550000"),
        ("CallAnswered", L0, "5551234@pstn-sim-0;2"),
        ("AmdResult", L0, "HUMAN", "HUMAN-801-800"),
        ("CallHeld", L0, "music_on_hold", "5551234@pstn-sim-0;1"),
        ("ChannelHungUp", L0, "5551234@pstn-sim-0;2", "16"),
        ("CallResumed", L0, "music_on_hold", "5551234@pstn-sim-0;1"),
        ("ChannelHungUp", L0, "5551234@pstn-sim-0;1", "16"),
        ("CallEnded", L0, "16", "hangup"),
    ],
    "11.2": [
        ("LegStarted", L1, "dialed", "5550777@pstn-sim-1;1"),
        ("CallStarted", L1, "outbound", "5550777@pstn-sim-1;1", "5550000"),
        ("CallAnswered", L1, "5550777@pstn-sim-1;2"),
        ("AmdResult", L1, "MACHINE", "LONGGREETING-1500-1500"),
        ("ChannelHungUp", L1, "5550777@pstn-sim-1;1", "16"),
        ("ChannelHungUp", L1, "5550777@pstn-sim-1;2", "16"),
        ("CallEnded", L1, "16", "hangup"),
    ],
    "11.3": [
        ("LegStarted", L2, "dialed", "5550666@pstn-sim-2;1"),
        ("CallStarted", L2, "outbound", "5550666@pstn-sim-2;1", "5550000"),
        ("CallAnswered", L2, "5550666@pstn-sim-2;2"),
        ("AmdResult", L2, "MACHINE", "INITIALSILENCE-2500-2500"),
        ("ChannelHungUp", L2, "5550666@pstn-sim-2;1", "16"),
        ("ChannelHungUp", L2, "5550666@pstn-sim-2;2", "16"),
        ("CallEnded", L2, "16", "hangup"),
    ],
    "11.4": [
        ("LegStarted", L3, "dialed", "5550486@pstn-sim-3;1"),
        ("LegEnded", L3, "17", "hangup"),
    ],
    "11.5": [
        ("LegStarted", L4, "dialed", "5550408@pstn-sim-4;1"),
        ("LegEnded", L4, "19", "hangup"),
    ],
    "11.6": [
        ("LegStarted", L5, "dialed", "5550503@pstn-sim-5;1"),
        ("LegEnded", L5, "34", "hangup"),
    ],
    "11.7": [
        ("LegStarted", L6, "dialed", "5550404@pstn-sim-6;1"),
        ("LegEnded", L6, "21", "hangup"),
    ],
    "11.8": [
        ("LegStarted", L7, "dialed", "5550405@pstn-sim-7;1"),
        ("LegEnded", L7, "21", "hangup"),
    ],
    "11.9": [
        ("LegStarted", L8, "dialed", "5551234@no-such-context-8;1"),
        ("LegEnded", L8, "0", "hangup"),
    ],
    "11.10": [
        ("LegStarted", L9, "dialed", "5550486@pstn-sim-9;1"),
        ("LegEnded", L9, "17", "hangup"),
    ],
    "11.11": [
        ("LegStarted", L10, "dialed", "5551234@pstn-sim-a;1"),
        ("CallStarted", L10, "outbound", "5551234@pstn-sim-a;1", "5550000"),
        ("CallAnswered", L10, "5551234@pstn-sim-a;2"),
        ("AmdResult", L10, "HUMAN", "HUMAN-801-800"),
        ("CallHeld", L10, "music_on_hold", "5551234@pstn-sim-a;1"),
        ("ChannelHungUp", L10, "5551234@pstn-sim-a;2", "16"),
        ("CallResumed", L10, "music_on_hold", "5551234@pstn-sim-a;1"),
        ("ChannelHungUp", L10, "5551234@pstn-sim-a;1", "16"),
        ("CallEnded", L10, "16", "hangup"),
    ],
}


@pytest.fixture(scope="module")
def tracker() -> CallTracker:
    return CallTracker(clock_at(1795444000))


@pytest.fixture(scope="module")
def parts(tracker: CallTracker) -> dict[str, list[CallEvent]]:
    return replay_parts(trace("11").connection("A"), tracker)


@pytest.mark.parametrize("part", list(EXPECTED))
def test_each_part_gives_the_whole_event_sequence(
    parts: dict[str, list[CallEvent]], part: str
) -> None:
    assert compact_all(parts[part]) == EXPECTED[part]
