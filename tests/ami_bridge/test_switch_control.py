"""Switch mid-call control replayed against Asterisk 22 captures: redirect, hangup, DTMF,
transfers, recording and queue members, including Asterisk's own error replies."""

from __future__ import annotations

import pytest

from ami_bridge.errors import ActionFailed, ChannelNotFound, InvalidRequest
from ami_bridge.switch import DialplanTarget, OriginateRequest, Switch
from tests.ami_bridge.trace_server import assert_sent_as_captured, replaying, trace


def hold_caller(did: str, hold_secs: int, name: str, number: str) -> OriginateRequest:
    return OriginateRequest(
        endpoint=f"Local/{did}@cb-hold",
        target=DialplanTarget("caller-sim", "s", 1),
        caller_id=f'"{name}" <{number}>',
        ring_timeout=30,
        variables={"HOLD_SECS": str(hold_secs)},
    )


ALICE = hold_caller("100", 60, "Alice Customer", "5551234")


async def test_redirect_dtmf_hangup_and_missing_channels_trace_06() -> None:
    async with replaying(trace("06").connection("A")) as (server, link):
        switch = Switch(link)
        await switch.originate(ALICE)
        await switch.redirect("Local/100@cb-hold-00000000;2", "cb-voicemail", "100", 1)
        await switch.originate(hold_caller("101", 60, "Bob Caller", "5552222"))
        await switch.redirect("Local/101@cb-hold-00000001;2", "cb-ivr", "s")
        await switch.play_dtmf("Local/101@cb-hold-00000001;1", "1", duration_ms=200)
        await switch.originate(hold_caller("102", 60, "Carol Caller", "5553333"))
        await switch.hangup("Local/102@cb-hold-00000002;2", cause=21)
        with pytest.raises(ChannelNotFound, match="Channel does not exist: Local/999"):
            await switch.redirect("Local/999@cb-hold-0000ffff;2", "cb-ivr", "s")
        with pytest.raises(ChannelNotFound, match="No such channel"):
            await switch.hangup("Local/999@cb-hold-0000ffff;2", cause=16)
        assert assert_sent_as_captured(server) == 9


async def test_transfers_trace_07() -> None:
    async with replaying(trace("07").connection("A")) as (server, link):
        switch = Switch(link)
        beep = {"AGENT_PROMPT": "beep"}

        async def caller_and_agent(did: str, name: str, number: str, seq: int, **kw: bool) -> str:
            await switch.originate(hold_caller(did, 22 if did == "103" else 14, name, number))
            agent = await switch.connect(
                f"Local/{did}@cb-hold-{seq:08x};2",
                "Local/agent1@cb-agents",
                caller_id=f'"{name}" <{number}>',
                variables=beep,
                **kw,
            )
            assert agent.answered
            return agent.channel

        # 7.1 blind transfer by redirecting the caller leg only
        await caller_and_agent("100", "Alice Customer", "5551234", 0)
        await switch.redirect("Local/100@cb-hold-00000000;2", "cb-xfer", "2002")
        # 7.2 both legs: the caller to agent 3, the agent leg to wrap-up
        agent_leg = await caller_and_agent("101", "Bob Caller", "5552222", 3)
        await switch.redirect(
            "Local/101@cb-hold-00000003;2",
            "cb-xfer",
            "2003",
            extra_channel=agent_leg,
            extra_target=DialplanTarget("cb-wrapup", "s"),
        )
        # 7.3 BlindTransfer action from the agent leg
        agent_leg = await caller_and_agent("102", "Carol Caller", "5553333", 6)
        await switch.blind_transfer(agent_leg, "cb-xfer", "2002")
        # 7.4 attended transfer: needs Bridge option T; "Atxfer successfully queued" resolves
        agent_leg = await caller_and_agent("103", "Dave Caller", "5554444", 9, allow_transfer=True)
        assert agent_leg == "Local/agent1@cb-agents-0000000a;1"
        await switch.attended_transfer(agent_leg, "2002", "cb-xfer")
        await switch.hangup("Local/agent1@cb-agents-0000000a;2")
        assert assert_sent_as_captured(server) == 13


async def test_recording_start_stop_and_errors_trace_09() -> None:
    async with replaying(trace("09").connection("A")) as (server, link):
        switch = Switch(link)
        await switch.originate(hold_caller("100", 16, "Alice Customer", "5551234"))
        await switch.connect(
            "Local/100@cb-hold-00000000;2", "Local/agent1@cb-agents", caller_id=ALICE.caller_id
        )
        caller = "Local/100@cb-hold-00000000;2"
        file = "/var/spool/asterisk/monitor/cb09-20261123-145310-part1.wav"
        mixmonitor_id = await switch.start_recording(caller, file, options="bi(MIXMON_ID)")
        assert mixmonitor_id == "0x7fa8c0001f40"
        await switch.stop_recording(caller, mixmonitor_id)
        with pytest.raises(ActionFailed, match="Could not stop monitoring channel") as caught:
            await switch.stop_recording(caller, "0xdeadbeef")
        assert caught.value.code == "ami.action_failed"
        with pytest.raises(InvalidRequest, match="recording file must not be empty"):
            await switch.start_recording(caller, "")
        assert assert_sent_as_captured(server) == 5


async def test_start_recording_asks_asterisk_for_an_id() -> None:
    async with replaying(trace("09").connection("A")) as (server, link):
        switch = Switch(link)
        await switch.originate(hold_caller("100", 16, "Alice Customer", "5551234"))
        await switch.start_recording("Local/100@cb-hold-00000000;2", "/tmp/x.wav")
        assert server.sent("MixMonitor")[0]["Options"] == "bi(CB_MIXMON_ID)"


async def test_queue_members_and_their_errors_trace_12() -> None:
    async with replaying(trace("12").connection("A")) as (server, link):
        switch = Switch(link)
        member = "Local/agent1@agents"
        await switch.queue_add(
            "support",
            member,
            member_name="Agent 1",
            state_interface="Local/agent1@cb-agents",
            penalty=0,
            paused=False,
        )
        with pytest.raises(ActionFailed, match="Already there"):
            await switch.queue_add("support", member, member_name="Agent 1")
        await switch.queue_pause(member, True, queue="support", reason="lunch")
        await switch.queue_pause(member, False)
        await switch.queue_remove("support", member)
        with pytest.raises(ActionFailed, match="Not there"):
            await switch.queue_remove("support", member)
        with pytest.raises(ActionFailed, match="No such queue"):
            await switch.queue_add("nosuchqueue", member)
        assert assert_sent_as_captured(server) == 7
