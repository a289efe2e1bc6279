"""The FastAGI server against the exact bytes Asterisk 22 sent in trace 13-fastagi.agi."""

from __future__ import annotations

import asyncio

import pytest

from ivr.agi import AgiChannel, AgiInvalidCommand, AgiRequest, AgiUsageError, ChannelHungUp
from ivr.server import FastAgiServer


async def replay(port: int, session) -> list[str]:
    """Play Asterisk: send the request, then answer each command line with the traced reply.

    Returns the command lines the server wrote; fails on the first one the trace did not have.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent: list[str] = []
    writer.write(session.request)
    for expected, reply in session.exchanges:
        line = await asyncio.wait_for(reader.readuntil(b"\n"), 5)
        assert line == expected.encode() + b"\n", f"after {sent}: got {line!r}"
        sent.append(expected)
        writer.write(reply)
    # Asterisk keeps the socket open: the server must close it by itself.
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    await writer.wait_closed()
    return sent


async def test_session_one_every_command_and_reply(agi_trace) -> None:
    seen: dict[str, object] = {}

    async def script(request: AgiRequest, channel: AgiChannel) -> None:
        seen["request"] = request
        await channel.answer()
        seen["stream"] = await channel.stream_file("hello-world")
        seen["digits"] = await channel.get_data("vm-enter-num-to-call", 8000, 5)
        seen["timeout"] = await channel.get_data("beep", 2000, 3)
        await channel.set_variable("IVR_CHOICE", "123")
        seen["var"] = await channel.get_variable("IVR_CHOICE")
        seen["func"] = await channel.get_variable("CALLERID(num)")
        seen["full"] = await channel.get_full_variable("${CALLERID(name)} from ${CALLERID(num)}")
        seen["missing"] = await channel.get_variable("NO_SUCH_VAR")
        seen["exec"] = await channel.exec("Playback", "beep")
        await channel.verbose("hello from the FastAGI server")
        with pytest.raises(AgiInvalidCommand):
            await channel.command("FOO BAR")
        with pytest.raises(AgiUsageError) as usage:
            await channel.command("STREAM FILE")
        seen["usage"] = usage.value.usage
        await channel.hangup()
        seen["after_hangup"] = await channel.get_variable("IVR_CHOICE")
        with pytest.raises(ChannelHungUp):
            await channel.stream_file("beep")
        seen["done"] = True

    server = FastAgiServer(script, port=0)
    await server.start()
    try:
        sent = await replay(server.port, agi_trace[0])
    finally:
        await server.close()

    assert len(sent) == 16
    request = seen["request"]
    assert isinstance(request, AgiRequest)
    assert request.script == "ivr"
    assert request.channel == "Local/300@cb-agi-00000000;2"
    assert request.caller_number == "5551234"
    assert request.caller_name == "Alice Customer"
    assert request.args == ["first arg", "second"]
    assert request.headers["agi_accountcode"] == ""
    assert seen["stream"] is None
    assert seen["digits"] == ("123", False)
    assert seen["timeout"] == ("", True)
    assert (seen["var"], seen["func"], seen["missing"]) == ("123", "5551234", None)
    assert seen["full"] == "Alice Customer from 5551234"
    assert seen["exec"] == "0"
    assert str(seen["usage"]).startswith("Invalid command syntax.")
    assert str(seen["usage"]).endswith("<value>FAILED</value>")
    assert seen["after_hangup"] == "123"
    assert seen["done"] is True


async def test_session_two_caller_hangs_up_during_get_data(agi_trace) -> None:
    seen: dict[str, object] = {}

    async def script(request: AgiRequest, channel: AgiChannel) -> None:
        await channel.answer()
        with pytest.raises(ChannelHungUp):
            await channel.get_data("vm-enter-num-to-call", 15000, 5)
        seen["hung_up"] = channel.hung_up
        seen["number"] = await channel.get_variable("CALLERID(num)")
        with pytest.raises(ChannelHungUp):
            await channel.stream_file("beep")

    server = FastAgiServer(script, port=0)
    await server.start()
    try:
        sent = await replay(server.port, agi_trace[1])
    finally:
        await server.close()
    assert sent[1] == "GET DATA vm-enter-num-to-call 15000 5"
    assert seen == {"hung_up": True, "number": "5552222"}
