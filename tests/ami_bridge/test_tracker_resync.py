"""Resync after a reconnect (trace 02: CoreShowChannels and Status lists on connection B), and a
tracker that starts in the middle of calls."""

from __future__ import annotations

import pytest

from ami_bridge.events import CallEnded, EndReason, LegEnded
from ami_bridge.frames import Message
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import clock_at, compact_all, trace

CALL1 = "1795444922.0"  # Alice, bridged to agent1
AGENT = "1795444923.2"  # agent1's own call: keeps the phone (;2) after its leg joined CALL1
CALL2 = "1795444925.5"  # Bob, waiting in Queue(sales), recorded by MixMonitor
RECONNECTED_AT = 1795444931.0  # connection B logs in about 11 s after call 1 began


def _connection(name: str) -> list[Message]:
    return trace("02").connection(name).received()


def _list_items(kind: str | None = None) -> list[Message]:
    return [
        m
        for m in _connection("B")
        if m.get("Event") in ("CoreShowChannel", "Status") and kind in (None, m.get("Event"))
    ]


def _tracker_after_connection_a() -> CallTracker:
    tracker = CallTracker(clock_at(RECONNECTED_AT))
    for message in _connection("A"):
        tracker.feed(message)
    return tracker


def test_connection_b_replays_no_call_events() -> None:
    tracker = _tracker_after_connection_a()
    assert all(tracker.feed(m) == [] for m in _connection("B"))  # list items are not events


def test_nothing_changed_while_down_gives_no_events() -> None:
    tracker = _tracker_after_connection_a()
    before = tracker.calls
    assert tracker.resync(_list_items()) == []
    assert tracker.calls == before
    # calls only: the agent phone's own Linkedid is a leg, not a call (nor counted as one)
    assert set(before) == {CALL1, CALL2} and tracker.call_count == 2
    assert set(tracker.linkedids) == {CALL1, AGENT, CALL2}


@pytest.mark.parametrize("kind", ["CoreShowChannel", "Status"])
def test_a_fresh_tracker_adopts_every_live_call(kind: str) -> None:
    tracker = CallTracker(clock_at(RECONNECTED_AT))
    events = tracker.resync(_list_items(kind))
    assert compact_all(events) == [
        ("CallStarted", CALL1, "inbound", "100@cb-hold-0;1", "5551234"),
        ("CallAnswered", CALL1, "100@cb-hold-0;1"),
        ("CallStarted", CALL2, "inbound", "200@incoming-direct-2;1", "5559876"),
        ("CallAnswered", CALL2, "200@incoming-direct-2;1"),
        # the agent phone's own Linkedid (agent ;2) is Callboard's leg, not a call
        ("CallBridged", CALL1, "100@cb-hold-0;2", "100@cb-hold-0;2"),
        ("CallBridged", CALL1, "agent1@cb-agents-1;1", "100@cb-hold-0;2", "agent1@cb-agents-1;1"),
    ]
    # the start time is the PBX's own age of the oldest channel, not the reconnect time
    assert events[0].at.timestamp() == pytest.approx(RECONNECTED_AT - 8)
    assert tracker.caller_channel(CALL1) == "Local/100@cb-hold-00000000;2"
    leg = tracker.channel("Local/agent1@cb-agents-00000001;1")
    assert leg is not None and leg.linkedid == CALL1
    assert leg.bridge_id == "ee6ad427-43bb-4de2-8fd4-7e7b9671666b"  # BridgeId / BridgeID


def test_calls_missing_from_the_lists_ended_while_the_link_was_down() -> None:
    tracker = _tracker_after_connection_a()
    still_up = [m for m in _list_items() if not m["Channel"].startswith("Local/200@")]
    events = tracker.resync(still_up)
    assert compact_all(events) == [
        ("ChannelHungUp", CALL2, "200@incoming-direct-2;1", "0"),
        (
            "RecordingStopped",
            CALL2,
            "200@incoming-direct-2;2",
            "in-20261123-144205-1795444925.6.wav",
            "hangup",
        ),
        ("ChannelHungUp", CALL2, "200@incoming-direct-2;2", "0"),
        ("CallEnded", CALL2, "0", "ended while AMI link was down"),
    ]
    ended = events[-1]
    assert isinstance(ended, CallEnded) and ended.reason is EndReason.LINK_DOWN
    assert ended.at.timestamp() == pytest.approx(RECONNECTED_AT)
    assert set(tracker.calls) == {CALL1}
    assert set(tracker.linkedids) == {CALL1, AGENT}


def test_an_empty_list_closes_every_call() -> None:
    tracker = _tracker_after_connection_a()
    events = tracker.resync([])
    ended = [e for e in events if isinstance(e, CallEnded)]
    assert sorted(e.linkedid for e in ended) == sorted([CALL1, CALL2])
    assert {e.reason for e in ended} == {EndReason.LINK_DOWN}
    legs = [e for e in events if isinstance(e, LegEnded)]
    assert [(e.linkedid, e.reason) for e in legs] == [(AGENT, EndReason.LINK_DOWN)]
    assert (tracker.call_count, tracker.channel_count) == (0, 0)


def test_channels_created_while_the_lists_were_in_flight_survive() -> None:
    messages = _connection("A")
    first_of_call2 = next(
        i
        for i, m in enumerate(messages)
        if m.get("Linkedid") == CALL2 and m["Event"] == "Newchannel"
    )
    tracker = CallTracker(clock_at(RECONNECTED_AT))
    for message in messages[:first_of_call2]:
        tracker.feed(message)
    tracker.snapshot_started()
    for message in messages[first_of_call2:]:  # live events keep flowing during the resync
        tracker.feed(message)
    # the lists were produced before call 2 existed
    tracker.apply_snapshot(m for m in _list_items() if not m["Channel"].startswith("Local/200@"))
    assert tracker.snapshot_complete() == []
    assert set(tracker.calls) == {CALL1, CALL2}
    assert set(tracker.linkedids) == {CALL1, AGENT, CALL2}


def test_snapshot_steps_out_of_order_are_refused() -> None:
    tracker = CallTracker(clock_at(RECONNECTED_AT))
    with pytest.raises(RuntimeError, match="expected snapshot_started"):
        tracker.apply_snapshot([])
    with pytest.raises(RuntimeError, match="expected snapshot_started"):
        tracker.snapshot_complete()


def test_a_tracker_started_mid_call_adopts_what_it_sees() -> None:
    """Started after the bridge of trace 03: no Newchannel was seen for anyone."""
    messages = trace("03").connection("A").received()
    start = next(
        i
        for i, m in enumerate(messages)
        if m.get("Event") == "VarSet" and m.get("Variable") == "PLAYBACKSTATUS"
    )
    tracker = CallTracker(clock_at(1795444000))
    events = [e for m in messages[start:] for e in tracker.feed(m)]
    assert compact_all(events) == [
        ("LegStarted", "1795444941.2", "leg", "agent1@cb-agents-1;2"),
        ("CallStarted", "1795444938.0", "inbound", "100@cb-hold-0;1", "5551234"),
        ("ChannelHungUp", "1795444938.0", "100@cb-hold-0;1", "16"),
        ("CallEnded", "1795444938.0", "16", "hangup"),
        ("LegEnded", "1795444941.2", "16", "hangup"),
    ]


def test_a_caller_found_on_music_on_hold_is_reported_waiting() -> None:
    """Call 1 as it was before agent1 connected: ;2 in MusicOnHold, not bridged."""
    items = [dict(m) for m in _list_items("CoreShowChannel") if m["Linkedid"] == CALL1]
    items = [m for m in items if "agent1" not in m["Channel"]]
    caller = next(m for m in items if m["Channel"].endswith(";2"))
    caller.update(Application="MusicOnHold", ApplicationData="default", BridgeId="")
    tracker = CallTracker(clock_at(RECONNECTED_AT))
    assert compact_all(tracker.resync(items)) == [
        ("CallStarted", CALL1, "inbound", "100@cb-hold-0;1", "5551234"),
        ("CallAnswered", CALL1, "100@cb-hold-0;1"),
        ("CallHeld", CALL1, "music_on_hold", "100@cb-hold-0;2"),
    ]
    assert tracker.caller_channel(CALL1) == "Local/100@cb-hold-00000000;2"
