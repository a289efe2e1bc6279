"""The paged lead window gives the dialer the same leads, in the same order, and the same
decisions as loading every debt of the campaign (dialer/leads.py's load_leads)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from crm_core.db import Database
from crm_core.models import (
    Contact,
    ContactPhone,
    Debt,
    Phone,
    PromiseStatus,
    PromiseToPay,
    Task,
    TaskKind,
    TaskStatus,
)
from dialer.attempts import Attempt, AttemptOutcome
from dialer.campaign import DebtFilter, priority_key
from dialer.compliance import Compliance
from dialer.lead_window import LeadWindow, ordered_debt_ids
from dialer.leads import load_do_not_call, load_leads
from dialer.ledger import AttemptLedger
from dialer.selection import select
from dialer.settings import CampaignSettings
from dialer.tables import CampaignRow, DialAttemptRow

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", None]


async def seed(db: Database, rng: random.Random, debts: int = 240) -> None:
    contacts = debts // 2
    async with db.session() as s:
        s.add(CampaignRow(id=1, name="spring", created_at=NOW, updated_at=NOW))
        for c in range(1, contacts + 1):
            s.add(
                Contact(
                    id=c,
                    first_name=f"c{c}",
                    timezone=rng.choice(ZONES),
                    segment=rng.choice(["", "retail"]),
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            s.add(Phone(id=c, e164=f"+1212555{c:04d}", raw="x", do_not_call=rng.random() < 0.05))
            s.add(ContactPhone(contact_id=c, phone_id=c, is_primary=True))
            if rng.random() < 0.3:
                s.add(Phone(id=10_000 + c, e164=f"+4420794{c:05d}", raw="y"))
                s.add(ContactPhone(contact_id=c, phone_id=10_000 + c))
        await s.flush()
        for d in range(1, debts + 1):
            s.add(
                Debt(
                    id=d,
                    contact_id=rng.randint(1, contacts),
                    creditor=rng.choice(["bank", "telco"]),
                    reference=f"R{d}",
                    principal=Decimal(500),
                    # round balances and few due dates: many ties in the score
                    balance=Decimal(rng.choice([0, 50, 100, 100, 250, 999.99, -20])),
                    due_date=NOW.date()
                    + timedelta(days=rng.choice([-400, -90, -30, -30, -1, 0, 5])),
                    status=rng.choice(["active", "active", "promise", "paid", "disputed"]),
                    segment=rng.choice(["", "", "vip"]),
                    created_at=NOW,
                )
            )
        await s.flush()
        for d in rng.sample(range(1, debts + 1), debts // 10):
            s.add(
                PromiseToPay(
                    debt_id=d,
                    amount=Decimal(10),
                    due_on=date(2026, 11, 1),
                    status=rng.choice([PromiseStatus.BROKEN, PromiseStatus.KEPT]),
                    created_at=NOW,
                )
            )
        for _ in range(debts // 12):
            on_debt = rng.random() < 0.5
            s.add(
                Task(
                    kind=TaskKind.CALLBACK,
                    status=rng.choice([TaskStatus.OPEN, TaskStatus.OPEN, TaskStatus.DONE]),
                    contact_id=rng.randint(1, contacts),
                    debt_id=rng.randint(1, debts) if on_debt else None,
                    due_at=NOW + timedelta(minutes=rng.choice([-300, -5, 1, 30, 600, 5000])),
                    created_at=NOW,
                )
            )
        await s.commit()
    ledger = AttemptLedger(db)
    for n in range(debts // 2):
        at = NOW - timedelta(minutes=rng.randint(1, 60 * 24 * 9))
        attempt = Attempt(
            attempt_id=f"dial-{n}",
            campaign_id=1,
            debt_id=rng.randint(1, debts),
            phone=f"+1212555{rng.randint(1, contacts):04d}",
            started_at=at,
        )
        await ledger.started(attempt)
        outcome = rng.choice(list(AttemptOutcome))
        await ledger.classified(
            attempt.attempt_id,
            outcome,
            abandoned=outcome is AttemptOutcome.HUMAN and rng.random() < 0.2,
        )
        await ledger.ended(attempt.attempt_id, at + timedelta(seconds=40))
        if outcome is AttemptOutcome.HUMAN and rng.random() < 0.3:
            await ledger.conversation(attempt.attempt_id)


FILTERS = [
    DebtFilter(),
    DebtFilter(creditors=frozenset({"bank"}), segments=frozenset({"", "vip"})),
    DebtFilter(
        statuses=frozenset(), min_balance=Decimal(1), time_zones=frozenset({"Europe/London"})
    ),
    DebtFilter(debt_ids=frozenset(range(1, 240, 3))),
]


@pytest.mark.parametrize("which", range(len(FILTERS)))
async def test_the_order_is_priority_order(db: Database, which: int) -> None:
    await seed(db, random.Random(which))
    settings = CampaignSettings(name="spring", filter=FILTERS[which])
    before = NOW - timedelta(days=30)  # no callback due yet: the score tiers alone
    leads = await load_leads(db, settings, before)
    expected = [
        x.debt_id for x in sorted(leads, key=lambda x: (priority_key(x, before), x.debt_id))
    ]
    broken = frozenset(x.debt_id for x in leads if x.broken_promise)
    async with db.session() as session:
        got = [i async for i in ordered_debt_ids(session, settings.filter, before.date(), broken)]
    wanted = {x.debt_id for x in leads}
    assert [i for i in got if i in wanted] == expected
    assert len(got) == len(set(got))


@pytest.mark.parametrize("seed_no", [0, 1, 2])
async def test_the_window_picks_what_the_full_list_picks(db: Database, seed_no: int) -> None:
    rng = random.Random(100 + seed_no)
    await seed(db, rng)
    settings = CampaignSettings(name="spring")
    window = LeadWindow(db, settings, 1, size=30, page=7)
    for step in range(6):
        now = NOW + timedelta(minutes=7 * step)
        full = await load_leads(db, settings, now)
        dnc = await load_do_not_call(db, 1)
        history = await AttemptLedger(db).history(
            since=now - timedelta(days=8), debt_ids=[x.debt_id for x in full]
        )
        fill = await window.fill(now)
        assert len(fill.leads) <= 30 + 20  # the window's size, and the callbacks due
        for count in (1, 3, 8):
            kwargs = dict(count=count, now=now, campaign_id=1, retry=settings.retry)
            expected = select(
                full,
                compliance=Compliance(settings.compliance, dnc),
                history=history,
                **kwargs,  # type: ignore[arg-type]
            )
            got = select(fill.leads, compliance=fill.compliance, history=fill.history, **kwargs)  # type: ignore[arg-type]
            assert [(p.lead, p.phone) for p in got.picks] == [
                (p.lead, p.phone) for p in expected.picks
            ]
        # dial the first pick, as the dialer would, and let time pass
        first = select(
            fill.leads,
            count=1,
            now=now,
            campaign_id=1,
            retry=settings.retry,
            compliance=fill.compliance,
            history=fill.history,
        ).picks
        if first:
            attempt = Attempt(
                attempt_id=f"step-{step}",
                campaign_id=1,
                debt_id=first[0].lead.debt_id,
                phone=first[0].phone,
                started_at=now,
            )
            await AttemptLedger(db).started(attempt)
            await AttemptLedger(db).classified(attempt.attempt_id, AttemptOutcome.NO_ANSWER)


async def test_a_paid_debt_leaves_and_a_new_one_enters_at_the_next_fill(db: Database) -> None:
    await seed(db, random.Random(7), debts=40)
    settings = CampaignSettings(name="spring")
    window = LeadWindow(db, settings, 1, size=5, page=2)
    first = await window.fill(NOW)
    top = first.leads[-1].debt_id
    async with db.session() as s:
        debt = await s.get(Debt, top)
        assert debt is not None
        debt.status = "paid"  # type: ignore[assignment]
        s.add(
            Debt(
                id=1000,
                contact_id=1,
                creditor="bank",
                reference="NEW",
                principal=Decimal(10**6),
                balance=Decimal(10**6),
                due_date=date(2020, 1, 1),
                created_at=NOW,
            )
        )
        await s.commit()
    again = await window.fill(NOW)
    ids = [x.debt_id for x in again.leads]
    assert top not in ids
    assert 1000 in ids or 1000 in window.parked or 1000 in window.resting
    async with db.session() as s:
        assert await s.get(DialAttemptRow, "nothing") is None
