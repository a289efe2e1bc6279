"""Why the Link does not sit on panoramisk 1.4's Manager: its defects, pinned against real
Asterisk bytes. If an upstream release fixes one, its test here fails and the Link's module
docstring should be revisited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from panoramisk import Manager

from ami_bridge.traces import Connection
from tests.ami_bridge.trace_server import TraceServer, trace
from tests.waiting import eventually


@asynccontextmanager
async def panoramisk_on(connection: Connection) -> AsyncIterator[tuple[Manager, TraceServer]]:
    server = TraceServer.of([connection])
    port = await server.start()
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host="127.0.0.1",
        port=port,
        username="ccadmin",
        secret="ccsecret",
        ping_delay=3600,  # keep its unchecked pinger out of the way
    )
    try:
        await manager.connect()
        await eventually(lambda: manager.authenticated, what="panoramisk logged in")
        yield manager, server
    finally:
        manager.close()
        await server.close()


async def test_playdtmf_reply_breaks_panoramisk() -> None:
    # "DTMF successfully queued" is taken for a list start; deciding that reads the action's
    # `Async` header, which PlayDTMF has not: KeyError inside data_received, connection lost.
    async with panoramisk_on(trace("06").connection("A")) as (manager, server):
        for action in ("Originate", "Redirect", "Originate", "Redirect"):
            manager.send_action({"Action": action}, as_list=False)
        await eventually(lambda: len(server.exchanges) >= 5, what="the trace's first actions")
        future = manager.send_action({"Action": "PlayDTMF", "Channel": "x", "Digit": "1"})
        # Asterisk answered and panoramisk dropped the AMI connection over the reply, so the
        # reply can never resolve the action now (not a wait for something not to happen).
        await eventually(
            lambda: server.sent("PlayDTMF") and manager.protocol.transport.is_closing(),
            what="PlayDTMF answered and the connection dropped",
        )
        assert not future.done(), "panoramisk never resolves it"
        future.cancel()


async def test_originate_response_never_reaches_panoramisk_event_callbacks() -> None:
    async with panoramisk_on(trace("03").connection("A")) as (manager, _server):
        seen: list[str] = []
        manager.register_event("*", lambda _manager, event: seen.append(event.event))
        result = await asyncio.wait_for(
            manager.send_action({"Action": "Originate", "Async": "true"}), 20
        )
        assert [m.get("Event", m.get("Response")) for m in result] == [
            "Success",
            "OriginateResponse",
        ]
        assert "OriginateResponse" not in seen
        assert "Newchannel" in seen, "other events did reach the callbacks"
