"""`core restart now` on the real Asterisk while one debtor waits and one talks: the link comes
back by itself, each call ends exactly once with a reason, and new calls are handled."""

from __future__ import annotations

import asyncio
import time

from ami_bridge.events import CallEnded
from crm_core.models import Interaction
from routing.events import AgentStateChanged, CallConnected
from tests.live.asterisk import HarnessAmi, LivePbx
from tests.live.node_support import (
    ACCOUNT,
    KNOWN_NUMBER,
    UNKNOWN_NUMBER,
    live_node,
    wait_link_up,
)


async def test_a_pbx_restart_ends_every_call_once_and_the_next_call_works(
    asterisk: LivePbx, harness: HarnessAmi, tmp_path
):
    async with live_node(asterisk, tmp_path) as live:
        agent = await live.login("olga")
        talking = await harness.place_caller(number=KNOWN_NUMBER, hold_secs=120)
        await live.seen.until(CallConnected, lambda e: e.linkedid == talking)
        # the only operator is busy: the second caller waits on music on hold. They key their
        # language and account once asked (as scenario 2): the IVR plays the kit's prompts, and
        # a caller who keys nothing sits through every menu's retries (over a minute) first
        waiting = await harness.place_caller(
            number=UNKNOWN_NUMBER, hold_secs=120, dtmf=f"2{ACCOUNT}#", dtmf_delay=6
        )
        await harness.wait_event(
            lambda m: m.get("Event") == "MusicOnHoldStart" and m.get("Uniqueid") == f"{waiting}-2"
        )
        resync_before = live.node.bridge.last_resync

        await asyncio.to_thread(asterisk.restart_now)
        await harness.reconnect()

        for linkedid in (talking, waiting):
            await live.seen.until(CallEnded, lambda e, lid=linkedid: e.linkedid == lid)
        # the link came back and resynced with the new PBX
        end = time.monotonic() + 30
        while live.node.bridge.last_resync is resync_before:
            assert time.monotonic() < end, "no resync after the PBX came back"
            await asyncio.sleep(0.1)
        await wait_link_up(live.node)

        for linkedid in (talking, waiting):
            ends = live.seen.all(CallEnded, lambda e, lid=linkedid: e.linkedid == lid)
            assert len(ends) == 1, ends
            assert str(ends[0].reason), ends[0]
        rows = await live.wait_rows(
            Interaction,
            lambda rows: {r.linkedid for r in rows if r.ended_at} >= {talking, waiting},
        )
        assert sorted(r.linkedid for r in rows) == sorted([talking, waiting]), [
            r.linkedid for r in rows
        ]
        for row in rows:
            assert row.end_reason or row.hangup_cause is not None, row.linkedid

        # the operator is free again and the next debtor reaches them
        await live.seen.until(
            AgentStateChanged, lambda e: e.agent_id == agent and str(e.state) == "ready"
        )
        # stays 3 + 16 s: the kit's prompts take ~9 s before the agent rings
        after = await harness.place_caller(number=KNOWN_NUMBER, hold_secs=16)
        connected = await live.seen.until(CallConnected, lambda e: e.linkedid == after)
        assert connected.agent_id == agent
        await live.seen.until(CallEnded, lambda e: e.linkedid == after)
        assert len(live.seen.all(CallEnded, lambda e: e.linkedid == after)) == 1
