"""Promise-to-pay evaluation: a promise is kept when payments after it cover it by its date."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Payment, PromiseStatus, PromiseToPay

GRACE_DAYS = 2  # payments take a banking day or two to arrive


def evaluate(
    amount: Decimal,
    due_on: date,
    promised_on: date,
    payments: Iterable[tuple[date, Decimal]],
    today: date,
    grace_days: int = GRACE_DAYS,
) -> PromiseStatus:
    deadline = due_on + timedelta(days=grace_days)
    paid = sum(
        (a for paid_on, a in payments if promised_on <= paid_on <= deadline), Decimal("0.00")
    )
    if paid >= amount:
        return PromiseStatus.KEPT
    if today > deadline:
        return PromiseStatus.BROKEN
    return PromiseStatus.OPEN


async def evaluate_open_promises(
    session: AsyncSession, today: date, now: datetime, grace_days: int = GRACE_DAYS
) -> dict[PromiseStatus, int]:
    """Settles every open promise that is kept or past its deadline; returns counts by outcome."""
    counts = {PromiseStatus.KEPT: 0, PromiseStatus.BROKEN: 0, PromiseStatus.OPEN: 0}
    promises = (
        (
            await session.execute(
                select(PromiseToPay).where(PromiseToPay.status == PromiseStatus.OPEN)
            )
        )
        .scalars()
        .all()
    )
    debt_ids = {p.debt_id for p in promises}
    payments: dict[int, list[tuple[date, Decimal]]] = {}
    if debt_ids:
        rows = await session.execute(
            select(Payment.debt_id, Payment.paid_on, Payment.amount).where(
                Payment.debt_id.in_(debt_ids)
            )
        )
        for debt_id, paid_on, amount in rows:
            payments.setdefault(debt_id, []).append((paid_on, amount))
    for promise in promises:
        status = evaluate(
            promise.amount,
            promise.due_on,
            promise.created_at.date(),
            payments.get(promise.debt_id, []),
            today,
            grace_days,
        )
        counts[status] += 1
        if status is not PromiseStatus.OPEN:
            promise.status = status
            promise.evaluated_at = now
    await session.commit()
    return counts
