"""Preview mode (dialer/preview.py) on a fake clock and a real SQLite ledger: the next debtor is
reserved for one operator (nobody else, no dialer takes it), the countdown dials or skips as the
campaign says, a skip's reason is audited, and a dial the rules refuse names the rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from ami_bridge.switch import Switch
from crm_core.bus import InProcessBus
from crm_core.clock import ManualClock
from crm_core.db import Database
from crm_core.models import AuditEntry, Phone
from dialer.attempts import AttemptOutcome
from dialer.calls import DialerDialplan
from dialer.campaign import Campaign, CampaignState, Lead
from dialer.ledger import AttemptLedger
from dialer.pacing import DialMode
from dialer.preview import PreviewBook, PreviewDesk, PreviewError
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings, Schedule
from tests.dialer.breaker_support import START, seed
from tests.dialer.test_dialer_breaker_service import ScriptedPort, failure


def lead(debt_id: int) -> Lead:
    return Lead(
        debt_id=debt_id,
        contact_id=debt_id,
        creditor="bank",
        balance=Decimal(100),
        days_past_due=30,
        status="open",
        address_zone="America/New_York",
    )


def test_a_reservation_holds_its_debt_until_its_deadline() -> None:
    book = PreviewBook()
    first = book.reserve("a1", 1, lead(7), "+1", START, timedelta(seconds=30), "dial")
    assert book.held() == frozenset({7})
    with pytest.raises(PreviewError) as taken:
        book.reserve("a2", 1, lead(7), "+1", START, timedelta(seconds=30), "dial")
    assert taken.value.code == "preview.taken"
    with pytest.raises(PreviewError):
        book.reserve("a1", 1, lead(8), "+1", START, timedelta(seconds=30), "dial")
    assert book.due(START + timedelta(seconds=29)) == []
    assert first.remaining_s(START + timedelta(seconds=10)) == 20.0
    assert book.due(START + timedelta(seconds=30)) == [first]
    assert book.release("a1") is first and book.held() == frozenset()


async def preview_floor(
    db: Database, clock: ManualClock, on_timeout: str = "dial"
) -> tuple[CampaignDialer, PreviewDesk, ScriptedPort]:
    await seed(db)
    settings = CampaignSettings(
        name="demo",
        schedule=Schedule(zone="America/New_York", start=datetime.min.time()),
        dial_mode=DialMode.PREVIEW,
        preview_countdown_s=30.0,
        preview_on_timeout=on_timeout,
    )
    port = ScriptedPort(failure(3))  # every debtor rings out
    dialer = CampaignDialer(
        Campaign(1, settings),
        db=db,
        bus=InProcessBus(),
        switch=Switch(port, number_endpoint="Local/{number}@no-such-context"),
        clock=clock,
        dialplan=DialerDialplan(grace_s=0.01),
        wrap_up_s=0.01,
    )
    await dialer.move(CampaignState.RUNNING, "test")
    await dialer._refresh(clock.now())  # the window the ticks would fill
    for agent in ("agent1", "agent2"):
        dialer.join_operator(agent, agent)
    return dialer, PreviewDesk({1: dialer}, db, clock), port


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def calls() -> AsyncIterator[asyncio.TaskGroup]:
    async with asyncio.TaskGroup() as group:
        yield group


async def test_next_reserves_one_debt_per_operator(sqlite_db: Database, clock: ManualClock) -> None:
    dialer, desk, _ = await preview_floor(sqlite_db, clock)
    one = desk.next("agent1")
    two = desk.next("agent2")
    assert one is not None and two is not None
    assert one["debt_id"] == 40 and two["debt_id"] == 39  # biggest score first, not twice
    assert desk.next("agent1") == one  # asking again shows the same debtor
    assert one["remaining_s"] == 30.0 and one["phone"] == "+12125550040"
    # no dialer takes a held debt: the ticks pass over what the book holds
    assert dialer.held() == frozenset({39, 40})
    assert dialer.take_preview(clock.now(), dialer.held()).lead.debt_id == 38  # type: ignore[union-attr]


async def test_skip_reason_is_audited_and_checked(sqlite_db: Database, clock: ManualClock) -> None:
    dialer, desk, _ = await preview_floor(sqlite_db, clock)
    shown = desk.next("agent1")
    assert shown is not None
    with pytest.raises(PreviewError) as bad:
        await desk.skip("agent1", "bored")
    assert bad.value.code == "preview.bad_reason"
    with pytest.raises(PreviewError):
        await desk.skip("agent1", "timeout")  # the countdown's, not the operator's
    await desk.skip("agent1", "wrong_debtor")
    assert desk.current("agent1") is None and dialer.held() == frozenset()
    async with sqlite_db.session() as s:
        entry = (await s.scalars(select(AuditEntry))).one()
    assert (entry.action, entry.object_type, entry.object_id) == ("preview_skip", "debt", "40")
    assert entry.detail["reason"] == "wrong_debtor" and entry.detail["agent_id"] == "agent1"
    nxt = desk.next("agent1")
    assert nxt is not None and nxt["debt_id"] == 39  # the skipped debt rests


async def test_countdown_end_dials_through_the_check_and_record(
    sqlite_db: Database, clock: ManualClock, calls: asyncio.TaskGroup
) -> None:
    dialer, desk, port = await preview_floor(sqlite_db, clock)
    dialer._calls = calls  # what run() hands the calls
    assert desk.next("agent1") is not None
    clock.advance(29)
    await desk.expire()
    assert port.originates == []
    clock.advance(1)
    await desk.expire()
    assert desk.current("agent1") is None
    async with asyncio.timeout(5):
        while dialer.live_calls:  # noqa: ASYNC110 - polls the dialer's plain state
            await asyncio.sleep(0.01)
    [dial] = port.originates
    assert dial["Exten"] == "agent1" and dial["Context"] == "cb-conf"  # straight to the operator
    ledger = AttemptLedger(sqlite_db)
    [attempt] = (await ledger.history(since=START - timedelta(days=1), debt_ids=[40])).for_debt(40)
    assert attempt.campaign_id == 1 and attempt.agent_id == "agent1"
    assert attempt.outcome is AttemptOutcome.NO_ANSWER and attempt.ended_at is not None


async def test_countdown_end_skips_when_the_campaign_says_so(
    sqlite_db: Database, clock: ManualClock
) -> None:
    _, desk, port = await preview_floor(sqlite_db, clock, on_timeout="skip")
    assert desk.next("agent1") is not None
    clock.advance(30)
    await desk.expire()
    assert desk.current("agent1") is None and port.originates == []
    async with sqlite_db.session() as s:
        entry = (await s.scalars(select(AuditEntry))).one()
    assert entry.detail["reason"] == "timeout"


async def test_a_refused_dial_names_the_rule(sqlite_db: Database, clock: ManualClock) -> None:
    _, desk, port = await preview_floor(sqlite_db, clock)
    assert desk.next("agent1") is not None
    async with sqlite_db.session() as s:  # flagged since the preview was chosen
        await s.execute(update(Phone).where(Phone.id == 40).values(do_not_call=True))
        await s.commit()
    with pytest.raises(PreviewError) as refused:
        await desk.dial("agent1")
    assert refused.value.code == "preview.refused.phone_flagged"
    assert refused.value.denials[0].debt_id == 40
    assert desk.current("agent1") is None and port.originates == []
    ledger = AttemptLedger(sqlite_db)
    assert (await ledger.history(since=START - timedelta(days=1), debt_ids=[40])).for_debt(40) == []
    with pytest.raises(PreviewError) as foreign:
        desk.next("agent2")
        await desk.dial("agent2", "+15550000000")
    assert foreign.value.code == "preview.not_their_number"
