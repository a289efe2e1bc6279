"""The storage contract, run against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm_core.interactions import InteractionLog
from crm_core.lookup import lookup_by_account, lookup_by_phone
from crm_core.models import (
    Contact,
    ContactPhone,
    Debt,
    Interaction,
    Payment,
    Phone,
    PromiseStatus,
    PromiseToPay,
    Task,
)
from crm_core.promises import evaluate_open_promises
from crm_core.tasks import due_tasks

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def _debtor(session, *, ref: str, name: str, numbers: list[str], balance: str = "1200.50"):
    first, last = name.split()
    contact = Contact(
        external_ref=ref,
        first_name=first,
        last_name=last,
        timezone="Europe/London",
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(contact)
    await session.flush()
    for i, e164 in enumerate(numbers):
        phone = (
            await session.execute(select(Phone).where(Phone.e164 == e164))
        ).scalar_one_or_none()
        if phone is None:
            phone = Phone(e164=e164, raw=e164)
            session.add(phone)
            await session.flush()
        session.add(ContactPhone(contact_id=contact.id, phone_id=phone.id, is_primary=i == 0))
    debt = Debt(
        contact_id=contact.id,
        creditor="Acme Bank",
        reference=f"ACC-{ref}",
        principal=Decimal("1500.00"),
        balance=Decimal(balance),
        due_date=date(2026, 9, 1),
        created_at=NOW,
    )
    session.add(debt)
    await session.flush()
    return contact, debt


async def test_card_by_any_spelling_of_the_number(db):
    async with db.session() as s:
        contact, debt = await _debtor(s, ref="C1", name="Ivan Petrov", numbers=["+447911123456"])
        s.add(Payment(debt_id=debt.id, amount=Decimal("100.10"), paid_on=date(2026, 10, 1)))
        s.add(
            PromiseToPay(
                debt_id=debt.id, amount=Decimal("200"), due_on=date(2026, 12, 1), created_at=NOW
            )
        )
        s.add(Task(contact_id=contact.id, due_at=NOW + timedelta(hours=1), created_at=NOW))
        await s.commit()
    async with db.session() as s:
        for spelling in ("07911 123456", "+44 7911 123456", "00447911123456"):
            card = await lookup_by_phone(s, spelling, "GB", today=date(2026, 11, 23))
            assert card is not None, spelling
            assert card.name == "Ivan Petrov"
            assert card.matched_number == "+447911123456"
        assert card.debts[0].balance == Decimal("1200.50")
        assert card.debts[0].days_past_due == 83
        assert card.payments[0].amount == Decimal("100.10")
        assert card.promises[0].status == "open"
        assert len(card.tasks) == 1
        data = card.to_dict()
        assert data["total_balance"] == "1200.50"
        assert data["debts"][0]["due_date"] == "2026-09-01"
        assert await lookup_by_phone(s, "07911 000000", "GB") is None
        assert await lookup_by_phone(s, "not a number", "GB") is None
        by_account = await lookup_by_account(s, "ACC-C1")
        assert by_account is not None and by_account.matched_by == "account"


async def test_shared_number_lists_the_other_holders(db):
    async with db.session() as s:
        await _debtor(s, ref="A", name="Anna Smith", numbers=["+442071234567"])
        await _debtor(s, ref="B", name="Bob Smith", numbers=["+447700900123", "+442071234567"])
        await s.commit()
    async with db.session() as s:
        card = await lookup_by_phone(s, "020 7123 4567", "GB")
        assert card is not None and card.name == "Anna Smith"
        assert [name for _, name in card.other_contacts] == ["Bob Smith"]


async def test_duplicate_debt_reference_is_refused(db):
    async with db.session() as s:
        await _debtor(s, ref="D1", name="Olga Ivanova", numbers=["+79161234567"])
        await s.commit()
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            await _debtor(s, ref="D1", name="Olga Ivanova", numbers=[])
            await s.commit()


async def test_interaction_log_is_idempotent_per_linkedid(db):
    log = InteractionLog(db)
    first = await log.call_started("1795444938.0", started_at=NOW, caller_number="5551234")
    again = await log.call_started("1795444938.0", started_at=NOW + timedelta(seconds=5))
    assert first == again
    await asyncio.gather(
        *(log.call_answered("1795444938.0", at=NOW + timedelta(seconds=i)) for i in (3, 4))
    )
    await log.add_transition("1795444938.0", at=NOW, what="ringing")
    await log.add_transition("1795444938.0", at=NOW, what="ringing")
    await log.call_ended(
        "1795444938.0", at=NOW + timedelta(seconds=60), cause=16, cause_text="Normal Clearing"
    )
    await log.call_ended("1795444938.0", at=NOW + timedelta(seconds=99), cause=0)
    # an update for a call never seen starting (tracker started mid-call) creates the row
    await log.call_updated("1795444999.7", at=NOW, queue="support")
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Interaction)) == 2
        row = (
            await s.execute(select(Interaction).where(Interaction.linkedid == "1795444938.0"))
        ).scalar_one()
    assert row.started_at == NOW
    assert row.answered_at in (NOW + timedelta(seconds=3), NOW + timedelta(seconds=4))
    assert row.ended_at == NOW + timedelta(seconds=60) and row.hangup_cause == 16
    assert row.transitions == [{"at": NOW.isoformat(), "what": "ringing"}]
    with pytest.raises(ValueError, match="not updatable"):
        await log.call_updated("1795444938.0", at=NOW, ended_at=NOW)


async def test_promises_kept_and_broken(db):
    async with db.session() as s:
        _, kept_debt = await _debtor(s, ref="P1", name="Kate Jones", numbers=[])
        _, broken_debt = await _debtor(s, ref="P2", name="Lev Orlov", numbers=[])
        s.add_all(
            [
                PromiseToPay(
                    debt_id=kept_debt.id,
                    amount=Decimal("50"),
                    due_on=date(2026, 11, 10),
                    created_at=NOW - timedelta(days=20),
                ),
                Payment(debt_id=kept_debt.id, amount=Decimal("30"), paid_on=date(2026, 11, 5)),
                Payment(debt_id=kept_debt.id, amount=Decimal("20"), paid_on=date(2026, 11, 11)),
                PromiseToPay(
                    debt_id=broken_debt.id,
                    amount=Decimal("80"),
                    due_on=date(2026, 11, 10),
                    created_at=NOW - timedelta(days=20),
                ),
                Payment(debt_id=broken_debt.id, amount=Decimal("79.99"), paid_on=date(2026, 11, 9)),
            ]
        )
        await s.commit()
    async with db.session() as s:
        counts = await evaluate_open_promises(s, today=date(2026, 11, 23), now=NOW)
    assert counts[PromiseStatus.KEPT] == 1 and counts[PromiseStatus.BROKEN] == 1


async def test_due_tasks_for_agent_and_queue(db):
    async with db.session() as s:
        contact, _ = await _debtor(s, ref="T1", name="Max Power", numbers=[])
        s.add_all(
            [
                Task(
                    contact_id=contact.id,
                    due_at=NOW - timedelta(minutes=5),
                    owner_queue="support",
                    created_at=NOW,
                ),
                Task(
                    contact_id=contact.id,
                    due_at=NOW + timedelta(days=1),
                    owner_queue="support",
                    created_at=NOW,
                ),
            ]
        )
        await s.commit()
    async with db.session() as s:
        due = await due_tasks(s, until=NOW, queues=["support"])
        assert len(due) == 1 and due[0].due_at == NOW - timedelta(minutes=5)
        assert await due_tasks(s, until=NOW, queues=["sales"]) == []
