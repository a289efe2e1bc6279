"""A running CampaignDialer whose PBX cannot place calls: it pauses itself after the breaker's
threshold with the reason on record, alerts supervisors, keeps the failures out of the debtors'
attempt counts and out of the pacer's answer rate, and dials again once a supervisor resumes.

The Switch talks to a scripted ActionPort (every Originate gets the same kind of answer), with a
real SQLite ledger; the pbx_sim end-to-end version is in test_dialer_breaker_pbx_e2e.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta

from ami_bridge.errors import ActionFailed
from ami_bridge.switch import Headers, Switch
from crm_core.bus import InProcessBus
from crm_core.clock import ManualClock
from crm_core.db import Database
from dialer.attempts import AttemptOutcome
from dialer.calls import DialerDialplan
from dialer.campaign import Campaign, CampaignState
from dialer.events import CampaignStateChanged, DialerAlert
from dialer.ledger import AttemptLedger
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings, Schedule
from dialer.tables import CampaignRow
from tests.dialer.breaker_support import START, seed

OPERATORS = 3


Answer = Callable[[Mapping[str, str]], Mapping[str, str]]


class ScriptedPort:
    """An ActionPort whose every Originate is answered by `answer` (or raises from it)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.originates: list[dict[str, str]] = []

    async def send(self, action: str, headers: Headers, *, reply_timeout: float | None = None):
        return {"Response": "Success"}

    async def originate(
        self, headers: Headers, *, reply_timeout: float | None = None, result_timeout: float
    ) -> Mapping[str, str]:
        fields = dict(headers)
        self.originates.append(fields)
        await asyncio.sleep(0.005)
        return self.answer(fields)


def failure(reason: int) -> Answer:
    def answer(fields: Mapping[str, str]) -> Mapping[str, str]:
        return {
            "Response": "Failure",
            "ActionID": "x",
            "Channel": fields["Channel"],
            "Reason": str(reason),
            "Uniqueid": fields["ChannelId"],
        }

    return answer


def permission_denied(fields: Mapping[str, str]) -> Mapping[str, str]:
    raise ActionFailed("Originate", "Permission denied")


class TickCounter:
    """Entered around every tick's work (the dialer's `working` hook): counts the ticks."""

    def __init__(self) -> None:
        self.ticks = 0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        self.ticks += 1
        yield


async def running(db: Database, port: ScriptedPort, bus: InProcessBus) -> CampaignDialer:
    await seed(db)
    settings = CampaignSettings(
        name="demo",
        schedule=Schedule(zone="America/New_York", start=datetime.min.time()),
        ring_timeout_s=20.0,
    )
    dialer = CampaignDialer(
        Campaign(1, settings),
        db=db,
        bus=bus,
        switch=Switch(port, number_endpoint="Local/{number}@no-such-context"),
        clock=ManualClock(START),
        dialplan=DialerDialplan(grace_s=0.05),
        tick_s=0.02,
        working=TickCounter(),
    )
    for n in range(1, OPERATORS + 1):
        dialer.join_operator(f"agent{n}", f"agent{n}")
    return dialer


async def until(condition: Callable[[], bool], within_s: float = 20.0) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - polls the dialer's plain state
            await asyncio.sleep(0.01)


async def pauses_itself(dialer: CampaignDialer, port: ScriptedPort) -> None:
    task = asyncio.create_task(dialer.run())
    try:
        await dialer.move(CampaignState.RUNNING, "started by sup")
        await until(lambda: dialer.campaign.state is CampaignState.PAUSED)
        await until(lambda: dialer.live_calls == 0)
        dialled = len(port.originates)
        counter = dialer.working
        assert isinstance(counter, TickCounter)
        paused_at_tick = counter.ticks
        # a dozen ticks (counted, not slept): a paused campaign places nothing
        await until(lambda: counter.ticks >= paused_at_tick + 12)
        assert len(port.originates) == dialled
    finally:
        dialer.stop()
        await asyncio.wait_for(task, 10)
    threshold = dialer.campaign.settings.pbx_failures_to_pause
    assert threshold == 5
    # no runaway: the threshold, plus at most the lines already being dialled
    assert threshold <= len(port.originates) <= threshold + OPERATORS


async def test_no_such_extension_everywhere_pauses_the_campaign(sqlite_db: Database) -> None:
    bus = InProcessBus()
    states = bus.subscribe("t-states", CampaignStateChanged)
    alerts = bus.subscribe("t-alerts", DialerAlert)
    port = ScriptedPort(failure(0))  # OriginateResponse Failure, Reason 0, no channel
    dialer = await running(sqlite_db, port, bus)
    await pauses_itself(dialer, port)

    reason = dialer.campaign.reason
    assert "dials in a row failed at the PBX" in reason and "Reason 0" in reason
    async with sqlite_db.session() as s:
        row = await s.get(CampaignRow, 1)
    assert row is not None and (row.state, row.state_reason) == ("paused", reason)
    published = [e for e in iter(states.get_nowait, None)]
    assert [(e.state, e.reason) for e in published][-1] == ("paused", reason)
    alert = alerts.get_nowait()
    assert isinstance(alert, DialerAlert) and alert.detail == reason
    assert alert.kind == "pbx_failures" and alerts.get_nowait() is None  # one alert

    # on record, but no attempt on any debtor
    ledger = AttemptLedger(sqlite_db)
    attempts = await ledger.campaign_attempts(1, START - timedelta(seconds=1))
    assert len(attempts) >= len(port.originates)  # and any chosen as the pause came
    assert {a.outcome for a in attempts} == {AttemptOutcome.NOT_DIALLED}
    history = await ledger.history(since=START - timedelta(days=8))
    for debt_id in {a.debt_id for a in attempts}:
        assert history.debt_starts_since(debt_id, START - timedelta(days=7), START) == []

    # the pacer learned nothing from them: no "no answer", no ring times
    assert len(dialer.pacer.stats.answered) == 0
    assert len(dialer.pacer.stats.ring_unanswered) == 0
    assert dialer.figures().counters["outcomes"] == {"not_dialled": len(attempts)}


async def test_permission_denied_on_originate_pauses_the_campaign(sqlite_db: Database) -> None:
    port = ScriptedPort(permission_denied)
    dialer = await running(sqlite_db, port, InProcessBus())
    await pauses_itself(dialer, port)
    assert "Permission denied" in dialer.campaign.reason
    attempts = await AttemptLedger(sqlite_db).campaign_attempts(1, START - timedelta(seconds=1))
    assert {a.outcome for a in attempts} == {AttemptOutcome.NOT_DIALLED}
    assert len(dialer.pacer.stats.answered) == 0


async def test_congestion_everywhere_pauses_it_but_stays_on_the_debtors_count(
    sqlite_db: Database,
) -> None:
    port = ScriptedPort(failure(8))
    dialer = await running(sqlite_db, port, InProcessBus())
    await pauses_itself(dialer, port)
    assert "congestion (Reason 8" in dialer.campaign.reason
    attempts = await AttemptLedger(sqlite_db).campaign_attempts(1, START - timedelta(seconds=1))
    # the congested dials reached the trunk: they stay attempts (dials chosen as the pause
    # came were never sent: not dialled)
    outcomes = [a.outcome for a in attempts]
    assert set(outcomes) <= {AttemptOutcome.CONGESTION, AttemptOutcome.NOT_DIALLED}
    assert outcomes.count(AttemptOutcome.CONGESTION) == len(port.originates)
    assert len(dialer.pacer.stats.answered) == 0


async def test_busy_debtors_never_pause_it_and_feed_the_pacer(sqlite_db: Database) -> None:
    port = ScriptedPort(failure(5))
    dialer = await running(sqlite_db, port, InProcessBus())
    task = asyncio.create_task(dialer.run())
    try:
        await dialer.move(CampaignState.RUNNING, "started by sup")
        await until(lambda: len(port.originates) >= 20)
    finally:
        dialer.stop()
        await asyncio.wait_for(task, 10)
    assert dialer.campaign.state is CampaignState.RUNNING
    assert dialer.breaker.failures_in_a_row == 0
    assert len(dialer.pacer.stats.answered) == len(port.originates)


async def test_a_supervisors_resume_resets_it_and_the_debts_are_dialled_again(
    sqlite_db: Database,
) -> None:
    port = ScriptedPort(failure(0))
    dialer = await running(sqlite_db, port, InProcessBus())
    task = asyncio.create_task(dialer.run())
    try:
        await dialer.move(CampaignState.RUNNING, "started by sup")
        await until(lambda: dialer.campaign.state is CampaignState.PAUSED)
        await until(lambda: dialer.live_calls == 0)
        refused = {f["Channel"] for f in port.originates}
        assert dialer.breaker.tripped
        port.answer = failure(5)  # the dialplan is fixed: debtors are busy now
        assert isinstance(dialer.clock, ManualClock)
        dialer.clock.advance(120)  # the supervisor took two minutes
        before = len(port.originates)
        await dialer.move(CampaignState.RUNNING, "started by sup")
        assert not dialer.breaker.tripped and dialer.breaker.failures_in_a_row == 0
        await until(lambda: len(port.originates) >= before + len(refused))
    finally:
        dialer.stop()
        await asyncio.wait_for(task, 10)
    again = {f["Channel"] for f in port.originates[before:]}
    # the numbers the PBX refused are back in the pool at once (the highest balances first)
    assert refused <= again
    assert dialer.campaign.state is CampaignState.RUNNING
