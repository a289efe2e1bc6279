"""A TCP server that answers an AMI client with the exact bytes Asterisk sent in a capture.

Each accepted connection replays the next scripted connection of a trace: the banner, then for
every action the client sends, the recorded bytes that followed the matching `>>> SENT` block
(Response and the events up to the next send), with the capture's ActionIDs rewritten to the
client's. So the Link and the Switch are tested against real Asterisk bytes, not a mock.

Matching is by action name, forward from the last match (actions the capture has and the
client skipped are passed over with their bytes). Pings that the capture does not script get a
Pong in Asterisk's format, and unscripted CoreShowChannels/Status/QueueStatus get the empty
list an idle Asterisk gives (so a resync after login works on any capture). Fault knobs:
`mute()` (read on, write nothing, the way a hung PBX looks), `swallow(action)` (never answer
it), `drop()` (close every socket).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ami_bridge.frames import FrameParser, Message
from ami_bridge.link import Link, LinkConfig
from ami_bridge.traces import Connection, Trace, load_trace

TRACES = Path(
    os.environ.get(
        "CALLBOARD_TRACES", Path(__file__).resolve().parents[3] / "shared/asterisk/traces"
    )
)
_ACTION_ID = re.compile(rb"ActionID: ([^\r\n]*)\r\n")
_EMPTY_LISTS = {
    "coreshowchannels": (b"Channels", b"CoreShowChannelsComplete"),
    "status": (b"Channel status", b"StatusComplete"),
    "queuestatus": (b"Queue status", b"QueueStatusComplete"),
}


def trace(name: str) -> Trace:
    """A capture by file-name prefix, e.g. trace("03")."""
    matches = sorted(TRACES.glob(f"{name}*.ami"))
    if len(matches) != 1:
        raise FileNotFoundError(f"no single trace {name}*.ami in {TRACES} (set CALLBOARD_TRACES)")
    return load_trace(matches[0])


@dataclass(slots=True)
class Exchange:
    """One action the client sent and the capture's action it was matched with (or None)."""

    sent: Message
    scripted: Message | None


@dataclass
class TraceServer:
    scripts: list[Connection]
    exchanges: list[Exchange] = field(default_factory=list)
    connections: int = 0
    muted: bool = False
    swallowed: set[str] = field(default_factory=set)
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    def of(cls, connections: Iterable[Connection]) -> TraceServer:
        return cls(scripts=list(connections))

    async def start(self) -> int:
        """Listen on a free loopback port; returns it."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._handlers:  # closing the sockets ends every handler by itself
            await asyncio.wait(self._handlers, timeout=2)

    def mute(self, muted: bool = True) -> None:
        self.muted = muted

    def swallow(self, action: str) -> None:
        self.swallowed.add(action.lower())

    def drop(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    def sent(self, action: str) -> list[Message]:
        """What the client sent for one action name, in order."""
        name = action.lower()
        return [e.sent for e in self.exchanges if e.sent.get("Action", "").lower() == name]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        index = self.connections
        self.connections += 1
        if index >= len(self.scripts):
            writer.close()  # no script left: behave like a PBX that is down
            return
        self._writers.append(writer)
        try:
            await _Replay(self, self.scripts[index], writer).run(reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._handlers.discard(task)


class _Replay:
    def __init__(self, server: TraceServer, script: Connection, writer: asyncio.StreamWriter):
        self.server = server
        self.script = script
        self.writer = writer
        self.cursor = 0
        self.ids: dict[bytes, bytes] = {}
        self.actions = [
            (i, FrameParser(expect_banner=False).feed(data)[0])
            for i, (direction, data) in enumerate(script.segments)
            if direction == "sent"
        ]

    async def run(self, reader: asyncio.StreamReader) -> None:
        self._write_recorded_until_next_send()
        parser = FrameParser(expect_banner=False)
        while data := await reader.read(65536):
            for action in parser.feed(data):
                self._answer(action)
                if self.writer.is_closing():
                    return

    def _answer(self, action: Message) -> None:
        name = action.get("Action", "").lower()
        match = next(
            (
                (i, scripted)
                for i, scripted in self.actions
                if i >= self.cursor and scripted.get("Action", "").lower() == name
            ),
            None,
        )
        if name in self.server.swallowed:
            self.server.exchanges.append(Exchange(action, match[1] if match else None))
            return
        if match is None:
            self.server.exchanges.append(Exchange(action, None))
            action_id = action.get("ActionID", "").encode()
            if name == "ping":
                self._write(
                    b"Response: Success\r\nActionID: %s\r\nPing: Pong\r\nTimestamp: %.6f\r\n\r\n"
                    % (action_id, time.time())
                )
            elif name in _EMPTY_LISTS:  # what an idle Asterisk answers (trace 02 framing)
                self._write(
                    b"Response: Success\r\nActionID: %s\r\nEventList: start\r\n"
                    b"Message: %s will follow\r\n\r\nEvent: %s\r\nActionID: %s\r\n"
                    b"EventList: Complete\r\nListItems: 0\r\n\r\n"
                    % (action_id, _EMPTY_LISTS[name][0], _EMPTY_LISTS[name][1], action_id)
                )
            else:
                self._write(
                    b"Response: Error\r\nActionID: %s\r\nMessage: trace has no %s here\r\n\r\n"
                    % (action.get("ActionID", "").encode(), name.encode())
                )
            return
        index, scripted = match
        self.server.exchanges.append(Exchange(action, scripted))
        self.ids[scripted.get("ActionID", "").encode()] = action.get("ActionID", "").encode()
        self.cursor = index + 1
        self._write_recorded_until_next_send()

    def _write_recorded_until_next_send(self) -> None:
        segments = self.script.segments
        while self.cursor < len(segments) and segments[self.cursor][0] == "recv":
            self._write(_ACTION_ID.sub(self._rewrite, segments[self.cursor][1]))
            self.cursor += 1
        if self.cursor >= len(segments) and self.script.closed_by_peer:
            self.writer.close()

    def _rewrite(self, match: re.Match[bytes]) -> bytes:
        return b"ActionID: " + self.ids.get(match.group(1), match.group(1)) + b"\r\n"

    def _write(self, data: bytes) -> None:
        if not self.server.muted and not self.writer.is_closing():
            self.writer.write(data)


def test_config(port: int, **overrides: float | str) -> LinkConfig:
    """Fast timings so fault tests take a fraction of a second."""
    values: dict = dict(
        host="127.0.0.1",
        port=port,
        username="ccadmin",
        secret="ccsecret",
        ping_interval=0.2,
        dead_after=0.6,
        action_timeout=1.0,
        connect_timeout=1.0,
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    values.update(overrides)
    return LinkConfig(**values)


test_config.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


@asynccontextmanager
async def replaying(
    *connections: Connection, events: list[Message] | None = None, **overrides: float
) -> AsyncIterator[tuple[TraceServer, Link]]:
    """A logged-in Link talking to a TraceServer that replays `connections` in turn."""
    server = TraceServer.of(connections)
    port = await server.start()
    sink: list[Message] = [] if events is None else events
    link = Link(test_config(port, **overrides), on_event=sink.append)
    task = asyncio.create_task(link.run())
    try:
        await link.wait_up(10)
        yield server, link
    finally:
        await link.stop()
        await asyncio.wait_for(task, 10)
        await server.close()


def assert_sent_as_captured(server: TraceServer, skip: Iterable[str] = ("Login", "Ping", "Logoff")):
    """Every action the client sent equals the captured one it replayed (ActionID aside)."""
    skipped = {name.lower() for name in skip}
    checked = 0
    for exchange in server.exchanges:
        if exchange.sent.get("Action", "").lower() in skipped:
            continue
        assert exchange.scripted is not None, f"not in the capture: {exchange.sent}"
        sent = {k: v for k, v in exchange.sent.items() if k != "ActionID"}
        scripted = {k: v for k, v in exchange.scripted.items() if k != "ActionID"}
        assert sent == scripted, f"sent {sent}\ncaptured {scripted}"
        checked += 1
    return checked
