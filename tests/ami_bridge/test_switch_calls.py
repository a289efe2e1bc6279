"""Switch call setup replayed against Asterisk 22 captures: the actions it sends are byte-for-byte
the captured ones, and each OriginateResponse becomes the right typed outcome."""

from __future__ import annotations

import pytest

from ami_bridge.errors import InvalidRequest
from ami_bridge.switch import (
    ApplicationTarget,
    DialplanTarget,
    OriginateOutcome,
    OriginateRequest,
    OriginateResult,
    SpyMode,
    Switch,
)
from tests.ami_bridge.trace_server import assert_sent_as_captured, replaying, trace

ALICE = '"Alice Customer" <5551234>'


def hold_caller(did: str, hold_secs: int, caller_id: str = ALICE) -> OriginateRequest:
    """The simulated inbound caller of the captures: Local/<did>@cb-hold, handset in caller-sim."""
    return OriginateRequest(
        endpoint=f"Local/{did}@cb-hold",
        target=DialplanTarget("caller-sim", "s", 1),
        caller_id=caller_id,
        ring_timeout=30,
        variables={"HOLD_SECS": str(hold_secs)},
    )


async def test_connect_agent_to_held_caller_trace_03() -> None:
    async with replaying(trace("03").connection("A")) as (server, link):
        switch = Switch(link)
        caller = await switch.originate(hold_caller("100", 16))
        assert caller.outcome is OriginateOutcome.ANSWERED and caller.answered
        assert caller.channel == "Local/100@cb-hold-00000000;1"
        assert caller.uniqueid == "1795444938.0"
        agent = await switch.connect(
            "Local/100@cb-hold-00000000;2",
            "Local/agent1@cb-agents",
            caller_id=ALICE,
            ring_timeout=20,
            variables={"AGENT_RING_SECS": "2"},
        )
        assert agent.outcome is OriginateOutcome.ANSWERED
        assert agent.channel == "Local/agent1@cb-agents-00000001;1"
        assert agent.reason == 4 and agent.reason_text == "answered"
        assert assert_sent_as_captured(server) == 2


async def test_agent_no_answer_then_next_agent_trace_04() -> None:
    async with replaying(trace("04").connection("A")) as (server, link):
        switch = Switch(link)
        await switch.originate(hold_caller("100", 24))
        missed = await switch.connect(
            "Local/100@cb-hold-00000000;2",
            "Local/noanswer1@cb-agents",
            caller_id=ALICE,
            ring_timeout=8,
        )
        assert missed.outcome is OriginateOutcome.NO_ANSWER and missed.reason == 3
        assert missed.uniqueid is None, "Asterisk says <unknown> on failure without ChannelId"
        assert missed.channel == "Local/noanswer1@cb-agents"
        second = await switch.connect(
            "Local/100@cb-hold-00000000;2", "Local/agent2@cb-agents", caller_id=ALICE
        )
        assert second.answered and second.channel == "Local/agent2@cb-agents-00000002;1"
        assert assert_sent_as_captured(server) == 3


async def test_busy_and_congested_agents_trace_05() -> None:
    async with replaying(trace("05").connection("A")) as (server, link):
        switch = Switch(link)
        await switch.originate(hold_caller("100", 20))
        outcomes = []
        for endpoint in ("busy1", "congest1", "agent3"):
            result = await switch.connect(
                "Local/100@cb-hold-00000000;2", f"Local/{endpoint}@cb-agents", caller_id=ALICE
            )
            outcomes.append((result.outcome, result.reason))
        assert outcomes == [
            (OriginateOutcome.BUSY, 5),
            (OriginateOutcome.CONGESTION, 8),
            (OriginateOutcome.ANSWERED, 4),
        ]
        assert assert_sent_as_captured(server) == 4


async def test_supervisor_listen_whisper_barge_trace_10() -> None:
    async with replaying(trace("10").connection("A")) as (server, link):
        switch = Switch(link)
        await switch.originate(hold_caller("100", 34))
        agent = await switch.connect(
            "Local/100@cb-hold-00000000;2",
            "Local/agent1@cb-agents",
            caller_id=ALICE,
            variables={"AGENT_PROMPT": "demo-congrats"},
        )
        for index, mode in enumerate((SpyMode.LISTEN, SpyMode.WHISPER, SpyMode.BARGE)):
            spy = await switch.spy(
                "Local/sup1@cb-supervisor", agent.channel, mode, caller_id='"Supervisor" <3001>'
            )
            assert spy.answered
            assert spy.channel == f"Local/sup1@cb-supervisor-0000000{index + 2};1"
            await switch.hangup(f"Local/sup1@cb-supervisor-0000000{index + 2};2")
        assert [s["Data"] for s in server.sent("Originate")[2:]] == [
            "Local/agent1@cb-agents-00000001;1,q",
            "Local/agent1@cb-agents-00000001;1,qw",
            "Local/agent1@cb-agents-00000001;1,qB",
        ]
        assert assert_sent_as_captured(server) == 8


async def test_dialer_outcomes_trace_11() -> None:
    expected = [
        ("5551234", 30, OriginateOutcome.ANSWERED),
        ("5550777", 30, OriginateOutcome.ANSWERED),  # answering machine: AMD decides later
        ("5550666", 30, OriginateOutcome.ANSWERED),
        ("5550486", 30, OriginateOutcome.BUSY),
        ("5550408", 6, OriginateOutcome.NO_ANSWER),
        ("5550503", 30, OriginateOutcome.CONGESTION),
        ("5550404", 30, OriginateOutcome.FAILED),  # rejected before ringing
        ("5550405", 30, OriginateOutcome.FAILED),  # rejected after ringing
    ]
    async with replaying(trace("11").connection("A")) as (server, link):
        switch = Switch(link, number_endpoint="Local/{number}@pstn-sim")
        for n, (number, ring, outcome) in enumerate(expected, start=1):
            result = await switch.originate(
                OriginateRequest(
                    endpoint=switch.number_endpoint(number),
                    target=DialplanTarget("cb-dialer", "s", 1),
                    caller_id='"Dialer" <5550000>',
                    ring_timeout=ring,
                    channel_id=f"dial-{n}-a",
                    other_channel_id=f"dial-{n}-b",
                    variables={"CAMPAIGN": "spring", "REMOTE_TALK_SECS": "8"},
                )
            )
            assert result.outcome is outcome, number
            # With ChannelId the Uniqueid is known even on failure (README behaviour 6/9).
            assert result.uniqueid == f"dial-{n}-a"
        bad_context = await switch.originate(
            OriginateRequest(
                endpoint="Local/5551234@no-such-context",
                target=DialplanTarget("cb-dialer", "s", 1),
                caller_id='"Dialer" <5550000>',
                channel_id="dial-9-a",
                other_channel_id="dial-9-b",
                variables={"CAMPAIGN": "spring", "REMOTE_TALK_SECS": "8"},
            )
        )
        assert bad_context.outcome is OriginateOutcome.FAILED and bad_context.reason == 0
        assert assert_sent_as_captured(server) == 9
        assert all(s["Async"] == "true" for s in server.sent("Originate"))


async def test_nailed_up_agent_conference_trace_08() -> None:
    async with replaying(trace("08").connection("A")) as (server, link):
        switch = Switch(link)
        phone = await switch.originate(
            OriginateRequest(
                endpoint="Local/agent1@cb-agent-phone",
                target=ApplicationTarget("ConfBridge", "agent1,cc_bridge,cc_agent"),
                caller_id='"Agent 1" <2001>',
                ring_timeout=20,
            )
        )
        assert phone.answered
        await switch.originate(hold_caller("100", 10))
        await switch.redirect("Local/100@cb-hold-00000002;2", "cb-conf", "agent1", 1)
        assert assert_sent_as_captured(server) == 3


def test_originate_reason_table_matches_the_traces_readme() -> None:
    def outcome(reason: str, response: str = "Failure") -> OriginateOutcome:
        return OriginateResult.from_event({"Reason": reason, "Response": response}).outcome

    assert outcome("4", "Success") is OriginateOutcome.ANSWERED
    assert outcome("5") is OriginateOutcome.BUSY
    assert outcome("3") is OriginateOutcome.NO_ANSWER
    assert outcome("8") is OriginateOutcome.CONGESTION
    assert outcome("0") is OriginateOutcome.FAILED
    assert outcome("1") is OriginateOutcome.FAILED
    assert outcome("") is OriginateOutcome.FAILED, "an unreadable Reason is not an answer"
    assert outcome("4", "Failure") is OriginateOutcome.FAILED


async def test_requests_refused_before_reaching_asterisk() -> None:
    async with replaying(trace("03").connection("A")) as (server, link):
        switch = Switch(link)
        with pytest.raises(InvalidRequest, match="regular expressions"):
            await switch.hangup("/^Local.*$/")
        with pytest.raises(InvalidRequest, match="not one DTMF digit"):
            await switch.play_dtmf("Local/100@cb-hold-00000000;1", "12")
        with pytest.raises(InvalidRequest, match="must not contain ','"):
            await switch.spy("Local/sup1@cb-supervisor", "PJSIP/agent1,B", SpyMode.LISTEN)
        with pytest.raises(InvalidRequest, match="must not contain ','"):
            await switch.connect("Local/100@cb-hold-00000000;2,x", "Local/agent1@cb-agents")
        with pytest.raises(InvalidRequest, match="not a dialable number"):
            switch.number_endpoint("555 1234; rm")
        with pytest.raises(InvalidRequest, match="not a valid channel variable"):
            await switch.set_var("Local/100@cb-hold-00000000;2", "BAD NAME", "x")
        with pytest.raises(InvalidRequest, match="ring_timeout must be positive"):
            await switch.originate(
                OriginateRequest(
                    endpoint="PJSIP/a", target=DialplanTarget("c", "s"), ring_timeout=0
                )
            )
        assert [e.sent["Action"] for e in server.exchanges if e.sent["Action"] != "Ping"] == [
            "Login"
        ]
