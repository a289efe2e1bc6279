"""Trace 06: holding callers redirected (to voicemail; to an IVR, with a key press) and one
hung up by the application with Cause 21."""

from __future__ import annotations

import pytest

from ami_bridge.events import CallEvent
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import clock_at, compact_all, replay_parts, trace

L0 = "1795445028.0"
L1 = "1795445042.2"
L2 = "1795445050.4"

EXPECTED = {
    "1-2": [
        ("CallStarted", L0, "inbound", "100@cb-hold-0;1", "5551234"),
        ("CallAnswered", L0, "100@cb-hold-0;2"),
        ("CallHeld", L0, "music_on_hold", "100@cb-hold-0;2"),
        ("CallResumed", L0, "music_on_hold", "100@cb-hold-0;2"),
        ("CallTransferred", L0, "redirect", "100@cb-hold-0;2", "cb-voicemail,100,1"),
        ("ChannelHungUp", L0, "100@cb-hold-0;2", "16"),
        ("ChannelHungUp", L0, "100@cb-hold-0;1", "16"),
        ("CallEnded", L0, "16", "hangup"),
    ],
    "3": [
        ("CallStarted", L1, "inbound", "101@cb-hold-1;1", "5552222"),
        ("CallAnswered", L1, "101@cb-hold-1;2"),
        ("CallHeld", L1, "music_on_hold", "101@cb-hold-1;2"),
        ("CallResumed", L1, "music_on_hold", "101@cb-hold-1;2"),
        ("CallTransferred", L1, "redirect", "101@cb-hold-1;2", "cb-ivr,s,1"),
        ("DtmfReceived", L1, "1"),
        ("ChannelHungUp", L1, "101@cb-hold-1;2", "16"),
        ("ChannelHungUp", L1, "101@cb-hold-1;1", "16"),
        ("CallEnded", L1, "16", "hangup"),
    ],
    "4": [
        ("CallStarted", L2, "inbound", "102@cb-hold-2;1", "5553333"),
        ("CallAnswered", L2, "102@cb-hold-2;2"),
        ("CallHeld", L2, "music_on_hold", "102@cb-hold-2;2"),
        ("CallResumed", L2, "music_on_hold", "102@cb-hold-2;2"),
        ("ChannelHungUp", L2, "102@cb-hold-2;2", "21"),
        ("ChannelHungUp", L2, "102@cb-hold-2;1", "21"),
        ("CallEnded", L2, "21", "hangup"),
    ],
    "5": [],
}


@pytest.fixture(scope="module")
def tracker() -> CallTracker:
    return CallTracker(clock_at(1795444000))


@pytest.fixture(scope="module")
def parts(tracker: CallTracker) -> dict[str, list[CallEvent]]:
    return replay_parts(trace("06").connection("A"), tracker)


@pytest.mark.parametrize("part", list(EXPECTED))
def test_each_part_gives_the_whole_event_sequence(
    parts: dict[str, list[CallEvent]], part: str
) -> None:
    assert compact_all(parts[part]) == EXPECTED[part]
