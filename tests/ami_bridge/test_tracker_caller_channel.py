"""The debtor's own channel of a call (`caller_channel`: what an agent is bridged to, what is
recorded), in the shapes the dialer and inbound calls take: the customer leg of a dialer call is
the Originate's channel (`PJSIP/trunk-…`, or the `;1` of `Local/<number>@pstn-sim`, trace 11),
never the `;2` that only simulates the far end; an inbound Local caller is its `;2`."""

from __future__ import annotations

from ami_bridge.events import AmdResult, CallHeld
from ami_bridge.frames import FrameParser
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.test_tracker_pjsip import T0, channel_event
from tests.ami_bridge.tracker_replay import clock_at, trace

HUMAN = "dial-1-a"  # 11.1: answered by a person
CUSTOMER_LEG = "Local/5551234@pstn-sim-00000000;1"


def test_a_dialer_calls_customer_leg_is_the_local_1_from_the_answer_on() -> None:
    """Trace 11.1: from the answer (AMD runs on ;1, then it waits on music on hold) to the far
    end's hangup, the caller channel is the customer leg ;1, never the simulated far end ;2."""
    tracker = CallTracker(clock_at(1795444000))
    parser = FrameParser()
    seen: list[str | None] = []
    amd_at = held_at = -1
    for message in parser.feed(trace("11").connection("A").received_bytes):
        events = tracker.feed(message)
        call = tracker.call(HUMAN)
        if call is None or not call.answered:
            continue
        seen.append(tracker.caller_channel(HUMAN))
        if any(isinstance(e, AmdResult) and e.linkedid == HUMAN for e in events):
            amd_at = len(seen)  # the dialer moves the person to an operator now
        if any(isinstance(e, CallHeld) and e.linkedid == HUMAN for e in events):
            held_at = len(seen)
    assert 0 < amd_at < held_at
    assert set(seen) == {CUSTOMER_LEG}, sorted(set(map(str, seen)))


def test_a_dialer_leg_in_an_operators_conference_is_the_caller_channel() -> None:
    """A Local dialer leg redirected into the operator's ConfBridge: neither half is on music
    on hold; the originated ;1 is the debtor, the ;2 is the far end."""
    tracker = CallTracker(clock_at(T0))
    one, two = "Local/+447700900123@pstn-sim-00000007;1", "Local/+447700900123@pstn-sim-00000007;2"
    lid = "dial-3-0123456789abcdef"
    stream = [
        channel_event("Newchannel", one, lid, lid, 0, ChannelState="0", Context="pstn-sim"),
        channel_event("Newchannel", two, f"{lid}-b", lid, 0, ChannelState="4", Context="pstn-sim"),
        channel_event("Newexten", one, lid, lid, 0, Context="pstn-sim", Application="AppDial2"),
        channel_event("Newexten", two, f"{lid}-b", lid, 0, Context="pstn-sim", Application="NoOp"),
        channel_event("Newstate", two, f"{lid}-b", lid, 1, Context="pstn-sim"),
        channel_event("Newstate", one, lid, lid, 1, Context="pstn-sim"),
        channel_event("Newexten", one, lid, lid, 1, Context="cb-dialer", Application="AMD"),
        channel_event("Newexten", one, lid, lid, 4, Context="cb-conf", Application="ConfBridge"),
        channel_event("BridgeEnter", one, lid, lid, 4, BridgeUniqueid="conf-1"),
    ]
    for message in stream:
        tracker.feed(message)
    assert tracker.caller_channel(lid) == one


def test_a_pjsip_dialer_leg_is_the_caller_channel() -> None:
    tracker = CallTracker(clock_at(T0))
    leg, lid = "PJSIP/trunk-00000009", "dial-3-fedcba9876543210"
    stream = [
        channel_event("Newchannel", leg, lid, lid, 0, ChannelState="0", Context="from-trunk"),
        channel_event("Newexten", leg, lid, lid, 0, Context="from-trunk", Application="AppDial2"),
        channel_event("Newstate", leg, lid, lid, 2),
        channel_event("Newexten", leg, lid, lid, 2, Context="cb-dialer", Application="AMD"),
        channel_event("Newexten", leg, lid, lid, 5, Context="cb-conf", Application="ConfBridge"),
        channel_event("BridgeEnter", leg, lid, lid, 5, BridgeUniqueid="conf-1"),
    ]
    for message in stream:
        tracker.feed(message)
    assert tracker.caller_channel(lid) == leg


def test_an_inbound_local_caller_is_its_2_not_the_handset() -> None:
    """Trace 03: the caller `Local/100@cb-hold;2` (the PBX side), also once it is bridged."""
    caller_2 = "Local/100@cb-hold-00000000;2"
    tracker = CallTracker(clock_at(1795444000))
    parser = FrameParser()
    seen = set()
    for message in parser.feed(trace("03").connection("A").received_bytes):
        tracker.feed(message)
        caller = tracker.call("1795444938.0")
        if caller is not None and caller.answered and caller_2 in {c.name for c in caller.channels}:
            seen.add(tracker.caller_channel(caller.linkedid))
    assert seen == {caller_2}, seen
