"""A debt whose payment plan has a broken instalment is dialled before the others of its
campaign, like one with a broken promise: in the full lead list and in the paged window."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from crm_core.arrangements import broken_debt_ids
from crm_core.models import Arrangement, Contact, Debt, Instalment, InstalmentStatus
from dialer.campaign import priority_key
from dialer.lead_window import ordered_debt_ids
from dialer.leads import load_leads
from dialer.settings import CampaignSettings

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


async def test_a_broken_instalment_lifts_the_debt(db) -> None:
    async with db.session() as s:
        contact = Contact(first_name="a", created_at=NOW, updated_at=NOW)
        s.add(contact)
        await s.flush()
        big, small = (
            Debt(
                contact_id=contact.id,
                creditor="Acme",
                reference=ref,
                principal=Decimal(balance),
                balance=Decimal(balance),
                due_date=date(2026, 6, 1),
                created_at=NOW,
            )
            for ref, balance in (("BIG", "9000"), ("SMALL", "100"))
        )
        s.add_all([big, small])
        await s.flush()
        plan = Arrangement(
            debt_id=small.id, total=Decimal("100"), starts_on=date(2026, 10, 1), created_at=NOW
        )
        s.add(plan)
        await s.flush()
        s.add(
            Instalment(
                arrangement_id=plan.id,
                seq=1,
                amount=Decimal("100"),
                due_on=date(2026, 10, 10),
                status=InstalmentStatus.BROKEN,
            )
        )
        await s.commit()
        big_id, small_id = big.id, small.id
    settings = CampaignSettings(name="plans")
    leads = await load_leads(db, settings, NOW)
    ordered = [x.debt_id for x in sorted(leads, key=lambda x: priority_key(x, NOW))]
    assert ordered == [small_id, big_id]
    async with db.session() as session:
        broken = await broken_debt_ids(session)
        assert broken == {small_id}
        paged = [i async for i in ordered_debt_ids(session, settings.filter, NOW.date(), broken)]
    assert paged == [small_id, big_id]
