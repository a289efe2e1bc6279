"""Collections: promised against kept against collected, by creditor or by day.

Definitions:
- Promised: promises to pay made in the range (by the day they were made; cancelled ones, which
  a correction replaced, left out): count and amount; kept and broken: those of them settled so
  (count and amount), the rest still open.
- Collected on promises: payments on the promise's debt inside its evaluation window, at most
  the promised amount (reports.agents.collected_on_promise).
- Plans: payment plans made in the range (count and total), cancelled ones left out.
- Payments: every payment posted with a payment date in the range, on the creditor's debts:
  for administrators only (a supervisor's report covers their team's promises and plans, and a
  payment belongs to no operator).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import (
    Arrangement,
    ArrangementStatus,
    Debt,
    Payment,
    PromiseStatus,
    PromiseToPay,
)
from reports.agents import collected_on_promise, payments_by_debt
from reports.common import ZERO, Column, Report, ReportRange, Scope, choice, share, stream_rows

BREAKDOWNS = ("creditor", "day")


@dataclass(slots=True)
class _Bucket:
    promises: int = 0
    promised: Decimal = ZERO
    kept: int = 0
    kept_amount: Decimal = ZERO
    broken: int = 0
    broken_amount: Decimal = ZERO
    collected: Decimal = ZERO
    plans: int = 0
    plans_total: Decimal = ZERO
    payments: int = 0
    paid: Decimal = ZERO

    def add(self, other: _Bucket) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def row(self, everyone: bool) -> dict[str, Any]:
        row: dict[str, Any] = {
            "promises": self.promises,
            "promised": self.promised,
            "kept": self.kept,
            "kept_amount": self.kept_amount,
            "broken": self.broken,
            "broken_amount": self.broken_amount,
            "open": self.promises - self.kept - self.broken,
            "kept_rate": share(self.kept, self.kept + self.broken),
            "collected": self.collected,
            "collected_rate": share(self.collected, self.promised),
            "plans": self.plans,
            "plans_total": self.plans_total,
        }
        if everyone:
            row |= {"payments": self.payments, "paid": self.paid}
        return row


COLUMNS = [
    Column("promises", "Promises"),
    Column("promised", "Promised", "money"),
    Column("kept", "Kept"),
    Column("kept_amount", "Kept amount", "money"),
    Column("broken", "Broken"),
    Column("broken_amount", "Broken amount", "money"),
    Column("open", "Open"),
    Column("kept_rate", "Kept rate", "percent"),
    Column("collected", "Collected on promises", "money"),
    Column("collected_rate", "Collected / promised", "percent"),
    Column("plans", "Plans"),
    Column("plans_total", "Plans total", "money"),
]
PAYMENT_COLUMNS = [Column("payments", "Payments"), Column("paid", "Paid", "money")]


async def collections_report(
    session: AsyncSession,
    rng: ReportRange,
    scope: Scope,
    *,
    breakdown: str = "creditor",
    creditor: str | None = None,
    grace_days: int = 2,
) -> Report:
    choice("breakdown", breakdown, BREAKDOWNS)
    buckets: dict[str, _Bucket] = defaultdict(_Bucket)

    def key(name: str, at: Any) -> str:
        return rng.local_day(at).isoformat() if breakdown == "day" else name

    creditor_filter = [Debt.creditor == creditor] if creditor else []
    promises = [
        p
        for p in await session.execute(
            select(
                Debt.creditor,
                PromiseToPay.created_by,
                PromiseToPay.created_at,
                PromiseToPay.debt_id,
                PromiseToPay.amount,
                PromiseToPay.due_on,
                PromiseToPay.status,
            )
            .join(Debt, Debt.id == PromiseToPay.debt_id)
            .where(
                PromiseToPay.created_at >= rng.start,
                PromiseToPay.created_at < rng.end,
                PromiseToPay.status != PromiseStatus.CANCELLED,
                *creditor_filter,
            )
        )
        if scope.everyone or scope.allows(p.created_by)
    ]
    paid = await payments_by_debt(session, {p.debt_id for p in promises})
    for p in promises:
        bucket = buckets[key(p.creditor, p.created_at)]
        bucket.promises += 1
        bucket.promised += p.amount
        if p.status == PromiseStatus.KEPT:
            bucket.kept += 1
            bucket.kept_amount += p.amount
        elif p.status == PromiseStatus.BROKEN:
            bucket.broken += 1
            bucket.broken_amount += p.amount
        bucket.collected += collected_on_promise(
            p.amount, p.created_at.date(), p.due_on, paid.get(p.debt_id, ()), grace_days
        )
    plans = await session.execute(
        select(Debt.creditor, Arrangement.created_by, Arrangement.created_at, Arrangement.total)
        .join(Debt, Debt.id == Arrangement.debt_id)
        .where(
            Arrangement.created_at >= rng.start,
            Arrangement.created_at < rng.end,
            Arrangement.status != ArrangementStatus.CANCELLED,
            *creditor_filter,
        )
    )
    for name, created_by, created_at, total in plans:
        if scope.everyone or scope.allows(created_by):
            bucket = buckets[key(name, created_at)]
            bucket.plans += 1
            bucket.plans_total += total
    if scope.everyone:
        payments = stream_rows(
            session,
            select(Debt.creditor, Payment.paid_on, Payment.amount)
            .join(Debt, Debt.id == Payment.debt_id)
            .where(Payment.paid_on >= rng.first, Payment.paid_on <= rng.last, *creditor_filter),
        )
        async for name, paid_on, amount in payments:
            bucket = buckets[paid_on.isoformat() if breakdown == "day" else name]
            bucket.payments += 1
            bucket.paid += amount
    overall = _Bucket()
    rows = []
    for k in sorted(buckets, key=lambda k: (k.casefold(), k)):
        overall.add(buckets[k])
        rows.append({"key": k, "label": k, **buckets[k].row(scope.everyone)})
    columns = [Column("label", "Day" if breakdown == "day" else "Creditor", "text"), *COLUMNS]
    if scope.everyone:
        columns += PAYMENT_COLUMNS
    return Report(
        "collections",
        breakdown,
        columns,
        rows,
        {"label": "Total", **overall.row(scope.everyone)},
        {"grace_days": grace_days},
    )
