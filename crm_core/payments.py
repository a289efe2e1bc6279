"""Posting a payment: the one rule the desk, the REST API and the CSV import obey.

- The amount is more than zero, with at most two decimals, and not more than the debt's
  balance: an overpayment is refused with the balance named (money beyond the balance is a
  matter for the creditor's refund process, not a negative balance on the floor).
- The date is not in the future (the center's today).
- The method is one of `METHODS` (empty: `other`); the reference, when given, is the payment's
  own (bank transaction) reference and is unique: the same payment posted again with its
  reference (an import run twice, an API retry) answers the first and writes nothing; another
  payment with a used reference is refused.
- In one transaction: the payment, the debt's balance (less the amount), its status (`paid`
  when the balance reaches zero), the audit entry, and the evaluation of the debt's promises
  and instalments (crm_core.arrangements), so a kept instalment shows as kept at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import audit
from crm_core.arrangements import CollectionRules, evaluate, parse_amount
from crm_core.models import Debt, DebtStatus, Payment

METHODS = ("bank_transfer", "card", "cash", "direct_debit", "cheque", "other")
MAX_REFERENCE = 64
ZERO = Decimal("0.00")


class PaymentRefused(ValueError):
    """The payment is refused; `field` names the input at fault, `code` is stable."""

    def __init__(self, field: str, message: str, code: str = "invalid_input") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class PaymentInput:
    debt_id: int
    amount: Decimal
    paid_on: date
    method: str
    reference: str


@dataclass(frozen=True, slots=True)
class Posted:
    payment_id: int
    debt_id: int
    amount: Decimal
    paid_on: date
    balance: Decimal
    debt_status: str
    repeated: bool  # the same payment had been posted before with this reference

    def to_dict(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id,
            "debt_id": self.debt_id,
            "amount": str(self.amount),
            "paid_on": self.paid_on.isoformat(),
            "balance": str(self.balance),
            "debt_status": self.debt_status,
            "repeated": self.repeated,
        }


def parse_method(value: Any) -> str:
    method = (value or "").strip().lower() if isinstance(value, str) else value
    if method in ("", None):
        return "other"
    if method not in METHODS:
        raise ValueError("one of " + ", ".join(METHODS))
    return str(method)


def parse_reference(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("text")
    reference = value.strip()
    if len(reference) > MAX_REFERENCE:
        raise ValueError(f"at most {MAX_REFERENCE} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in reference):
        raise ValueError("no control characters")
    return reference


def parse_date(value: Any, today: date) -> date:
    try:
        paid_on = date.fromisoformat(str(value or ""))
    except ValueError:
        raise ValueError("a date YYYY-MM-DD is required") from None
    if paid_on > today:
        raise ValueError("the date is in the future")
    return paid_on


def parse(body: dict[str, Any], debt_id: int, today: date) -> PaymentInput:
    """A payment from JSON (desk or API); every problem names its field."""
    try:
        amount = parse_amount(body.get("amount"))
    except ValueError as exc:
        raise PaymentRefused("amount", str(exc)) from None
    try:
        paid_on = parse_date(body.get("paid_on"), today)
    except ValueError as exc:
        raise PaymentRefused("paid_on", str(exc)) from None
    try:
        method = parse_method(body.get("method"))
    except ValueError as exc:
        raise PaymentRefused("method", str(exc)) from None
    try:
        reference = parse_reference(body.get("reference"))
    except ValueError as exc:
        raise PaymentRefused("reference", str(exc)) from None
    return PaymentInput(debt_id, amount, paid_on, method, reference)


async def lock_for_write(session: AsyncSession) -> None:
    """SQLite: take the write lock first (BEGIN IMMEDIATE) so the balance read is the one
    written over; PostgreSQL locks the debt's row (SELECT ... FOR UPDATE)."""
    if session.get_bind().dialect.name == "sqlite" and not session.in_transaction():
        await session.execute(text("BEGIN IMMEDIATE"))


async def by_reference(session: AsyncSession, references: list[str]) -> dict[str, Payment]:
    wanted = [r for r in references if r]
    if not wanted:
        return {}
    rows = await session.scalars(select(Payment).where(Payment.reference.in_(wanted)))
    return {p.reference: p for p in rows}


def same_payment(existing: Payment, payment: PaymentInput) -> bool:
    return (existing.debt_id, existing.amount, existing.paid_on) == (
        payment.debt_id,
        payment.amount,
        payment.paid_on,
    )


async def post(
    session: AsyncSession,
    payment: PaymentInput,
    *,
    now: datetime,
    today: date,
    rules: CollectionRules,
    user_id: int | None,
    source: str,
    remote_addr: str = "",
    settle: bool = True,
) -> Posted:
    """Adds the payment to the caller's transaction (the caller commits). `settle`: evaluate
    the debt's promises and instalments now (an import settles its debts once at the end)."""
    debt = (
        await session.execute(select(Debt).where(Debt.id == payment.debt_id).with_for_update())
    ).scalar_one_or_none()
    if debt is None:
        raise PaymentRefused("debt_id", f"no debt {payment.debt_id}", "not_found")
    if payment.reference:
        existing = (await by_reference(session, [payment.reference])).get(payment.reference)
        if existing is not None:
            if not same_payment(existing, payment):
                raise PaymentRefused(
                    "reference",
                    f"reference {payment.reference!r} is already used by another payment",
                    "payment.duplicate_reference",
                )
            return Posted(
                existing.id,
                debt.id,
                existing.amount,
                existing.paid_on,
                debt.balance,
                str(debt.status),
                repeated=True,
            )
    if payment.amount > debt.balance:
        raise PaymentRefused(
            "amount",
            f"{payment.amount} is more than the balance {debt.balance} {debt.currency}:"
            " overpayments are not posted",
            "payment.overpayment",
        )
    row = Payment(
        debt_id=debt.id,
        amount=payment.amount,
        paid_on=payment.paid_on,
        method=payment.method,
        reference=payment.reference,
        source=source,
        created_at=now,
        created_by=user_id,
    )
    session.add(row)
    before = debt.balance
    debt.balance = before - payment.amount
    if debt.balance == ZERO:
        debt.status = DebtStatus.PAID
    await session.flush()
    audit.record(
        session,
        at=now,
        user_id=user_id,
        action="payment",
        object_type="debt",
        object_id=debt.id,
        remote_addr=remote_addr,
        payment_id=row.id,
        amount=str(payment.amount),
        paid_on=payment.paid_on.isoformat(),
        method=payment.method,
        reference=payment.reference,
        source=source,
        balance_before=str(before),
        balance_after=str(debt.balance),
    )
    if settle:
        await evaluate(session, today=today, now=now, rules=rules, debt_ids=[debt.id])
    return Posted(
        row.id,
        debt.id,
        payment.amount,
        payment.paid_on,
        debt.balance,
        str(debt.status),
        repeated=False,
    )


async def record(
    db: Any,
    payment: PaymentInput,
    *,
    now: datetime,
    today: date,
    rules: CollectionRules,
    user_id: int | None,
    source: str,
    remote_addr: str = "",
) -> Posted:
    """`post` in a transaction of its own. Two posts of one reference at once: the loser's
    insert fails on the unique reference and it answers as a repeat (or a refusal)."""
    from sqlalchemy.exc import IntegrityError

    for attempt in (1, 2):
        try:
            async with db.session() as session:
                await lock_for_write(session)
                posted = await post(
                    session,
                    payment,
                    now=now,
                    today=today,
                    rules=rules,
                    user_id=user_id,
                    source=source,
                    remote_addr=remote_addr,
                )
                await session.commit()
                return posted
        except IntegrityError:
            if attempt == 2 or not payment.reference:
                raise
    raise AssertionError("unreachable")
