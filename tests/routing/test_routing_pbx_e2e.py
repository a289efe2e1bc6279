"""The ACD end to end over TCP: pbx_sim (stand-in Asterisk) <-> ami_bridge (link, tracker,
Switch) <-> AcdService, with a real SQLite database for cards and the agent state log.

A caller waits in cb-hold (trace 03), is enqueued, the card is pushed (AgentOffered) before the
agent leg exists, the agent is rung and bridged, the call ends, wrap-up, ready again. Plus the
caller abandoning while waiting, RONA, the caller hanging up while the agent rings, overflow
after a wait, and a priority caller jumping the queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import select

from ami_bridge.events import (
    CallEnded,
    CallTransferred,
    LegEnded,
    LegStarted,
    TransferKind,
)
from ami_bridge.link import LinkConfig
from ami_bridge.service import AmiBridge
from ami_bridge.switch import DialplanTarget, OriginateRequest
from crm_core.bus import Event, InProcessBus, Subscription
from crm_core.clock import SystemClock
from crm_core.db import Database
from crm_core.models import Contact, Interaction
from pbx_sim import AgentPhone, PbxSim, SimConfig
from routing.acd import Acd
from routing.agent_state import AgentState
from routing.events import (
    AgentOffered,
    AgentRona,
    AgentStateChanged,
    CallAbandoned,
    CallConnected,
    CallDequeued,
    CallOverflowed,
    DequeueReason,
    OfferFailure,
)
from routing.queues import OverflowRule, QueueConfig
from routing.service import AcdService
from routing.tables import AgentStateLog

E = TypeVar("E", bound=Event)

QUICK = QueueConfig(name="main", wrap_up_s=0.3, ring_timeout_s=0.6)


@dataclass
class Rig:
    sim: PbxSim
    bridge: AmiBridge
    acd: AcdService
    seen: Subscription
    history: list[Event]

    async def until(
        self, kind: type[E], test: Callable[[E], bool] = lambda e: True, within: float = 20.0
    ) -> E:
        async with asyncio.timeout(within):
            while True:
                event = await self.seen.get()
                self.history.append(event)
                if isinstance(event, kind) and test(event):
                    return event

    async def caller(self, did: str, hold_secs: float = 30) -> tuple[str, str]:
        """A caller on music on hold in cb-hold; returns (linkedid, the caller's channel)."""
        linkedid = f"caller-{did}"
        result = await self.bridge.switch.originate(
            OriginateRequest(
                endpoint=f"Local/{did}@cb-hold",
                target=DialplanTarget("caller-sim", "s", 1),
                caller_id=f'"Caller {did}" <555{did}>',
                variables={"HOLD_SECS": str(hold_secs), "DTMF_DELAY": "0"},
                channel_id=linkedid,  # Linkedid follows ;1 (traces README, 9)
            )
        )
        assert result.answered
        return linkedid, result.channel.removesuffix(";1") + ";2"

    async def enqueue(self, did: str, *, hold_secs: float = 30, **kw: object) -> str:
        linkedid, channel = await self.caller(did, hold_secs)
        self.acd.enqueue(
            linkedid=linkedid,
            queue=str(kw.pop("queue", "main")),
            caller_channel=channel,
            caller_number=f"555{did}",
            **kw,  # type: ignore[arg-type]
        )
        return linkedid

    def login(
        self, agent: str, skills: dict[str, int] | None = None, paused: str | None = None
    ) -> None:
        # the kit's Local variant rings agents as _age[n]t. in cb-agents: other names fail there
        self.acd.login(agent, f"Local/{agent}@cb-agents", skills or {}, paused_reason=paused)


@asynccontextmanager
async def rig(db: Database, *queues: QueueConfig, **phones: AgentPhone) -> AsyncIterator[Rig]:
    sim = PbxSim(SimConfig())
    await sim.start()
    for name, phone in phones.items():
        sim.add_agent_phone(name, phone)
    bus = InProcessBus()
    seen = bus.subscribe("test-observer", maxsize=100_000)
    clock = SystemClock()
    config = LinkConfig(
        port=sim.ami_port,
        username="callboard",
        secret="cbsecret",
        ping_interval=0.5,
        dead_after=2.0,
        action_timeout=2.0,
        connect_timeout=2.0,
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    bridge = AmiBridge(config, bus=bus, clock=clock, db=db)
    service = AcdService(
        Acd(clock, queues or (QUICK,)),
        bus=bus,
        switch=bridge.switch,
        clock=clock,
        db=db,
        stats_interval_s=60,
    )
    await bridge.start()
    try:
        await bridge.link.wait_up(3)
        await service.start()
        try:
            yield Rig(sim, bridge, service, seen, [])
        finally:
            await service.stop()
            left = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("acd")]
            assert left == [], f"ACD tasks still running after stop: {left}"
    finally:
        await bridge.stop()
        await sim.stop()


async def queue_of(db: Database, linkedid: str) -> str | None:
    async with db.session() as session:
        row = await session.execute(
            select(Interaction.queue).where(Interaction.linkedid == linkedid)
        )
        return row.scalar_one_or_none()


async def add_debtor(db: Database) -> int:
    now = datetime.now(UTC)
    async with db.session() as session:
        contact = Contact(first_name="Alice", last_name="Debtor", created_at=now, updated_at=now)
        session.add(contact)
        await session.commit()
        return contact.id


async def test_card_is_pushed_before_the_ring_then_talk_wrap_up_ready(sqlite_db):
    contact_id = await add_debtor(sqlite_db)
    phone = AgentPhone(ring_secs=0.2, talk_secs=0.5)
    async with rig(sqlite_db, agent1=phone) as r:
        r.login("agent1")
        linkedid = await r.enqueue(
            "100", hold_secs=1.5, contact_id=contact_id, ivr_path=("1", "account")
        )
        offered = await r.until(AgentOffered)
        assert (offered.agent_id, offered.linkedid, offered.queue) == ("agent1", linkedid, "main")
        assert offered.card is not None
        assert (offered.card["contact_id"], offered.card["name"]) == (contact_id, "Alice Debtor")
        assert offered.ivr_path == ("1", "account")
        agent_leg = await r.until(LegStarted, lambda e: e.channel.startswith("Local/agent1@"))
        # the card went out before the PBX had even created the agent's leg
        assert r.history.index(offered) < r.history.index(agent_leg)
        connected = await r.until(CallConnected)
        assert (connected.agent_id, connected.linkedid) == ("agent1", linkedid)
        assert connected.agent_channel and connected.agent_channel.startswith("Local/agent1@")
        await r.until(CallEnded, lambda e: e.linkedid == linkedid)  # the caller hung up
        await r.until(AgentStateChanged, lambda e: e.state is AgentState.WRAP_UP)
        await r.until(AgentStateChanged, lambda e: e.state is AgentState.READY)
    # the service has stopped: its recorder drained what the bus held
    assert await queue_of(sqlite_db, linkedid) == "main"
    async with sqlite_db.session() as session:
        rows = (await session.execute(select(AgentStateLog).order_by(AgentStateLog.id))).scalars()
        assert [(row.agent_id, row.state) for row in rows] == [
            ("agent1", "ready"),
            ("agent1", "reserved"),
            ("agent1", "ringing"),
            ("agent1", "on_call"),
            ("agent1", "wrap_up"),
            ("agent1", "ready"),
        ]


async def test_caller_abandons_while_waiting(sqlite_db):
    async with rig(sqlite_db) as r:
        linkedid = await r.enqueue("101", hold_secs=0.3)
        abandoned = await r.until(CallAbandoned)
        assert abandoned.linkedid == linkedid and abandoned.waited_s >= 0.2
        snap = r.acd.acd.snapshot("main")
        assert (snap.offered, snap.abandoned, snap.waiting) == (1, 1, 0)


async def test_rona_pauses_the_agent_and_the_next_agent_gets_the_caller(sqlite_db):
    async with rig(
        sqlite_db,
        agent_sleepy=AgentPhone(no_answer=1.0),
        agent_awake=AgentPhone(ring_secs=0.1, talk_secs=0.3),
    ) as r:
        r.login("agent_sleepy")
        r.login("agent_awake", paused="break")
        linkedid = await r.enqueue("102")
        rona = await r.until(AgentRona)
        assert (rona.agent_id, rona.linkedid, rona.cause) == (
            "agent_sleepy",
            linkedid,
            OfferFailure.NO_ANSWER,
        )
        assert r.acd.acd.agent("agent_sleepy").reason == "rona"
        r.acd.make_ready("agent_awake")
        connected = await r.until(CallConnected)
        assert (connected.agent_id, connected.linkedid) == ("agent_awake", linkedid)


async def test_busy_phone_is_paused_and_the_call_waits(sqlite_db):
    async with rig(sqlite_db, agent1=AgentPhone(busy=1.0)) as r:
        r.login("agent1")
        linkedid = await r.enqueue("103")
        rona = await r.until(AgentRona)
        assert (rona.cause, rona.linkedid) == (OfferFailure.BUSY, linkedid)
        assert r.acd.acd.call(linkedid).agent_id is None  # back in the queue


async def test_caller_hangs_up_while_the_agent_rings_cancels_the_agent_leg(sqlite_db):
    # The agent would ring for 120 s and RONA comes only after 60 s: a leg that ends sooner was
    # hung up by the ACD for the abandon (and with QUICK's 0.6 s, RONA could beat the hangup
    # of a caller who leaves 0.5 s in on a busy machine).
    patient = replace(QUICK, ring_timeout_s=60.0)
    async with rig(sqlite_db, patient, agent1=AgentPhone(ring_secs=120)) as r:
        r.login("agent1")
        linkedid = await r.enqueue("104", hold_secs=0.5)
        agent_leg = await r.until(LegStarted, lambda e: e.channel.startswith("Local/agent1@"))
        await r.until(CallAbandoned, lambda e: e.linkedid == linkedid)
        # the ACD hung up the ringing agent leg instead of letting it ring on (for 120 s)
        await r.until(LegEnded, lambda e: e.linkedid == agent_leg.linkedid, within=30)
        assert r.acd.acd.agent("agent1").state is AgentState.READY


async def test_overflow_relaxes_the_level_after_the_wait(sqlite_db):
    collections = QueueConfig(
        name="collections",
        skills=(("collections", 70),),
        overflow=(OverflowRule(after_s=0.5, relax_to_level=30),),
        ring_timeout_s=2,
    )
    async with rig(
        sqlite_db, collections, agent_junior=AgentPhone(ring_secs=0.1, talk_secs=5)
    ) as r:
        r.login("agent_junior", {"collections": 40})
        linkedid = await r.enqueue("105", queue="collections")
        overflowed = await r.until(CallOverflowed)
        assert overflowed.linkedid == linkedid and overflowed.waited_s >= 0.5
        connected = await r.until(CallConnected)
        assert (connected.agent_id, connected.linkedid) == ("agent_junior", linkedid)
        assert connected.waited_s >= 0.5


async def test_priority_caller_jumps_the_queue(sqlite_db):
    async with rig(sqlite_db, agent1=AgentPhone(ring_secs=0.1, talk_secs=5)) as r:
        r.login("agent1", paused="break")
        await r.enqueue("106")
        vip = await r.enqueue("107", priority=5)
        r.acd.make_ready("agent1")
        connected = await r.until(CallConnected)
        assert connected.linkedid == vip


async def test_max_wait_sends_the_caller_to_voicemail(sqlite_db):
    async with rig(sqlite_db, QueueConfig(name="main", max_wait_s=0.5)) as r:
        linkedid = await r.enqueue("108")
        dequeued = await r.until(CallDequeued)
        assert (dequeued.linkedid, dequeued.reason) == (linkedid, DequeueReason.MAX_WAIT)
        moved = await r.until(CallTransferred, lambda e: e.linkedid == linkedid)
        assert (moved.kind, moved.target) == (TransferKind.REDIRECT, "cb-voicemail,100,1")


async def test_agent_is_released_when_the_caller_is_transferred_away(sqlite_db):
    async with rig(sqlite_db, agent1=AgentPhone(ring_secs=0.1, talk_secs=30)) as r:
        r.login("agent1")
        linkedid = await r.enqueue("109")
        await r.until(CallConnected)
        caller = r.acd.acd.call(linkedid).caller_channel
        await r.bridge.switch.redirect(caller, "cb-voicemail", "100")
        # the Bridge()d agent leg is hung up by the PBX; the caller's call goes on in voicemail
        await r.until(CallTransferred, lambda e: e.channel == caller)
        wrap = await r.until(AgentStateChanged, lambda e: e.state is AgentState.WRAP_UP)
        assert wrap.linkedid == linkedid
        assert r.acd.acd.call(linkedid) is not None  # not ended: the caller is still there
