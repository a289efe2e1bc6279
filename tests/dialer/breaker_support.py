"""Shared by the breaker tests: 40 debtors in New York and campaign 1, "demo"."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import insert

from crm_core.db import Database
from crm_core.models import Contact, ContactPhone, Debt, Phone
from dialer.tables import CampaignRow

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
DEBTORS = 40


async def seed(db: Database) -> None:
    async with db.session() as s:
        await s.execute(
            insert(Contact),
            [
                {
                    "id": i,
                    "first_name": f"D{i}",
                    "timezone": "America/New_York",
                    "created_at": START,
                    "updated_at": START,
                }
                for i in range(1, DEBTORS + 1)
            ],
        )
        await s.execute(
            insert(Phone),
            [
                {"id": i, "e164": f"+1212555{i:04d}", "raw": f"212555{i:04d}"}
                for i in range(1, DEBTORS + 1)
            ],
        )
        await s.execute(
            insert(ContactPhone),
            [{"contact_id": i, "phone_id": i, "is_primary": True} for i in range(1, DEBTORS + 1)],
        )
        await s.execute(
            insert(Debt),
            [
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
                for i in range(1, DEBTORS + 1)
            ],
        )
        await s.execute(
            insert(CampaignRow),
            [{"id": 1, "name": "demo", "created_at": START, "updated_at": START}],
        )
        await s.commit()
