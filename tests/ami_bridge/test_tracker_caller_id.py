"""Caller ID changes that are none. Once a caller is bridged to an agent leg, Asterisk tells each
party the other's caller ID as its connected line, and a Local half copies its connected line
onto its other half's caller ID: the caller's handset `;1` and the agent's phone `;2` get a
NewCallerid (seen on the live Asterisk 22 when the caller ID had no name and the ACD originated
the agent with CallerID "<number>" <number>). The handset is beyond the outside party (the `;2`
runs the dialplan, like a trunk channel), and the same number with the number as its name is
no new caller ID: no CallerIdChanged."""

from __future__ import annotations

import asyncio

from ami_bridge.events import CallerIdChanged
from ami_bridge.tracker import CallTracker
from pbx_sim import PbxSim, SimConfig, VirtualClock
from pbx_sim.testing import AmiClient
from tests.ami_bridge.test_tracker_call_defects import feed_all, index_of, received
from tests.ami_bridge.tracker_replay import clock_at

START = 1795444938.0


def _callerid(template: dict[str, str], number: str, name: str) -> dict[str, str]:
    return {**template, "Event": "NewCallerid", "CallerIDNum": number, "CallerIDName": name}


def test_the_handsets_connected_line_copy_is_no_caller_id_change() -> None:
    """Trace 03 with what the live PBX adds after the agent's BridgeEnter when the names differ:
    the handset ;1 and the agent's phone ;2 take the other side's caller ID."""
    messages = received("03")
    entered = index_of(messages, "BridgeEnter", "agent1@cb-agents-00000001;1")
    handset = next(m for m in messages if m.get("Channel") == "Local/100@cb-hold-00000000;1")
    phone = next(m for m in messages if m.get("Channel") == "Local/agent1@cb-agents-00000001;2")
    stamp = {"Timestamp": messages[entered]["Timestamp"]}
    extra = [
        {**_callerid(phone, "5551234", "<unknown>"), **stamp},
        {**_callerid(handset, "5551234", "5551234"), **stamp},
    ]
    events = feed_all(
        CallTracker(clock_at(START)), [*messages[: entered + 1], *extra, *messages[entered + 1 :]]
    )
    assert not [e for e in events if isinstance(e, CallerIdChanged)]


def test_the_party_taking_its_number_as_its_name_is_no_change() -> None:
    """The caller channel ;2 itself: the same number, a name that only repeats it."""
    messages = received("03")
    moh = index_of(messages, "MusicOnHoldStart", "100@cb-hold-00000000;2")
    two = next(m for m in messages if m.get("Channel") == "Local/100@cb-hold-00000000;2")
    nameless = [{**m, "CallerIDName": "<unknown>"} for m in messages]  # a number-only caller
    same = {**_callerid(two, "5551234", "5551234"), "Timestamp": messages[moh]["Timestamp"]}
    events = feed_all(CallTracker(clock_at(START)), [*nameless[: moh + 1], same])
    assert not [e for e in events if isinstance(e, CallerIdChanged)]
    # a real change on the same channel still is one
    changed = {**same, "CallerIDNum": "+15551234"}
    events = feed_all(CallTracker(clock_at(START)), [*nameless[: moh + 1], changed])
    assert [e.caller_number for e in events if isinstance(e, CallerIdChanged)] == ["+15551234"]


async def test_pbx_sim_sends_the_connected_line_callerids_and_the_tracker_reports_none() -> None:
    clock = VirtualClock(start=START)
    sim = PbxSim(SimConfig(), clock)
    await sim.start()
    client = await AmiClient.connect(sim.ami_port)
    try:
        await client.login()
        await client.action(
            [("Action", "Originate"), ("ActionID", "c-1"), ("Channel", "Local/100@cb-hold"),
             ("Context", "caller-sim"), ("Exten", "s"), ("Priority", "1"),
             ("CallerID", "5551234"), ("Timeout", "30000"), ("Variable", "HOLD_SECS=20"),
             ("Async", "true")]
        )  # fmt: skip
        for _ in range(100):
            if any(m.get("Event") == "MusicOnHoldStart" for m in client.events()):
                break
            await clock.advance(0.1)
        caller = next(m for m in client.events() if m.get("Event") == "MusicOnHoldStart")
        await client.action(
            [("Action", "Originate"), ("ActionID", "a-1"), ("Channel", "Local/agent1@cb-agents"),
             ("Application", "Bridge"), ("Data", caller["Channel"]),
             ("CallerID", '"5551234" <5551234>'), ("Timeout", "20000"), ("Async", "true")]
        )  # fmt: skip
        for _ in range(400):
            if any(m.get("Event") == "Hangup" for m in client.events()):
                break
            await clock.advance(0.1)
        await asyncio.sleep(0)
    finally:
        await client.close()
        await sim.stop()
        await clock.stop()
    events = client.events()
    entered = max(i for i, m in enumerate(events) if m.get("Event") == "BridgeEnter")
    after = [
        (m["Channel"][-2:], m["CallerIDNum"], m["CallerIDName"])
        for m in events[entered:]
        if m.get("Event") == "NewCallerid"
    ]
    # as the live Asterisk: the agent's phone ;2 and the caller's handset ;1
    assert sorted(after) == [(";1", "5551234", "5551234"), (";2", "5551234", "<unknown>")]
    tracker = CallTracker(clock_at(START))
    domain = [e for m in events for e in tracker.feed(m)]
    assert not [e for e in domain if isinstance(e, CallerIdChanged)]
