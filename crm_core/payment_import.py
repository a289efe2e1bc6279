"""Importing payments from a CSV file (`callboard import payments FILE.csv`): the rules of the
debtor import (crm_core.importer) and of posting a payment (crm_core.payments).

Columns: `account` (the debt's reference, as in the debtor file), `creditor` (needed only when
two creditors use the same account reference), `amount`, `paid_on` (YYYY-MM-DD), `method`,
`reference` (the payment's own, unique: what makes a second run of the file import nothing
twice), `currency` (optional: checked against the debt's). Your own names are mapped with a
TOML `[columns]` table, as for debtors.

The whole file is checked first — each row on its own, then against the database (the debt
exists and is one, the reference is new or the same payment again, the payments of the file
do not take a debt below zero) — and nothing is written if a row is bad, unless `skip_bad`.
The good rows are then posted in one transaction, each one audited, and the debts they touch
are evaluated once (promises, instalments).
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import payments as rule
from crm_core.arrangements import CollectionRules, evaluate, parse_amount
from crm_core.db import Database
from crm_core.importer import ImportFileError, RowError
from crm_core.models import Debt

FIELDS = ("account", "creditor", "amount", "paid_on", "method", "reference", "currency")
REQUIRED = ("account", "amount", "paid_on", "reference")
MAX_CELL = 200  # characters: a longer cell is cut in the report


@dataclass(slots=True)
class PaymentRow:
    row: int
    account: str
    creditor: str
    amount: Decimal
    paid_on: date
    method: str
    reference: str
    currency: str


@dataclass(slots=True)
class PaymentImportResult:
    rows_read: int = 0
    rows_imported: int = 0
    already_imported: int = 0  # same reference, same payment: a second run of the file
    total: Decimal = Decimal("0.00")
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False


def load_mapping(path: Path | None) -> dict[str, str]:
    mapping = {name: name for name in FIELDS}
    if path is None:
        return mapping
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ImportFileError(f"{path}: cannot read column mapping: {exc}") from exc
    for ours, theirs in data.get("columns", {}).items():
        if ours not in FIELDS:
            raise ImportFileError(f"{path}: unknown field {ours!r}; known: {', '.join(FIELDS)}")
        mapping[ours] = str(theirs)
    return mapping


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[:MAX_CELL] + "…"


def parse_file(
    path: Path, mapping: dict[str, str], today: date
) -> tuple[list[PaymentRow], list[RowError], int]:
    """Every row checked on its own (no database): the good rows, the errors, rows read."""
    good: list[PaymentRow] = []
    errors: list[RowError] = []
    read = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            missing = [mapping[f] for f in REQUIRED if mapping[f] not in header]
            if missing:
                raise ImportFileError(
                    f"{path}: missing required columns: {', '.join(missing)} (file has: "
                    f"{', '.join(header) or 'no header'})"
                )
            columns = {n: header.index(mapping[n]) for n in FIELDS if mapping[n] in header}
            seen: dict[str, int] = {}
            for record in reader:
                if not record or not any(c.strip() for c in record):
                    continue
                read += 1
                line = reader.line_num
                parsed = _parse_row(record, len(header), columns, line, mapping, today)
                if isinstance(parsed, PaymentRow):
                    if parsed.reference in seen:
                        parsed = [
                            RowError(
                                line,
                                mapping["reference"],
                                parsed.reference,
                                f"duplicate reference (already on line {seen[parsed.reference]})",
                            )
                        ]
                    else:
                        seen[parsed.reference] = line
                if isinstance(parsed, PaymentRow):
                    good.append(parsed)
                else:
                    errors.extend(parsed)
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except csv.Error as exc:
        raise ImportFileError(f"{path}: not a readable CSV file: {exc}") from exc
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror}") from exc
    return good, errors, read


def _parse_row(
    record: list[str],
    width: int,
    columns: dict[str, int],
    line: int,
    mapping: dict[str, str],
    today: date,
) -> PaymentRow | list[RowError]:
    errors: list[RowError] = []
    if len(record) > width:
        errors.append(
            RowError(line, "", _cut(",".join(record[width:])), "more fields than the header")
        )
    if len(record) < width:
        errors.append(RowError(line, "", "", "fewer fields than the header"))
    values = {n: record[i].strip() if i < len(record) else "" for n, i in columns.items()}

    def value(name: str) -> str:
        return values.get(name, "")

    def fail(name: str, reason: str) -> None:
        errors.append(RowError(line, mapping[name], _cut(value(name)), reason))

    for name in REQUIRED:
        if not value(name):
            fail(name, "required")
    amount = Decimal("0")
    if value("amount"):
        try:
            amount = parse_amount(value("amount"))
        except ValueError as exc:
            fail("amount", str(exc))
    paid_on = today
    if value("paid_on"):
        try:
            paid_on = rule.parse_date(value("paid_on"), today)
        except ValueError as exc:
            fail("paid_on", str(exc))
    method = "other"
    try:
        method = rule.parse_method(value("method"))
    except ValueError as exc:
        fail("method", str(exc))
    reference = ""
    try:
        reference = rule.parse_reference(value("reference"))
    except ValueError as exc:
        fail("reference", str(exc))
    if len(value("account")) > 64:
        fail("account", "at most 64 characters")
    currency = value("currency").upper()
    if currency and (len(currency) != 3 or not currency.isalpha() or not currency.isascii()):
        fail("currency", "not an ISO 4217 code")
    if errors:
        return errors
    return PaymentRow(
        line, value("account"), value("creditor"), amount, paid_on, method, reference, currency
    )


async def import_payments(
    db: Database,
    path: Path,
    *,
    now: datetime,
    today: date,
    rules: CollectionRules,
    mapping: dict[str, str] | None = None,
    skip_bad: bool = False,
    user_id: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PaymentImportResult:
    mapping = mapping or load_mapping(None)
    result = PaymentImportResult()
    rows, errors, result.rows_read = parse_file(path, mapping, today)
    result.errors.extend(errors)
    async with db.session() as session:
        await rule.lock_for_write(session)
        debts = await _debts(session, rows)
        known = await rule.by_reference(session, [r.reference for r in rows])
        balances: dict[int, Decimal] = {}
        todo: list[tuple[PaymentRow, rule.PaymentInput]] = []
        for row in rows:
            problem, debt = _debt_for(row, debts, mapping)
            if problem is not None:
                result.errors.append(problem)
                continue
            assert debt is not None
            payment = rule.PaymentInput(debt.id, row.amount, row.paid_on, row.method, row.reference)
            existing = known.get(row.reference)
            if existing is not None:
                if rule.same_payment(existing, payment):
                    result.already_imported += 1
                else:
                    result.errors.append(
                        RowError(
                            row.row,
                            mapping["reference"],
                            row.reference,
                            "reference already used by another payment",
                        )
                    )
                continue
            left = balances.get(debt.id, debt.balance)
            if row.amount > left:
                result.errors.append(
                    RowError(
                        row.row,
                        mapping["amount"],
                        str(row.amount),
                        f"more than the balance {left} {debt.currency} of {debt.reference}"
                        " (overpayments are not posted)",
                    )
                )
                continue
            balances[debt.id] = left - row.amount
            todo.append((row, payment))
        result.errors.sort(key=lambda e: e.row)
        if result.errors and not skip_bad:
            await session.rollback()
            return result
        for done, (_, payment) in enumerate(todo, start=1):
            await rule.post(
                session,
                payment,
                now=now,
                today=today,
                rules=rules,
                user_id=user_id,
                source="import",
                settle=False,
            )
            result.total += payment.amount
            if progress and done % 500 == 0:
                progress(done, len(todo))
        touched = sorted({p.debt_id for _, p in todo})
        if touched:
            await evaluate(session, today=today, now=now, rules=rules, debt_ids=touched)
        await session.commit()
    result.rows_imported = len(todo)
    result.committed = True
    return result


async def _debts(session: AsyncSession, rows: list[PaymentRow]) -> dict[str, list[Debt]]:
    accounts = sorted({r.account for r in rows})
    out: dict[str, list[Debt]] = {}
    for start in range(0, len(accounts), 500):
        chunk = accounts[start : start + 500]
        for debt in await session.scalars(
            select(Debt).where(Debt.reference.in_(chunk)).with_for_update()
        ):
            out.setdefault(debt.reference, []).append(debt)
    return out


def _debt_for(
    row: PaymentRow, debts: dict[str, list[Debt]], mapping: dict[str, str]
) -> tuple[RowError | None, Debt | None]:
    found = debts.get(row.account, [])
    if row.creditor:
        found = [d for d in found if d.creditor == row.creditor]
    if not found:
        return RowError(row.row, mapping["account"], row.account, "no such debt"), None
    if len(found) > 1:
        return (
            RowError(
                row.row,
                mapping["account"],
                row.account,
                "several creditors use this account reference: give the creditor",
            ),
            None,
        )
    debt = found[0]
    if row.currency and row.currency != debt.currency:
        return (
            RowError(
                row.row,
                mapping["currency"],
                row.currency,
                f"the debt is in {debt.currency}",
            ),
            None,
        )
    return None, debt
