"""Atxfer works only on a bridge made with option T, as on Asterisk 22.10.1: without it the
action is still "successfully queued", the feature digits pass as plain DTMF and nothing else
happens (the live suite's attended transfer found the ACD bridging without T)."""

from __future__ import annotations

import pytest

from pbx_sim import VirtualClock
from pbx_sim.testing import AmiClient

CALLER = "Local/100@cb-hold-00000000;2"


async def _settle(client: AmiClient, clock: VirtualClock, done, seconds: float = 20.0) -> bool:
    for _ in range(int(seconds * 10)):
        if done(client.events()):
            return True
        await clock.advance(0.1)
    return False


async def _consult(client: AmiClient, clock: VirtualClock, bridge_data: str) -> list[dict]:
    await client.action(
        [
            ("Action", "Originate"),
            ("Channel", "Local/100@cb-hold"),
            ("Context", "caller-sim"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Variable", "HOLD_SECS=60"),
            ("Async", "true"),
            ("ActionID", "caller"),
        ]
    )
    assert await _settle(
        client, clock, lambda ev: any(e["Event"] == "MusicOnHoldStart" for e in ev)
    )
    await client.action(
        [
            ("Action", "Originate"),
            ("Channel", "Local/agent1@cb-agents"),
            ("Application", "Bridge"),
            ("Data", bridge_data),
            ("Timeout", "20000"),
            ("Async", "true"),
            ("ActionID", "agent"),
        ]
    )
    assert await _settle(
        client, clock, lambda ev: sum(e["Event"] == "BridgeEnter" for e in ev) >= 2
    )
    agent_leg = next(
        e["Channel"]
        for e in client.events()
        if e["Event"] == "BridgeEnter" and e["Channel"].startswith("Local/agent1")
    )
    reply = await client.action(
        [
            ("Action", "Atxfer"),
            ("Channel", agent_leg),
            ("Exten", "2002"),
            ("Context", "cb-xfer"),
            ("ActionID", "xfer"),
        ]
    )
    assert dict(reply)["Message"] == "Atxfer successfully queued"
    await _settle(client, clock, lambda ev: False, seconds=3.0)
    return client.events()


@pytest.mark.parametrize(("data", "consults"), [(CALLER, False), (f"{CALLER},T", True)])
async def test_atxfer_needs_bridge_option_t(
    client: AmiClient, clock: VirtualClock, data: str, consults: bool
) -> None:
    events = await _consult(client, clock, data)
    dialled = [e for e in events if e["Event"] == "Newchannel" and "@cb-xfer" in e["Channel"]]
    held = [e for e in events if e["Event"] == "Hold"]
    assert bool(dialled) is consults
    assert bool(held) is consults
    digits = [e["Digit"] for e in events if e["Event"] == "DTMFEnd"]
    assert "".join(digits) == "*22002"
