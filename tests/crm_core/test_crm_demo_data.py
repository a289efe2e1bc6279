"""Demo data: deterministic by seed, valid numbers, and every debtor reachable by lookup."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from crm_core.demo_data import DemoGenerator, load_demo_data
from crm_core.lookup import lookup_by_phone
from crm_core.models import Contact, Phone
from crm_core.phones import normalise

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_same_seed_same_debtors():
    a = DemoGenerator(7, NOW).batch(50)
    b = DemoGenerator(7, NOW).batch(50)
    assert a.contacts == b.contacts and a.phones == b.phones and a.debts == b.debts
    assert DemoGenerator(8, NOW).batch(50).contacts != a.contacts
    languages = {c["language"] for c in a.contacts}
    assert languages == {"ru", "en"}
    for phone in a.phones:
        assert normalise(phone["e164"], "GB") == phone["e164"]


async def test_loaded_debtors_are_found_by_their_numbers(db):
    seen = []
    await load_demo_data(db, 300, seed=3, now=NOW, progress=lambda done, total: seen.append(done))
    assert seen[-1] == 300
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Contact)) == 300
        numbers = [row[0] for row in await s.execute(select(Phone.e164).limit(20))]
        for number in numbers:
            card = await lookup_by_phone(s, number, "GB", today=NOW.date())
            assert card is not None and card.debts
    # a second load adds more without clashing ids or numbers
    await load_demo_data(db, 50, seed=4, now=NOW)
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Contact)) == 350
