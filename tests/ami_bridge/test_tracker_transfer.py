"""Trace 07: blind transfers (Redirect of one or both legs, the BlindTransfer action) and an
attended transfer (Atxfer, BridgeMerge, Local optimisation)."""

from __future__ import annotations

import pytest

from ami_bridge.events import CallEvent
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import clock_at, compact_all, replay_parts, trace

L0 = "1795445059.0"
L1 = "1795445060.2"
L2 = "1795445079.7"
L3 = "1795445080.9"
L4 = "1795445097.14"
L5 = "1795445099.16"
L6 = "1795445116.21"
L7 = "1795445117.23"

EXPECTED = {
    "7.1": [
        ("CallStarted", L0, "inbound", "100@cb-hold-0;1", "5551234"),
        ("CallAnswered", L0, "100@cb-hold-0;2"),
        ("CallHeld", L0, "music_on_hold", "100@cb-hold-0;2"),
        ("LegStarted", L1, "leg", "agent1@cb-agents-1;1"),
        ("CallResumed", L0, "music_on_hold", "100@cb-hold-0;2"),
        ("CallBridged", L0, "100@cb-hold-0;2", "100@cb-hold-0;2"),
        ("ChannelJoined", L0, "agent1@cb-agents-1;1", L1),
        ("CallBridged", L0, "agent1@cb-agents-1;1", "100@cb-hold-0;2", "agent1@cb-agents-1;1"),
        ("CallUnbridged", L0, "100@cb-hold-0;2", "agent1@cb-agents-1;1"),
        ("CallTransferred", L0, "redirect", "100@cb-hold-0;2", "cb-xfer,2002,1"),
        ("CallRinging", L0, "agent2@cb-agents-2;1"),
        ("CallUnbridged", L0, "agent1@cb-agents-1;1"),
        ("ChannelHungUp", L0, "agent1@cb-agents-1;1", "16"),
        ("LegEnded", L1, "16", "hangup"),
        ("CallBridged", L0, "agent2@cb-agents-2;1", "agent2@cb-agents-2;1"),
        ("CallBridged", L0, "100@cb-hold-0;2", "agent2@cb-agents-2;1", "100@cb-hold-0;2"),
        ("ChannelHungUp", L0, "100@cb-hold-0;1", "16"),
        ("CallUnbridged", L0, "100@cb-hold-0;2", "agent2@cb-agents-2;1"),
        ("CallUnbridged", L0, "agent2@cb-agents-2;1"),
        ("ChannelHungUp", L0, "100@cb-hold-0;2", "16"),
        ("ChannelHungUp", L0, "agent2@cb-agents-2;1", "16"),
        ("ChannelHungUp", L0, "agent2@cb-agents-2;2", "16"),
        ("CallEnded", L0, "16", "hangup"),
    ],
    "7.2": [
        ("CallStarted", L2, "inbound", "101@cb-hold-3;1", "5552222"),
        ("CallAnswered", L2, "101@cb-hold-3;2"),
        ("CallHeld", L2, "music_on_hold", "101@cb-hold-3;2"),
        ("LegStarted", L3, "leg", "agent1@cb-agents-4;1"),
        ("CallResumed", L2, "music_on_hold", "101@cb-hold-3;2"),
        ("CallBridged", L2, "101@cb-hold-3;2", "101@cb-hold-3;2"),
        ("ChannelJoined", L2, "agent1@cb-agents-4;1", L3),
        ("CallBridged", L2, "agent1@cb-agents-4;1", "101@cb-hold-3;2", "agent1@cb-agents-4;1"),
        ("CallUnbridged", L2, "101@cb-hold-3;2", "agent1@cb-agents-4;1"),
        ("CallTransferred", L2, "redirect", "101@cb-hold-3;2", "cb-xfer,2003,1"),
        ("CallUnbridged", L2, "agent1@cb-agents-4;1"),
        ("CallRinging", L2, "agent3@cb-agents-5;1"),
        ("ChannelHungUp", L2, "agent1@cb-agents-4;1", "16"),
        ("LegEnded", L3, "16", "hangup"),
        ("CallBridged", L2, "agent3@cb-agents-5;1", "agent3@cb-agents-5;1"),
        ("CallBridged", L2, "101@cb-hold-3;2", "agent3@cb-agents-5;1", "101@cb-hold-3;2"),
        ("ChannelHungUp", L2, "101@cb-hold-3;1", "16"),
        ("CallUnbridged", L2, "101@cb-hold-3;2", "agent3@cb-agents-5;1"),
        ("CallUnbridged", L2, "agent3@cb-agents-5;1"),
        ("ChannelHungUp", L2, "agent3@cb-agents-5;1", "16"),
        ("ChannelHungUp", L2, "agent3@cb-agents-5;2", "16"),
        ("ChannelHungUp", L2, "101@cb-hold-3;2", "16"),
        ("CallEnded", L2, "16", "hangup"),
    ],
    "7.3": [
        ("CallStarted", L4, "inbound", "102@cb-hold-6;1", "5553333"),
        ("CallAnswered", L4, "102@cb-hold-6;2"),
        ("CallHeld", L4, "music_on_hold", "102@cb-hold-6;2"),
        ("LegStarted", L5, "leg", "agent1@cb-agents-7;1"),
        ("CallResumed", L4, "music_on_hold", "102@cb-hold-6;2"),
        ("CallBridged", L4, "102@cb-hold-6;2", "102@cb-hold-6;2"),
        ("ChannelJoined", L4, "agent1@cb-agents-7;1", L5),
        ("CallBridged", L4, "agent1@cb-agents-7;1", "102@cb-hold-6;2", "agent1@cb-agents-7;1"),
        ("CallTransferred", L4, "blind", "102@cb-hold-6;2", "cb-xfer,2002"),
        ("CallUnbridged", L4, "agent1@cb-agents-7;1", "102@cb-hold-6;2"),
        ("ChannelHungUp", L4, "agent1@cb-agents-7;1", "16"),
        ("CallUnbridged", L4, "102@cb-hold-6;2"),
        ("LegEnded", L5, "16", "hangup"),
        ("CallRinging", L4, "agent2@cb-agents-8;1"),
        ("CallBridged", L4, "agent2@cb-agents-8;1", "agent2@cb-agents-8;1"),
        ("CallBridged", L4, "102@cb-hold-6;2", "agent2@cb-agents-8;1", "102@cb-hold-6;2"),
        ("ChannelHungUp", L4, "102@cb-hold-6;1", "16"),
        ("CallUnbridged", L4, "102@cb-hold-6;2", "agent2@cb-agents-8;1"),
        ("CallUnbridged", L4, "agent2@cb-agents-8;1"),
        ("ChannelHungUp", L4, "agent2@cb-agents-8;1", "16"),
        ("ChannelHungUp", L4, "agent2@cb-agents-8;2", "16"),
        ("ChannelHungUp", L4, "102@cb-hold-6;2", "16"),
        ("CallEnded", L4, "16", "hangup"),
    ],
    "7.4": [
        ("CallStarted", L6, "inbound", "103@cb-hold-9;1", "5554444"),
        ("CallAnswered", L6, "103@cb-hold-9;2"),
        ("CallHeld", L6, "music_on_hold", "103@cb-hold-9;2"),
        ("LegStarted", L7, "leg", "agent1@cb-agents-a;1"),
        ("CallResumed", L6, "music_on_hold", "103@cb-hold-9;2"),
        ("CallBridged", L6, "103@cb-hold-9;2", "103@cb-hold-9;2"),
        ("ChannelJoined", L6, "agent1@cb-agents-a;1", L7),
        ("CallBridged", L6, "agent1@cb-agents-a;1", "103@cb-hold-9;2", "agent1@cb-agents-a;1"),
        ("DtmfReceived", L6, "*"),
        ("DtmfReceived", L6, "2"),
        ("CallHeld", L6, "hold", "agent1@cb-agents-a;1"),
        ("CallHeld", L6, "music_on_hold", "103@cb-hold-9;2"),
        ("DtmfReceived", L6, "2"),
        ("DtmfReceived", L6, "0"),
        ("DtmfReceived", L6, "0"),
        ("DtmfReceived", L6, "2"),
        ("CallBridged", L6, "2002@cb-xfer-b;1", "2002@cb-xfer-b;1"),
        ("CallUnbridged", L6, "agent1@cb-agents-a;1", "103@cb-hold-9;2"),
        ("CallBridged", L6, "agent1@cb-agents-a;1", "2002@cb-xfer-b;1", "agent1@cb-agents-a;1"),
        ("CallRinging", L6, "agent2@cb-agents-c;1"),
        ("CallRinging", L6, "2002@cb-xfer-b;1"),
        ("CallBridged", L6, "agent2@cb-agents-c;1", "agent2@cb-agents-c;1"),
        ("CallBridged", L6, "2002@cb-xfer-b;2", "agent2@cb-agents-c;1", "2002@cb-xfer-b;2"),
        ("LegEnded", L7, "0", "hangup"),
        ("CallUnbridged", L6, "agent1@cb-agents-a;1", "2002@cb-xfer-b;1"),
        ("CallUnbridged", L6, "2002@cb-xfer-b;1"),
        ("CallBridged", L6, "2002@cb-xfer-b;1", "103@cb-hold-9;2", "2002@cb-xfer-b;1"),
        ("CallResumed", L6, "music_on_hold", "103@cb-hold-9;2"),
        ("CallTransferred", L6, "attended", "103@cb-hold-9;2", "agent2@cb-agents-c;1"),
        ("ChannelHungUp", L6, "agent1@cb-agents-a;1", "16"),
        ("CallUnbridged", L6, "103@cb-hold-9;2", "2002@cb-xfer-b;1"),
        ("CallUnbridged", L6, "2002@cb-xfer-b;2", "agent2@cb-agents-c;1"),
        ("CallBridged", L6, "103@cb-hold-9;2", "agent2@cb-agents-c;1", "103@cb-hold-9;2"),
        ("CallUnbridged", L6, "2002@cb-xfer-b;1"),
        ("ChannelHungUp", L6, "2002@cb-xfer-b;1", "16"),
        ("ChannelHungUp", L6, "2002@cb-xfer-b;2", "16"),
        ("ChannelHungUp", L6, "103@cb-hold-9;1", "16"),
        ("CallUnbridged", L6, "103@cb-hold-9;2", "agent2@cb-agents-c;1"),
        ("ChannelHungUp", L6, "103@cb-hold-9;2", "16"),
        ("CallUnbridged", L6, "agent2@cb-agents-c;1"),
        ("ChannelHungUp", L6, "agent2@cb-agents-c;1", "16"),
        ("ChannelHungUp", L6, "agent2@cb-agents-c;2", "16"),
        ("CallEnded", L6, "16", "hangup"),
    ],
}


@pytest.fixture(scope="module")
def tracker() -> CallTracker:
    return CallTracker(clock_at(1795444000))


@pytest.fixture(scope="module")
def parts(tracker: CallTracker) -> dict[str, list[CallEvent]]:
    return replay_parts(trace("07").connection("A"), tracker)


@pytest.mark.parametrize("part", list(EXPECTED))
def test_each_part_gives_the_whole_event_sequence(
    parts: dict[str, list[CallEvent]], part: str
) -> None:
    assert compact_all(parts[part]) == EXPECTED[part]
