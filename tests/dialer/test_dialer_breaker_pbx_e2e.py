"""A campaign whose dial string the PBX cannot place, end to end over TCP in virtual time:
pbx_sim <-> ami_bridge (link, tracker, Switch) <-> CampaignDialer, with a real SQLite ledger.

The incident: on a real Asterisk every originate failed (no such extension in the dial string)
and the demo campaign made 256 attempts in 45 s for 3 operators, silently, charging each debtor's
weekly attempt budget. Here the dial string names a context pbx_sim does not have (trace 11.9)
or an extension its context does not have (the incident), both OriginateResponse Failure with
Reason 0: the campaign must pause itself after the breaker's threshold with the reason on record
and on the bus, place no more dials, and leave the debtors' attempt counts untouched.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

import pytest

from ami_bridge.link import LinkConfig
from ami_bridge.service import AmiBridge
from ami_bridge.switch import ApplicationTarget, OriginateRequest
from crm_core.bus import InProcessBus
from crm_core.db import Database
from dialer.attempts import AttemptOutcome
from dialer.campaign import Campaign, CampaignState
from dialer.compliance import Compliance, DialTarget
from dialer.events import CampaignStateChanged, DialerAlert
from dialer.ledger import AttemptLedger
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings, Schedule
from dialer.tables import CampaignRow
from pbx_sim import PbxSim, SimConfig, VirtualClock
from tests.dialer.breaker_support import START, seed

OPERATORS = 3
# the dial string names a context pbx_sim does not have (trace 11.9), or a context that has no
# such extension (the incident: Asterisk refuses the Originate, Reason 0)
NO_CONTEXT = "@no-such-context"
NO_EXTEN = "@cb-dialer"  # only `s` there: no +1212... extension


class SimTime:
    """crm_core's Clock over pbx_sim's virtual clock: both sides share one time."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    def monotonic(self) -> float:
        return self._clock.now()


@pytest.mark.parametrize("broken", [NO_CONTEXT, NO_EXTEN])
async def test_a_pbx_that_refuses_every_dial_pauses_the_campaign(
    sqlite_db: Database, broken: str
) -> None:
    await seed(sqlite_db)
    vclock = VirtualClock(start=START.timestamp(), idle_grace=0.002)
    sim = PbxSim(SimConfig(seed=3), vclock)
    await sim.start()
    bus = InProcessBus()
    states = bus.subscribe("test-states", CampaignStateChanged)
    alerts = bus.subscribe("test-alerts", DialerAlert)
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
    bridge = AmiBridge(config, bus=bus, clock=clock, number_endpoint="Local/{number}" + broken)
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
        for n in range(1, OPERATORS + 1):
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
        await dialer.move(CampaignState.RUNNING, "started by sup")
        started, real_start = vclock.now(), time.monotonic()
        while dialer.campaign.state is CampaignState.RUNNING:
            assert time.monotonic() - real_start < 60, "the campaign never paused"
            assert vclock.now() < started + 120, "still dialling after two simulated minutes"
            assert not run.done(), run.exception()
            await asyncio.sleep(0.02)
        paused_at = vclock.now()
        while vclock.now() < paused_at + 60:  # a simulated minute more: nothing new is dialled
            assert time.monotonic() - real_start < 120
            await asyncio.sleep(0.02)
        dialer.stop()
        async with asyncio.timeout(60):
            await run
    finally:
        await vclock.stop()
        await bridge.stop()
        await sim.stop()

    # no runaway: the threshold, plus at most the lines being dialled when it tripped
    dialled = [o for o in sim.call_log.originates if broken in o.channel]
    threshold = settings.pbx_failures_to_pause
    assert threshold <= len(dialled) <= threshold + OPERATORS
    assert all(o.reason == 0 for o in dialled)
    # paused, and why, for the supervisor: the state row, the bus, the alert
    reason = dialer.campaign.reason
    assert dialer.campaign.state is CampaignState.PAUSED
    assert "5 dials in a row failed at the PBX" in reason and "Reason 0" in reason
    async with sqlite_db.session() as s:
        row = await s.get(CampaignRow, 1)
    assert row is not None and (row.state, row.state_reason) == ("paused", reason)
    seen = [(e.state, e.reason) for e in iter(states.get_nowait, None)]  # type: ignore[union-attr]
    assert seen == [("running", "started by sup"), ("paused", reason)]
    alert = alerts.get_nowait()
    assert isinstance(alert, DialerAlert) and alert.detail == reason
    # on record for the report, but no attempt on any debtor
    ledger = AttemptLedger(sqlite_db)
    attempts = await ledger.campaign_attempts(1, START - timedelta(seconds=1))
    assert {o.uniqueid for o in dialled} <= {a.attempt_id for a in attempts}
    assert {a.outcome for a in attempts} == {AttemptOutcome.NOT_DIALLED}
    now = START + timedelta(minutes=5)
    history = await ledger.history(since=now - timedelta(days=8))
    rules = Compliance(settings.compliance)
    for a in attempts:
        assert history.debt_starts_since(a.debt_id, now - timedelta(days=7), now) == []
        target = DialTarget(debt_id=a.debt_id, phone=a.phone, address_zone="America/New_York")
        assert rules.check(target, history, now).allowed
    # the pacer did not learn "no answer" from them
    assert len(dialer.pacer.stats.answered) == 0
