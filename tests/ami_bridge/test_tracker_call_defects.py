"""Call-tracking defects seen on a real Asterisk 22: ghost calls for Callboard's own legs and
failed dial attempts, the hangup cause of a call, transfer parties, caller ID changes, cause 26.

Each test replays real trace bytes where a capture shows the case, else messages copied from a
capture and changed only where the case differs (or PJSIP-shaped ones, as test_tracker_pjsip)."""

from __future__ import annotations

from ami_bridge.causes import cause_text
from ami_bridge.channels import DirectionRules
from ami_bridge.events import (
    CallEnded,
    CallerIdChanged,
    CallEvent,
    CallStarted,
    CallTransferred,
    LegEnded,
    LegStarted,
)
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.test_tracker_pjsip import channel_event
from tests.ami_bridge.tracker_replay import clock_at, replay, replay_parts, trace

Message = dict[str, str]


def feed_all(tracker: CallTracker, messages: list[Message]) -> list[CallEvent]:
    return [event for message in messages for event in tracker.feed(message)]


def received(prefix: str) -> list[Message]:
    return [dict(m) for m in trace(prefix).connection("A").received()]


def index_of(messages: list[Message], event: str, channel: str = "", **headers: str) -> int:
    return next(
        i
        for i, m in enumerate(messages)
        if m.get("Event") == event
        and m.get("Channel", "").endswith(channel)
        and all(m.get(k) == v for k, v in headers.items())
    )


# ---- 1. ghost interactions ------------------------------------------------------------------


def test_agent_legs_are_never_calls_of_their_own() -> None:
    """Traces 03/04/05: the agent legs Callboard originates (answered, not answered, busy,
    congestion) give no CallStarted/CallEnded; the answered one joins the caller's call."""
    for prefix, callers in (("03", 1), ("04", 1), ("05", 1)):
        events = replay(trace(prefix).connection("A"), CallTracker(clock_at(1795444000)))
        started = [e for e in events if isinstance(e, CallStarted)]
        ended = [e for e in events if isinstance(e, CallEnded)]
        assert len(started) == callers, [e.channel for e in started]
        assert all("@cb-hold-" in e.channel for e in started)
        assert {e.linkedid for e in ended} == {e.linkedid for e in started}
        legs = [e for e in events if isinstance(e, LegStarted)]
        assert legs and all("@cb-agents-" in e.channel and e.role == "leg" for e in legs)
        # every event of the legs' own Linkedids is a leg event, never a call event
        leg_ids = {e.linkedid for e in legs}
        assert all(isinstance(e, LegStarted | LegEnded) for e in events if e.linkedid in leg_ids)


def test_failed_dial_attempts_are_no_calls() -> None:
    """Trace 11: busy, no answer, congestion, rejected, no such context: LegStarted/LegEnded
    with the far end's cause; only the answered attempts are (outbound) calls."""
    events = replay(trace("11").connection("A"), CallTracker(clock_at(1795444000)))
    started = {e.linkedid: e for e in events if isinstance(e, CallStarted)}
    assert sorted(started) == ["dial-1-a", "dial-11-a", "dial-2-a", "dial-3-a"]
    assert {e.direction.value for e in started.values()} == {"outbound"}
    failed = {e.linkedid: e.cause for e in events if isinstance(e, LegEnded)}
    assert failed == {
        "dial-4-a": 17,
        "dial-5-a": 19,
        "dial-6-a": 34,
        "dial-7-a": 21,
        "dial-8-a": 21,
        "dial-9-a": 0,
        "dial-10-a": 17,
    }


def test_a_dial_string_without_extension_is_no_call() -> None:
    """`Local/@pstn-sim` (no extension): Asterisk creates the pair and drops it at once, shaped
    like 11.9 (no such context) with an empty Exten."""
    messages = received("11")
    first = index_of(messages, "Newchannel", ";1", Uniqueid="dial-9-a")
    last = index_of(messages, "Hangup", ";1", Uniqueid="dial-9-a")
    burst = []
    for m in messages[first : last + 1]:
        if m.get("Uniqueid", "").startswith("dial-9-") or m.get("Linkedid") == "dial-9-a":
            m = {
                k: v.replace("5551234@no-such-context", "@pstn-sim").replace("dial-9", "dial-12")
                for k, v in m.items()
            }
            if "Exten" in m:
                m["Exten"] = ""
            if "Context" in m:
                m["Context"] = "pstn-sim"
            burst.append(m)
    events = feed_all(CallTracker(clock_at(1795444000)), burst)
    assert not [e for e in events if not isinstance(e, LegStarted | LegEnded)]
    assert [type(e).__name__ for e in events] == ["LegStarted", "LegEnded"]


def test_an_agent_leg_rung_with_callboards_channel_id_is_a_leg_on_any_context() -> None:
    """Trace 03's agent leg as the ACD originates it (ChannelId cb-acd-...), in a context the
    rules do not know: still a leg, because the composition root's ChannelId prefix says so."""
    messages = received("03")
    renamed = [
        {
            k: v.replace("1795444941.2", "cb-acd-1795444938.0-1").replace("cb-agents", "phones")
            for k, v in m.items()
        }
        for m in messages
    ]
    events = feed_all(CallTracker(clock_at(1795444000)), renamed)
    assert [e.channel for e in events if isinstance(e, CallStarted)] == [
        "Local/100@cb-hold-00000000;1"
    ]
    assert any(isinstance(e, LegStarted) and e.uniqueid == "cb-acd-1795444938.0-1" for e in events)


# ---- 2. the hangup cause of a call ----------------------------------------------------------


def test_the_call_cause_is_the_outside_partys_not_the_first_legs() -> None:
    """Trace 03 until both talk; then the agent's leg hangs up first (16), and the caller is
    rejected with Hangup Cause 21 (both halves report 21, as in trace 06)."""
    messages = received("03")
    cut = index_of(messages, "SoftHangupRequest", "100@cb-hold-00000000;1")
    head = messages[:cut]
    tail = messages[cut:]
    agent_leave = next(
        m for m in tail if m.get("Event") == "BridgeLeave" and "agent1" in m["Channel"]
    )
    agent_hangup = next(
        m
        for m in tail
        if m.get("Event") == "Hangup" and m["Channel"].endswith("agent1@cb-agents-00000001;1")
    )
    caller_leave = next(
        m for m in tail if m.get("Event") == "BridgeLeave" and "100@" in m["Channel"]
    )
    caller_hangups = [
        m for m in tail if m.get("Event") == "Hangup" and "100@cb-hold" in m["Channel"]
    ]
    rejected = [
        {**m, "Cause": "21", "Cause-txt": "Call Rejected"} for m in reversed(caller_hangups)
    ]
    stream = [*head, agent_leave, agent_hangup, caller_leave, *rejected]
    events = feed_all(CallTracker(clock_at(1795444000)), stream)
    (ended,) = [e for e in events if isinstance(e, CallEnded)]
    assert (ended.linkedid, ended.cause, ended.cause_text) == ("1795444938.0", 21, "Call Rejected")


def test_a_busy_trunk_call_is_not_normal_clearing() -> None:
    """PJSIP: the caller's call is forwarded by a Local channel (its ;1 clears 16 first) and the
    caller is then released busy: the call's cause is the caller's 17."""
    caller = "PJSIP/trunk-00000001"
    fwd1, fwd2 = "Local/fwd@cb-xfer-00000002;1", "Local/fwd@cb-xfer-00000002;2"
    stream = [
        channel_event("Newchannel", caller, "c.1", "c.1", 0, ChannelState="4"),
        channel_event("Newstate", caller, "c.1", "c.1", 0.1),
        channel_event("Newchannel", fwd1, "f.1", "c.1", 1, ChannelState="0", Context="cb-xfer"),
        channel_event("Newchannel", fwd2, "f.2", "c.1", 1, ChannelState="4", Context="cb-xfer"),
        channel_event("Hangup", fwd1, "f.1", "c.1", 3, Cause="16", Context="cb-xfer"),
        channel_event("Hangup", fwd2, "f.2", "c.1", 3, Cause="17", Context="cb-xfer"),
        channel_event("Hangup", caller, "c.1", "c.1", 4, Cause="17"),
    ]
    events = feed_all(CallTracker(clock_at(1795450000)), stream)
    ended = events[-1]
    assert isinstance(ended, CallEnded) and (ended.cause, ended.cause_text) == (17, "User busy")


# ---- 3. transfers ---------------------------------------------------------------------------


def _transfer(events: list[CallEvent]) -> CallTransferred:
    (transfer,) = [e for e in events if isinstance(e, CallTransferred)]
    return transfer


def test_attended_transfer_target_is_the_party_beyond_the_local_pair() -> None:
    """Trace 07.4: the target is agent2's leg behind Local/2002@cb-xfer, not the Local half."""
    parts = replay_parts(trace("07").connection("A"), CallTracker(clock_at(1795444000)))
    transfer = next(e for e in parts["7.4"] if isinstance(e, CallTransferred))
    assert transfer.channel == "Local/103@cb-hold-00000009;2"
    assert transfer.target == "Local/agent2@cb-agents-0000000c;1"
    assert transfer.transferer == "Local/agent1@cb-agents-0000000a;1"


def test_attended_transfer_right_after_the_target_answered_names_it() -> None:
    """Trace 07.4 with the transfer completed between the target's answer (DialEnd ANSWER of
    Local/2002@cb-xfer;2) and its dial bridge (as the live suite caught once): the target is
    still agent2's leg, never the Local half."""
    messages = received("07")
    at = index_of(messages, "AttendedTransfer")
    answered = index_of(messages, "DialEnd", "2002@cb-xfer-0000000b;2", DialStatus="ANSWER")
    late = [
        i
        for i in range(answered, at)
        if messages[i].get("Event") == "BridgeEnter"
        and messages[i].get("Channel", "").endswith(("cb-xfer-0000000b;2", "cb-agents-0000000c;1"))
    ]
    assert len(late) == 2
    reordered = [m for i, m in enumerate(messages[: at + 1]) if i not in late]
    reordered += [messages[i] for i in late] + messages[at + 1 :]
    transfer = _transfer(
        [
            e
            for e in feed_all(CallTracker(clock_at(1795444000)), reordered)
            if e.linkedid == "1795445116.21"
        ]
    )
    assert transfer.target == "Local/agent2@cb-agents-0000000c;1"


def test_attended_transfer_without_transferee_headers_never_names_the_transferer() -> None:
    """Trace 07 with the Transferee* headers removed from AttendedTransfer: the transferee is
    the transferer's peer in its original bridge; with that bridge unknown, "unknown"."""
    messages = received("07")
    at = index_of(messages, "AttendedTransfer")
    stripped = {k: v for k, v in messages[at].items() if not k.startswith("Transferee")}
    events = feed_all(CallTracker(clock_at(1795444000)), [*messages[:at], stripped])
    transfer = _transfer([e for e in events if e.linkedid == "1795445116.21"])
    assert transfer.channel == "Local/103@cb-hold-00000009;2"

    unknown_bridge = {**stripped, "OrigBridgeUniqueid": "no-such-bridge"}
    events = feed_all(CallTracker(clock_at(1795444000)), [*messages[:at], unknown_bridge])
    transfer = _transfer([e for e in events if e.linkedid == "1795445116.21"])
    assert transfer.channel == "unknown"


def _blonde_stream() -> list[Message]:
    caller, agent = "PJSIP/trunk-00000001", "PJSIP/agent1-00000002"
    consult, target = "PJSIP/agent1-00000003", "PJSIP/agent2-00000004"
    return [
        channel_event("Newchannel", caller, "c.1", "c.1", 0, ChannelState="4"),
        channel_event("Newstate", caller, "c.1", "c.1", 0.1),
        channel_event(
            "Newchannel",
            agent,
            "cb-acd-c.1-1",
            "cb-acd-c.1-1",
            1,
            ChannelState="0",
            Context="cb-agents",
        ),
        channel_event("Newstate", agent, "cb-acd-c.1-1", "cb-acd-c.1-1", 2, Context="cb-agents"),
        channel_event("BridgeEnter", caller, "c.1", "c.1", 2, BridgeUniqueid="b-1"),
        channel_event(
            "BridgeEnter",
            agent,
            "cb-acd-c.1-1",
            "c.1",
            2,
            Context="cb-agents",
            BridgeUniqueid="b-1",
        ),
        # the agent's phone places the consultation call: a new channel dialing agent2
        channel_event(
            "Newchannel", consult, "p.3", "p.3", 5, ChannelState="4", Context="cb-agent-phone"
        ),
        channel_event(
            "Newchannel", target, "p.4", "p.3", 5, ChannelState="0", Context="cb-agent-phone"
        ),
        {
            **channel_event("DialBegin", consult, "p.3", "p.3", 5, Context="cb-agent-phone"),
            "DestChannel": target,
            "DestUniqueid": "p.4",
            "DestLinkedid": "p.3",
            "DialString": "agent2",
        },
        channel_event(
            "Newstate", target, "p.4", "p.3", 5, ChannelState="5", Context="cb-agent-phone"
        ),
    ]


def _blonde_transfer(**headers: str) -> Message:
    return {
        "Event": "AttendedTransfer",
        "Privilege": "call,all",
        "Timestamp": "1795450008.000000",
        "Result": "Success",
        "OrigTransfererChannel": "PJSIP/agent1-00000002",
        "OrigTransfererUniqueid": "cb-acd-c.1-1",
        "OrigTransfererLinkedid": "c.1",
        "OrigBridgeUniqueid": "b-1",
        "SecondTransfererChannel": "PJSIP/agent1-00000003",
        "SecondTransfererUniqueid": "p.3",
        "SecondTransfererLinkedid": "p.3",
        "TransfereeChannel": "PJSIP/trunk-00000001",
        "TransfereeUniqueid": "c.1",
        "TransfereeLinkedid": "c.1",
        "IsExternal": "No",
        "DestType": "App",
        "DestApp": "Dial",
        **headers,
    }


def test_blonde_transfer_target_is_the_ringing_party_not_the_application() -> None:
    """Completed while the target still rang (DestType App, DestApp Dial): the target is the
    channel being dialed, never "Dial"."""
    tracker = CallTracker(clock_at(1795450000))
    events = feed_all(tracker, [*_blonde_stream(), _blonde_transfer()])
    transfer = _transfer(events)
    assert (transfer.linkedid, transfer.channel) == ("c.1", "PJSIP/trunk-00000001")
    assert transfer.target == "PJSIP/agent2-00000004"
    assert transfer.transferer == "PJSIP/agent1-00000002"


def test_blonde_transfer_with_nobody_known_ringing_is_unknown() -> None:
    tracker = CallTracker(clock_at(1795450000))
    stream = [m for m in _blonde_stream() if m.get("Event") != "DialBegin"]
    transfer = _transfer(feed_all(tracker, [*stream, _blonde_transfer()]))
    assert transfer.target == "unknown"


def test_blind_transfer_of_a_local_half_names_the_party_beyond() -> None:
    """The agent's bridge peer is a forwarding Local ;1 whose ;2 talks to the trunk caller:
    the transferee is the caller, not the Local channel."""
    caller, agent = "PJSIP/trunk-00000001", "PJSIP/agent1-00000004"
    fwd1, fwd2 = "Local/fwd@cb-xfer-00000002;1", "Local/fwd@cb-xfer-00000002;2"
    stream = [
        channel_event("Newchannel", caller, "c.1", "c.1", 0, ChannelState="4"),
        channel_event("Newstate", caller, "c.1", "c.1", 0.1),
        channel_event("Newchannel", fwd1, "f.1", "c.1", 1, ChannelState="0", Context="cb-xfer"),
        channel_event("Newchannel", fwd2, "f.2", "c.1", 1, ChannelState="4", Context="cb-xfer"),
        channel_event("BridgeEnter", caller, "c.1", "c.1", 2, BridgeUniqueid="b-1"),
        channel_event("BridgeEnter", fwd2, "f.2", "c.1", 2, BridgeUniqueid="b-1"),
        channel_event("Newchannel", agent, "a.4", "c.1", 2, ChannelState="0", Context="cb-agents"),
        channel_event("BridgeEnter", fwd1, "f.1", "c.1", 3, BridgeUniqueid="b-2"),
        channel_event("BridgeEnter", agent, "a.4", "c.1", 3, BridgeUniqueid="b-2"),
        {
            "Event": "BlindTransfer",
            "Privilege": "call,all",
            "Timestamp": "1795450009.000000",
            "Result": "Success",
            "TransfererChannel": agent,
            "TransfererUniqueid": "a.4",
            "TransfereeChannel": fwd1,
            "TransfereeUniqueid": "f.1",
            "BridgeUniqueid": "b-2",
            "IsExternal": "Yes",
            "Context": "cb-xfer",
            "Extension": "2002",
        },
    ]
    transfer = _transfer(feed_all(CallTracker(clock_at(1795450000)), stream))
    assert (transfer.channel, transfer.target) == (caller, "cb-xfer,2002")


# ---- 4. caller ID changes -------------------------------------------------------------------


def test_a_caller_id_set_after_the_call_started_is_reported() -> None:
    """Trace 03: while the caller waits on hold, the dialplan sets its caller ID (NewCallerid on
    the caller channel, copied from the capture's own NewCallerid with the new number)."""
    messages = received("03")
    moh = index_of(messages, "MusicOnHoldStart", "100@cb-hold-00000000;2")
    template = next(
        m
        for m in messages
        if m.get("Event") == "NewCallerid" and m["Channel"] == "Local/100@cb-hold-00000000;2"
    )
    changed = {
        **template,
        "Timestamp": messages[moh]["Timestamp"],
        "CallerIDNum": "+15551234",
        "CallerIDName": "Alice Debtor",
    }
    tracker = CallTracker(clock_at(1795444000))
    events = feed_all(tracker, [*messages[: moh + 1], changed, *messages[moh + 1 :]])
    (change,) = [e for e in events if isinstance(e, CallerIdChanged)]
    assert (change.linkedid, change.channel) == ("1795444938.0", "Local/100@cb-hold-00000000;2")
    assert (change.caller_number, change.caller_name) == ("+15551234", "Alice Debtor")
    assert change.previous_number == "5551234"
    # the agent leg's caller ID (the Originate's) is no change of the caller's
    assert events.index(change) < next(i for i, e in enumerate(events) if isinstance(e, CallEnded))


def test_no_trace_reports_a_caller_id_change() -> None:
    """Creation-burst NewCallerids (Originate CallerID on both halves) are carried by
    CallStarted; none of the real captures changes a caller ID later."""
    for prefix in ("03", "04", "05", "06", "07", "08", "09", "10", "11", "13"):
        events = replay(trace(prefix).connection("A"), CallTracker(clock_at(1795444000)))
        assert not [e for e in events if isinstance(e, CallerIdChanged)], prefix


# ---- 5. cause 26 ----------------------------------------------------------------------------


def test_cause_26_is_answered_elsewhere() -> None:
    assert cause_text(26) == "Answered elsewhere"


def test_rules_know_pjsip_agent_endpoints() -> None:
    rules = DirectionRules(agent_endpoints=frozenset({"PJSIP/agent1", "Local/agent2@agents"}))
    tracker = CallTracker(clock_at(1795450000), rules=rules)
    stream = [
        channel_event("Newchannel", "PJSIP/agent1-0000000f", "z.1", "z.1", 0, Context="x"),
        channel_event("Newstate", "PJSIP/agent1-0000000f", "z.1", "z.1", 1, Context="x"),
        channel_event("Hangup", "PJSIP/agent1-0000000f", "z.1", "z.1", 2, Context="x"),
    ]
    names = [type(e).__name__ for e in feed_all(tracker, stream)]
    assert names == ["LegStarted", "LegEnded"]
