"""Importing debtor files: every bad row is reported by row and column, nothing is lost silently.

Two passes: the whole file is read and validated first (pure), then the good rows are written in
one transaction with bulk statements. A file with bad rows imports nothing unless the caller asks
to skip them, so an operator never works a half-loaded portfolio without knowing it.
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Table, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import csv_safe, inputs
from crm_core.db import Database
from crm_core.models import Contact, ContactPhone, Debt, DebtStatus, Phone
from crm_core.phones import InvalidPhoneNumber, normalise

FIELDS = (
    "external_ref",
    "first_name",
    "last_name",
    "company_name",
    "language",
    "address_line",
    "city",
    "region",
    "postal_code",
    "country",
    "timezone",
    "segment",
    "phones",
    "creditor",
    "reference",
    "principal",
    "balance",
    "currency",
    "due_date",
    "status",
)
REQUIRED = ("external_ref", "creditor", "reference", "balance", "due_date")
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "company_name",
    "language",
    "address_line",
    "city",
    "region",
    "postal_code",
    "country",
    "timezone",
    "segment",
)
CHUNK = 500
# __table__ is typed as a FromClause; declarative models always map a Table
_contacts, _phones = cast(Table, Contact.__table__), cast(Table, Phone.__table__)
_links, _debts = cast(Table, ContactPhone.__table__), cast(Table, Debt.__table__)


class ImportFileError(Exception):
    """The file itself cannot be read (missing columns, not CSV, unknown mapping)."""


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based line number in the file, the header being line 1
    column: str
    value: str
    reason: str


@dataclass(slots=True)
class DebtorRow:
    row: int
    external_ref: str
    contact: dict[str, Any]
    phones: list[tuple[str, str]]  # (raw, e164)
    debt: dict[str, Any]


@dataclass(slots=True)
class ImportResult:
    rows_read: int = 0
    rows_imported: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    debts_created: int = 0
    debts_updated: int = 0
    phones_created: int = 0
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False


def load_mapping(path: Path | None) -> dict[str, str]:
    """Our field name -> the file's column name, from a TOML file with a [columns] table."""
    mapping = {name: name for name in FIELDS}
    if path is None:
        return mapping
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ImportFileError(f"{path}: cannot read column mapping: {exc}") from exc
    columns = data.get("columns", {})
    for ours, theirs in columns.items():
        if ours not in FIELDS:
            raise ImportFileError(f"{path}: unknown field {ours!r}; known: {', '.join(FIELDS)}")
        mapping[ours] = str(theirs)
    return mapping


def parse_rows(
    lines: Iterable[str], mapping: dict[str, str], default_region: str
) -> Iterator[DebtorRow | list[RowError]]:
    reader = csv.reader(lines)
    header = next(reader, [])
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:  # which of the two would be read? neither: the file must say
        raise ImportFileError(
            f"duplicate columns in the header: {', '.join(repr(n) for n in twice)}"
            " (each column may appear once)"
        )
    missing = [mapping[f] for f in REQUIRED if mapping[f] not in header]
    if missing:
        raise ImportFileError(
            f"missing required columns: {', '.join(missing)} (file has: "
            f"{', '.join(header) or 'no header'})"
        )
    columns = {name: header.index(mapping[name]) for name in FIELDS if mapping[name] in header}
    width = len(header)
    seen_refs: dict[tuple[str, str], int] = {}
    for record in reader:
        line = reader.line_num
        if not record:
            continue  # a blank line
        values = {name: record[i].strip() if i < len(record) else "" for name, i in columns.items()}
        parsed = _parse_row(
            values, record[width:], len(record) < width, line, mapping, default_region
        )
        if isinstance(parsed, DebtorRow):
            key = (parsed.debt["creditor"], parsed.debt["reference"])
            if key in seen_refs:
                parsed = [
                    RowError(
                        line,
                        mapping["reference"],
                        key[1],
                        f"duplicate reference (already on line {seen_refs[key]})",
                    )
                ]
            else:
                seen_refs[key] = line
        yield parsed


def _parse_row(
    values: dict[str, str],
    extra: list[str],
    short: bool,
    line: int,
    mapping: dict[str, str],
    default_region: str,
) -> DebtorRow | list[RowError]:
    errors: list[RowError] = []
    if extra:
        errors.append(RowError(line, "", ",".join(extra), "more fields than the header"))
    if short:
        errors.append(RowError(line, "", "", "fewer fields than the header"))

    def value(name: str) -> str:
        return values.get(name, "")

    def fail(name: str, reason: str) -> None:
        errors.append(RowError(line, mapping[name], value(name), reason))

    for name in REQUIRED:
        if not value(name):
            fail(name, "required")
    amounts: dict[str, Decimal] = {}
    for name in ("principal", "balance"):
        text = value(name)
        if text:
            cleaned = text.replace(",", "").replace(" ", "")
            if cleaned.startswith("-") and cleaned[1:].replace(".", "", 1).isdigit():
                fail(name, "must be a non-negative amount")
                continue
            try:  # bounded: no NaN, Infinity, 1e30 or 29-digit amounts (a row error, no crash)
                amounts[name] = inputs.amount(cleaned, name, low=Decimal(0))
            except inputs.InputError as exc:
                bounded = exc.message.startswith("an amount from")  # e.g. 29 digits
                fail(name, exc.message if bounded else "not an amount")
    due: date | None = None
    if value("due_date"):
        try:
            due = inputs.day(value("due_date"), "due_date")
        except inputs.InputError as exc:
            bounded = exc.message.startswith("a date from")  # e.g. year 9999
            fail("due_date", exc.message if bounded else "not a date (YYYY-MM-DD)")
    status = DebtStatus.ACTIVE
    if value("status"):
        try:
            status = DebtStatus(value("status").lower())
        except ValueError:
            fail("status", "unknown status; one of " + ", ".join(s.value for s in DebtStatus))
    tz = value("timezone") or None
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            fail("timezone", "unknown time zone")
    currency = (value("currency") or "USD").upper()
    if len(currency) != 3 or not currency.isalpha():
        fail("currency", "not an ISO 4217 code")
    country = value("country").upper()
    phones: list[tuple[str, str]] = []
    for raw in filter(None, (p.strip() for p in value("phones").replace(",", ";").split(";"))):
        try:
            phones.append((raw, normalise(raw, country or default_region)))
        except InvalidPhoneNumber as exc:
            errors.append(RowError(line, mapping["phones"], raw, exc.reason))
    if errors:
        return errors
    contact: dict[str, str | None] = {name: value(name) for name in CONTACT_FIELDS}
    contact["timezone"] = tz
    contact["country"] = country
    contact["language"] = value("language").lower() or "en"
    debt = {
        "creditor": value("creditor"),
        "reference": value("reference"),
        "balance": amounts["balance"],
        "principal": amounts.get("principal", amounts["balance"]),
        "currency": currency,
        "due_date": due,
        "status": status,
    }
    return DebtorRow(line, value("external_ref"), contact, list(dict.fromkeys(phones)), debt)


async def import_debtors(
    db: Database,
    path: Path,
    *,
    default_region: str,
    now: datetime,
    mapping: dict[str, str] | None = None,
    skip_bad: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    mapping = mapping or load_mapping(None)
    result = ImportResult()
    good: list[DebtorRow] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            total = sum(1 for _ in handle) - 1
            handle.seek(0)
            for item in parse_rows(handle, mapping, default_region):
                result.rows_read += 1
                if isinstance(item, DebtorRow):
                    good.append(item)
                else:
                    result.errors.extend(item)
                if progress and result.rows_read % 1000 == 0:
                    progress(result.rows_read, 2 * max(total, 1))
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except csv.Error as exc:
        raise ImportFileError(f"{path}: not a readable CSV file: {exc}") from exc
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror}") from exc
    if result.errors and not skip_bad:
        return result
    await _write(db, good, now, result, progress, total)
    result.rows_imported = len(good)
    result.committed = True
    return result


async def _write(
    db: Database,
    rows: list[DebtorRow],
    now: datetime,
    result: ImportResult,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> None:
    async with db.session() as session, session.begin():
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            # one debtor may appear on several rows (several debts): the last row's details win
            by_ref = {r.external_ref: r for r in chunk}
            existing = _pairs(
                await session.execute(
                    select(Contact.external_ref, Contact.id).where(
                        Contact.external_ref.in_(list(by_ref))
                    )
                )
            )
            new = [
                {"external_ref": ref, **r.contact, "created_at": now, "updated_at": now}
                for ref, r in by_ref.items()
                if ref not in existing
            ]
            if new:
                # no RETURNING: SQLite cannot keep its order for many rows, so SQLAlchemy would
                # send one row at a time; the unique keys read the new ids back in one query
                await session.execute(insert(_contacts), new)
                existing.update(
                    _pairs(
                        await session.execute(
                            select(Contact.external_ref, Contact.id).where(
                                Contact.external_ref.in_([n["external_ref"] for n in new])
                            )
                        )
                    )
                )
                result.contacts_created += len(new)
            created_refs = {n["external_ref"] for n in new}
            updates = [
                {"id": existing[ref], **r.contact, "updated_at": now}
                for ref, r in by_ref.items()
                if ref not in created_refs
            ]
            if updates:
                await session.execute(update(Contact), updates)
                result.contacts_updated += len(updates)
            await _write_phones(session, chunk, existing, result)
            await _write_debts(session, chunk, existing, now, result)
            if progress:
                progress(total + start + len(chunk), 2 * max(total, 1))


async def _write_phones(
    session: AsyncSession, chunk: list[DebtorRow], contact_ids: dict[str, int], result: ImportResult
) -> None:
    numbers = {e164: raw for r in chunk for raw, e164 in r.phones}
    if not numbers:
        return
    known = _pairs(
        await session.execute(select(Phone.e164, Phone.id).where(Phone.e164.in_(list(numbers))))
    )
    fresh = [{"e164": e164, "raw": raw} for e164, raw in numbers.items() if e164 not in known]
    if fresh:
        await session.execute(insert(_phones), fresh)
        known.update(
            _pairs(
                await session.execute(
                    select(Phone.e164, Phone.id).where(Phone.e164.in_([f["e164"] for f in fresh]))
                )
            )
        )
        result.phones_created += len(fresh)
    wanted = {
        (contact_ids[r.external_ref], known[e164]): i == 0
        for r in chunk
        for i, (_, e164) in enumerate(r.phones)
    }
    linked_rows = await session.execute(
        select(ContactPhone.contact_id, ContactPhone.phone_id).where(
            tuple_(ContactPhone.contact_id, ContactPhone.phone_id).in_(list(wanted))
        )
    )
    linked = {(row[0], row[1]) for row in linked_rows}
    links = [
        {"contact_id": c, "phone_id": p, "is_primary": primary, "source": "import"}
        for (c, p), primary in wanted.items()
        if (c, p) not in linked
    ]
    if links:
        await session.execute(insert(_links), links)


async def _write_debts(
    session: AsyncSession,
    chunk: list[DebtorRow],
    contact_ids: dict[str, int],
    now: datetime,
    result: ImportResult,
) -> None:
    keys = [(r.debt["creditor"], r.debt["reference"]) for r in chunk]
    known = {
        (c, ref): i
        for c, ref, i in (
            await session.execute(
                select(Debt.creditor, Debt.reference, Debt.id).where(
                    tuple_(Debt.creditor, Debt.reference).in_(keys)
                )
            )
        )
    }
    fresh, changed = [], []
    for r in chunk:
        key = (r.debt["creditor"], r.debt["reference"])
        if key in known:
            changed.append({"id": known[key], "contact_id": contact_ids[r.external_ref], **r.debt})
        else:
            fresh.append({**r.debt, "contact_id": contact_ids[r.external_ref], "created_at": now})
    if fresh:
        await session.execute(insert(_debts), fresh)
        result.debts_created += len(fresh)
    if changed:
        await session.execute(update(Debt), changed)
        result.debts_updated += len(changed)


def _pairs(result: Any) -> dict[Any, Any]:
    return {row[0]: row[1] for row in result}


def write_error_report(errors: list[RowError], path: Path) -> None:
    """The row-level report (row, column, value, reason), safe to open in a spreadsheet: a
    hostile value from the imported file is shown, never evaluated (crm_core.csv_safe)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv_safe.writer(handle)
        writer.writerow(["row", "column", "value", "reason"])
        for e in errors:
            writer.writerow([e.row, e.column, e.value, e.reason])
