"""AMI framing, login and session behaviours of trace 01, over a real socket."""

from __future__ import annotations

import asyncio
import hashlib
import time

from pbx_sim import PbxSim
from pbx_sim.testing import AmiClient


async def test_banner_and_login_bytes(sim: PbxSim) -> None:
    client = await AmiClient.connect(sim.ami_port)
    try:
        assert client.banner == b"Asterisk Call Manager/11.0.0\r\n"
        client.send(
            [
                ("Action", "Login"),
                ("Username", "ccadmin"),
                ("Secret", "ccsecret"),
                ("ActionID", "a-1"),
            ]
        )
        await client.wait_for(lambda m: m.get("Event") == "SuccessfulAuth")
        raw = bytes(client.raw)
        assert raw.startswith(
            b"Response: Success\r\nActionID: a-1\r\nMessage: Authentication accepted\r\n\r\n"
            b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: "
        )
        assert b"\n\n" not in raw.replace(b"\r\n", b"")
        auth = dict(client.messages[2])
        assert list(auth)[:3] == ["Event", "Privilege", "Timestamp"]
        assert auth["AccountID"] == "ccadmin" and auth["UsingPassword"] == "0"
    finally:
        await client.close()


async def test_ping_with_and_without_action_id(client: AmiClient) -> None:
    client.send([("Action", "Ping")])
    pong = await client.wait_for(lambda m: m.get("Ping") == "Pong")
    assert [k for k, _ in pong] == ["Response", "Ping", "Timestamp"]
    pong = await client.action([("Action", "Ping"), ("ActionID", "a-2")])
    assert [k for k, _ in pong] == ["Response", "ActionID", "Ping", "Timestamp"]


async def test_action_before_login_is_denied_and_reported(sim: PbxSim, client: AmiClient) -> None:
    other = await AmiClient.connect(sim.ami_port)
    try:
        denied = await other.action([("Action", "Ping"), ("ActionID", "d-1")])
        assert denied == [
            ("Response", "Error"),
            ("ActionID", "d-1"),
            ("Message", "Permission denied"),
        ]
        event = await client.wait_for(lambda m: m.get("Event") == "RequestNotAllowed")
        assert dict(event)["RequestType"] == "Action: Ping"
        assert not other.eof.is_set()
    finally:
        await other.close()


async def test_wrong_secret_waits_one_second_then_closes(sim: PbxSim, client: AmiClient) -> None:
    other = await AmiClient.connect(sim.ami_port)
    try:
        started = time.monotonic()
        reply = await other.action(
            [("Action", "Login"), ("Username", "ccadmin"), ("Secret", "wrong"), ("ActionID", "b-1")]
        )
        assert time.monotonic() - started >= 0.95
        assert reply == [
            ("Response", "Error"),
            ("ActionID", "b-1"),
            ("Message", "Authentication failed"),
        ]
        await asyncio.wait_for(other.eof.wait(), 2)
        event = await client.wait_for(lambda m: m.get("Event") == "InvalidPassword")
        assert dict(event)["EventVersion"] == "2"
    finally:
        await other.close()


async def test_md5_challenge_login_with_events_off(sim: PbxSim) -> None:
    other = await AmiClient.connect(sim.ami_port)
    try:
        challenge = dict(
            await other.action([("Action", "Challenge"), ("AuthType", "MD5"), ("ActionID", "d-2")])
        )["Challenge"]
        key = hashlib.md5((challenge + "ccsecret").encode()).hexdigest()
        reply = await other.action(
            [
                ("Action", "Login"),
                ("AuthType", "MD5"),
                ("Username", "ccadmin"),
                ("Key", key),
                ("Events", "off"),
                ("ActionID", "d-3"),
            ]
        )
        assert dict(reply)["Message"] == "Authentication accepted"
        await other.action([("Action", "Ping"), ("ActionID", "d-4")])
        assert other.events() == []
        goodbye = await other.action([("Action", "Logoff"), ("ActionID", "d-5")])
        assert goodbye == [
            ("Response", "Goodbye"),
            ("ActionID", "d-5"),
            ("Message", "Thanks for all the fish."),
        ]
        await asyncio.wait_for(other.eof.wait(), 2)
    finally:
        await other.close()


async def test_unknown_action_and_missing_arguments(client: AmiClient) -> None:
    reply = await client.action([("Action", "FooBar"), ("ActionID", "x-1")])
    assert dict(reply)["Message"] == "Invalid/unknown command"
    reply = await client.action([("Action", "Hangup"), ("ActionID", "x-2")])
    assert dict(reply) == {
        "Response": "Error",
        "ActionID": "x-2",
        "Message": "No channel specified",
    }
    reply = await client.action([("Action", "Originate"), ("ActionID", "x-3")])
    assert dict(reply)["Message"] == "Channel not specified"
    reply = await client.action(
        [
            ("Action", "Redirect"),
            ("Channel", "Local/9@x-0000ffff;2"),
            ("Exten", "s"),
            ("ActionID", "x-4"),
        ]
    )
    assert dict(reply)["Message"] == "Channel does not exist: Local/9@x-0000ffff;2"
    reply = await client.action(
        [("Action", "Hangup"), ("Channel", "/^Local\\/999@.*$/"), ("ActionID", "x-5")]
    )
    assert dict(reply)["EventList"] == "start"
    done = await client.wait_for(lambda m: m.get("Event") == "ChannelsHungupListComplete")
    assert dict(done)["ListItems"] == "0"


async def test_lines_that_are_not_headers_and_missing_action(client: AmiClient) -> None:
    client.writer.write(b"garbage line\r\nActionID: m-1\r\n\r\n")
    reply = await client.wait_for(lambda m: m.get("ActionID") == "m-1")
    assert dict(reply)["Message"] == "Missing action in request"
    pong = await client.action([("Action", "Ping"), ("ActionID", "m-2")])
    assert dict(pong)["Ping"] == "Pong"


async def test_command_core_show_version(client: AmiClient) -> None:
    reply = dict(
        await client.action(
            [("Action", "Command"), ("Command", "core show version"), ("ActionID", "v-1")]
        )
    )
    assert reply["Output"].startswith("Asterisk 22.10.1")


async def test_event_classes_filter_what_a_session_receives(sim: PbxSim) -> None:
    other = await AmiClient.connect(sim.ami_port)
    try:
        await other.action(
            [
                ("Action", "Login"),
                ("Username", "ccadmin"),
                ("Secret", "ccsecret"),
                ("Events", "user"),
                ("ActionID", "l-1"),
            ]
        )
        await other.action([("Action", "UserEvent"), ("UserEvent", "Hello"), ("ActionID", "u-1")])
        await other.action(
            [
                ("Action", "Originate"),
                ("Channel", "Local/5550486@pstn-sim"),
                ("Context", "cb-dialer"),
                ("Exten", "s"),
                ("Async", "true"),
                ("ActionID", "o-1"),
            ]
        )
        await other.action([("Action", "Ping"), ("ActionID", "p-1")])
        assert [e["Event"] for e in other.events()] == ["UserEvent"]
        reply = await other.action(
            [("Action", "Events"), ("EventMask", "off"), ("ActionID", "e-1")]
        )
        assert dict(reply)["Events"] == "Off"
    finally:
        await other.close()


async def test_setvar_getvar_on_a_channel_and_globally(sim: PbxSim, client: AmiClient) -> None:
    await client.action(
        [
            ("Action", "Originate"),
            ("Channel", "Local/100@cb-hold"),
            ("Context", "caller-sim"),
            ("Exten", "s"),
            ("Async", "true"),
            ("ActionID", "o-1"),
        ]
    )
    await client.wait_for(lambda m: m.get("Event") == "Newchannel")
    channel = "Local/100@cb-hold-00000000;2"
    reply = await client.action(
        [
            ("Action", "Setvar"),
            ("Channel", channel),
            ("Variable", "CB_CONTACT"),
            ("Value", "42"),
            ("ActionID", "s-1"),
        ]
    )
    assert dict(reply)["Response"] == "Success"
    varset = await client.wait_for(lambda m: m.get("Variable") == "CB_CONTACT")
    assert dict(varset)["Event"] == "VarSet"
    reply = await client.action(
        [
            ("Action", "Getvar"),
            ("Channel", channel),
            ("Variable", "CB_CONTACT"),
            ("ActionID", "g-1"),
        ]
    )
    assert (dict(reply)["Variable"], dict(reply)["Value"]) == ("CB_CONTACT", "42")
    await client.action(
        [("Action", "Setvar"), ("Variable", "SITE"), ("Value", "north"), ("ActionID", "s-2")]
    )
    reply = await client.action([("Action", "Getvar"), ("Variable", "SITE"), ("ActionID", "g-2")])
    assert dict(reply)["Value"] == "north"
    reply = await client.action(
        [
            ("Action", "Getvar"),
            ("Channel", "Local/none-0000ffff;2"),
            ("Variable", "X"),
            ("ActionID", "g-3"),
        ]
    )
    assert dict(reply)["Message"] == "No such channel"
