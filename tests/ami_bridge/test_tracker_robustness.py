"""Wire input the tracker cannot trust: reordered, missing and garbled events never crash it,
never corrupt its state, and never produce a call event outside CallStarted ... CallEnded."""

from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ami_bridge.events import CallEnded, CallEvent, CallStarted, LegEnded, LegStarted
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import clock_at, trace

MESSAGES = {
    prefix: [m for c in trace(prefix).connections for m in c.received()]
    for prefix in ("02", "03", "07", "08", "09", "10", "11")
}
# CALLBOARD_FUZZ_EXAMPLES=5000 for a long hunt; the default keeps the suite fast.
EXAMPLES = int(os.environ.get("CALLBOARD_FUZZ_EXAMPLES", "40"))
SLOW = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_consistent(tracker: CallTracker) -> None:
    """White-box: every index agrees with the others."""
    for uniqueid, ch in tracker._channels.items():
        assert ch.uniqueid == uniqueid
        assert tracker._calls[ch.linkedid].channels[uniqueid] is ch
        if ch.bridge_id is not None:
            assert ch in tracker._bridges[ch.bridge_id]
    for linkedid, call in tracker._calls.items():
        assert call.linkedid == linkedid
        assert call.channels, f"empty call {linkedid} kept"
        assert all(tracker._channels[u] is ch for u, ch in call.channels.items())
    for name, ch in tracker._by_name.items():  # no stale entry (names may repeat in garbage)
        assert tracker._channels.get(ch.uniqueid) is ch and ch.name == name
    for bridge_id, members in tracker._bridges.items():
        assert all(m.bridge_id == bridge_id and m.uniqueid in tracker._channels for m in members)


def assert_well_formed(events: list[CallEvent]) -> None:
    """Per Linkedid: CallStarted, then its events, then CallEnded; again only after a restart.
    A Linkedid that is not a call (yet) has LegStarted, then LegEnded or CallStarted, and no
    call event in between."""
    live: set[str] = set()
    legs: set[str] = set()
    for event in events:
        if isinstance(event, LegStarted):
            assert event.linkedid not in legs | live, f"LegStarted inside {event.linkedid}"
            legs.add(event.linkedid)
            continue
        if isinstance(event, LegEnded):
            assert event.linkedid in legs, f"LegEnded without LegStarted {event.linkedid}"
            legs.discard(event.linkedid)
            continue
        if isinstance(event, CallStarted):
            assert event.linkedid not in live, f"second CallStarted for {event.linkedid}"
            legs.discard(event.linkedid)
            live.add(event.linkedid)
            continue
        assert event.linkedid in live, f"{type(event).__name__} outside its call"
        if isinstance(event, CallEnded):
            live.discard(event.linkedid)


def run(tracker: CallTracker, messages: list[dict]) -> list[CallEvent]:
    events: list[CallEvent] = []
    for message in messages:
        events.extend(tracker.feed(message))
        assert_consistent(tracker)
    return events


def test_every_trace_in_order_is_well_formed() -> None:
    for messages in MESSAGES.values():
        tracker = CallTracker(clock_at(1795444000))
        assert_well_formed(run(tracker, messages))


@SLOW
@given(st.sampled_from(sorted(MESSAGES)), st.randoms(use_true_random=False), st.floats(0, 0.5))
def test_dropped_events_never_break_the_tracker(
    prefix: str, rng: random.Random, loss: float
) -> None:
    kept = [m for m in MESSAGES[prefix] if rng.random() >= loss]
    tracker = CallTracker(clock_at(1795444000))
    events = run(tracker, kept)
    events += tracker.resync([])  # and the link-down cleanup closes whatever is left
    assert_well_formed(events)
    assert (tracker.call_count, tracker.channel_count) == (0, 0)


@SLOW
@given(st.sampled_from(sorted(MESSAGES)), st.randoms(use_true_random=False))
def test_reordered_events_never_break_the_tracker(prefix: str, rng: random.Random) -> None:
    messages = list(MESSAGES[prefix])
    for _ in range(len(messages) // 4):  # local disorder, as between interleaved channels
        i = rng.randrange(len(messages))
        j = min(len(messages) - 1, i + rng.randrange(1, 12))
        messages[i], messages[j] = messages[j], messages[i]
    tracker = CallTracker(clock_at(1795444000))
    assert_well_formed(run(tracker, messages))


_IDS = st.sampled_from(["1.0", "1.1", "2.0", "2.1", "dial-1-a", ""])
_TEXT = st.sampled_from(["", "0", "5", "6", "16", "x", "-1", "1795444938.6", "<unknown>", "nan"])
_FIELDS = {
    "Event": st.sampled_from(
        [
            "Newchannel",
            "Newexten",
            "VarSet",
            "NewCallerid",
            "Newstate",
            "HangupRequest",
            "Hangup",
            "BridgeEnter",
            "BridgeLeave",
            "BridgeDestroy",
            "MusicOnHoldStart",
            "MusicOnHoldStop",
            "Hold",
            "Unhold",
            "MixMonitorStart",
            "MixMonitorStop",
            "DTMFEnd",
            "UserEvent",
            "BlindTransfer",
            "AttendedTransfer",
            "ChanSpyStart",
            "ChanSpyStop",
            "Rename",
            "Cdr",
        ]
    ),
    "Channel": st.sampled_from(["Local/a;1", "Local/a;2", "PJSIP/x", ""]),
    "Uniqueid": _IDS,
    "Linkedid": _IDS,
    "ChannelState": _TEXT,
    "Timestamp": _TEXT,
    "Cause": _TEXT,
    "Priority": st.sampled_from(["1", "2"]),
    "Context": st.sampled_from(["cb-hold", "cb-xfer", ""]),
    "Application": st.sampled_from(["MusicOnHold", "Goto", "", "AppDial2"]),
    "BridgeUniqueid": st.sampled_from(["b1", "b2", ""]),
    "Variable": st.sampled_from(["AMDSTATUS", "AMDCAUSE", "MIXMONITOR_FILENAME", "X"]),
    "Value": _TEXT,
    "UserEvent": st.sampled_from(["AMDResult", "Other"]),
    "Result": st.sampled_from(["Success", "Fail"]),
    "TransfereeUniqueid": _IDS,
    "SpyeeUniqueid": _IDS,
    "Direction": st.sampled_from(["Received", "Sent"]),
    "DestType": st.sampled_from(["Bridge", "App", "Link", "Threeway", "Fail"]),
    "Newname": st.sampled_from(["Local/b;1", ""]),
}
_MESSAGE = st.fixed_dictionaries(
    {"Event": _FIELDS["Event"]}, optional={k: v for k, v in _FIELDS.items() if k != "Event"}
)


@settings(max_examples=EXAMPLES * 4, deadline=None)
@given(st.lists(_MESSAGE, max_size=60))
def test_garbled_events_never_raise(messages: list[dict]) -> None:
    tracker = CallTracker(clock_at(1795444000))
    events = run(tracker, messages)
    events += tracker.resync([])
    assert_well_formed(events)
    assert (tracker.call_count, tracker.channel_count) == (0, 0)


RESYNC_ITEMS = [
    m
    for m in trace("02").connection("B").received()
    if m.get("Event") in ("CoreShowChannel", "Status")
]


@SLOW
@given(st.integers(0, len(MESSAGES["02"])), st.randoms(use_true_random=False))
def test_a_resync_at_any_moment_with_any_lists_stays_consistent(
    cut: int, rng: random.Random
) -> None:
    tracker = CallTracker(clock_at(1795444931))
    events = run(tracker, MESSAGES["02"][:cut])
    tracker.snapshot_started()
    tracker.apply_snapshot(m for m in RESYNC_ITEMS if rng.random() < 0.7)
    events += tracker.snapshot_complete()
    assert_consistent(tracker)
    events += run(tracker, MESSAGES["02"][cut:])  # the live stream goes on afterwards
    assert_well_formed(events)
