"""A floor for campaigns worked from the desk, over TCP in real time: pbx_sim <-> ami_bridge <->
AcdService + one CampaignDialer + CampaignSeats, on a real SQLite database. The wall clock
starts on a weekday morning (the calling-hours rules see daytime), time runs as real time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal

from sqlalchemy import insert

from ami_bridge.link import LinkConfig
from ami_bridge.service import AmiBridge
from ami_bridge.switch import DialplanTarget, OriginateRequest
from crm_core.bus import InProcessBus
from crm_core.db import Database
from crm_core.models import Contact, ContactPhone, Debt, Phone
from dialer.campaign import Campaign
from dialer.seats import CampaignSeats
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings, Schedule
from dialer.tables import CampaignRow
from pbx_sim import AgentPhone, FarEndProfile, PbxSim, SimConfig
from routing.acd import Acd
from routing.queues import QueueConfig
from routing.service import AcdService

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
CAMPAIGN_ID = 1
DEBTOR_PHONE = "+12125551234"


class MorningClock:
    """Wall time from START on, advancing with the real monotonic clock."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return START + timedelta(seconds=time.monotonic() - self._t0)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass
class Floor:
    db: Database
    bus: InProcessBus
    clock: MorningClock
    sim: PbxSim
    bridge: AmiBridge
    acd: AcdService
    dialer: CampaignDialer
    seats: CampaignSeats
    contact_id: int
    debt_id: int

    async def queue_caller(self, linkedid: str, hold_s: int = 60) -> str:
        """An inbound caller on music on hold, queued as the IVR would queue it."""
        result = await self.bridge.switch.originate(
            OriginateRequest(
                endpoint="Local/100@cb-hold",
                target=DialplanTarget("caller-sim", "s", 1),
                caller_id='"Caller" <5559876>',
                variables={"HOLD_SECS": str(hold_s), "DTMF_DELAY": "0"},
                channel_id=linkedid,
            )
        )
        assert result.answered
        channel = result.channel.removesuffix(";1") + ";2"
        self.acd.enqueue(
            linkedid=linkedid, queue="collections", caller_channel=channel, caller_number="5559876"
        )
        return channel


async def seed_campaign(db: Database) -> None:
    async with db.session() as s:
        await s.execute(
            insert(CampaignRow),
            [{"id": CAMPAIGN_ID, "name": "Early arrears", "created_at": START,
              "updated_at": START}],
        )  # fmt: skip
        await s.commit()


async def seed_debtor(db: Database, phone: str = DEBTOR_PHONE) -> tuple[int, int]:
    await seed_campaign(db)
    async with db.session() as s:
        contact = Contact(
            first_name="Dora",
            last_name="Debtor",
            timezone="America/New_York",
            created_at=START,
            updated_at=START,
        )
        number = Phone(e164=phone, raw=phone)
        s.add_all([contact, number])
        await s.flush()
        s.add(ContactPhone(contact_id=contact.id, phone_id=number.id, is_primary=True))
        debt = Debt(
            contact_id=contact.id,
            creditor="Northwind Bank",
            reference="NW-5001",
            principal=Decimal(900),
            balance=Decimal(600),
            currency="USD",
            due_date=date(2026, 6, 1),
            created_at=START,
        )
        s.add(debt)
        await s.commit()
        return contact.id, debt.id


@asynccontextmanager
async def floor(
    db: Database,
    *,
    debtor_talk_s: float = 6.0,
    wrap_up_s: float = 2.0,
    agent_phone: AgentPhone | None = None,
    debtor: bool = True,
) -> AsyncIterator[Floor]:
    """`debtor`: seed the one debtor the campaign dials (else the database has its own)."""
    if debtor:
        contact_id, debt_id = await seed_debtor(db)
    else:
        await seed_campaign(db)
        contact_id = debt_id = 0
    clock = MorningClock()
    bus = InProcessBus()
    sim = PbxSim(SimConfig(far_ends=FarEndProfile(talk_secs=debtor_talk_s, answer_after=0.5)))
    await sim.start()
    # a nailed-up line occupies the phone: an inbound call to a blended operator is a second
    # call on it (call waiting)
    sim.add_agent_phone(
        "agent1", agent_phone or AgentPhone(ring_secs=0.3, talk_secs=3, call_waiting=True)
    )
    config = LinkConfig(
        port=sim.ami_port,
        username="callboard",
        secret="cbsecret",
        ping_interval=0.5,
        dead_after=3.0,
        action_timeout=3.0,
        connect_timeout=2.0,
    )
    bridge = AmiBridge(
        config, bus=bus, clock=clock, db=db, number_endpoint="Local/{number}@pstn-sim"
    )
    await bridge.start()
    await bridge.link.wait_up(5.0)
    acd = AcdService(
        Acd(clock, [QueueConfig(name="collections", wrap_up_s=1, ring_timeout_s=5)]),
        bus=bus,
        switch=bridge.switch,
        clock=clock,
        db=db,
        stats_interval_s=60,
    )
    await acd.start()
    settings = CampaignSettings(
        name="Early arrears",
        schedule=Schedule(
            zone="America/New_York", days=frozenset(range(7)), start=clock_time(0, 0)
        ),
        ring_timeout_s=20.0,
    )
    dialer = CampaignDialer(
        Campaign(CAMPAIGN_ID, settings),
        db=db,
        bus=bus,
        switch=bridge.switch,
        clock=clock,
        wrap_up_s=wrap_up_s,
        tick_s=0.2,
    )
    seats = CampaignSeats(acd, {CAMPAIGN_ID: dialer}, bridge.switch, db, ring_timeout_s=5.0)
    run = asyncio.create_task(dialer.run(), name="test-dialer")
    try:
        yield Floor(db, bus, clock, sim, bridge, acd, dialer, seats, contact_id, debt_id)
    finally:
        dialer.stop()
        try:  # a call task may still be timing a long wrap-up: not worth waiting for
            await asyncio.wait_for(asyncio.shield(run), 5)
        except TimeoutError:
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
        finally:
            await seats.close()
            await acd.stop()
            await bridge.stop()
            await sim.stop()
            bus.close()
