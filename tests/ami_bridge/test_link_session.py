"""The AMI Link against real Asterisk bytes: login, events, replies, errors and timeouts."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from ami_bridge.errors import (
    ActionFailed,
    ActionTimeout,
    ChannelNotFound,
    ConnectFailed,
    InvalidRequest,
    LinkDown,
    LoginFailed,
)
from ami_bridge.frames import Message
from ami_bridge.link import Link, LinkState
from tests.ami_bridge.trace_server import TraceServer, test_config, trace
from tests.waiting import eventually


@asynccontextmanager
async def running(
    server: TraceServer, on_event: Callable[[Message], None] | None = None, **overrides: float
) -> AsyncIterator[Link]:
    port = await server.start()
    events: list[Message] = []
    link = Link(test_config(port, **overrides), on_event=on_event or events.append)
    task = asyncio.create_task(link.run())
    try:
        yield link
    finally:
        await link.stop()
        await asyncio.wait_for(task, 10)
        await server.close()


async def first_attempt(link: Link) -> None:
    """Wait for the link's first connection attempt to end; raise its error if it failed."""
    async with asyncio.timeout(20):  # no task in between: the waiter is registered at once
        await link.wait_attempt()
    if link.last_error is not None:
        raise link.last_error


async def test_login_delivers_events_and_logoff_says_goodbye() -> None:
    server = TraceServer.of([trace("01").connection("A")])
    events: list[Message] = []
    async with running(server, events.append) as link:
        await link.wait_up(10)
        assert link.state is LinkState.UP
        await eventually(lambda: any(e.get("Event") == "SuccessfulAuth" for e in events))
        assert [e["Event"] for e in events][:2] == ["FullyBooted", "SuccessfulAuth"]
    login = server.sent("Login")[0]
    assert login["Username"] == "ccadmin" and login["Events"] == "on"
    assert server.sent("Logoff"), "stop() logs off"
    assert link.state is LinkState.STOPPED


async def test_wrong_secret_is_a_login_failure_with_asterisk_message() -> None:
    server = TraceServer.of([trace("01").connection("B")])
    async with running(server) as link:
        with pytest.raises(LoginFailed, match="Authentication failed") as caught:
            await link.wait_up(10)
        assert caught.value.code == "ami.login_failed"
        assert not link.is_up


async def test_refused_port_says_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    link = Link(test_config(port), on_event=lambda _: None)
    task = asyncio.create_task(link.run())
    try:
        with pytest.raises(ConnectFailed, match="connection refused") as caught:
            await first_attempt(link)
        assert caught.value.code == "ami.connect_failed"
    finally:
        await link.stop()
        await asyncio.wait_for(task, 10)


async def test_unknown_host_is_named_as_such() -> None:
    # ".invalid" never resolves (RFC 6761): no DNS answer, or none within the connect timeout.
    link = Link(test_config(5038, host="pbx.invalid", connect_timeout=0.5), on_event=lambda _: None)
    task = asyncio.create_task(link.run())
    try:
        with pytest.raises(ConnectFailed, match=r"pbx\.invalid:5038: (cannot resolve|no answer)"):
            await first_attempt(link)
    finally:
        await link.stop()
        await asyncio.wait_for(task, 10)


async def test_a_server_that_is_not_asterisk_is_named_as_such() -> None:
    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = Link(test_config(port), on_event=lambda _: None)
    task = asyncio.create_task(link.run())
    try:
        with pytest.raises(ConnectFailed, match="not an AMI server"):
            await first_attempt(link)
    finally:
        await link.stop()
        await asyncio.wait_for(task, 10)
        server.close()
        await server.wait_closed()


async def test_actions_before_login_raise_link_down() -> None:
    link = Link(test_config(1), on_event=lambda _: None)
    with pytest.raises(LinkDown, match="link is stopped"):
        await link.send("Ping", [])


async def test_playdtmf_reply_resolves_where_panoramisk_hangs() -> None:
    # "DTMF successfully queued" looks like a list start to panoramisk 1.4 and never resolves.
    server = TraceServer.of([trace("06").connection("A")])
    async with running(server) as link:
        await link.wait_up(10)
        await link.originate(
            [("Channel", "Local/100@cb-hold"), ("Context", "caller-sim"), ("Exten", "s")],
            result_timeout=1,
        )
        await link.send("Redirect", [("Channel", "Local/100@cb-hold-00000000;2")])
        await link.originate([("Channel", "Local/101@cb-hold")], result_timeout=1)
        await link.send("Redirect", [("Channel", "Local/101@cb-hold-00000001;2")])
        reply = await link.send("PlayDTMF", [("Channel", "x"), ("Digit", "1")])
        assert reply["Message"] == "DTMF successfully queued"
        await link.originate([("Channel", "Local/102@cb-hold")], result_timeout=1)
        await link.send("Hangup", [("Channel", "Local/102@cb-hold-00000002;2")])
        with pytest.raises(ChannelNotFound, match="Channel does not exist"):
            await link.send("Redirect", [("Channel", "Local/999@cb-hold-0000ffff;2")])
        with pytest.raises(ChannelNotFound, match="No such channel") as caught:
            await link.send("Hangup", [("Channel", "Local/999@cb-hold-0000ffff;2")])
        assert caught.value.code == "ami.no_such_channel"


async def test_originate_response_is_the_result_and_also_an_event() -> None:
    server = TraceServer.of([trace("03").connection("A")])
    events: list[Message] = []
    async with running(server, events.append) as link:
        await link.wait_up(10)
        result = await link.originate([("Channel", "Local/100@cb-hold")], result_timeout=1)
        assert result["Event"] == "OriginateResponse"
        assert result["Reason"] == "4"
        assert result["Channel"] == "Local/100@cb-hold-00000000;1"
        assert result["ActionID"] == server.sent("Originate")[0]["ActionID"]
        assert any(e.get("Event") == "OriginateResponse" for e in events)


async def test_an_action_whose_reply_never_comes_times_out() -> None:
    server = TraceServer.of([trace("12").connection("A")])
    server.swallow("QueueAdd")
    async with running(server, action_timeout=0.3) as link:
        await link.wait_up(10)
        started = time.monotonic()
        with pytest.raises(ActionTimeout, match=r"no reply within 0\.3 s") as caught:
            await link.send("QueueAdd", [("Queue", "support")])
        assert 0.25 < time.monotonic() - started < 10  # the bound: not hanging (a busy CI)
        assert caught.value.code == "ami.action_timeout"
        assert link.is_up, "a lost reply does not take the link down"


async def test_queue_add_reply_resolves_and_errors_carry_asterisk_text() -> None:
    server = TraceServer.of([trace("12").connection("A")])
    async with running(server) as link:
        await link.wait_up(10)
        reply = await link.send("QueueAdd", [("Queue", "support")])
        assert reply["Message"] == "Added interface to queue"
        with pytest.raises(ActionFailed, match="Already there"):
            await link.send("QueueAdd", [("Queue", "support")])


async def test_list_action_returns_items_in_order() -> None:
    server = TraceServer.of([trace("02").connection("B")])
    async with running(server) as link:
        await link.wait_up(10)
        channels = await link.send_list("CoreShowChannels")
        assert len(channels) == 6
        assert {c["Event"] for c in channels} == {"CoreShowChannel"}
        statuses = await link.send_list("Status")
        assert statuses and all(s["Event"] == "Status" for s in statuses)


async def test_header_injection_is_refused_before_sending() -> None:
    server = TraceServer.of([trace("03").connection("A")])
    async with running(server) as link:
        await link.wait_up(10)
        with pytest.raises(InvalidRequest, match="line break"):
            await link.send("Hangup", [("Channel", "x\r\nAction: Originate")])
        assert not server.sent("Hangup")


async def test_stop_while_connecting_returns_at_once() -> None:
    accepted = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # accepts the TCP connection, never greets: a hung PBX
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = Link(test_config(port, connect_timeout=30.0), on_event=lambda _: None)
    task = asyncio.create_task(link.run())
    await asyncio.wait_for(accepted.wait(), 20)  # the link waits for a greeting now
    assert link.state is LinkState.CONNECTING
    started = time.monotonic()
    await link.stop()
    await asyncio.wait_for(task, 20)
    # "at once": well before the 30 s connect timeout (a loose bound: CI machines are busy)
    assert time.monotonic() - started < 10 and link.state is LinkState.STOPPED
    server.close()
    await server.wait_closed()
