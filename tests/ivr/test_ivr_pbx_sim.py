"""End to end over TCP, the whole inbound path: a pbx_sim caller dials cb-inbound, the PBX runs
AGI into our FastAGI server, the caller keys DTMF, is looked up in a real SQLite database and
queued in routing's AcdService, which pushes the card and rings an agent through ami_bridge's
Switch on the same pbx_sim; and the closed-hours path ends in a callback task and a hang-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select

from ami_bridge.link import LinkConfig
from ami_bridge.service import AmiBridge
from crm_core.bus import Event, InProcessBus, Subscription
from crm_core.clock import ManualClock, SystemClock
from crm_core.db import Database
from crm_core.interactions import InteractionLog
from crm_core.models import Contact, Debt, Interaction, Task
from ivr.crm import CrmCallbackDesk, CrmDirectory, CrmJournal
from ivr.handoff import AcdHandoff
from ivr.ports import IvrRecord
from ivr.service import IvrService
from ivr.session import SafeDefault
from pbx_sim import Caller, PbxSim, SimConfig, VirtualClock
from routing.acd import Acd
from routing.events import AgentOffered, CallConnected
from routing.queues import QueueConfig
from routing.service import AcdService
from tests.ports import free_port

FLOWS = Path(__file__).resolve().parents[2] / "ivr" / "flows"
OPEN = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
BEFORE_OPENING = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # Tuesday 06:00 in New York
E = TypeVar("E", bound=Event)


class SignallingJournal(CrmJournal):
    """The real journal, plus a queue of finished IVR sessions so the test knows when."""

    def __init__(self, log_: InteractionLog) -> None:
        super().__init__(log_)
        self.records: asyncio.Queue[IvrRecord] = asyncio.Queue()

    async def record(self, record: IvrRecord, *, at: datetime) -> None:
        await super().record(record, at=at)
        self.records.put_nowait(record)


@dataclass
class Center:
    sim: PbxSim
    ivr: IvrService
    acd: AcdService
    journal: SignallingJournal
    clock: ManualClock  # the IVR's: only business hours read it
    seen: Subscription

    async def finished(self) -> IvrRecord:
        async with asyncio.timeout(20):
            return await self.journal.records.get()

    async def until(self, kind: type[E], test: Callable[[E], bool]) -> E:
        async with asyncio.timeout(20):
            while True:
                event = await self.seen.get()
                if isinstance(event, kind) and test(event):
                    return event


async def seed(db: Database) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    async with db.session() as s:
        ivan = Contact(
            first_name="Ivan", last_name="Petrov", language="ru", created_at=now, updated_at=now
        )
        s.add(ivan)
        await s.flush()
        s.add(
            Debt(
                contact_id=ivan.id,
                creditor="Acme Bank",
                reference="12345678",
                principal=Decimal("900"),
                balance=Decimal("800.00"),
                due_date=date(2026, 1, 1),
                created_at=now,
            )
        )
        await s.commit()


@pytest.fixture
async def center(sqlite_db: Database) -> AsyncIterator[Center]:
    await seed(sqlite_db)
    port = free_port()
    sim_clock = VirtualClock(start=1795444938.0, idle_grace=0.02)
    sim = PbxSim(SimConfig(agi_url=f"agi://127.0.0.1:{port}/inbound"), sim_clock)
    bus = InProcessBus()
    seen = bus.subscribe("test-observer", maxsize=100_000)
    system = SystemClock()
    await sim.start()
    sim_clock.start()
    bridge = AmiBridge(
        LinkConfig(
            port=sim.ami_port,
            username="callboard",
            secret="cbsecret",
            ping_interval=0.5,
            dead_after=2.0,
            action_timeout=2.0,
            connect_timeout=2.0,
        ),
        bus=bus,
        clock=system,
        db=sqlite_db,
    )
    queues = [QueueConfig(name="collections", ring_timeout_s=5), QueueConfig(name="general")]
    acd = AcdService(
        Acd(system, queues),
        bus=bus,
        switch=bridge.switch,
        clock=system,
        db=sqlite_db,
        stats_interval_s=60,
    )
    clock = ManualClock(OPEN)
    journal = SignallingJournal(InteractionLog(sqlite_db))
    ivr = IvrService(
        flows=FLOWS,
        directory=CrmDirectory(sqlite_db, clock),
        handoff=AcdHandoff(acd),
        callbacks=CrmCallbackDesk(sqlite_db, clock),
        journal=journal,
        clock=clock,
        safe_default=SafeDefault("general"),
        port=port,
        poll_interval=None,
    )
    await bridge.start()
    try:
        await bridge.link.wait_up(3)
        await acd.start()
        await ivr.start()
        yield Center(sim, ivr, acd, journal, clock, seen)
    finally:
        await ivr.close()
        await acd.stop()
        await bridge.stop()
        await sim.stop()
        await sim_clock.stop()


async def row(db: Database, linkedid: str) -> Interaction:
    async with db.session() as s:
        found = await s.scalar(select(Interaction).where(Interaction.linkedid == linkedid))
    assert found is not None
    return found


async def test_caller_keys_account_is_found_queued_and_connected(
    center: Center, sqlite_db: Database
) -> None:
    center.acd.login("agent1", "Local/agent1@cb-agents", {"collections": 60, "lang_ru": 50})
    # prompts in order: welcome (no key), language menu "2", account "12345678#"
    call = center.sim.place_inbound_call(
        Caller(number="2025550199", name="Ivan Petrov", digits=("", "2", "12345678#"), patience=1e6)
    )
    record = await center.finished()
    assert (record.linkedid, record.outcome, record.queue) == (
        call.linkedid,
        "queued",
        "collections",
    )
    offered = await center.until(AgentOffered, lambda e: e.linkedid == call.linkedid)
    assert offered.agent_id == "agent1" and offered.card is not None
    assert offered.card["name"] == "Ivan Petrov"
    assert offered.ivr_path[-1] == "queue_standard:collections"
    connected = await center.until(CallConnected, lambda e: e.linkedid == call.linkedid)
    assert connected.agent_id == "agent1"
    channel = center.sim.channel(call.caller_channel)
    assert channel is not None
    assert channel.var("CB_QUEUE") == "collections" and channel.var("CB_PRIORITY") == "10"
    assert channel.var("CB_CONTACT") == str(record.contact_id)
    interaction = await row(sqlite_db, call.linkedid)
    assert interaction.ivr_path == [
        "greeting",
        "known_caller:not_found",
        "language=2",
        "russian",
        "account=****5678",
        "account_lookup:found",
        "hours=yes",
        "repeat_caller=no",
        "vip=no",
        "high_balance=no",
        "queue_standard:collections",
    ]
    assert interaction.ivr_digits == "2 ****5678"
    assert interaction.contact_id == record.contact_id


async def test_closed_hours_caller_asks_for_a_callback(center: Center, sqlite_db: Database) -> None:
    center.clock.set(BEFORE_OPENING)
    call = center.sim.place_inbound_call(
        Caller(
            number="2025550199",
            name="Ivan Petrov",
            digits=("", "1", "12345678#", "1"),
            patience=1e6,
        )
    )
    record = await center.finished()
    assert record.outcome == "callback"
    assert center.acd.acd.call(call.linkedid) is None
    async with sqlite_db.session() as s:
        [task] = (await s.scalars(select(Task))).all()
    assert (task.owner_queue, task.phone_e164) == ("collections", "+12025550199")
    assert task.contact_id == record.contact_id is not None
    interaction = await row(sqlite_db, call.linkedid)
    assert interaction.ivr_path[-4:] == ["hours=no", "closed=1", "callback", "goodbye"]


async def test_caller_hangs_up_during_the_language_prompt(
    center: Center, sqlite_db: Database, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="ivr")
    call = center.sim.place_inbound_call(Caller(number="2025550199", hangup_after_prompts=1))
    record = await center.finished()
    assert record.outcome == "caller_hung_up"
    assert center.acd.acd.call(call.linkedid) is None
    interaction = await row(sqlite_db, call.linkedid)
    # `200 result=-1` then the HANGUP line (trace 13, S2): the flow stops at that very prompt.
    assert interaction.ivr_path == ["greeting", "known_caller:not_found", "caller_hung_up"]
    assert "caller hung up" in caplog.text
