"""A campaign call's interaction row, end to end over TCP in virtual time: pbx_sim <-> ami_bridge
(link, tracker, interaction writer) <-> CampaignDialer, with a real SQLite database.

The row ami_bridge writes for the answered call learns from the dialer what only the dialer
knows: the campaign, the debt, the operator and the debtor (contact), so the call shows in the
debtor's history; a dial attempt that never answered is no call and has no row.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from datetime import time as clock_time
from decimal import Decimal

from sqlalchemy import insert, select

from ami_bridge.link import LinkConfig
from ami_bridge.service import AmiBridge
from ami_bridge.switch import ApplicationTarget, OriginateRequest
from crm_core.bus import InProcessBus
from crm_core.db import Database
from crm_core.models import Contact, ContactPhone, Debt, Interaction, Phone, Role, User
from dialer.campaign import Campaign, CampaignState
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings, Schedule
from dialer.tables import CampaignRow, DialAttemptRow
from pbx_sim import PbxSim, SimConfig, VirtualClock

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
PERSON, BUSY = "+12125551234", "+12125550486"  # pbx_sim: ...5550486 is busy, others answer


class SimTime:
    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    def monotonic(self) -> float:
        return self._clock.now()


async def _seed(db: Database) -> None:
    async with db.session() as s:
        for i, number in ((1, PERSON), (2, BUSY)):
            await s.execute(
                insert(Contact),
                [{"id": 40 + i, "first_name": f"D{i}", "timezone": "America/New_York",
                  "created_at": START, "updated_at": START}],
            )  # fmt: skip
            await s.execute(insert(Phone), [{"id": i, "e164": number, "raw": number}])
            await s.execute(
                insert(ContactPhone), [{"contact_id": 40 + i, "phone_id": i, "is_primary": True}]
            )
            await s.execute(
                insert(Debt),
                [{"id": 70 + i, "contact_id": 40 + i, "creditor": "bank", "reference": f"R{i}",
                  "principal": Decimal(500), "balance": Decimal(100), "due_date": date(2026, 6, 1),
                  "created_at": START}],
            )  # fmt: skip
        s.add(User(id=7, username="olga", role=Role.OPERATOR, password_hash="x", created_at=START))
        await s.execute(
            insert(CampaignRow),
            [{"id": 1, "name": "demo", "created_at": START, "updated_at": START}],
        )
        await s.commit()


async def test_a_campaign_calls_interaction_knows_the_debtor(sqlite_db: Database) -> None:
    await _seed(sqlite_db)
    vclock = VirtualClock(start=START.timestamp(), idle_grace=0.002)
    sim = PbxSim(SimConfig(seed=5), vclock)
    await sim.start()
    bus = InProcessBus()
    clock = SimTime(vclock)
    config = LinkConfig(
        port=sim.ami_port,
        username="ccadmin",
        secret="ccsecret",
        ping_interval=1.0,
        dead_after=5.0,
        action_timeout=5.0,
        connect_timeout=2.0,
    )
    bridge = AmiBridge(
        config, bus=bus, clock=clock, db=sqlite_db, number_endpoint="Local/{number}@pstn-sim"
    )
    await bridge.start()
    await bridge.link.wait_up(5.0)
    settings = CampaignSettings(
        name="demo",
        schedule=Schedule(zone="America/New_York", start=clock_time(0, 0)),
        ring_timeout_s=20.0,
    )
    dialer = CampaignDialer(
        Campaign(1, settings),
        db=sqlite_db,
        bus=bus,
        switch=bridge.switch,
        clock=clock,
        sleep=vclock.sleep,
        working=vclock.busy,
        wrap_up_s=10.0,
        tick_s=1.0,
    )
    run = asyncio.create_task(dialer.run())
    vclock.start()
    try:
        line = await bridge.switch.originate(
            OriginateRequest(
                endpoint="Local/agent1@cb-agent-phone",
                target=ApplicationTarget("ConfBridge", "agent1,cc_bridge,cc_agent"),
                variables={"AGENT_TALK_SECS": "20000"},
                ring_timeout=10.0,
            )
        )
        assert line.answered
        dialer.join_operator("7", "agent1", line=line.uniqueid)
        await dialer.move(CampaignState.RUNNING, "started")
        real_start = time.monotonic()
        while True:
            assert time.monotonic() - real_start < 60, "the two debtors were never both dialled"
            assert not run.done(), run.exception()
            async with sqlite_db.session() as s:
                rows = list((await s.execute(select(DialAttemptRow))).scalars())
                talks = list((await s.execute(select(Interaction))).scalars())
            person = [r for r in rows if r.phone == PERSON and r.agent_id and r.ended_at]
            if (
                person
                and any(r.phone == BUSY and r.outcome for r in rows)
                and any(t.linkedid == person[0].attempt_id and t.ended_at for t in talks)
            ):
                break
            await asyncio.sleep(0.05)
        dialer.stop()
        async with asyncio.timeout(60):
            await run
    finally:
        await vclock.stop()
        await bridge.stop()
        await sim.stop()

    async with sqlite_db.session() as s:
        talks = list((await s.execute(select(Interaction))).scalars())
    # the busy attempt never answered: no interaction of its own
    assert [t.linkedid for t in talks] == [person[0].attempt_id]
    [talk] = talks
    assert str(talk.direction) in ("outbound", "Direction.OUTBOUND")
    assert (talk.contact_id, talk.debt_id, talk.campaign, talk.agent_id) == (41, 71, "demo", 7)
