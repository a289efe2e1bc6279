"""The FastAGI client against trace 13: same request headers, same replies to the same commands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pbx_sim import PbxSim, SimConfig, VirtualClock
from pbx_sim.testing import TRACES, AmiClient, read_trace
from tests.waiting import eventually


def read_agi_trace() -> dict[str, tuple[list[str], list[tuple[str, list[str]]]]]:
    """connection -> (request header names, [(command, reply lines)])."""
    sessions: dict[str, tuple[list[str], list[tuple[str, list[str]]]]] = {}
    lines = (TRACES / "13-fastagi.agi").read_text().split("\n")
    current = ""
    expect_command = False
    for line in lines:
        if line.startswith("# ---- connection "):
            current = line.split()[3]
            sessions[current] = ([], [])
            continue
        if not current or line.startswith("#"):
            continue
        headers, exchanges = sessions[current]
        if line == ">>> SENT":
            expect_command = True
        elif expect_command:
            exchanges.append((line, []))
            expect_command = False
        elif exchanges and line:
            exchanges[-1][1].append(line)
        elif line:
            headers.append(line.split(":", 1)[0])
    return sessions


class ReplayingAgiServer:
    """Sends the trace's commands; records the request headers and every reply line."""

    def __init__(self) -> None:
        self.trace = read_agi_trace()
        self.sessions: list[tuple[list[str], list[list[str]]]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        name = ["S1", "S2"][len(self.sessions)]
        headers: list[str] = []
        while (line := (await reader.readline()).decode()) not in ("\n", ""):
            headers.append(line.split(":", 1)[0])
        replies: list[list[str]] = []
        self.sessions.append((headers, replies))
        for command, expected in self.trace[name][1]:
            writer.write(command.encode() + b"\n")
            got: list[str] = []
            while len(got) < len(expected):
                got.append((await reader.readline()).decode().rstrip("\n"))
            replies.append(got)
        writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def agi() -> AsyncIterator[ReplayingAgiServer]:
    server = ReplayingAgiServer()
    await server.start()
    yield server
    await server.stop()


async def test_fastagi_sessions_match_trace_13(agi: ReplayingAgiServer) -> None:
    clock = VirtualClock(start=1795445332.0, idle_grace=0.005)
    sim = PbxSim(SimConfig(agi_url=f"agi://127.0.0.1:{agi.port}/ivr"), clock)
    await sim.start()
    clock.start()
    client = await AmiClient.connect(sim.ami_port)
    try:
        await client.login()
        originates = [
            b for b in read_trace("13-fastagi-ami.ami").sent("A") if b.get("Action") == "Originate"
        ]
        for count, block in enumerate(originates, start=1):
            await client.action(block.headers)

            def sessions_done(count: int = count) -> bool:
                done = [
                    r
                    for n, (_, r) in zip(("S1", "S2"), agi.sessions, strict=False)
                    if len(r) == len(agi.trace[n][1])
                ]
                return len(done) == count

            await eventually(sessions_done, what=f"{count} FastAGI sessions done")
        assert len(agi.sessions) == 2
        for name, (headers, replies) in zip(("S1", "S2"), agi.sessions, strict=True):
            want_headers, exchanges = agi.trace[name]
            assert headers == want_headers
            assert replies == [expected for _, expected in exchanges], name

        def results(events: list[dict[str, str]]) -> list[tuple[str, str, str]]:
            return [
                (e["Command"], e["ResultCode"], e["Result"])
                for e in events
                if e.get("Event") == "AGIExecEnd"
            ]

        traced = [dict(b.headers) for b in read_trace("13-fastagi-ami.ami").received("A")]
        assert results(client.events()) == results(traced)
    finally:
        await client.close()
        await clock.stop()
        await sim.stop()
