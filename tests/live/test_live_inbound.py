"""Inbound calls through the real Asterisk: the kit's IVR over FastAGI, the ACD, the agent's
phone (Local/agentN@cb-agents), the interaction log, the card pushed to the operator."""

from __future__ import annotations

from ami_bridge.events import CallEnded
from crm_core.models import Interaction
from routing.events import AgentOffered, AgentStateChanged, CallConnected
from tests.live.asterisk import HarnessAmi, LivePbx
from tests.live.node_support import ACCOUNT, KNOWN_NUMBER, UNKNOWN_NUMBER, live_node


def _ts(event: dict[str, str]) -> float:
    return float(event["Timestamp"])


async def test_known_debtor_inbound_call(asterisk: LivePbx, harness: HarnessAmi, tmp_path):
    async with live_node(asterisk, tmp_path) as live:
        agent = await live.login("olga")
        # the debtor hangs up ~3 + 16 s after the IVR answered (caller-sim: DTMF_DELAY + HOLD);
        # the kit's prompts take ~9 s of that (cb-welcome, cb-please-hold) before the agent rings
        linkedid = await harness.place_caller(number=KNOWN_NUMBER, name="Ivan", hold_secs=16)

        offered = await live.seen.until(AgentOffered, lambda e: e.linkedid == linkedid)
        assert offered.agent_id == agent
        assert offered.card is not None and offered.card["name"] == "Ivan Petrov"
        assert offered.card["debts"][0]["balance"] == "812.40"

        # the card was on the desk before the agent's phone answered (its ;2 half goes Up)
        phone_up = await harness.wait_event(
            lambda m: (
                m.get("Event") == "Newstate"
                and m.get("Channel", "").startswith("Local/agent1@cb-agents")
                and m.get("Channel", "").endswith(";2")
                and m.get("ChannelStateDesc") == "Up"
            )
        )
        assert live.seen.when(offered) < _ts(phone_up)

        connected = await live.seen.until(CallConnected, lambda e: e.linkedid == linkedid)
        assert connected.agent_id == agent
        ended = await live.seen.until(CallEnded, lambda e: e.linkedid == linkedid, within_s=40)
        assert ended.talk_s > 3
        assert ended.cause == 16, ended  # the debtor hung up: normal clearing
        await live.seen.until(
            AgentStateChanged, lambda e: e.agent_id == agent and str(e.state) == "wrap_up"
        )
        await live.seen.until(
            AgentStateChanged, lambda e: e.agent_id == agent and str(e.state) == "ready"
        )

        rows = await live.wait_rows(
            Interaction, lambda rows: any(r.linkedid == linkedid and r.ended_at for r in rows)
        )
        # exactly one row for the call: the agent's Local leg is part of it, not a call of its own
        assert [r.linkedid for r in rows] == [linkedid], [
            (r.linkedid, r.direction, r.caller_number) for r in rows
        ]
        row = rows[0]
        assert row.direction == "inbound"
        assert row.contact_id == live.seeded.ivan
        assert row.caller_number == KNOWN_NUMBER
        assert row.queue == "collections"
        assert row.agent_id == int(agent)
        assert row.answered_at and row.connected_at and row.ended_at
        assert row.started_at <= row.answered_at <= row.connected_at < row.ended_at
        assert (row.ended_at - row.connected_at).total_seconds() > 3
        assert row.ivr_path[:2] == ["greeting", "known_caller:found"]
        assert row.hangup_cause == 16
        assert row.hangup_cause_text.lower().startswith("normal")


async def test_unknown_caller_keys_language_and_account(
    asterisk: LivePbx, harness: HarnessAmi, tmp_path
):
    async with live_node(asterisk, tmp_path) as live:
        agent = await live.login("olga")
        # the handset keys "2" (Russian) then the account number and # after the IVR asked: the
        # greeting (cb-welcome, 3.7 s, not interruptible) ends ~4.2 s after the answer
        linkedid = await harness.place_caller(
            number=UNKNOWN_NUMBER, hold_secs=14, dtmf=f"2{ACCOUNT}#", dtmf_delay=6
        )
        offered = await live.seen.until(AgentOffered, lambda e: e.linkedid == linkedid)
        assert offered.agent_id == agent
        assert offered.card is not None and offered.card["name"] == "Maria Ivanova"
        await live.seen.until(CallConnected, lambda e: e.linkedid == linkedid)
        await live.seen.until(CallEnded, lambda e: e.linkedid == linkedid, within_s=40)

        rows = await live.wait_rows(
            Interaction, lambda rows: any(r.linkedid == linkedid and r.ended_at for r in rows)
        )
        assert [r.linkedid for r in rows] == [linkedid]
        row = rows[0]
        assert row.contact_id == live.seeded.maria
        assert row.caller_number == UNKNOWN_NUMBER
        assert "known_caller:not_found" in row.ivr_path
        assert any(step.startswith("language") for step in row.ivr_path), row.ivr_path
        assert any(step.startswith("account_lookup:found") for step in row.ivr_path), row.ivr_path
        assert ACCOUNT not in row.ivr_digits  # sensitive: masked before storing
