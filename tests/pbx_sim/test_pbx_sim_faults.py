"""Faults a client library must survive: shutdown (trace 14), dropped TCP, silence, lost replies."""

from __future__ import annotations

import asyncio

import pytest

from pbx_sim import PbxSim, VirtualClock
from pbx_sim.testing import AmiClient, per_channel, read_trace

IGNORED = {"DeviceStateChange", "Cdr", "SuccessfulAuth", "FullyBooted", "OriginateResponse"}


async def test_core_stop_now_with_a_live_call_matches_trace_14(
    sim: PbxSim, client: AmiClient, clock: VirtualClock
) -> None:
    trace = read_trace("14-shutdown.ami")
    originate = next(b for b in trace.sent("A") if b.get("Action") == "Originate")
    client.send(originate.headers)
    await clock.advance(1.0)
    await client.wait_for(lambda m: m.get("Event") == "MusicOnHoldStart")
    await sim.fault_shutdown()
    await asyncio.wait_for(client.eof.wait(), 2)
    want = per_channel([dict(b.headers) for b in trace.received("A")], IGNORED)
    assert per_channel(client.events(), IGNORED) == want
    last = client.events()[-1]
    assert (last["Event"], last["Shutdown"], last["Restart"]) == ("Shutdown", "Cleanly", "False")
    with pytest.raises(OSError):
        await AmiClient.connect(sim.ami_port)
    await sim.start()  # the PBX comes back on the same port, with no channels
    again = await AmiClient.connect(sim.ami_port)
    await again.login()
    reply = await again.action([("Action", "CoreShowChannels"), ("ActionID", "r-1")])
    assert dict(reply)["EventList"] == "start"
    done = await again.wait_for(lambda m: m.get("Event") == "CoreShowChannelsComplete")
    assert dict(done)["ListItems"] == "0"
    await again.close()


async def test_restart_keeps_listening(sim: PbxSim, client: AmiClient) -> None:
    await sim.fault_shutdown(restart=True)
    await asyncio.wait_for(client.eof.wait(), 2)
    assert client.events()[-1]["Restart"] == "True"
    again = await AmiClient.connect(sim.ami_port)
    await again.login()
    await again.close()


def replied(client: AmiClient, action_id: str) -> bool:
    return any(("ActionID", action_id) in message for message in client.messages)


async def test_dropped_connection_is_plain_eof(sim: PbxSim, client: AmiClient) -> None:
    sim.fault_drop_connections()
    await asyncio.wait_for(client.eof.wait(), 20)
    assert all(e["Event"] != "Shutdown" for e in client.events())


async def test_silent_pbx_answers_no_ping(sim: PbxSim, client: AmiClient) -> None:
    sim.fault_silent(True)
    with pytest.raises(TimeoutError):
        await client.action([("Action", "Ping"), ("ActionID", "p-1")], limit=0.3)
    sim.fault_silent(False)
    reply = await client.action([("Action", "Ping"), ("ActionID", "p-2")])
    assert dict(reply)["Ping"] == "Pong"
    # p-2's answer came; an answer to p-1, on the same connection, would have come before it
    assert not replied(client, "p-1"), "the silent PBX answered after all"


async def test_one_action_never_answered(sim: PbxSim, client: AmiClient) -> None:
    sim.fault_ignore_action("QueueAdd")
    with pytest.raises(TimeoutError):
        await client.action(
            [
                ("Action", "QueueAdd"),
                ("Queue", "support"),
                ("Interface", "Local/agent1@cb-agents"),
                ("ActionID", "q-1"),
            ],
            limit=0.3,
        )
    reply = await client.action([("Action", "Ping"), ("ActionID", "p-3")])
    assert dict(reply)["Response"] == "Success"
    assert not replied(client, "q-1"), "an answer to QueueAdd would have come before p-3's"


async def test_calls_survive_a_dropped_connection_and_show_on_resync(
    sim: PbxSim, client: AmiClient, clock: VirtualClock
) -> None:
    await client.action(
        [
            ("Action", "Originate"),
            ("Channel", "Local/100@cb-hold"),
            ("Context", "caller-sim"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Variable", "HOLD_SECS=300"),
            ("Async", "true"),
            ("ActionID", "o-1"),
        ]
    )
    await clock.advance(1.0)
    sim.fault_drop_connections()
    await asyncio.wait_for(client.eof.wait(), 20)
    again = await AmiClient.connect(sim.ami_port)
    try:
        await again.login()
        again.send([("Action", "CoreShowChannels"), ("ActionID", "r-1")])
        done = await again.wait_for(lambda m: m.get("Event") == "CoreShowChannelsComplete")
        assert dict(done)["ListItems"] == "2"
        names = {e["Channel"] for e in again.events() if e["Event"] == "CoreShowChannel"}
        assert names == {"Local/100@cb-hold-00000000;1", "Local/100@cb-hold-00000000;2"}
    finally:
        await again.close()
