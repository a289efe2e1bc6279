"""Fault tests over TCP against pbx_sim (the stand-in Asterisk), with a real SQLite database:
the link drops, goes silent or sees Asterisk shut down in the middle of calls, comes back,
resyncs, and the interaction log still holds every call exactly once with a correct end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from ami_bridge.errors import ActionTimeout, ConnectFailed, LoginFailed, OriginateLost
from ami_bridge.events import CallEnded, CallerIdChanged, EndReason
from ami_bridge.link import LinkState
from ami_bridge.resync import PbxResynced
from ami_bridge.service import AmiBridge, LinkStatusChanged
from ami_bridge.switch import DialplanTarget, OriginateRequest, OriginateResult
from crm_core.bus import Event, InProcessBus, Subscription
from crm_core.clock import SystemClock
from crm_core.db import Database
from crm_core.models import Interaction
from pbx_sim import PbxSim, SimConfig
from tests.ami_bridge.trace_server import test_config
from tests.waiting import eventually


@dataclass
class Rig:
    sim: PbxSim
    bridge: AmiBridge
    seen: Subscription

    async def until(self, test: Callable[[Event], bool], within: float = 20.0) -> Event:
        async with asyncio.timeout(within):
            while True:
                event = await self.seen.get()
                if test(event):
                    return event

    async def caller(self, did: str, hold_secs: float, **variables: str) -> OriginateResult:
        """A caller waiting on music on hold, as in the traces (Local/<did>@cb-hold)."""
        result = await self.bridge.switch.originate(
            OriginateRequest(
                endpoint=f"Local/{did}@cb-hold",
                target=DialplanTarget("caller-sim", "s", 1),
                caller_id=f'"Caller {did}" <555{did}>',
                variables={"HOLD_SECS": str(hold_secs), "DTMF_DELAY": "0", **variables},
            )
        )
        assert result.answered
        return result


@asynccontextmanager
async def rig(db: Database, **overrides: float | str) -> AsyncIterator[Rig]:
    sim = PbxSim(SimConfig())
    await sim.start()
    bus = InProcessBus()
    seen = bus.subscribe("test-observer", maxsize=100_000)
    bridge = AmiBridge(test_config(sim.ami_port, **overrides), bus=bus, clock=SystemClock(), db=db)
    await bridge.start()
    try:
        await bridge.link.wait_up(10)
        yield Rig(sim, bridge, seen)
    finally:
        await bridge.stop()
        await sim.stop()


def caller_leg(result: OriginateResult) -> str:
    return result.channel.removesuffix(";1") + ";2"


async def logged(db: Database) -> dict[str, Interaction]:
    async with db.session() as session:
        rows = await session.execute(select(Interaction))
        return {row.linkedid: row for row in rows.scalars()}


def ended(linkedid: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, CallEnded) and e.linkedid == linkedid


_OWN_LEGS = ("@cb-agents-", "@cb-agent-phone-", "@cb-supervisor-")


def customer_calls(sim: PbxSim) -> set[str]:
    """The PBX's Linkedids with an outside party: not Callboard's own agent or supervisor legs,
    not dial attempts that never answered."""
    return {
        linkedid
        for linkedid, call in sim.call_log.calls.items()
        if not any(leg in call.first_channel for leg in _OWN_LEGS)
        and (call.answered or "@pstn-sim-" not in call.first_channel)
    }


async def assert_log_matches_the_pbx(db: Database, sim: PbxSim) -> dict[str, Interaction]:
    """Every call the PBX had is in the log exactly once (one row per Linkedid), and ended."""
    rows = await logged(db)
    assert set(rows) == customer_calls(sim)
    for linkedid, row in rows.items():
        assert not sim.call_log.calls[linkedid].active
        assert row.ended_at is not None, f"call {linkedid} left open"
    return rows


async def test_socket_dropped_mid_call_reconnects_and_the_call_ends_normally(
    sqlite_db: Database,
) -> None:
    async with rig(sqlite_db) as r:
        caller = await r.caller("100", 30)
        agent = await r.bridge.switch.connect(
            caller_leg(caller),
            "Local/agent1@cb-agents",
            variables={"AGENT_PROMPT": "beep", "AGENT_TALK_SECS": "1"},
        )
        assert agent.answered
        sessions = r.bridge.link.sessions  # (a stall of a busy machine may have added one)
        r.sim.fault_drop_connections()
        summary = await r.until(lambda e: isinstance(e, PbxResynced) and e.session > sessions)
        assert caller.uniqueid in summary.live_calls and summary.closed_calls == ()
        end = await r.until(ended(caller.uniqueid or ""))
        assert end.reason is EndReason.HANGUP
    rows = await assert_log_matches_the_pbx(sqlite_db, r.sim)
    row = rows[caller.uniqueid or ""]
    assert row.end_reason == "hangup" and row.connected_at is not None
    assert row.hangup_cause in set(r.sim.call_log.calls[row.linkedid].causes.values())


async def test_originate_outcome_that_arrives_after_a_reconnect_is_not_lost(
    sqlite_db: Database,
) -> None:
    async with rig(sqlite_db) as r:
        caller = await r.caller("100", 30)
        ringing = {"AGENT_RING_SECS": "2", "AGENT_PROMPT": "beep", "AGENT_TALK_SECS": "1"}
        connecting = asyncio.create_task(
            r.bridge.switch.connect(caller_leg(caller), "Local/agent1@cb-agents", variables=ringing)
        )
        # Asterisk said "queued" and the agent's phone rings
        await eventually(
            lambda: any(name.startswith("Local/agent1@") for name in r.sim.world.channels),
            what="the agent's leg",
        )
        r.sim.fault_drop_connections()
        agent = await connecting  # its OriginateResponse comes on the next session
        assert agent.answered and r.bridge.link.sessions >= 2
        await r.until(ended(caller.uniqueid or ""))
    await assert_log_matches_the_pbx(sqlite_db, r.sim)


async def test_silent_pbx_is_noticed_and_calls_ended_meanwhile_are_closed(
    sqlite_db: Database,
) -> None:
    async with rig(sqlite_db) as r:
        quiet = await r.caller("100", 60)
        staying = await r.caller("101", 60)
        r.sim.fault_silent(True)
        await r.until(lambda e: isinstance(e, LinkStatusChanged) and e.state is LinkState.WAITING)
        # The quiet call ends while the PBX says nothing about it.
        quiet_leg = r.sim.channel(caller_leg(quiet))
        assert quiet_leg is not None
        r.sim.world.hangup_request(quiet_leg, 16)
        await eventually(lambda: not r.sim.call_log.calls[quiet.uniqueid or ""].active)
        r.sim.fault_silent(False)
        summary = await r.until(lambda e: isinstance(e, PbxResynced) and e.session >= 2)
        assert summary.closed_calls == (quiet.uniqueid,)
        assert staying.uniqueid in summary.live_calls
        await r.bridge.switch.hangup(caller_leg(staying), cause=16)
        await r.until(ended(staying.uniqueid or ""))
    rows = await assert_log_matches_the_pbx(sqlite_db, r.sim)
    assert rows[quiet.uniqueid or ""].end_reason == "ended while AMI link was down"
    assert rows[staying.uniqueid or ""].end_reason == "hangup"


async def test_asterisk_shutdown_ends_calls_then_the_link_comes_back(sqlite_db: Database) -> None:
    async with rig(sqlite_db) as r:
        caller = await r.caller("100", 60)
        await r.bridge.switch.connect(caller_leg(caller), "Local/agent2@cb-agents")
        sessions = r.bridge.link.sessions
        await r.sim.fault_shutdown(restart=True)
        end = await r.until(ended(caller.uniqueid or ""))
        assert end.cause == 0 and end.reason is EndReason.HANGUP  # core stop now: cause 0
        await r.until(lambda e: isinstance(e, LinkStatusChanged) and e.state is LinkState.WAITING)
        await r.sim.start()  # Asterisk is back (same port)
        summary = await r.until(lambda e: isinstance(e, PbxResynced) and e.session > sessions)
        assert summary.live_calls == () and summary.closed_calls == ()
    rows = await assert_log_matches_the_pbx(sqlite_db, r.sim)
    assert rows[caller.uniqueid or ""].hangup_cause == 0


async def test_unanswered_actions_time_out_instead_of_hanging(sqlite_db: Database) -> None:
    async with rig(sqlite_db, action_timeout=0.3) as r:
        caller = await r.caller("100", 30)
        r.sim.fault_ignore_action("Redirect")
        r.sim.fault_ignore_action("Originate")
        started = time.monotonic()
        with pytest.raises(ActionTimeout, match=r"within 0\.3 s"):  # the configured timeout
            await r.bridge.switch.redirect(caller_leg(caller), "cb-voicemail", "100")
        with pytest.raises(OriginateLost, match=r"within 0\.3 s; the call may exist"):
            await r.bridge.switch.connect(caller_leg(caller), "Local/agent1@cb-agents")
        assert time.monotonic() - started < 10, "bounded, not hanging (generous: a busy CI)"
        assert r.bridge.link.is_up, "lost replies do not take the link down"
        await r.bridge.switch.hangup(caller_leg(caller))
        await r.until(ended(caller.uniqueid or ""))


async def test_channel_variables_round_trip(sqlite_db: Database) -> None:
    async with rig(sqlite_db) as r:
        caller = await r.caller("100", 30)
        channel = caller_leg(caller)
        await r.bridge.switch.set_var(channel, "CB_CONTACT", "4711")
        assert await r.bridge.switch.get_var(channel, "CB_CONTACT") == "4711"
        assert await r.bridge.switch.get_var(channel, "CB_NEVER_SET") == ""
        await r.bridge.switch.hangup(channel)
        await r.until(ended(caller.uniqueid or ""))


async def test_a_caller_id_set_on_the_pbx_updates_the_call_and_its_interaction(
    sqlite_db: Database,
) -> None:
    """Setting CALLERID(num) on the caller channel (as a trunk or dialplan does) gives Asterisk's
    NewCallerid; the tracker reports it and the interaction keeps the new number."""
    async with rig(sqlite_db) as r:
        caller = await r.caller("100", 30)
        channel = caller_leg(caller)
        await r.bridge.switch.set_var(channel, "CALLERID(num)", "+15550100")
        change = await r.until(lambda e: isinstance(e, CallerIdChanged))
        assert isinstance(change, CallerIdChanged)
        assert (change.linkedid, change.channel) == (caller.uniqueid, channel)
        assert (change.caller_number, change.previous_number) == ("+15550100", "555100")
        assert await r.bridge.switch.get_var(channel, "CALLERID(num)") == "+15550100"
        await r.bridge.switch.hangup(channel)
        await r.until(ended(caller.uniqueid or ""))
    rows = await logged(sqlite_db)
    assert rows[caller.uniqueid or ""].caller_number == "+15550100"


async def test_wrong_secret_and_refused_port_against_the_simulator() -> None:
    sim = PbxSim(SimConfig())
    await sim.start()
    bus = InProcessBus()
    bridge = AmiBridge(
        test_config(sim.ami_port, secret="wrong"), bus=bus, clock=SystemClock(), db=None
    )
    try:
        await bridge.start()
        with pytest.raises(LoginFailed, match="Authentication failed"):
            await bridge.link.wait_up(10)
        assert (bridge.status().last_error or "").startswith("ami.login_failed: ")
        await bridge.stop()
        port = sim.ami_port
        await sim.stop()
        bridge = AmiBridge(test_config(port), bus=bus, clock=SystemClock(), db=None)
        await bridge.start()
        with pytest.raises(ConnectFailed, match="connection refused"):
            await bridge.link.wait_up(1)
    finally:
        await bridge.stop()
        await sim.stop()
