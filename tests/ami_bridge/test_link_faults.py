"""Link faults against real Asterisk bytes: silence, dropped socket, Shutdown, lost replies."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from ami_bridge.errors import LinkDown, OriginateLost
from ami_bridge.frames import Message
from ami_bridge.link import Link, LinkConfig, LinkState, backoff_delay
from ami_bridge.session import Session, SessionLost, open_stream
from tests.ami_bridge.trace_server import TraceServer, test_config, trace
from tests.waiting import eventually


class Harness:
    def __init__(self, server: TraceServer) -> None:
        self.server = server
        self.events: list[Message] = []
        self.states: list[tuple[LinkState, float]] = []
        self.lost = asyncio.Event()
        self.link: Link
        self.task: asyncio.Task[None]

    def _on_state(self, state: LinkState, _detail: str) -> None:
        self.states.append((state, time.monotonic()))
        if state is LinkState.WAITING:
            self.lost.set()

    async def __aenter__(self) -> Harness:
        port = await self.server.start()
        self.link = Link(
            test_config(port),
            on_event=self.events.append,
            on_state=self._on_state,
        )
        self.task = asyncio.create_task(self.link.run())
        await self.link.wait_up(10)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.link.stop()
        await asyncio.wait_for(self.task, 10)
        await self.server.close()

    async def until_sessions(self, count: int, within: float = 20.0) -> None:
        async with asyncio.timeout(within):
            while self.link.sessions < count or not self.link.is_up:
                await self.link.wait_attempt()


def _second_session() -> TraceServer:
    login = trace("01").connection("A")
    return TraceServer.of([login, login])


async def test_silence_is_noticed_within_dead_after_and_the_link_comes_back() -> None:
    async with Harness(_second_session()) as h:
        # A few pings answered (more than dead_after's worth): the watchdog is content.
        await eventually(lambda: len(h.server.sent("Ping")) >= 5, what="five pings")
        assert h.link.is_up and h.link.sessions == 1
        muted_at = time.monotonic()
        h.server.mute()
        await asyncio.wait_for(h.lost.wait(), 20)
        noticed = time.monotonic() - muted_at
        # Not a tight bound (a busy machine stalls the loop): silence is what ended the session,
        # and it was noticed, not only after a multiple of the 3 s default dead_after.
        assert "no reply to Ping" in str(h.link.last_error)
        assert noticed < 10, f"dead link noticed after {noticed:.2f} s"
        h.server.mute(False)
        await h.until_sessions(2)
        assert h.server.connections == 2


def test_default_watchdog_notices_silence_within_three_seconds() -> None:
    config = LinkConfig(username="u", secret="s")
    assert config.dead_after <= 3.0 and config.ping_interval < config.dead_after
    with pytest.raises(ValueError, match=r"ping_interval .* shorter than dead_after"):
        LinkConfig(username="u", secret="s", ping_interval=3.0, dead_after=3.0)
    with pytest.raises(ValueError, match="username"):
        LinkConfig(username="", secret="s")


async def test_socket_closed_by_the_pbx_reconnects() -> None:
    async with Harness(_second_session()) as h:
        h.server.drop()
        await h.until_sessions(2)
        states = [state for state, _ in h.states]
        assert states[:2] == [LinkState.CONNECTING, LinkState.UP]
        assert LinkState.WAITING in states[2:]
        assert states[-1] is LinkState.UP


async def test_asterisk_shutdown_event_then_eof_reconnects() -> None:
    shutdown = trace("14")
    server = TraceServer.of([shutdown.connection("A"), shutdown.connection("B")])
    async with Harness(server) as h:
        result = await h.link.originate([("Channel", "Local/100@cb-hold")], result_timeout=10)
        assert result["Reason"] == "4"
        # Everything up to the Shutdown event was delivered, then the link reconnected.
        await h.until_sessions(2)
        names = [e.get("Event") for e in h.events]
        assert "Shutdown" in names
        assert names.index("Hangup") < names.index("Shutdown")


async def test_pending_action_fails_fast_on_link_loss_and_is_never_replayed() -> None:
    async with Harness(_second_session()) as h:
        h.server.swallow("QueueAdd")
        waiting = asyncio.create_task(h.link.send("QueueAdd", [("Queue", "support")]))
        await eventually(lambda: h.server.sent("QueueAdd"), what="QueueAdd sent")
        h.server.drop()
        with pytest.raises(LinkDown, match="lost while waiting"):
            await waiting
        await h.until_sessions(2)
        # Positive control: the server has taken the new session's pings, so a replay (which
        # would be sent at reconnect, before them) would have reached it already.
        pings = len(h.server.sent("Ping"))
        await eventually(lambda: len(h.server.sent("Ping")) >= pings + 2, what="new pings")
        assert len(h.server.sent("QueueAdd")) == 1, "panoramisk would have re-sent it"


async def test_originate_cut_before_its_reply_reports_the_call_may_exist() -> None:
    async with Harness(_second_session()) as h:
        h.server.swallow("Originate")
        waiting = asyncio.create_task(
            h.link.originate([("Channel", "Local/5551234@pstn-sim")], result_timeout=5)
        )
        await eventually(lambda: h.server.sent("Originate"), what="Originate sent")
        h.server.drop()
        with pytest.raises(OriginateLost, match="the call may exist") as caught:
            await waiting
        assert caught.value.code == "ami.originate_lost"


def test_backoff_is_exponential_capped_and_jittered() -> None:
    config = LinkConfig(username="u", secret="s", backoff_initial=0.5, backoff_max=30.0)
    rng = random.Random(7)
    delays = [backoff_delay(config, n, rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        base = min(30.0, 0.5 * 2 ** (n - 1))
        assert base / 2 <= delay <= base
    assert max(delays) <= 30.0
    assert len({round(d, 6) for d in delays[-4:]}) == 4, "jitter spreads capped delays"
    assert backoff_delay(config, 1, rng, after_refusal=True) >= 15.0
    assert backoff_delay(config, 10_000, rng) <= 30.0


class _RawPbx:
    """A bare AMI server the test writes to directly: it greets, accepts the login and answers
    every Ping, so the link is healthy until the test makes it otherwise."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.logged_in = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def send(self, *events: dict[str, str]) -> None:
        assert self.writer is not None
        for event in events:
            self.writer.write("".join(f"{k}: {v}\r\n" for k, v in event.items()).encode() + b"\r\n")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.writer is not None:  # one session only: later connections are refused
            writer.close()
            return
        self.writer = writer
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        try:
            while block := await reader.readuntil(b"\r\n\r\n"):
                action = dict(
                    line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line
                )
                reply = {"Response": "Success", "ActionID": action.get("ActionID", "")}
                if action.get("Action") == "Ping":
                    reply["Ping"] = "Pong"
                self.send(reply)
                if action.get("Action") == "Login":
                    self.logged_in.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass


def _hangup(uniqueid: str) -> dict[str, str]:
    return {"Event": "Hangup", "Privilege": "call,all", "Uniqueid": uniqueid, "Cause": "16"}


async def _raw_link(pbx: _RawPbx, events: list[Message], states: list[LinkState]) -> Link:
    port = await pbx.start()

    def on_state(state: LinkState, _detail: str) -> None:
        states.append(state)
        if state is LinkState.WAITING:  # what the link had delivered when it reported down
            events.append(Message([("Event", "<link down>")]))

    return Link(test_config(port), on_event=events.append, on_state=on_state)


async def test_events_already_received_are_delivered_even_when_the_loop_stalls() -> None:
    """A busy machine: the event loop stalls longer than dead_after while events sit unread in
    the socket. Bytes that were received are not silence: every event comes out, and none is
    lost to the watchdog (which once judged the link dead first and dropped them)."""
    pbx, events, states = _RawPbx(), [], []
    link = await _raw_link(pbx, events, states)
    task = asyncio.create_task(link.run())
    try:
        await link.wait_up(10)
        pbx.send(_hangup("1.1"), _hangup("1.2"))
        time.sleep(link.config.dead_after * 1.5)  # noqa: ASYNC251  # the loop stalls: nobody reads
        await eventually(lambda: len(events) >= 2, what="two events")
        names = [(e.get("Event"), e.get("Uniqueid")) for e in events]
        assert names[:2] == [("Hangup", "1.1"), ("Hangup", "1.2")]
    finally:
        await link.stop()
        await asyncio.wait_for(task, 10)
        await pbx.close()


async def test_every_event_received_before_eof_is_delivered_before_the_link_is_down() -> None:
    """Asterisk's Shutdown is not the last word: whatever comes before EOF is still delivered,
    and only then does the link report itself down."""
    pbx, events, states = _RawPbx(), [], []
    link = await _raw_link(pbx, events, states)
    task = asyncio.create_task(link.run())
    try:
        await link.wait_up(10)
        shutdown = {"Event": "Shutdown", "Shutdown": "Cleanly", "Restart": "False"}
        pbx.send(_hangup("1.1"), shutdown, _hangup("1.2"))
        assert pbx.writer is not None
        pbx.writer.close()  # EOF
        await eventually(lambda: LinkState.WAITING in states, what="link down")
        names = [(e.get("Event"), e.get("Uniqueid")) for e in events]
        assert names == [
            ("Hangup", "1.1"),
            ("Shutdown", None),
            ("Hangup", "1.2"),
            ("<link down>", None),
        ]
        assert "shutting down" in str(link.last_error)
    finally:
        await link.stop()
        await asyncio.wait_for(task, 10)
        await pbx.close()


async def test_a_shutdown_without_eof_still_ends_the_session() -> None:
    """After `Event: Shutdown` the session ends by dead_after even if the socket stays open and
    the PBX still answers pings."""
    pbx, events, states = _RawPbx(), [], []
    link = await _raw_link(pbx, events, states)
    task = asyncio.create_task(link.run())
    try:
        await link.wait_up(10)
        pbx.send({"Event": "Shutdown", "Shutdown": "Cleanly", "Restart": "True"})
        await eventually(lambda: LinkState.WAITING in states, what="link down")
        assert "shutting down (Restart: True)" in str(link.last_error)
    finally:
        await link.stop()
        await asyncio.wait_for(task, 10)
        await pbx.close()


async def test_bytes_received_before_a_connection_reset_are_still_read() -> None:
    """A PBX that closes with our Pings unread resets the connection (RST, not FIN). What it
    sent before is in the reader's buffer when the reset is reported (the protocol feeds the
    data, then the error): the session reads it first, then reports the reset."""
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    reader, writer = await open_stream("127.0.0.1", server.sockets[0].getsockname()[1])
    try:
        reader.feed_data(b"Event: Hangup\r\nUniqueid: 1.1\r\n\r\nEvent: Shutdown\r\n\r\n")
        reader.set_exception(ConnectionResetError(104, "Connection reset by peer"))
        session = Session(reader, writer, iter(["a-1"]))
        messages = await session.read_messages()
        assert [m.get("Event") for m in messages] == ["Hangup", "Shutdown"]
        with pytest.raises(SessionLost, match=r"connection error: .*reset by peer"):
            await session.read_messages()
    finally:
        writer.close()
        server.close()
        await server.wait_closed()
