"""Simulated parties: Poisson callers, agent phone habits, dialer far ends."""

from __future__ import annotations

import asyncio
import socket

import pytest

from pbx_sim import AgentPhone, Caller, FarEndProfile, Outcome, PbxSim, SimConfig, VirtualClock
from pbx_sim.agi_client import AgiClient
from pbx_sim.testing import AmiClient
from tests.waiting import eventually


async def _answering_agi() -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\n", b""):
            pass
        writer.write(b"ANSWER\n")
        await reader.readline()
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


async def test_poisson_callers_abandon_after_their_patience() -> None:
    agi = await _answering_agi()
    port = agi.sockets[0].getsockname()[1]
    clock = VirtualClock(idle_grace=0.003)
    sim = PbxSim(
        SimConfig(
            agi_url=f"agi://127.0.0.1:{port}/inbound",
            call_rate=0.5,
            call_limit=6,
            patience=(5.0, 20.0),
            seed=3,
        ),
        clock,
    )
    await sim.start()
    clock.start()
    try:
        await eventually(
            lambda: (
                len(sim.call_log.calls) == 6
                and all(c.ended is not None for c in sim.call_log.calls.values())
            ),
            60,
        )
        records = list(sim.call_log.calls.values())
        assert len(records) == 6
        numbers = {r.caller_number for r in records}
        assert numbers <= {"5551234", "5552222", "5553333"}
        for record in records:
            assert record.ended is not None and 5.0 <= record.ended - record.started <= 21.5
            assert set(record.causes.values()) == {16}
        starts = sorted(r.started for r in records)
        assert starts[-1] - starts[0] > 0  # arrivals spread over time, not all at once
    finally:
        await clock.stop()
        await sim.stop()
        agi.close()
        await agi.wait_closed()


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        (AgentPhone(busy=1.0), "5"),
        (AgentPhone(no_answer=1.0), "3"),
        (AgentPhone(ring_secs=4.0), "4"),
    ],
)
async def test_agent_phone_habits(
    sim: PbxSim, client: AmiClient, clock: VirtualClock, phone: AgentPhone, reason: str
) -> None:
    sim.add_agent_phone("agent9", phone)
    await client.action(
        [
            ("Action", "Originate"),
            ("Channel", "Local/agent9@cb-agents"),
            ("Application", "Playback"),
            ("Data", "beep"),
            ("Timeout", "8000"),
            ("Async", "true"),
            ("ActionID", "o-1"),
        ]
    )
    for _ in range(200):
        if any(e["Event"] == "OriginateResponse" for e in client.events()):
            break
        await clock.advance(0.1)
    response = next(e for e in client.events() if e["Event"] == "OriginateResponse")
    assert response["Reason"] == reason
    assert sim.call_log.originates[0].reason == int(reason)


async def test_far_end_outcomes_by_number_and_by_weight(
    sim: PbxSim, client: AmiClient, clock: VirtualClock
) -> None:
    sim.runtime.far_ends = FarEndProfile(
        per_number={"5550001": Outcome.CONGESTION}, weights={Outcome.BUSY: 1.0}
    )
    for n, number in enumerate(("5550001", "5559999")):
        await client.action(
            [
                ("Action", "Originate"),
                ("Channel", f"Local/{number}@pstn-sim"),
                ("Context", "cb-dialer"),
                ("Exten", "s"),
                ("Priority", "1"),
                ("Async", "true"),
                ("ActionID", f"d-{n}"),
            ]
        )
    await clock.advance(5)
    reasons = {
        e["ActionID"]: e["Reason"] for e in client.events() if e["Event"] == "OriginateResponse"
    }
    assert reasons == {"d-0": "8", "d-1": "5"}


async def test_a_phone_already_in_a_call_is_busy(
    sim: PbxSim, client: AmiClient, clock: VirtualClock
) -> None:
    sim.add_agent_phone("agent5", AgentPhone(ring_secs=1.0, talk_secs=60.0))
    for n in (1, 2):
        await client.action(
            [
                ("Action", "Originate"),
                ("Channel", "Local/agent5@cb-agents"),
                ("Application", "MusicOnHold"),
                ("Data", "default"),
                ("Async", "true"),
                ("ActionID", f"o-{n}"),
            ]
        )
        await clock.advance(3)
    reasons = {
        e["ActionID"]: e["Reason"] for e in client.events() if e["Event"] == "OriginateResponse"
    }
    assert reasons == {"o-1": "4", "o-2": "5"}


async def test_nailed_up_line_and_a_caller_who_talks_then_leaves(
    sim: PbxSim, client: AmiClient, clock: VirtualClock
) -> None:
    sim.add_agent_phone("agent4", AgentPhone(nailed_secs=3600.0))
    await client.action(
        [
            ("Action", "Originate"),
            ("Channel", "Local/agent4@cb-agent-phone"),
            ("Application", "ConfBridge"),
            ("Data", "agent4,cc_bridge,cc_agent"),
            ("Async", "true"),
            ("ActionID", "n-1"),
        ]
    )
    await clock.advance(1)
    with socket.socket() as probe:  # a port nobody listens on: AGI fails, the call holds
        probe.bind(("127.0.0.1", 0))
        sim.runtime.agi = AgiClient(f"agi://127.0.0.1:{probe.getsockname()[1]}/inbound")
    call = sim.place_inbound_call(Caller(number="5552222", talk_limit=30.0))
    await clock.advance(1)
    await client.action(
        [
            ("Action", "Redirect"),
            ("Channel", call.caller_channel),
            ("Context", "cb-conf"),
            ("Exten", "agent4"),
            ("Priority", "1"),
            ("ActionID", "r-1"),
        ]
    )
    await clock.advance(29)
    assert sim.channel(call.caller_channel) is not None
    await clock.advance(2)
    assert sim.channel(call.caller_channel) is None
    assert sim.call_log.calls[call.linkedid].connected
    await clock.advance(600)
    assert sim.channel("Local/agent4@cb-agent-phone-00000000;2") is not None
    assert "agent4" in sim.world.conferences
