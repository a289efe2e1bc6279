"""Manual dial check-and-record is one transaction on both engines: concurrent dials of one
debt, from separate connections (separate processes, as far as the database can tell), can
never both pass the weekly attempt cap."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from crm_core.clock import ManualClock
from crm_core.db import Database
from crm_core.models import Contact, ContactPhone, Debt, Phone
from dialer.attempts import Attempt
from dialer.compliance import CompliancePolicy
from dialer.ledger import AttemptLedger
from dialer.manual import ManualDials, new_call_id
from dialer.tables import CampaignRow

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
E164 = "+447911123456"


async def seed(db: Database) -> int:
    async with db.session() as s:
        contact = Contact(
            first_name="A", last_name="B", timezone="Europe/London", created_at=NOW, updated_at=NOW
        )
        phone = Phone(e164=E164, raw=E164)
        s.add_all(
            [contact, phone, CampaignRow(id=7, name="earlier", created_at=NOW, updated_at=NOW)]
        )
        await s.flush()
        s.add(ContactPhone(contact_id=contact.id, phone_id=phone.id, is_primary=True))
        debt = Debt(
            contact_id=contact.id,
            creditor="X",
            reference="R",
            principal=Decimal("10.00"),
            balance=Decimal("10.00"),
            currency="GBP",
            due_date=date(2026, 1, 1),
            created_at=NOW,
        )
        s.add(debt)
        await s.commit()
    ledger = AttemptLedger(db)
    for i in range(6):  # one attempt left this week, spread so the daily cap stays open
        await ledger.started(
            Attempt(
                attempt_id=f"old-{i}",
                campaign_id=7,
                debt_id=debt.id,
                phone=E164,
                started_at=NOW - timedelta(hours=25 * (i + 1)),
            )
        )
    return debt.id


async def test_concurrent_manual_dials_pass_the_cap_once(db: Database) -> None:
    debt_id = await seed(db)
    if db.dialect == "sqlite":  # a second engine on the same file: another process's view
        url = db.engine.url.render_as_string(hide_password=False)
        others = [await Database.open(url) for _ in range(3)]
    else:
        others = [db, db, db]
    try:
        dialers = [ManualDials(d, CompliancePolicy(), ManualClock(NOW)) for d in (db, *others)]
        for dialer in dialers:
            await dialer.campaign_id()
        decisions = await asyncio.gather(
            *(
                d.check_and_record(
                    E164, NOW, call_id=new_call_id(), agent_id="1", override_for=lambda _: None
                )
                for d in dialers
            )
        )
    finally:
        if db.dialect == "sqlite":
            for other in others:
                await other.close()
    assert sorted(d.allowed for d in decisions) == [False, False, False, True]
    refused = [d for d in decisions if not d.allowed]
    assert all(d.denials[0].rule.value == "attempt_cap" for d in refused)
    history = await AttemptLedger(db).history(since=NOW - timedelta(days=8), debt_ids=[debt_id])
    assert len(history.for_debt(debt_id)) == 7
