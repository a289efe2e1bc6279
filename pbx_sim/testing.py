"""Test support: a small reader of the shared Asterisk traces, a raw-socket AMI client, and a
replay driver that sends a trace's actions to a PbxSim running on a VirtualClock.

Kept inside pbx_sim (like starlette.testclient) so other packages' tests can drive the
simulator the same way; it imports nothing of Callboard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pbx_sim.clock import VirtualClock

TRACES = Path(__file__).resolve().parents[2] / "shared" / "asterisk" / "traces"


@dataclass
class Block:
    sent: bool
    headers: list[tuple[str, str]]
    connection: str

    @property
    def first(self) -> tuple[str, str]:
        return self.headers[0]

    def get(self, key: str, default: str = "") -> str:
        return next((v for k, v in self.headers if k == key), default)

    @property
    def event(self) -> str:
        return self.get("Event")


@dataclass
class Trace:
    blocks: list[Block] = field(default_factory=list)

    def received(self, connection: str = "A") -> list[Block]:
        return [b for b in self.blocks if not b.sent and b.connection == connection]

    def sent(self, connection: str = "A") -> list[Block]:
        return [b for b in self.blocks if b.sent and b.connection == connection]


def read_trace(name: str) -> Trace:
    trace = Trace()
    connection = "A"
    current: list[tuple[str, str]] = []
    sent = False
    for raw in (TRACES / name).read_text().splitlines():
        if raw.startswith("# ---- connection "):
            connection = raw.split()[3]
            continue
        if raw.startswith("#") or raw.startswith("Asterisk Call Manager/"):
            continue
        if raw == ">>> SENT":
            sent = True
            continue
        if raw == "":
            if current:
                trace.blocks.append(Block(sent, current, connection))
            current, sent = [], False
            continue
        key, _, value = raw.partition(": ")
        current.append((key, value if value or not raw.endswith(":") else ""))
    return trace


class AmiClient:
    """Raw AMI over TCP: send CRLF header blocks, read whole messages."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.banner = b""
        self.messages: list[list[tuple[str, str]]] = []
        self._pump: asyncio.Task[None] | None = None
        self.eof = asyncio.Event()
        self.raw = bytearray()

    @classmethod
    async def connect(cls, port: int) -> AmiClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        client.banner = await reader.readline()
        client._pump = asyncio.get_running_loop().create_task(client._read())
        return client

    async def _read(self) -> None:
        current: list[tuple[str, str]] = []
        while True:
            line = await self.reader.readline()
            if not line:
                self.eof.set()
                return
            self.raw += line
            text = line.decode()
            if text == "\r\n":
                if current:
                    self.messages.append(current)
                current = []
                continue
            key, _, value = text.rstrip("\r\n").partition(": ")
            current.append((key, value))

    def send(self, headers: list[tuple[str, str]]) -> None:
        self.writer.write("".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n")

    async def wait_for(
        self, predicate: Callable[[dict[str, str]], bool], limit: float = 5.0
    ) -> list[tuple[str, str]]:
        async with asyncio.timeout(limit):
            seen = 0
            while True:
                for message in self.messages[seen:]:
                    if predicate(dict(message)):
                        return message
                seen = len(self.messages)
                await asyncio.sleep(0.002)

    async def action(
        self, headers: list[tuple[str, str]], limit: float = 5.0
    ) -> list[tuple[str, str]]:
        aid = dict(headers)["ActionID"]
        self.send(headers)
        return await self.wait_for(lambda m: "Response" in m and m.get("ActionID") == aid, limit)

    async def login(self, username: str = "ccadmin", secret: str = "ccsecret") -> None:
        await self.action(
            [
                ("Action", "Login"),
                ("Username", username),
                ("Secret", secret),
                ("ActionID", "login-1"),
            ]
        )

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            try:
                await self._pump
            except asyncio.CancelledError:
                pass
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass

    def events(self) -> list[dict[str, str]]:
        return [dict(m) for m in self.messages if m and m[0][0] == "Event"]


async def replay(
    trace: Trace, client: AmiClient, clock: VirtualClock, skip: tuple[str, ...] = ("Login",)
) -> None:
    """Send the trace's actions in order; before each one, run virtual time until the sim has
    produced the trace's last event before that action (same Event, same channel)."""
    blocks = [b for b in trace.blocks if b.connection == "A"]
    trace_replies = {b.get("ActionID"): b for b in blocks if not b.sent and b.get("Response")}
    aliases: dict[str, str] = {}  # trace value -> sim value (MixMonitorID, Challenge...)
    position = 0
    for index, block in enumerate(blocks):
        if not block.sent:
            continue
        previous = next(
            (
                b
                for b in reversed(blocks[:index])
                if not b.sent
                and b.event
                and b.event
                not in (
                    "DeviceStateChange",
                    "Cdr",
                    "SuccessfulAuth",
                    "FullyBooted",
                    "OriginateResponse",
                )
            ),
            None,
        )
        if previous is not None and position:
            keys = ("Event", "Channel", "Application", "Variable", "Priority")
            want = {k: previous.get(k) for k in keys}
            for _ in range(600):
                found = any(
                    all(m.get(k, "") == v for k, v in want.items()) for m in client.events()
                )
                if found:
                    break
                await clock.advance(0.1)
        position += 1
        action = block.get("Action")
        if action in skip:
            continue
        if action == "Logoff":
            await clock.run_until_idle(limit=120)
        client.send([(k, aliases.get(v, v)) for k, v in block.headers])
        reply = None
        for _ in range(50):
            await asyncio.sleep(0.002)
            reply = next(
                (
                    m
                    for m in map(dict, client.messages)
                    if "Response" in m and m.get("ActionID") == block.get("ActionID")
                ),
                None,
            )
            if reply is not None:
                break
        traced = trace_replies.get(block.get("ActionID"))
        if reply is not None and traced is not None:
            for key, value in traced.headers:
                if key in ("MixMonitorID", "Challenge") and key in reply:
                    aliases[value] = reply[key]


def per_channel(events: list[dict[str, str]], ignore: set[str]) -> dict[str, list[str]]:
    """Event names per channel, in order (order holds within a channel, not across)."""
    result: dict[str, list[str]] = {}
    for ev in events:
        name = ev.get("Event", "")
        if name in ignore:
            continue
        channel = ev.get("Channel") or ev.get("DestChannel") or ev.get("LocalOneChannel")
        if not channel:
            continue
        result.setdefault(channel, []).append(name)
    return result
