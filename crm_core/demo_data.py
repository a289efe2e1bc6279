"""Realistic demo debtors, deterministic by seed: Russian and English names, phones in several
regions and time zones, debts with payment histories, promises kept and broken, past calls."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import phonenumbers
from sqlalchemy import Table, func, insert, select

from crm_core.db import Database
from crm_core.demo_places import (
    CREDITORS,
    DISPOSITIONS,
    EN_FIRST,
    EN_LAST,
    PLACES,
    RU_FIRST,
    RU_LAST,
    Place,
)
from crm_core.models import (
    Contact,
    ContactPhone,
    Debt,
    Interaction,
    Payment,
    Phone,
    PromiseToPay,
    Task,
)

CHUNK = 5_000


@dataclass
class DemoRows:
    contacts: list[dict[str, Any]]
    phones: list[dict[str, Any]]
    links: list[dict[str, Any]]
    debts: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    promises: list[dict[str, Any]]
    interactions: list[dict[str, Any]]
    tasks: list[dict[str, Any]]


class DemoGenerator:
    """Makes rows with explicit ids so millions can be bulk-inserted without reading ids back."""

    def __init__(
        self,
        seed: int,
        now: datetime,
        *,
        history: bool = True,
        first_ids: dict[str, int] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.today = now.date()
        self.history = history
        self.ids = dict(first_ids or {})
        self.numbers: set[str] = set()
        self.shared: list[int] = []  # phone ids a later contact may share (a family home line)

    def _id(self, table: str) -> int:
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]

    def _number(self, place: Place) -> str:
        while True:
            prefix = self.rng.choice(place.prefixes)
            candidate = f"{prefix}{self.rng.randrange(10**place.digits):0{place.digits}d}"
            if candidate in self.numbers:
                continue
            if phonenumbers.is_valid_number(phonenumbers.parse(candidate, None)):
                self.numbers.add(candidate)
                return candidate

    def batch(self, count: int) -> DemoRows:
        rows = DemoRows([], [], [], [], [], [], [], [])
        for _ in range(count):
            self._contact(rows)
        return rows

    def _contact(self, rows: DemoRows) -> None:
        rng, now = self.rng, self.now
        place = rng.choice(PLACES)
        russian = place.language == "ru"
        first = rng.choice(RU_FIRST if russian else EN_FIRST)
        last = rng.choice(RU_LAST if russian else EN_LAST)
        if russian and first[-1] == "a" and last[-2:] in ("ov", "ev", "in"):
            last += "a"
        contact_id = self._id("contacts")
        rows.contacts.append(
            {
                "id": contact_id,
                "external_ref": f"CL-{contact_id:07d}",
                "kind": "person",
                "first_name": first,
                "last_name": last,
                "company_name": "",
                "language": place.language,
                "address_line": f"{rng.randint(1, 180)} {rng.choice(place.streets)}",
                "city": place.city,
                "region": place.region,
                "postal_code": "",
                "country": place.country,
                "timezone": place.timezone,
                "segment": rng.choice(("early", "mid", "late", "legal")),
                "vip": rng.random() < 0.02,
                "notes": "",
                "created_at": now,
                "updated_at": now,
            }
        )
        phone_count = 1 if rng.random() < 0.75 else 2
        for i in range(phone_count):
            if i == 1 and self.shared and rng.random() < 0.1:
                phone_id = rng.choice(self.shared)
            else:
                phone_id = self._id("phones")
                e164 = self._number(place)
                rows.phones.append(
                    {
                        "id": phone_id,
                        "e164": e164,
                        "raw": e164,
                        "kind": "mobile" if i == 0 else "home",
                        "do_not_call": False,
                        "dnc_reason": "",
                        "dnc_at": None,
                    }
                )
                if i == 1:
                    self.shared.append(phone_id)
                    del self.shared[:-1000]
            rows.links.append(
                {
                    "contact_id": contact_id,
                    "phone_id": phone_id,
                    "is_primary": i == 0,
                    "source": "demo",
                }
            )
        for _ in range(1 if rng.random() < 0.8 or not self.history else rng.randint(2, 3)):
            self._debt(rows, contact_id)

    def _debt(self, rows: DemoRows, contact_id: int) -> None:
        rng, now = self.rng, self.now
        debt_id = self._id("debts")
        principal = Decimal(rng.randrange(5_000, 1_500_000)) / 100
        paid = [
            Decimal(rng.randrange(1_000, 20_000)) / 100 for _ in range(rng.choice((0, 0, 1, 2, 3)))
        ]
        balance = max(Decimal("0.00"), principal - sum(paid, Decimal(0)))
        due = self.today - timedelta(days=rng.randint(5, 720))
        status = "active"
        promise_roll = rng.random()
        if balance == 0:
            status = "paid"
        elif rng.random() < 0.04:
            status = "disputed"
        elif promise_roll < 0.15:
            status = "promise"
        rows.debts.append(
            {
                "id": debt_id,
                "contact_id": contact_id,
                "creditor": rng.choice(CREDITORS),
                "reference": f"{rng.randint(10, 99)}{debt_id:08d}",  # keyable on a phone
                "principal": principal,
                "balance": balance,
                "currency": "RUB" if rng.random() < 0.3 else "USD",
                "due_date": due,
                "status": status,
                "segment": "",
                "assigned_agent_id": None,
                "created_at": now,
            }
        )
        for i, amount in enumerate(paid):
            rows.payments.append(
                {
                    "debt_id": debt_id,
                    "amount": amount,
                    "paid_on": due + timedelta(days=30 * (i + 1)),
                    "method": rng.choice(("card", "bank transfer", "cash")),
                    "reference": "",
                }
            )
        if not self.history:
            return
        if status == "promise" or promise_roll < 0.25:
            broken = status != "promise"
            rows.promises.append(
                {
                    "debt_id": debt_id,
                    "amount": min(balance, Decimal(rng.randrange(50, 500))),
                    "due_on": self.today
                    + timedelta(days=rng.randint(-20, -3) if broken else rng.randint(1, 20)),
                    "status": "broken" if broken else "open",
                    "created_at": now - timedelta(days=rng.randint(21, 40)),
                    "created_by": None,
                    "interaction_id": None,
                    "evaluated_at": None,
                }
            )
        for _ in range(rng.randint(0, 4)):
            started = now - timedelta(days=rng.randint(1, 90), minutes=rng.randint(0, 600))
            talk = rng.randint(20, 400)
            rows.interactions.append(
                {
                    "kind": "call",
                    "direction": rng.choice(("inbound", "outbound", "outbound")),
                    "linkedid": f"demo-{debt_id}-{len(rows.interactions)}",
                    "contact_id": contact_id,
                    "debt_id": debt_id,
                    "caller_number": "",
                    "caller_name": "",
                    "queue": "collections",
                    "agent_id": None,
                    "campaign": "",
                    "started_at": started,
                    "answered_at": started + timedelta(seconds=8),
                    "connected_at": None,
                    "ended_at": started + timedelta(seconds=8 + talk),
                    "hangup_cause": 16,
                    "hangup_cause_text": "Normal Clearing",
                    "end_reason": "hangup",
                    "disposition": rng.choice(DISPOSITIONS),
                    "notes": "",
                    "recording_ref": "",
                    "ivr_path": [],
                    "ivr_digits": "",
                    "transitions": [],
                }
            )
        if rng.random() < 0.05:
            rows.tasks.append(
                {
                    "kind": "callback",
                    "status": "open",
                    "contact_id": contact_id,
                    "debt_id": debt_id,
                    "phone_e164": "",
                    "due_at": now + timedelta(hours=rng.randint(-4, 48)),
                    "owner_agent_id": None,
                    "owner_queue": "collections",
                    "note": "Debtor asked to be called back",
                    "created_at": now,
                    "created_by": None,
                    "completed_at": None,
                }
            )


async def load_demo_data(
    db: Database,
    contacts: int,
    *,
    seed: int = 42,
    now: datetime | None = None,
    history: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    now = now or datetime.now(UTC)
    first_ids: dict[str, int] = {}
    async with db.session() as session:
        for table, model in (("contacts", Contact), ("phones", Phone), ("debts", Debt)):
            first_ids[table] = (
                await session.scalar(select(func.coalesce(func.max(model.id), 0)))
            ) or 0
        numbers = (
            set()
            if not first_ids["phones"]
            else {row[0] for row in await session.execute(select(Phone.e164))}
        )
    generator = DemoGenerator(seed, now, history=history, first_ids=first_ids)
    generator.numbers = numbers
    done = 0
    for rows in _batches(generator, contacts):
        async with db.session() as session, session.begin():
            for mapped, data in (
                (Contact, rows.contacts),
                (Phone, rows.phones),
                (ContactPhone, rows.links),
                (Debt, rows.debts),
                (Payment, rows.payments),
                (PromiseToPay, rows.promises),
                (Interaction, rows.interactions),
                (Task, rows.tasks),
            ):
                if data:
                    await session.execute(insert(cast(Table, mapped.__table__)), data)
        done += len(rows.contacts)
        if progress:
            progress(done, contacts)
    if db.dialect == "postgresql":
        async with db.session() as session, session.begin():
            for table in ("contacts", "phones", "debts"):
                await session.execute(_sql_setval(table))


def _batches(generator: DemoGenerator, contacts: int) -> Iterator[DemoRows]:
    for start in range(0, contacts, CHUNK):
        yield generator.batch(min(CHUNK, contacts - start))


def _sql_setval(table: str) -> Any:
    from sqlalchemy import text

    return text(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"(SELECT coalesce(max(id), 1) FROM {table}))"
    )
