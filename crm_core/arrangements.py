"""Payment plans (arrangements) and the daily evaluation of promises and instalments.

A plan is N instalments (amount, date) on one debt, made on a call's wrap-up (a promise to pay
with instalments) or through the API. Rules, the same for every edge:

- at most `max_instalments` instalments (`[payments] max_instalments`), each more than zero;
  dates strictly increasing, the first not in the past (the center's today), the last at most
  `max_plan_days` ahead; the sum not more than the debt's balance.
- Payments count towards a plan from the day it was made (`starts_on`). They are allocated to
  the instalments in date order: each payment fills the earliest instalment not yet full and
  the rest flows on to the next. An instalment is full when what was allocated to it is at
  least its amount less the tolerance (`[payments] instalment_tolerance`).
- An instalment is kept when it became full by its date plus `grace_days` (payments take a
  banking day or two); broken when that day has passed and it was not full by then (a late
  payment still fills it, and what is left flows on, but it stays broken); open otherwise.
  Kept and broken are final: the evaluation only settles open instalments.
- A plan is active while an instalment is open; then completed (all kept) or broken (any
  broken). A correction of the wrap-up that made it cancels it (and its open instalments).
- A broken promise or instalment creates a follow-up task for the debt's operator (its
  `assigned_agent_id`), else for the queue of the call where it was made, else for
  `[payments] broken_task_queue`; the dialer puts debts with a broken promise or instalment
  before the others of the same campaign (dialer/leads.py, dialer/campaign.priority_key).

`evaluate` is what `callboard evaluate-promises` and the node's daily run (crm_core.daily) call;
posting a payment evaluates its debt at once, so a kept instalment shows as kept right away.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import audit
from crm_core.models import (
    Arrangement,
    ArrangementStatus,
    Contact,
    Debt,
    DebtStatus,
    Instalment,
    InstalmentStatus,
    Interaction,
    Payment,
    PromiseStatus,
    PromiseToPay,
    Task,
    TaskKind,
)
from crm_core.promises import evaluate as evaluate_promise

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")  # what a Money column holds


@dataclass(frozen=True, slots=True)
class CollectionRules:
    max_instalments: int = 12
    max_plan_days: int = 365
    tolerance: Decimal = ZERO
    grace_days: int = 2
    task_queue: str = "general"

    @classmethod
    def from_settings(cls, settings: Any) -> CollectionRules:
        pay = settings.payments
        return cls(
            max_instalments=pay.max_instalments,
            max_plan_days=pay.max_plan_days,
            tolerance=Decimal(str(pay.instalment_tolerance)).quantize(CENT),
            grace_days=pay.grace_days,
            task_queue=pay.broken_task_queue or settings.agi.default_queue,
        )


class PlanError(ValueError):
    """The plan is refused; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class InstalmentInput:
    amount: Decimal
    due_on: date


# -- input -----------------------------------------------------------------------------------


def parse_amount(value: Any) -> Decimal:
    """An amount typed by a person or read from a file: digits with at most two decimals (a
    decimal comma, or thousands commas with a decimal point, are understood); more than zero and
    at most what the database holds. Raises ValueError with the reason."""
    if isinstance(value, bool) or value is None:
        raise ValueError("not an amount")
    if isinstance(value, int | Decimal):
        text = str(value)
    elif isinstance(value, float):
        raise ValueError('give the amount as text, e.g. "120.50"')
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError("not an amount")
    text = text.strip().replace(" ", "").replace("\u00a0", "")
    if len(text) > 40:
        raise ValueError("not an amount")
    whole, comma, rest = text.partition(",")
    if comma and "." not in text and 1 <= len(rest) <= 2 and "," not in rest:
        text = f"{whole}.{rest}"  # a decimal comma: 12,50
    elif "," in text:
        groups = text.split(".")[0].split(",")
        if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
            raise ValueError("not an amount")
        text = text.replace(",", "")
    integer, dot, decimals = text.partition(".")
    if not integer.isdigit() or not integer.isascii() or (dot and not decimals):
        raise ValueError("not an amount")
    if decimals and (not decimals.isdigit() or not decimals.isascii() or len(decimals) > 2):
        raise ValueError("not an amount with at most two decimals")
    if len(integer.lstrip("0")) > 12:
        raise ValueError("too large an amount")
    try:
        amount = Decimal(text).quantize(CENT)
    except InvalidOperation:
        raise ValueError("not an amount") from None
    if amount <= 0:
        raise ValueError("must be more than zero")
    if amount > MAX_AMOUNT:
        raise ValueError("too large an amount")
    return amount


def parse_instalments(raw: Any, prefix: str = "instalments") -> tuple[InstalmentInput, ...]:
    """[{amount, due_on}, ...] from JSON; every problem names its field."""
    if not isinstance(raw, list) or not raw:
        raise PlanError(prefix, "a list of instalments (amount, due_on) is required")
    if len(raw) > 120:
        raise PlanError(prefix, "too many instalments")
    out = []
    for i, item in enumerate(raw):
        where = f"{prefix}[{i}]"
        if not isinstance(item, dict):
            raise PlanError(where, "an amount and a date are required")
        try:
            amount = parse_amount(item.get("amount"))
        except ValueError as exc:
            raise PlanError(f"{where}.amount", str(exc)) from None
        try:
            due_on = date.fromisoformat(str(item.get("due_on", "")))
        except ValueError:
            raise PlanError(f"{where}.due_on", "a date YYYY-MM-DD is required") from None
        out.append(InstalmentInput(amount, due_on))
    return tuple(out)


def validate_plan(
    instalments: Sequence[InstalmentInput],
    balance: Decimal,
    today: date,
    rules: CollectionRules,
    prefix: str = "instalments",
) -> None:
    if not instalments:
        raise PlanError(prefix, "at least one instalment")
    if len(instalments) > rules.max_instalments:
        raise PlanError(prefix, f"at most {rules.max_instalments} instalments")
    for i, item in enumerate(instalments):
        if item.amount <= 0:
            raise PlanError(f"{prefix}[{i}].amount", "must be more than zero")
        if i == 0 and item.due_on < today:
            raise PlanError(f"{prefix}[0].due_on", "the first instalment's date has passed")
        if i > 0 and item.due_on <= instalments[i - 1].due_on:
            raise PlanError(
                f"{prefix}[{i}].due_on", "each instalment's date must come after the one before"
            )
    last = instalments[-1].due_on
    if last > today + timedelta(days=rules.max_plan_days):
        raise PlanError(
            f"{prefix}[{len(instalments) - 1}].due_on", f"at most {rules.max_plan_days} days ahead"
        )
    total = sum((i.amount for i in instalments), ZERO)
    if total > balance:
        raise PlanError(
            prefix, f"the instalments add up to {total}, more than the balance {balance}"
        )


# -- allocation (pure) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstalmentState:
    status: InstalmentStatus
    paid: Decimal
    full_on: date | None  # the day the instalment became full, if it did


def allocate(
    instalments: Sequence[tuple[Decimal, date]],
    payments: Iterable[tuple[date, Decimal]],
    *,
    starts_on: date,
    today: date,
    tolerance: Decimal = ZERO,
    grace_days: int = 2,
) -> list[InstalmentState]:
    """What the payments made since `starts_on` did to each instalment (see the module's
    rules), in the instalments' order."""
    paid = [ZERO for _ in instalments]
    full_on: list[date | None] = [None for _ in instalments]
    for paid_on, amount in sorted(p for p in payments if p[0] >= starts_on):
        left = amount
        for i, (due, _) in enumerate(instalments):
            if left <= 0:
                break
            if full_on[i] is not None:
                continue
            take = min(due - paid[i], left)
            paid[i] += take
            left -= take
            if paid[i] >= due - tolerance:
                full_on[i] = paid_on
    states = []
    for i, (_, due_on) in enumerate(instalments):
        deadline = due_on + timedelta(days=grace_days)
        filled = full_on[i]
        if filled is not None and filled <= deadline:
            status = InstalmentStatus.KEPT
        elif today > deadline:
            status = InstalmentStatus.BROKEN
        else:
            status = InstalmentStatus.OPEN
        states.append(InstalmentState(status, paid[i], filled))
    return states


# -- storage ----------------------------------------------------------------------------------


async def create_plan(
    session: AsyncSession,
    debt: Debt,
    instalments: Sequence[InstalmentInput],
    *,
    now: datetime,
    today: date,
    rules: CollectionRules,
    user_id: int | None,
    interaction_id: int | None = None,
    queue: str = "",
    remote_addr: str = "",
    prefix: str = "instalments",
) -> Arrangement:
    """Validates and adds the plan to the caller's transaction (audited); the debt goes to
    `promise` if it was active."""
    validate_plan(instalments, debt.balance, today, rules, prefix)
    plan = Arrangement(
        debt_id=debt.id,
        status=ArrangementStatus.ACTIVE,
        total=sum((i.amount for i in instalments), ZERO),
        starts_on=today,
        created_at=now,
        created_by=user_id,
        interaction_id=interaction_id,
        queue=queue or "",
    )
    session.add(plan)
    await session.flush()
    for seq, item in enumerate(instalments, start=1):
        session.add(
            Instalment(
                arrangement_id=plan.id,
                seq=seq,
                amount=item.amount,
                due_on=item.due_on,
                status=InstalmentStatus.OPEN,
                paid=ZERO,
            )
        )
    if debt.status is DebtStatus.ACTIVE:
        debt.status = DebtStatus.PROMISE
    await session.flush()
    audit.record(
        session,
        at=now,
        user_id=user_id,
        action="create",
        object_type="arrangement",
        object_id=plan.id,
        remote_addr=remote_addr,
        debt_id=debt.id,
        instalments=[
            {"amount": str(i.amount), "due_on": i.due_on.isoformat()} for i in instalments
        ],
    )
    return plan


async def cancel_plan(session: AsyncSession, arrangement_id: int, now: datetime) -> bool:
    """Cancels an active plan and its open instalments (kept and broken ones stay history); a
    debt left with no open promise nor active plan goes back from `promise` to `active`."""
    plan = await session.get(Arrangement, arrangement_id)
    if plan is None or plan.status is not ArrangementStatus.ACTIVE:
        return False
    plan.status = ArrangementStatus.CANCELLED
    plan.settled_at = now
    for item in await _instalments(session, [plan.id]):
        if item.status is InstalmentStatus.OPEN:
            item.status = InstalmentStatus.CANCELLED
            item.evaluated_at = now
    await session.flush()
    debt = await session.get(Debt, plan.debt_id)
    if (
        debt is not None
        and debt.status is DebtStatus.PROMISE
        and not await _has_open(session, debt.id)
    ):
        debt.status = DebtStatus.ACTIVE
    return True


async def _has_open(session: AsyncSession, debt_id: int) -> bool:
    promises = await session.scalar(
        select(func.count(PromiseToPay.id)).where(
            PromiseToPay.debt_id == debt_id, PromiseToPay.status == PromiseStatus.OPEN
        )
    )
    plans = await session.scalar(
        select(func.count(Arrangement.id)).where(
            Arrangement.debt_id == debt_id, Arrangement.status == ArrangementStatus.ACTIVE
        )
    )
    return bool(promises or plans)


async def _instalments(session: AsyncSession, plan_ids: Sequence[int]) -> list[Instalment]:
    if not plan_ids:
        return []
    rows = await session.scalars(
        select(Instalment)
        .where(Instalment.arrangement_id.in_(list(plan_ids)))
        .order_by(Instalment.arrangement_id, Instalment.seq)
    )
    return list(rows)


# -- evaluation -------------------------------------------------------------------------------


@dataclass(slots=True)
class Evaluation:
    promises: dict[str, int] = field(default_factory=lambda: {"kept": 0, "broken": 0, "open": 0})
    instalments: dict[str, int] = field(default_factory=lambda: {"kept": 0, "broken": 0, "open": 0})
    tasks: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"promises": self.promises, "instalments": self.instalments, "tasks": self.tasks}

    def summary(self) -> str:
        p, i = self.promises, self.instalments
        return (
            f"promises kept: {p['kept']}, broken: {p['broken']}, open: {p['open']}; "
            f"instalments kept: {i['kept']}, broken: {i['broken']}, open: {i['open']}; "
            f"follow-up tasks: {len(self.tasks)}"
        )


async def evaluate(
    session: AsyncSession,
    *,
    today: date,
    now: datetime,
    rules: CollectionRules,
    debt_ids: Sequence[int] | None = None,
) -> Evaluation:
    """Settles open promises and instalments (all, or these debts') from the payments, in the
    caller's transaction (which commits); broken ones get their follow-up task. Rows are locked
    (PostgreSQL) so two evaluations at once settle each item once."""
    result = Evaluation()
    promise_query = select(PromiseToPay).where(PromiseToPay.status == PromiseStatus.OPEN)
    plan_query = select(Arrangement).where(Arrangement.status == ArrangementStatus.ACTIVE)
    if debt_ids is not None:
        promise_query = promise_query.where(PromiseToPay.debt_id.in_(list(debt_ids)))
        plan_query = plan_query.where(Arrangement.debt_id.in_(list(debt_ids)))
    promises = list(await session.scalars(promise_query.with_for_update()))
    plans = list(await session.scalars(plan_query.with_for_update()))
    ids = {p.debt_id for p in promises} | {a.debt_id for a in plans}
    payments = await _payments(session, ids)
    debts = await _debts(session, ids)
    for promise in promises:
        status = evaluate_promise(
            promise.amount,
            promise.due_on,
            promise.created_at.date(),
            payments.get(promise.debt_id, []),
            today,
            rules.grace_days,
        )
        result.promises[status.value] += 1
        if status is PromiseStatus.OPEN:
            continue
        promise.status = status
        promise.evaluated_at = now
        if status is PromiseStatus.BROKEN and promise.debt_id in debts:
            queue = await _call_queue(session, promise.interaction_id)
            note = f"Broken promise: {promise.amount} due {promise.due_on.isoformat()}"
            result.tasks.append(
                await _follow_up(session, debts[promise.debt_id], queue, note, now, rules)
            )
    by_plan: dict[int, list[Instalment]] = {}
    for item in await _instalments(session, [p.id for p in plans]):
        by_plan.setdefault(item.arrangement_id, []).append(item)
    for plan in plans:
        items = by_plan.get(plan.id, [])
        states = allocate(
            [(i.amount, i.due_on) for i in items],
            payments.get(plan.debt_id, []),
            starts_on=plan.starts_on,
            today=today,
            tolerance=rules.tolerance,
            grace_days=rules.grace_days,
        )
        for item, state in zip(items, states, strict=True):
            item.paid = state.paid
            if item.status is not InstalmentStatus.OPEN:
                continue
            result.instalments[state.status.value] += 1
            if state.status is InstalmentStatus.OPEN:
                continue
            item.status = state.status
            item.evaluated_at = now
            if state.status is InstalmentStatus.BROKEN and plan.debt_id in debts:
                note = (
                    f"Broken instalment {item.seq} of {len(items)} of payment plan {plan.id}:"
                    f" {item.amount} due {item.due_on.isoformat()}"
                )
                queue = plan.queue or await _call_queue(session, plan.interaction_id)
                result.tasks.append(
                    await _follow_up(session, debts[plan.debt_id], queue, note, now, rules)
                )
        if items and all(i.status is not InstalmentStatus.OPEN for i in items):
            broken = any(i.status is InstalmentStatus.BROKEN for i in items)
            plan.status = ArrangementStatus.BROKEN if broken else ArrangementStatus.COMPLETED
            plan.settled_at = now
    await session.flush()
    return result


async def _payments(
    session: AsyncSession, debt_ids: set[int]
) -> dict[int, list[tuple[date, Decimal]]]:
    out: dict[int, list[tuple[date, Decimal]]] = {}
    if debt_ids:
        rows = await session.execute(
            select(Payment.debt_id, Payment.paid_on, Payment.amount).where(
                Payment.debt_id.in_(sorted(debt_ids))
            )
        )
        for debt_id, paid_on, amount in rows:
            out.setdefault(debt_id, []).append((paid_on, amount))
    return out


async def _debts(session: AsyncSession, debt_ids: set[int]) -> dict[int, Debt]:
    if not debt_ids:
        return {}
    rows = await session.scalars(select(Debt).where(Debt.id.in_(sorted(debt_ids))))
    return {d.id: d for d in rows}


async def _call_queue(session: AsyncSession, interaction_id: int | None) -> str:
    if interaction_id is None:
        return ""
    return (
        await session.scalar(select(Interaction.queue).where(Interaction.id == interaction_id))
        or ""
    )


async def _follow_up(
    session: AsyncSession, debt: Debt, queue: str, note: str, now: datetime, rules: CollectionRules
) -> int:
    owner = debt.assigned_agent_id
    task = Task(
        kind=TaskKind.FOLLOW_UP,
        contact_id=debt.contact_id,
        debt_id=debt.id,
        phone_e164="",
        due_at=now,
        owner_agent_id=owner,
        owner_queue="" if owner is not None else (queue or rules.task_queue),
        note=note[:500],
        created_at=now,
        created_by=None,
    )
    session.add(task)
    await session.flush()
    return task.id


# -- the supervisor's lists -------------------------------------------------------------------


async def due_and_broken(
    session: AsyncSession, today: date, rules: CollectionRules, limit: int = 500
) -> dict[str, list[dict[str, Any]]]:
    """Promises and instalments due today (not kept nor cancelled), and those whose last day to
    pay (date plus grace days) was yesterday and that were not kept: missed yesterday."""
    missed_due = today - timedelta(days=1 + rules.grace_days)
    live = (PromiseStatus.OPEN, PromiseStatus.BROKEN)
    out: dict[str, list[dict[str, Any]]] = {"due_today": [], "broken_yesterday": []}
    for key, day in (("due_today", today), ("broken_yesterday", missed_due)):
        promises = await session.execute(
            select(PromiseToPay, Debt, Contact)
            .join(Debt, Debt.id == PromiseToPay.debt_id)
            .join(Contact, Contact.id == Debt.contact_id)
            .where(PromiseToPay.due_on == day, PromiseToPay.status.in_(live))
            .limit(limit)
        )
        for promise, debt, contact in promises:
            out[key].append(
                _item("promise", promise.id, debt, contact, promise.amount, day, promise.status)
            )
        instalments = await session.execute(
            select(Instalment, Arrangement, Debt, Contact)
            .join(Arrangement, Arrangement.id == Instalment.arrangement_id)
            .join(Debt, Debt.id == Arrangement.debt_id)
            .join(Contact, Contact.id == Debt.contact_id)
            .where(
                Instalment.due_on == day,
                Instalment.status.in_((InstalmentStatus.OPEN, InstalmentStatus.BROKEN)),
                Arrangement.status != ArrangementStatus.CANCELLED,
            )
            .limit(limit)
        )
        for item, plan, debt, contact in instalments:
            row = _item("instalment", item.id, debt, contact, item.amount, day, item.status)
            row.update(arrangement_id=plan.id, seq=item.seq, paid=str(item.paid))
            out[key].append(row)
    return out


def _item(
    kind: str, item_id: int, debt: Debt, contact: Contact, amount: Decimal, day: date, status: Any
) -> dict[str, Any]:
    return {
        "kind": kind,
        "id": item_id,
        "debt_id": debt.id,
        "reference": debt.reference,
        "creditor": debt.creditor,
        "contact_id": contact.id,
        "name": contact.display_name,
        "amount": str(amount),
        "currency": debt.currency,
        "due_on": day.isoformat(),
        "status": str(status),
        "assigned_agent_id": debt.assigned_agent_id,
    }


def center_today(now: datetime, zone: Any) -> date:
    """The center's calendar day at `now` (a ZoneInfo)."""
    return now.astimezone(zone or UTC).date()


async def broken_debt_ids(session: AsyncSession) -> frozenset[int]:
    """Debts with a broken promise or a broken plan instalment: the dialer calls them first."""
    promises = await session.scalars(
        select(PromiseToPay.debt_id).where(PromiseToPay.status == PromiseStatus.BROKEN).distinct()
    )
    instalments = await session.scalars(
        select(Arrangement.debt_id)
        .join(Instalment, Instalment.arrangement_id == Arrangement.id)
        .where(Instalment.status == InstalmentStatus.BROKEN)
        .distinct()
    )
    return frozenset(promises.all()) | frozenset(instalments.all())
