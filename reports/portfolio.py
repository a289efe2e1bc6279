"""The portfolio reports a collections manager picks the product for: the liquidation stair-step
by placement month and the roll rates between days-past-due buckets.

Who is covered: administrators every debt; a supervisor the debts assigned today
(`Debt.assigned_agent_id`) to their team or themselves (reports.common.scope_for); unassigned
debts are in administrators' reports only. Filters: `creditor` and `segment` (the portfolio).

Liquidation (`liquidation_report`):
- A debt's placement month is the local month (the center's time zone) of `Debt.created_at`;
  debts placed in the range's days are grouped by it. The placed balance is `Debt.principal`
  (the balance at placement: `Debt.balance` is what is left today).
- Month k of a placement month (k = 1..N) ends with the k-th calendar month counted from the
  placement month itself: month 1 is the rest of the placement month, month 2 the next calendar
  month, and so on. Cell k is the cumulative share collected: the payments of the month's debts
  with `paid_on` up to the end of its month k (and at most `as_of`), over the placed balance. A
  payment dated before its debt's placement counts in month 1.
- Cell k is blank (None) while month k has not begun at `as_of`; the month `as_of` is in shows
  the collections to date. The totals row pools the placement months that have reached month k.

Roll rates (`roll_rate_report`):
- The month ends of the range (a month end is the last local day of a month) are each compared
  with the month end before: each debt on the book at the earlier month end (placed on or before
  it, with a balance left) is put in a bucket there and again at the later one, and counts as
  stayed (same bucket), rolled forward (a later bucket), rolled back / cured (an earlier bucket)
  or paid off (no balance left). Shares are of the count and of the balance at the earlier month
  end; `to_<bucket>` is the share of that balance in each bucket at the later one.
- Buckets by days past due: current (0), 1-30, 31-60, 61-90, 91-180, 180+.
- No balance history is stored, so it is derived: the balance at the end of day D is today's
  balance plus the payments dated after D (an approximation that ignores interest, fees and
  adjustments made after D). A debt has one due date and no schedule, so days past due at D
  are counted from the due date or, if later, from the debt's last payment on or before D (the
  recency reading of delinquency: a payment cures the debt for the month, which is what makes a
  roll back possible); zero while D is on or before either; a debt with no balance at D is paid.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Debt, Payment
from reports.common import (
    ZERO,
    Column,
    Report,
    ReportError,
    ReportRange,
    Scope,
    choice,
    share,
    stream_rows,
)

MAX_MONTHS = 36
BUCKETS = ("current", "1-30", "31-60", "61-90", "91-180", "180+")
_BUCKET_TOPS = (0, 30, 60, 90, 180)  # the highest days past due of each bucket but the last
PAID = len(BUCKETS)  # the outcome index of "paid off"
OUTCOMES = ("stayed", "forward", "back", "paid_off")
ROLL_BREAKDOWNS = ("bucket", "month")


def bucket_of(days_past_due: int) -> int:
    """The index in BUCKETS of a number of days past due."""
    return bisect.bisect_left(_BUCKET_TOPS, days_past_due)


def month_index(placed: date, paid_on: date) -> int:
    """The month (1 = the placement month) a payment falls in, at least 1."""
    return max(1, (paid_on.year - placed.year) * 12 + paid_on.month - placed.month + 1)


def month_end(year: int, month: int) -> date:
    first_next = date(year + month // 12, month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def month_ends(first: date, last: date) -> list[date]:
    """The last days of months inside [first, last], in order."""
    ends, year, month = [], first.year, first.month
    while (end := month_end(year, month)) <= last:
        if end >= first:
            ends.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ends


def _filters(creditor: str | None, segment: str | None) -> list[Any]:
    where: list[Any] = []
    if creditor:
        where.append(Debt.creditor == creditor)
    if segment:
        where.append(Debt.segment == segment)
    return where


# -- liquidation ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Cohort:
    debts: int = 0
    placed: Decimal = ZERO
    by_month: dict[int, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))


async def liquidation_report(
    session: AsyncSession,
    rng: ReportRange,
    scope: Scope,
    *,
    as_of: date,
    months: int = 12,
    creditor: str | None = None,
    segment: str | None = None,
) -> Report:
    if not 1 <= months <= MAX_MONTHS:
        raise ReportError("months", f"from 1 to {MAX_MONTHS}")
    where = [
        Debt.created_at >= rng.start,
        Debt.created_at < rng.end,
        *_filters(creditor, segment),
    ]
    cohorts: dict[date, _Cohort] = defaultdict(_Cohort)
    placed_month: dict[int, date] = {}
    debts = stream_rows(
        session,
        select(Debt.id, Debt.created_at, Debt.principal, Debt.assigned_agent_id).where(*where),
    )
    async for debt_id, created_at, principal, agent_id in debts:
        if not scope.allows(agent_id):
            continue
        month = rng.local_day(created_at).replace(day=1)
        placed_month[debt_id] = month
        cohort = cohorts[month]
        cohort.debts += 1
        cohort.placed += principal
    payments = stream_rows(
        session,
        select(Payment.debt_id, Payment.paid_on, Payment.amount)
        .join(Debt, Debt.id == Payment.debt_id)
        .where(*where, Payment.paid_on <= as_of),
    )
    async for debt_id, paid_on, amount in payments:
        placed = placed_month.get(debt_id)
        if placed is None:  # outside the scope
            continue
        k = month_index(placed, paid_on)
        if k <= months:
            cohorts[placed].by_month[k] += amount

    def reached(month: date) -> int:
        """How many months of the placement month have begun at `as_of`."""
        return month_index(month, as_of) if as_of >= month else 0

    rows: list[dict[str, Any]] = []
    pooled_placed = [ZERO] * (months + 1)
    pooled_paid = [ZERO] * (months + 1)
    total_debts, total_placed, total_collected = 0, ZERO, ZERO
    for month in sorted(cohorts):
        cohort = cohorts[month]
        row: dict[str, Any] = {
            "key": month.strftime("%Y-%m"),
            "label": month.strftime("%Y-%m"),
            "debts": cohort.debts,
            "placed": cohort.placed,
        }
        running = ZERO
        for k in range(1, months + 1):
            running += cohort.by_month.get(k, ZERO)
            if k <= reached(month):
                row[f"m{k}"] = share(float(running), float(cohort.placed))
                pooled_placed[k] += cohort.placed
                pooled_paid[k] += running
            else:
                row[f"m{k}"] = None
        collected = running
        row["collected"] = collected
        rows.append(row)
        total_debts += cohort.debts
        total_placed += cohort.placed
        total_collected += collected
    totals: dict[str, Any] = {
        "label": "Total",
        "debts": total_debts,
        "placed": total_placed,
        "collected": total_collected,
    }
    for k in range(1, months + 1):
        totals[f"m{k}"] = share(float(pooled_paid[k]), float(pooled_placed[k]))
    columns = [
        Column("label", "Placement month", "text"),
        Column("debts", "Debts"),
        Column("placed", "Placed", "money"),
        Column("collected", f"Collected in {months} months", "money"),
        *(Column(f"m{k}", f"Month {k}", "percent") for k in range(1, months + 1)),
    ]
    return Report(
        "liquidation", "placement_month", columns, rows, totals,
        {"as_of": as_of, "months": months},
    )  # fmt: skip


# -- roll rates -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Roll:
    debts: int = 0
    balance: Decimal = ZERO
    count: list[int] = field(default_factory=lambda: [0] * len(OUTCOMES))
    amount: list[Decimal] = field(default_factory=lambda: [ZERO] * len(OUTCOMES))
    to: list[Decimal] = field(default_factory=lambda: [ZERO] * (len(BUCKETS) + 1))

    def add(self, other: _Roll) -> None:
        self.debts += other.debts
        self.balance += other.balance
        for i in range(len(OUTCOMES)):
            self.count[i] += other.count[i]
            self.amount[i] += other.amount[i]
        for i in range(len(self.to)):
            self.to[i] += other.to[i]

    def row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"debts": self.debts, "balance": self.balance}
        for i, name in enumerate(OUTCOMES):
            row[name] = self.count[i]
            row[f"{name}_count_rate"] = share(self.count[i], self.debts)
            row[f"{name}_balance"] = self.amount[i]
            row[f"{name}_rate"] = share(float(self.amount[i]), float(self.balance))
        for i, name in enumerate(BUCKETS):
            row[f"to_{name}"] = share(float(self.to[i]), float(self.balance))
        return row


@dataclass(frozen=True, slots=True)
class _Book:
    """One debt's figures for working out its bucket at any day."""

    placed: date
    due: date
    balance: Decimal  # today
    payments: list[tuple[date, Decimal]]  # sorted by day

    def state(self, day: date) -> int | None:
        """The bucket index at the end of `day`: PAID when nothing is left, None before the
        debt was placed."""
        if day < self.placed:
            return None
        later = sum((a for on, a in self.payments if on > day), ZERO)
        if self.balance + later <= ZERO:
            return PAID
        since = self.due
        for on, _ in self.payments:
            if on <= day and on > since:
                since = on
        return bucket_of(max(0, (day - since).days))

    def balance_at(self, day: date) -> Decimal:
        return self.balance + sum((a for on, a in self.payments if on > day), ZERO)


async def roll_rate_report(
    session: AsyncSession,
    rng: ReportRange,
    scope: Scope,
    *,
    breakdown: str = "bucket",
    creditor: str | None = None,
    segment: str | None = None,
) -> Report:
    choice("breakdown", breakdown, ROLL_BREAKDOWNS)
    ends = month_ends(rng.first, rng.last)
    pairs = [(end.replace(day=1) - timedelta(days=1), end) for end in ends]
    book: dict[int, _Book] = {}
    if pairs:
        where = _filters(creditor, segment)
        placed_by = rng.end  # nothing placed after the last month end can roll
        debts = await session.execute(
            select(
                Debt.id, Debt.created_at, Debt.due_date, Debt.balance, Debt.assigned_agent_id
            ).where(Debt.created_at < placed_by, *where)
        )
        found: dict[int, tuple[date, date, Decimal]] = {}
        for debt_id, created_at, due, balance, agent_id in debts:
            if scope.allows(agent_id):
                found[debt_id] = (rng.local_day(created_at), due, balance)
        paid: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
        payments = stream_rows(
            session,
            select(Payment.debt_id, Payment.paid_on, Payment.amount)
            .join(Debt, Debt.id == Payment.debt_id)
            .where(Debt.created_at < placed_by, *where)
            .order_by(Payment.debt_id, Payment.paid_on, Payment.id),
        )
        async for debt_id, paid_on, amount in payments:
            if debt_id in found:
                paid[debt_id].append((paid_on, amount))
        for debt_id, (placed, due, balance) in found.items():
            book[debt_id] = _Book(placed, due, balance, paid.get(debt_id, []))
    rolls: dict[tuple[date, int], _Roll] = defaultdict(_Roll)
    for start, end in pairs:
        for debt in book.values():
            before = debt.state(start)
            if before is None or before == PAID:
                continue
            after = debt.state(end)
            if after is None:  # cannot happen: placed by `start`, so by `end`
                continue
            amount = debt.balance_at(start)
            if after == PAID:
                outcome = 3
            elif after == before:
                outcome = 0
            else:
                outcome = 1 if after > before else 2
            roll = rolls[(end if breakdown == "month" else ends[-1], before)]
            roll.debts += 1
            roll.balance += amount
            roll.count[outcome] += 1
            roll.amount[outcome] += amount
            roll.to[after] += amount
    rows: list[dict[str, Any]] = []
    total = _Roll()
    for end, index in sorted(rolls):
        roll = rolls[(end, index)]
        total.add(roll)
        start = end.replace(day=1) - timedelta(days=1)
        row: dict[str, Any] = {"key": BUCKETS[index], "label": BUCKETS[index]}
        if breakdown == "month":
            row["key"] = f"{end:%Y-%m}/{BUCKETS[index]}"
            row["period"] = f"{start.isoformat()} → {end.isoformat()}"
        rows.append(row | roll.row())
    columns = [Column("label", "From bucket", "text")]
    if breakdown == "month":
        columns.append(Column("period", "Month ends", "text"))
    columns += [Column("debts", "Debts"), Column("balance", "Balance", "money")]
    for name, label in zip(
        OUTCOMES, ("Stayed", "Rolled forward", "Rolled back (cured)", "Paid off"), strict=True
    ):
        columns += [
            Column(name, label),
            Column(f"{name}_count_rate", f"{label}, share of debts", "percent"),
            Column(f"{name}_balance", f"{label}, balance", "money"),
            Column(f"{name}_rate", f"{label}, share of balance", "percent"),
        ]
    columns += [Column(f"to_{name}", f"To {name}", "percent") for name in BUCKETS]
    return Report(
        "roll-rates",
        breakdown,
        columns,
        rows,
        {"label": "Total", **total.row()},
        {"month_ends": [[s.isoformat(), e.isoformat()] for s, e in pairs]},
    )
