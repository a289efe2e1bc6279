"""Traces 01 (login), 12 (queues, UserEvent), 13 (FastAGI) and 14 (shutdown) through the tracker."""

from __future__ import annotations

import pytest

from ami_bridge.events import CallEnded
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import clock_at, compact_all, replay, trace


@pytest.mark.parametrize("prefix", ["01", "12"])
def test_no_call_no_call_events(prefix: str) -> None:
    """Security events, queue members and a UserEvent other than AMDResult are not calls."""
    for connection in trace(prefix).connections:
        tracker = CallTracker(clock_at(1795444000))
        assert replay(connection, tracker) == []
        assert tracker.call_count == 0


def test_fastagi_calls_report_the_callers_key_presses() -> None:
    tracker = CallTracker(clock_at(1795444000))
    events = replay(trace("13").connection("A"), tracker)
    assert compact_all(events) == [
        ("CallStarted", "1795445332.0", "inbound", "300@cb-agi-0;1", "5551234"),
        ("CallAnswered", "1795445332.0", "300@cb-agi-0;2"),
        ("DtmfReceived", "1795445332.0", "1"),
        ("DtmfReceived", "1795445332.0", "2"),
        ("DtmfReceived", "1795445332.0", "3"),
        ("DtmfReceived", "1795445332.0", "#"),
        ("CallStarted", "1795445350.2", "inbound", "301@cb-agi-1;1", "5552222"),
        ("CallAnswered", "1795445350.2", "301@cb-agi-1;2"),
        ("ChannelHungUp", "1795445350.2", "301@cb-agi-1;1", "16"),
    ]
    # the capture stops before the AGI channels hang up: nothing is invented
    assert set(tracker.calls) == {"1795445332.0", "1795445350.2"}
    assert tracker.caller_channel("1795445350.2") == "Local/301@cb-agi-00000001;2"


def test_shutdown_ends_the_call_with_the_q850_cause_not_the_softhangup_flag() -> None:
    """`core stop now`: SoftHangupRequest Cause 4 (AST_SOFTHANGUP_SHUTDOWN), Hangup Cause 0."""
    connections = trace("14").connections
    tracker = CallTracker(clock_at(1795444000))
    events = replay(connections[0], tracker)
    assert compact_all(events) == [
        ("CallStarted", "1795445383.0", "inbound", "100@cb-hold-0;1", "5551234"),
        ("CallAnswered", "1795445383.0", "100@cb-hold-0;2"),
        ("CallHeld", "1795445383.0", "music_on_hold", "100@cb-hold-0;2"),
        ("CallResumed", "1795445383.0", "music_on_hold", "100@cb-hold-0;2"),
        ("ChannelHungUp", "1795445383.0", "100@cb-hold-0;2", "0"),
        ("ChannelHungUp", "1795445383.0", "100@cb-hold-0;1", "0"),
        ("CallEnded", "1795445383.0", "0", "hangup"),
    ]
    ended = events[-1]
    assert isinstance(ended, CallEnded) and ended.cause_text == "Unknown"
    for connection in connections[1:]:  # graceful stop and restart while idle
        assert replay(connection, tracker) == []
