"""Simulated inbound callers: FastAGI IVR, holding, agent connection, recording, call log."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pbx_sim import AgentPhone, Caller, PbxSim, SimConfig, VirtualClock
from pbx_sim.testing import AmiClient
from tests.waiting import eventually


class FastAgiServer:
    """A tiny scripted FastAGI server: records what Asterisk (pbx_sim) sent it."""

    def __init__(self, commands: list[str]) -> None:
        self.commands = commands
        self.headers: dict[str, str] = {}
        self.replies: list[str] = []
        self.done = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (line := (await reader.readline()).decode()) not in ("\n", ""):
            key, _, value = line.rstrip("\n").partition(": ")
            self.headers[key] = value
        for command in self.commands:
            writer.write(command.encode() + b"\n")
            reply = (await reader.readline()).decode().rstrip("\n")
            self.replies.append(reply)
            if reply == "200 result=-1":
                self.replies.append((await reader.readline()).decode().rstrip("\n"))
        writer.close()
        self.done.set()


@pytest.fixture
async def agi() -> AsyncIterator[FastAgiServer]:
    server = FastAgiServer(
        [
            "ANSWER",
            "GET DATA welcome 3000 6",
            "SET VARIABLE CB_QUEUE support",
            "GET VARIABLE CHANNEL(linkedid)",
            "FOO",
        ]
    )
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def live(agi: FastAgiServer) -> AsyncIterator[tuple[PbxSim, VirtualClock]]:
    clock = VirtualClock(start=1795444938.0, idle_grace=0.005)
    sim = PbxSim(SimConfig(agi_url=f"agi://127.0.0.1:{agi.port}/inbound"), clock)
    sim.add_agent_phone("agent1", AgentPhone(ring_secs=2.0, talk_secs=30.0))
    await sim.start()
    clock.start()
    yield sim, clock
    await clock.stop()
    await sim.stop()


async def test_inbound_call_runs_the_ivr_then_holds(
    live: tuple[PbxSim, VirtualClock], agi: FastAgiServer
) -> None:
    sim, _ = live
    client = await AmiClient.connect(sim.ami_port)
    await client.login()
    call = sim.place_inbound_call(
        Caller(number="5551234", name="Alice", did="100", digits=("12345#",), patience=300)
    )
    await asyncio.wait_for(agi.done.wait(), 5)
    assert agi.headers["agi_channel"] == call.caller_channel
    assert agi.headers["agi_callerid"] == "5551234"
    assert agi.headers["agi_extension"] == "100"
    assert agi.headers["agi_context"] == "cb-inbound"
    assert agi.headers["agi_request"].endswith("/inbound")
    assert agi.replies == [
        "200 result=0",
        "200 result=12345",
        "200 result=1",
        f"200 result=1 ({call.linkedid})",
        "510 Invalid or unknown command",
    ]
    moh = await client.wait_for(lambda m: m.get("Event") == "MusicOnHoldStart")
    assert dict(moh)["Channel"] == call.caller_channel
    assert dict(moh)["Context"] == "cb-hold"
    digits = [e["Digit"] for e in client.events() if e["Event"] == "DTMFEnd"]
    assert digits == list("12345#")
    assert {e["Channel"] for e in client.events() if e["Event"] == "DTMFEnd"} == {
        call.caller_channel
    }
    await client.close()


async def test_agent_connect_recording_and_call_log(
    live: tuple[PbxSim, VirtualClock], agi: FastAgiServer, tmp_path: Path
) -> None:
    sim, _ = live
    client = await AmiClient.connect(sim.ami_port)
    await client.login()
    call = sim.place_inbound_call(Caller(number="5552222", did="100", digits=("1",), patience=300))
    await client.wait_for(lambda m: m.get("Event") == "MusicOnHoldStart")
    reply = await client.action(
        [
            ("Action", "Originate"),
            ("Channel", "Local/agent1@cb-agents"),
            ("Application", "Bridge"),
            ("Data", call.caller_channel),
            ("CallerID", '"Bob" <5552222>'),
            ("Timeout", "20000"),
            ("Async", "true"),
            ("ActionID", "o-1"),
        ]
    )
    assert dict(reply)["Message"] == "Originate successfully queued"
    await client.wait_for(
        lambda m: (
            m.get("Event") == "BridgeEnter" and m.get("Channel", "").startswith("Local/agent1")
        ),
        10,
    )
    path = tmp_path / "rec.wav"
    reply = await client.action(
        [
            ("Action", "MixMonitor"),
            ("Channel", call.caller_channel),
            ("File", str(path)),
            ("Options", "bi(MIXMON_ID)"),
            ("ActionID", "m-1"),
        ]
    )
    assert "MixMonitorID" in dict(reply)
    # the agent hangs up after 30 s of talk; the caller goes on in cb-hold and hangs up
    await client.wait_for(
        lambda m: m.get("Event") == "Hangup" and m.get("Channel") == call.handset_channel, 10
    )
    await sim.recorder.flush()
    events = client.events()
    started = next(float(e["Timestamp"]) for e in events if e["Event"] == "MixMonitorStart")
    ended = next(
        float(e["Timestamp"])
        for e in events
        if e["Event"] == "Hangup" and e["Channel"] == call.caller_channel
    )
    assert ended - started >= 30  # the agent talks 30 s after its 5.5 s prompt
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (8000, 2, 1)
        assert abs(wav.getnframes() / 8000 - (ended - started)) < 0.01
    response = next(e for e in client.events() if e["Event"] == "OriginateResponse")
    assert response["Reason"] == "4"
    record = sim.call_log.calls[call.linkedid]
    assert record.ended is not None
    assert "Local/agent1@cb-agents-00000001;1" in record.bridged_with
    assert [o.outcome for o in sim.call_log.originates] == ["answered"]
    await client.close()


async def test_caller_hangs_up_mid_prompt(agi: FastAgiServer) -> None:
    agi.commands = [
        "ANSWER",
        "GET DATA welcome 15000 5",
        "GET VARIABLE CALLERID(num)",
        'STREAM FILE beep ""',
    ]
    clock = VirtualClock(idle_grace=0.005)
    sim = PbxSim(SimConfig(agi_url=f"agi://127.0.0.1:{agi.port}/inbound"), clock)
    await sim.start()
    clock.start()
    try:
        call = sim.place_inbound_call(Caller(number="5553333", hangup_after_prompts=0))
        await asyncio.wait_for(agi.done.wait(), 5)
        assert agi.replies == [
            "200 result=0",
            "200 result=-1",
            "HANGUP",
            "200 result=1 (5553333)",
            "511 Command Not Permitted on a dead channel or intercept routine",
        ]
        await eventually(lambda: sim.call_log.calls[call.linkedid].ended is not None)
        assert sim.channel(call.caller_channel) is None
        assert sim.call_log.calls[call.linkedid].ended is not None
    finally:
        await clock.stop()
        await sim.stop()


async def test_each_prompt_takes_its_own_digits_entry(agi: FastAgiServer) -> None:
    agi.commands = [
        "ANSWER",
        'STREAM FILE welcome ""',
        "STREAM FILE menu 12",
        "GET DATA account 2000 8",
        "GET DATA confirm 2000 1",
    ]
    clock = VirtualClock(idle_grace=0.005)
    sim = PbxSim(SimConfig(agi_url=f"agi://127.0.0.1:{agi.port}/inbound"), clock)
    await sim.start()
    clock.start()
    try:
        sim.place_inbound_call(Caller(number="5551234", digits=("", "2", "4711#")))
        await asyncio.wait_for(agi.done.wait(), 5)
        assert agi.replies == [
            "200 result=0",
            "200 result=0 endpos=16000",
            f"200 result={ord('2')} endpos=6400",
            "200 result=4711",
            "200 result= (timeout)",
        ]
    finally:
        await clock.stop()
        await sim.stop()
