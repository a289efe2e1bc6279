"""The dialer end to end over TCP, in virtual time: pbx_sim (stand-in Asterisk) <-> ami_bridge
(link, tracker, Switch) <-> CampaignDialer, with a real SQLite database.

A predictive campaign with 10 nailed-up operators (trace 08) runs for a simulated hour. Far ends
answer as people or machines, are busy, ring out or are congested; every attempt in the ledger
must match pbx_sim's own call log exactly: same calls, same outcomes, same abandoned calls.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert

from ami_bridge.events import CallEnded
from ami_bridge.link import LinkConfig
from ami_bridge.service import AmiBridge
from ami_bridge.switch import ApplicationTarget, OriginateRequest
from crm_core.bus import InProcessBus
from crm_core.db import Database
from crm_core.models import Contact, ContactPhone, Debt, Phone
from dialer.attempts import AttemptOutcome
from dialer.campaign import Campaign, CampaignState
from dialer.events import CampaignStateChanged
from dialer.ledger import AttemptLedger
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings, Schedule
from dialer.tables import CampaignRow
from pbx_sim import FarEndProfile, Outcome, PbxSim, SimConfig, VirtualClock
from routing.events import AgentOffered

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
OPERATORS = 10
DEBTORS = 1500
HOUR = 3600.0


class SimTime:
    """crm_core's Clock over pbx_sim's virtual clock: both sides share one time."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    def monotonic(self) -> float:
        return self._clock.now()


async def seed(db: Database) -> None:
    contacts, phones, links, debts = [], [], [], []
    for i in range(1, DEBTORS + 1):
        contacts.append(
            {
                "id": i,
                "first_name": f"D{i}",
                "timezone": "America/New_York",
                "created_at": START,
                "updated_at": START,
            }
        )
        phones.append({"id": i, "e164": f"+1212555{i:04d}", "raw": f"212555{i:04d}"})
        links.append({"contact_id": i, "phone_id": i, "is_primary": True})
        debts.append(
            {
                "id": i,
                "contact_id": i,
                "creditor": "bank",
                "reference": f"R{i}",
                "principal": Decimal(500),
                "balance": Decimal(100 + i),
                "due_date": date(2026, 6, 1),
                "created_at": START,
            }
        )
    async with db.session() as s:
        await s.execute(insert(Contact), contacts)
        await s.execute(insert(Phone), phones)
        await s.execute(insert(ContactPhone), links)
        await s.execute(insert(Debt), debts)
        await s.execute(
            insert(CampaignRow),
            [{"id": 1, "name": "e2e", "created_at": START, "updated_at": START}],
        )
        await s.commit()


@pytest.mark.timeout(900)  # about 100 s of real time on an idle machine
async def test_a_predictive_hour_matches_the_pbx_call_log(sqlite_db: Database) -> None:
    await seed(sqlite_db)
    vclock = VirtualClock(start=START.timestamp(), idle_grace=0.002)
    far_ends = FarEndProfile(
        per_number={},
        weights={
            Outcome.HUMAN: 0.35,
            Outcome.MACHINE: 0.15,
            Outcome.BUSY: 0.15,
            Outcome.NO_ANSWER: 0.2,
            Outcome.CONGESTION: 0.1,
            Outcome.REJECT_AFTER_RING: 0.05,
        },
        answer_after=(2.0, 8.0),
        talk_secs=(150.0, 300.0),
    )
    sim = PbxSim(SimConfig(far_ends=far_ends, seed=11), vclock)
    await sim.start()
    bus = InProcessBus()
    offers = bus.subscribe("test-offers", AgentOffered, maxsize=100_000)
    states = bus.subscribe("test-states", CampaignStateChanged)
    ends = bus.subscribe("test-ends", CallEnded, maxsize=100_000)
    clock = SimTime(vclock)
    config = LinkConfig(
        port=sim.ami_port,
        username="callboard",
        secret="cbsecret",
        ping_interval=1.0,
        dead_after=5.0,
        action_timeout=5.0,
        connect_timeout=2.0,
    )
    bridge = AmiBridge(config, bus=bus, clock=clock, number_endpoint="Local/{number}@pstn-sim")
    await bridge.start()
    await bridge.link.wait_up(5.0)
    settings = CampaignSettings(
        name="e2e",
        schedule=Schedule(zone="America/New_York", start=datetime.min.time()),
        ring_timeout_s=20.0,
    )
    campaign = Campaign(1, settings)
    dialer = CampaignDialer(
        campaign,
        db=sqlite_db,
        bus=bus,
        switch=bridge.switch,
        clock=clock,
        sleep=vclock.sleep,
        working=vclock.busy,
        wrap_up_s=10.0,
        tick_s=2.0,
    )
    # the dialer runs from the start: its tick timer keeps virtual time from leaping ahead
    # (to the operator lines' far end) while the operators log in
    run = asyncio.create_task(dialer.run())
    vclock.start()
    try:
        for n in range(1, OPERATORS + 1):  # nailed-up operator lines, each in its conference
            line = await bridge.switch.originate(
                OriginateRequest(
                    endpoint=f"Local/agent{n}@cb-agent-phone",
                    target=ApplicationTarget("ConfBridge", f"agent{n},cc_bridge,cc_agent"),
                    variables={"AGENT_TALK_SECS": "20000"},
                    ring_timeout=10.0,
                )
            )
            assert line.answered
            dialer.join_operator(f"agent{n}", f"agent{n}", line=line.uniqueid)
        await dialer.move(CampaignState.RUNNING, "e2e started")
        started, real_start = vclock.now(), time.monotonic()
        while vclock.now() < started + HOUR:
            assert time.monotonic() - real_start < 600, "the simulated hour took too long"
            assert not run.done(), run.exception()
            await asyncio.sleep(0.05)
        dialer.stop()
        async with asyncio.timeout(120):
            await run
    finally:
        await vclock.stop()
        await bridge.stop()
        await sim.stop()

    attempts = await AttemptLedger(sqlite_db).campaign_attempts(1, START - timedelta(seconds=1))
    by_id = {a.attempt_id: a for a in attempts}
    dialled = [o for o in sim.call_log.originates if "@pstn-sim" in o.channel]
    # the same calls on both sides, keyed by the ChannelId the dialer chose
    assert sorted(by_id) == sorted(o.uniqueid for o in dialled)
    expected_failure = {
        5: AttemptOutcome.BUSY,
        3: AttemptOutcome.NO_ANSWER,
        8: AttemptOutcome.CONGESTION,
        0: AttemptOutcome.REJECTED,
    }
    connected = abandoned = 0
    for record in dialled:
        attempt = by_id[record.uniqueid]
        assert attempt.ended_at is not None
        if record.reason != 4:
            assert attempt.outcome is expected_failure[record.reason], (record, attempt)
            assert attempt.answered_at is None
            continue
        assert attempt.answered_at is not None
        call = sim.call_log.calls[record.linkedid]  # Linkedid follows ;1: the ChannelId
        assert call.linkedid == attempt.attempt_id and not call.active
        if call.amd_status == "MACHINE":
            assert attempt.outcome is AttemptOutcome.MACHINE
            continue
        assert call.amd_status == "HUMAN"
        assert attempt.outcome is AttemptOutcome.HUMAN
        joined = call.bridged_with != []  # entered the operator's conference bridge
        assert joined == (attempt.agent_id is not None), (record, attempt, call)
        assert attempt.abandoned == (attempt.agent_id is None)
        connected += attempt.agent_id is not None
        abandoned += attempt.abandoned
    outcomes = {a.outcome for a in attempts}
    assert {AttemptOutcome.HUMAN, AttemptOutcome.MACHINE, AttemptOutcome.BUSY,
            AttemptOutcome.NO_ANSWER} <= outcomes  # fmt: skip
    assert connected >= 40, f"only {connected} debtors reached an operator in an hour"
    assert abandoned <= 0.1 * (connected + abandoned)
    # every connected debtor's card reached the operator first
    offered = {e.linkedid for e in iter(offers.get_nowait, None)}  # type: ignore[union-attr]
    assert {a.attempt_id for a in attempts if a.agent_id} <= offered
    assert ends.stats.dropped == 0
    started_event = states.get_nowait()
    assert isinstance(started_event, CampaignStateChanged)
    assert (started_event.state, started_event.reason) == ("running", "e2e started")
    figures = dialer.figures()
    assert figures.counters["dialled"] == len(attempts)
    people = [a for a in attempts if a.outcome is AttemptOutcome.HUMAN]
    assert figures.abandon_rate_24h == sum(a.abandoned for a in people) / len(people)
