"""pbx_sim against the Asterisk 22 traces: same events per channel, same header names."""

from __future__ import annotations

from collections import Counter

import pytest

from pbx_sim import PbxSim, VirtualClock
from pbx_sim.testing import AmiClient, per_channel, read_trace, replay

# Cross-channel interleaving varies call to call in the traces themselves (README 6, 16, 23),
# so sequences are compared per channel, without the events whose position varies.
IGNORED = {"DeviceStateChange", "Cdr", "SuccessfulAuth", "FullyBooted", "OriginateResponse"}


SCENARIOS = [
    "03-hold-originate-bridge.ami",
    "04-agent-noanswer.ami",
    "05-agent-busy-congestion.ami",
    "06-redirect-hangup.ami",
    "08-confbridge-nailed-agent.ami",
    "09-mixmonitor.ami",
    "10-chanspy.ami",
    "11-dialer-amd.ami",
    "07-transfer.ami",
]
# Asterisk emits late NewCallerid frames on the Local halves after an attended transfer (one
# even after the channel's Hangup); pbx_sim does not reproduce those two.
LATE_CALLERID = {"07-transfer.ami": {"NewCallerid"}}
# Busy()/Congestion() show the device INUSE in trace 05 but not in 11 (a race in Asterisk's
# device-state coalescing); pbx_sim reports them as in 05.
DEVICE_RACES = {"11-dialer-amd.ami": {"Local/5550486@pstn-sim", "Local/5550503@pstn-sim"}}


def device_states(events: list[dict[str, str]], skip: set[str]) -> dict[str, list[str]]:
    """Per device, its states without repeats (Asterisk often reports one change twice)."""
    states: dict[str, list[str]] = {}
    for e in events:
        if e.get("Event") != "DeviceStateChange" or e["Device"] in skip:
            continue
        seen = states.setdefault(e["Device"], [])
        if not seen or seen[-1] != e["State"]:
            seen.append(e["State"])
    return states


@pytest.mark.parametrize("name", SCENARIOS)
async def test_scenario_matches_trace(
    name: str, sim: PbxSim, client: AmiClient, clock: VirtualClock
) -> None:
    """Same event names in the same order per channel, and the same header names in the same
    order for every message type both sides produced."""
    trace = read_trace(name)
    await replay(trace, client, clock)
    received = [dict(b.headers) for b in trace.received("A")]
    ignored = IGNORED | LATE_CALLERID.get(name, set())
    assert per_channel(client.events(), ignored) == per_channel(received, ignored)
    races = DEVICE_RACES.get(name, set())
    assert device_states(client.events(), races) == device_states(received, races)
    cdrs = Counter(e["Channel"] for e in client.events() if e["Event"] == "Cdr")
    assert cdrs == Counter(e["Channel"] for e in received if e.get("Event") == "Cdr")
    want: dict[str, set[tuple[str, ...]]] = {}  # some events have two shapes (Originate...)
    for block in trace.received("A"):
        if block.event:
            want.setdefault(block.event, set()).add(tuple(k for k, _ in block.headers))
    checked = 0
    for message in client.messages:
        event = dict(message).get("Event")
        if event in want and event != "SuccessfulAuth":
            assert tuple(k for k, _ in message) in want[event], event
            checked += 1
    assert checked > 30


async def test_dialer_outcomes_match_trace(
    sim: PbxSim, client: AmiClient, clock: VirtualClock
) -> None:
    trace = read_trace("11-dialer-amd.ami")
    await replay(trace, client, clock)
    want_responses = [
        dict(b.headers) for b in trace.received("A") if b.event == "OriginateResponse"
    ]
    got_responses = [e for e in client.events() if e["Event"] == "OriginateResponse"]
    assert [(e["Response"], e["Reason"], e["Channel"]) for e in got_responses] == [
        (e["Response"], e["Reason"], e["Channel"]) for e in want_responses
    ]
    amd = [(e["AMDStatus"], e["AMDCause"]) for e in client.events() if e["Event"] == "UserEvent"]
    assert amd == [
        ("HUMAN", "HUMAN-801-800"),
        ("MACHINE", "LONGGREETING-1500-1500"),
        ("MACHINE", "INITIALSILENCE-2500-2500"),
        ("HUMAN", "HUMAN-801-800"),
    ]
    linked = {e["Channel"]: e["Linkedid"] for e in client.events() if e["Event"] == "Newchannel"}
    assert linked["Local/5551234@pstn-sim-00000000;2"] == "dial-1-a"
    sync = [
        dict(m)
        for m in client.messages
        if dict(m).get("ActionID") in ("a-11", "a-12") and "Response" in dict(m)
    ]
    assert [m["Response"] for m in sync] == ["Error", "Success"]


async def test_linkedid_switches_to_caller_at_bridge_enter(
    sim: PbxSim, client: AmiClient, clock: VirtualClock
) -> None:
    await replay(read_trace("03-hold-originate-bridge.ami"), client, clock)
    events = [e for e in client.events() if "Linkedid" in e]
    uid = {e["Channel"]: e["Uniqueid"] for e in events if e["Event"] == "Newchannel"}
    caller, agent_leg = "Local/100@cb-hold-00000000;2", "Local/agent1@cb-agents-00000001;1"
    enters = {e["Channel"]: e["Linkedid"] for e in events if e["Event"] == "BridgeEnter"}
    assert enters == {
        caller: uid["Local/100@cb-hold-00000000;1"],
        agent_leg: uid["Local/100@cb-hold-00000000;1"],
    }
    phone = {e["Linkedid"] for e in events if e["Channel"] == "Local/agent1@cb-agents-00000001;2"}
    assert phone == {uid[agent_leg]}


VOLATILE = {
    "Timestamp",
    "LoginTime",
    "LastPause",
    "EventTV",
    "SessionID",
    "RemoteAddress",
    "SessionTV",
    "LocalAddress",
}


async def test_queue_actions_and_user_events_match_trace_12(
    sim: PbxSim, client: AmiClient, clock: VirtualClock
) -> None:
    trace = read_trace("12-queue-member-userevent.ami")
    await replay(trace, client, clock)

    def shape(messages: list[list[tuple[str, str]]]) -> list[list[tuple[str, str]]]:
        return [
            [(k, "*" if k in VOLATILE else v) for k, v in m]
            for m in messages
            if dict(m).get("Event") not in ("DeviceStateChange", "SuccessfulAuth", "FullyBooted")
            and dict(m).get("ActionID") not in ("a-1", "login-1")
        ]

    want = shape([b.headers for b in trace.received("A")])
    assert shape(client.messages) == want
