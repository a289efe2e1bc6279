"""Production channel shapes the Local-channel captures cannot show: a PJSIP trunk caller that is
one channel (no ;1/;2 pair), a PJSIP agent leg whose only channel joins the caller's call, and
a dialer leg whose trunk context looks inbound. Messages follow the captures' header layout."""

from __future__ import annotations

from ami_bridge.channels import DirectionRules
from ami_bridge.events import CallEnded, Direction, EndReason
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import clock_at, compact_all

T0 = 1795450000.0


def channel_event(event: str, channel: str, uniqueid: str, linkedid: str, at: float, **extra: str):
    return {
        "Event": event,
        "Privilege": "call,all",
        "Timestamp": f"{T0 + at:.6f}",
        "Channel": channel,
        "ChannelState": extra.pop("ChannelState", "6"),
        "CallerIDNum": extra.pop("CallerIDNum", "5551234"),
        "CallerIDName": "Alice Customer",
        "Context": extra.pop("Context", "cb-inbound"),
        "Exten": extra.pop("Exten", "100"),
        "Priority": extra.pop("Priority", "1"),
        "Uniqueid": uniqueid,
        "Linkedid": linkedid,
        **extra,
    }


CALLER = "PJSIP/trunk-00000001"
AGENT = "PJSIP/agent1-00000002"


def test_a_trunk_caller_bridged_to_a_pjsip_agent_leg() -> None:
    tracker = CallTracker(clock_at(T0))
    stream = [
        channel_event("Newchannel", CALLER, "c.1", "c.1", 0, ChannelState="4"),
        channel_event("Newexten", CALLER, "c.1", "c.1", 0, Application="Answer"),
        channel_event("Newstate", CALLER, "c.1", "c.1", 0.1),
        channel_event("Newexten", CALLER, "c.1", "c.1", 0.1, Application="AGI", Priority="2"),
        channel_event("Newexten", CALLER, "c.1", "c.1", 5, Application="Goto", Priority="3"),
        channel_event(
            "Newexten", CALLER, "c.1", "c.1", 5, Context="cb-hold", Exten="s", Application="Answer"
        ),
        channel_event(
            "Newexten", CALLER, "c.1", "c.1", 5, Context="cb-hold", Application="MusicOnHold"
        ),
        channel_event("MusicOnHoldStart", CALLER, "c.1", "c.1", 5, Class="default"),
        # Originate Channel=PJSIP/agent1 Application=Bridge Data=<caller>, ChannelId a.1
        channel_event(
            "Newchannel", AGENT, "a.1", "a.1", 8, ChannelState="0", Context="cb-agents", Exten="s"
        ),
        channel_event(
            "Newexten", AGENT, "a.1", "a.1", 8, Context="cb-agents", Application="AppDial2"
        ),
        channel_event("Newstate", AGENT, "a.1", "a.1", 8, ChannelState="5", Context="cb-agents"),
        channel_event("Newstate", AGENT, "a.1", "a.1", 10, Context="cb-agents"),
        channel_event("MusicOnHoldStop", CALLER, "c.1", "c.1", 10),
        channel_event("BridgeEnter", CALLER, "c.1", "c.1", 10, BridgeUniqueid="b-1"),
        channel_event(
            "BridgeEnter", AGENT, "a.1", "c.1", 10, Context="cb-agents", BridgeUniqueid="b-1"
        ),
        channel_event("BridgeLeave", CALLER, "c.1", "c.1", 70, BridgeUniqueid="b-1"),
        channel_event("Hangup", CALLER, "c.1", "c.1", 70, Cause="16"),
        channel_event("BridgeLeave", AGENT, "a.1", "c.1", 70, BridgeUniqueid="b-1"),
        channel_event("Hangup", AGENT, "a.1", "c.1", 70, Cause="16"),
    ]
    events = [e for m in stream for e in tracker.feed(m)]
    assert compact_all(events) == [
        ("CallStarted", "c.1", "inbound", "PJSIP/trunk-00000001", "5551234"),
        ("CallAnswered", "c.1", "PJSIP/trunk-00000001"),
        ("CallHeld", "c.1", "music_on_hold", "PJSIP/trunk-00000001"),
        # Callboard's agent leg is not a call of its own
        ("LegStarted", "a.1", "leg", "PJSIP/agent1-00000002"),
        ("CallResumed", "c.1", "music_on_hold", "PJSIP/trunk-00000001"),
        ("CallBridged", "c.1", "PJSIP/trunk-00000001", "PJSIP/trunk-00000001"),
        ("ChannelJoined", "c.1", "PJSIP/agent1-00000002", "a.1"),
        # the agent leg's own Linkedid had only this channel: it is over, merged
        ("LegEnded", "a.1", "0", "merged into another call"),
        ("CallBridged", "c.1", "PJSIP/agent1-00000002", "PJSIP/trunk-00000001", AGENT),
        ("CallUnbridged", "c.1", "PJSIP/trunk-00000001", "PJSIP/agent1-00000002"),
        ("ChannelHungUp", "c.1", "PJSIP/trunk-00000001", "16"),
        ("CallUnbridged", "c.1", "PJSIP/agent1-00000002"),
        ("ChannelHungUp", "c.1", "PJSIP/agent1-00000002", "16"),
        ("CallEnded", "c.1", "16", "hangup"),
    ]
    ended = events[-1]
    assert isinstance(ended, CallEnded)
    assert (ended.duration_s, ended.talk_s) == (70.0, 60.0)
    # a Goto from the IVR into the holding context is dialplan, not a Redirect
    assert not any(e[0] == "CallTransferred" for e in compact_all(events))


def test_a_dialer_leg_is_outbound_whatever_context_the_trunk_gives_it() -> None:
    tracker = CallTracker(clock_at(T0))
    leg = "PJSIP/trunk-00000004"
    stream = [
        channel_event("Newchannel", leg, "dial-8-a", "dial-8-a", 0, ChannelState="0"),
        channel_event("Newstate", leg, "dial-8-a", "dial-8-a", 1, ChannelState="5"),
        channel_event("Newstate", leg, "dial-8-a", "dial-8-a", 3),
        channel_event("Hangup", leg, "dial-8-a", "dial-8-a", 9, Cause="16"),
    ]
    events = [e for m in stream for e in tracker.feed(m)]
    assert compact_all(events) == [
        ("LegStarted", "dial-8-a", "dialed", leg),
        ("CallStarted", "dial-8-a", "outbound", leg, "5551234"),
        ("CallAnswered", "dial-8-a", leg),
        ("ChannelHungUp", "dial-8-a", leg, "16"),
        ("CallEnded", "dial-8-a", "16", "hangup"),
    ]
    assert events[1].direction is Direction.OUTBOUND
    assert isinstance(events[-1], CallEnded) and events[-1].reason is EndReason.HANGUP


def test_a_dial_attempt_that_never_answers_is_no_call() -> None:
    """Busy, no answer, rejected: the dialer knows the outcome from OriginateResponse; the
    attempt is reported as a leg (LegStarted/LegEnded with its cause), never as a call."""
    tracker = CallTracker(clock_at(T0))
    leg = "PJSIP/trunk-00000003"
    events = tracker.feed(
        channel_event("Newchannel", leg, "dial-7-a", "dial-7-a", 0, ChannelState="0")
    )
    events += tracker.feed(
        channel_event("Newstate", leg, "dial-7-a", "dial-7-a", 0.5, ChannelState="5")
    )
    events += tracker.feed(channel_event("Hangup", leg, "dial-7-a", "dial-7-a", 1, Cause="17"))
    assert compact_all(events) == [
        ("LegStarted", "dial-7-a", "dialed", leg),
        ("LegEnded", "dial-7-a", "17", "hangup"),
    ]


def test_a_pjsip_agent_endpoint_is_a_leg_without_channel_id_or_agent_context() -> None:
    """The composition root names the agent endpoints; a leg rung without Callboard's ChannelId
    in a context the rules do not know is still the agent's leg, not a call."""
    tracker = CallTracker(
        clock_at(T0), rules=DirectionRules(agent_endpoints=frozenset({"PJSIP/agent7"}))
    )
    agent = "PJSIP/agent7-0000000a"
    stream = [
        channel_event("Newchannel", agent, "x.1", "x.1", 0, ChannelState="0", Context="phones"),
        channel_event("Newstate", agent, "x.1", "x.1", 1, ChannelState="5", Context="phones"),
        channel_event("Hangup", agent, "x.1", "x.1", 9, Cause="19", Context="phones"),
    ]
    events = [e for m in stream for e in tracker.feed(m)]
    assert compact_all(events) == [
        ("LegStarted", "x.1", "leg", agent),
        ("LegEnded", "x.1", "19", "hangup"),
    ]


def test_a_redirect_that_raises_a_softhangup_flag_is_still_a_redirect() -> None:
    """Cause 2 is AST_SOFTHANGUP_ASYNCGOTO: the app is interrupted, the channel lives on."""
    tracker = CallTracker(clock_at(T0))
    stream = [
        channel_event("Newchannel", CALLER, "c.9", "c.9", 0, ChannelState="4"),
        channel_event("Newstate", CALLER, "c.9", "c.9", 0),
        channel_event("Newexten", CALLER, "c.9", "c.9", 0, Application="MusicOnHold"),
        channel_event("SoftHangupRequest", CALLER, "c.9", "c.9", 3, Cause="2"),
        channel_event(
            "Newexten", CALLER, "c.9", "c.9", 3, Context="cb-voicemail", Application="NoOp"
        ),
    ]
    events = [e for m in stream for e in tracker.feed(m)]
    assert compact_all(events)[-1] == (
        "CallTransferred",
        "c.9",
        "redirect",
        CALLER,
        "cb-voicemail,100,1",
    )
