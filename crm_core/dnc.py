"""Do-not-call: the one rule the supervisor desk, the REST API, imports, the dispositions and the
dialer obey.

- A number is on the global list (nobody dials it: no campaign, no manual dial, no override
  by anybody) or on one campaign's list (that campaign does not dial it; a supervisor's
  reasoned override of a manual dial may pass a campaign list, never the global one).
- Anybody signed in to an edge that allows it (the supervisor desk, the API: supervisors and
  administrators) adds a number with a reason and a source; adding a number that is already
  listed changes nothing and says so.
- Only a supervisor or an administrator removes a number, and only with a reason.
- Every change (add, remove, each imported row) is in the audit log, in the transaction that
  makes it.
- Imports validate the whole file first: every row is checked (a number, its scope, a reason),
  nothing is written unless every row is good (or the caller asks to skip the bad ones), and
  the row-level report is formula-neutralised like every export (a cell starting with = + - @
  or a control character is prefixed with an apostrophe, so a spreadsheet shows it as text).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import column, delete, func, or_, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import audit, csv_safe
from crm_core.models import ContactPhone, DoNotCallEntry, Phone
from crm_core.phones import InvalidPhoneNumber, normalise

_T = TypeVar("_T")

MAX_REASON = 200
MAX_IMPORT_ROWS = 50_000
SOURCES = frozenset({"manual", "api", "import", "disposition", "consumer", "regulator", "creditor"})
CSV_COLUMNS = ("phone", "scope", "reason", "source", "added_at")

_campaigns = table("dialer_campaigns", column("id"), column("name"))


class DncError(ValueError):
    """The input is wrong; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DncRefused(Exception):
    code = "dnc.refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RemovalRefused(DncRefused):
    code = "auth.forbidden"


class NotListed(DncRefused):
    code = "not_found"


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None  # None: the system (a transcript worker, a migration)
    supervises: bool  # a supervisor or an administrator
    remote_addr: str = ""


@dataclass(frozen=True, slots=True)
class Scope:
    """The global list (campaign_id None) or one campaign's."""

    campaign_id: int | None = None

    @property
    def label(self) -> str:
        return "global" if self.campaign_id is None else f"campaign:{self.campaign_id}"


def neutralise(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (the product's one rule: csv_safe)."""
    return str(csv_safe.cell("" if value is None else str(value)))


def _unneutralise(cell: str) -> str:
    """An exported cell read back: the apostrophe `neutralise` put before it comes off."""
    return csv_safe.unneutralise(cell)


def parse_phone(raw: object, region: str, field_: str = "phone") -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise DncError(field_, "a phone number is required")
    try:
        return normalise(raw, region)
    except InvalidPhoneNumber as exc:
        raise DncError(field_, exc.reason) from None


def parse_reason(raw: object, *, required: bool = True) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str) or len(raw.strip()) > MAX_REASON:
        raise DncError("reason", f"text of at most {MAX_REASON} characters")
    reason = raw.strip()
    if required and not reason:
        raise DncError("reason", "say why")
    return reason


def parse_source(raw: object, default: str = "manual") -> str:
    if raw in (None, ""):
        return default
    if raw not in SOURCES:
        raise DncError("source", "one of " + ", ".join(sorted(SOURCES)))
    return str(raw)


def parse_scope(raw: object) -> Scope:
    """'global', '' or None: the global list; 'campaign:7' or 7: campaign 7's."""
    if raw in (None, "", "global"):
        return Scope(None)
    text_ = str(raw).removeprefix("campaign:")
    if not text_.isdigit():
        raise DncError("scope", "'global' or 'campaign:<id>'")
    return Scope(int(text_))


def entry_dict(entry: DoNotCallEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "phone": entry.phone,
        "scope": Scope(entry.campaign_id).label,
        "campaign_id": entry.campaign_id,
        "reason": entry.reason,
        "source": entry.source,
        "added_at": entry.added_at.isoformat(),
        "added_by": entry.added_by,
    }


async def _check_scope(session: AsyncSession, scope: Scope) -> None:
    if scope.campaign_id is None:
        return
    query = select(_campaigns.c.id).where(_campaigns.c.id == scope.campaign_id)
    found = await session.scalar(query)
    if found is None:
        raise DncError("scope", f"no campaign {scope.campaign_id}")


async def lock_for_write(session: AsyncSession) -> None:
    """SQLite: the write lock first, so 'is it listed?' and 'list it' are one step."""
    if session.get_bind().dialect.name == "sqlite" and not session.in_transaction():
        await session.execute(text("BEGIN IMMEDIATE"))


async def find(session: AsyncSession, phone: str, scope: Scope) -> DoNotCallEntry | None:
    query = select(DoNotCallEntry).where(DoNotCallEntry.phone == phone)
    if scope.campaign_id is None:
        query = query.where(DoNotCallEntry.campaign_id.is_(None))
    else:
        query = query.where(DoNotCallEntry.campaign_id == scope.campaign_id)
    return (await session.execute(query.order_by(DoNotCallEntry.id).limit(1))).scalar_one_or_none()


async def add(
    session: AsyncSession,
    *,
    phone: str,
    scope: Scope,
    reason: str,
    source: str,
    actor: Actor,
    now: datetime,
    **detail: Any,
) -> tuple[DoNotCallEntry, bool]:
    """Lists the number (E.164, already checked) in the caller's transaction; (entry, created).
    Already listed: the existing entry, False, nothing written."""
    if not reason:
        raise DncError("reason", "say why")
    await _check_scope(session, scope)
    existing = await find(session, phone, scope)
    if existing is not None:
        return existing, False
    entry = DoNotCallEntry(
        phone=phone,
        campaign_id=scope.campaign_id,
        reason=reason[:MAX_REASON],
        source=source,
        added_at=now,
        added_by=actor.user_id,
    )
    session.add(entry)
    await session.flush()
    audit.record(
        session,
        at=now,
        user_id=actor.user_id,
        action="dnc_add",
        object_type="dnc",
        object_id=phone,
        remote_addr=actor.remote_addr,
        scope=scope.label,
        reason=entry.reason,
        source=source,
        entry_id=entry.id,
        **detail,
    )
    return entry, True


async def remove(
    session: AsyncSession,
    *,
    phone: str,
    scope: Scope,
    reason: str,
    actor: Actor,
    now: datetime,
) -> dict[str, Any]:
    """Takes the number off one list: a supervisor or an administrator, with a reason."""
    if not actor.supervises:
        raise RemovalRefused(
            "only a supervisor or an administrator may take a number off do-not-call"
        )
    if not reason:
        raise DncError("reason", "say why the number may be called again")
    entry = await find(session, phone, scope)
    if entry is None:
        raise NotListed(f"{phone} is not on the {scope.label} do-not-call list")
    before = entry_dict(entry)
    where = [DoNotCallEntry.phone == phone]
    where.append(
        DoNotCallEntry.campaign_id.is_(None)
        if scope.campaign_id is None
        else DoNotCallEntry.campaign_id == scope.campaign_id
    )
    await session.execute(delete(DoNotCallEntry).where(*where))
    audit.record(
        session,
        at=now,
        user_id=actor.user_id,
        action="dnc_remove",
        object_type="dnc",
        object_id=phone,
        remote_addr=actor.remote_addr,
        scope=scope.label,
        reason=reason,
        before=before,
    )
    return before


async def entries(
    session: AsyncSession,
    *,
    scope: Scope | None = None,
    phone: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> tuple[list[DoNotCallEntry], int]:
    """A page of the lists (one scope, or all) and the total."""
    where = []
    if scope is not None:
        where.append(
            DoNotCallEntry.campaign_id.is_(None)
            if scope.campaign_id is None
            else DoNotCallEntry.campaign_id == scope.campaign_id
        )
    if phone:
        where.append(DoNotCallEntry.phone.like(f"%{phone.replace('%', '')}%"))
    total = await session.scalar(select(func.count(DoNotCallEntry.id)).where(*where)) or 0
    rows = await session.execute(
        select(DoNotCallEntry)
        .where(*where)
        .order_by(DoNotCallEntry.added_at.desc(), DoNotCallEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars()), int(total)


async def listed(session: AsyncSession, phone: str, campaign_id: int | None = None) -> list[str]:
    """Where the number is listed: 'global' and/or 'campaign:<id>' (for the one campaign)."""
    where = [DoNotCallEntry.phone == phone]
    if campaign_id is None:
        where.append(DoNotCallEntry.campaign_id.is_(None))
    else:
        where.append(
            or_(DoNotCallEntry.campaign_id.is_(None), DoNotCallEntry.campaign_id == campaign_id)
        )
    rows = await session.scalars(select(DoNotCallEntry.campaign_id).where(*where))
    return sorted({Scope(c).label for c in rows})


async def add_contact_numbers(
    session: AsyncSession,
    contact_id: int,
    *,
    reason: str,
    source: str,
    actor: Actor,
    now: datetime,
    **detail: Any,
) -> list[str]:
    """Every number of the contact on the global list (a cease request); the numbers added."""
    phones = await session.scalars(
        select(Phone.e164)
        .join(ContactPhone, ContactPhone.phone_id == Phone.id)
        .where(ContactPhone.contact_id == contact_id)
        .order_by(Phone.e164)
    )
    added = []
    for phone in list(phones):
        _, created = await add(
            session,
            phone=phone,
            scope=Scope(None),
            reason=reason,
            source=source,
            actor=actor,
            now=now,
            contact_id=contact_id,
            **detail,
        )
        if created:
            added.append(phone)
    return added


# -- CSV ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowProblem:
    row: int  # the file's line number (the header is 1)
    column: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportRow:
    row: int
    phone: str
    scope: Scope
    reason: str
    source: str


@dataclass(slots=True)
class ImportPlan:
    rows: list[ImportRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


@dataclass(slots=True)
class ImportResult:
    added: int = 0
    already: int = 0
    skipped: int = 0
    written: bool = False
    problems: list[RowProblem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "already_listed": self.already,
            "skipped_bad_rows": self.skipped,
            "written": self.written,
            "problems": [
                {"row": p.row, "column": p.column, "value": p.value, "reason": p.reason}
                for p in self.problems
            ],
        }


def parse_csv(
    data: str, *, region: str, default_scope: Scope, default_reason: str = ""
) -> ImportPlan:
    """Every row checked; a header names the columns: phone (required), scope, reason, source."""
    plan = ImportPlan()
    reader = csv.reader(io.StringIO(data.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        plan.problems.append(RowProblem(1, "phone", "", "the file is empty"))
        return plan
    names = [h.strip().casefold() for h in header]
    if "phone" not in names:
        plan.problems.append(RowProblem(1, "phone", ",".join(header), "no 'phone' column"))
        return plan
    seen: set[tuple[str, int | None]] = set()
    for number, cells in enumerate(reader, start=2):
        if number - 1 > MAX_IMPORT_ROWS:
            plan.problems.append(RowProblem(number, "", "", f"more than {MAX_IMPORT_ROWS} rows"))
            break
        if not any(c.strip() for c in cells):
            continue
        values = {n: _unneutralise(c) for n, c in zip(names, cells, strict=False)}
        before = len(plan.problems)
        phone = _cell(plan, number, values, "phone", lambda v: parse_phone(v, region))
        scope = _cell(
            plan,
            number,
            values,
            "scope",
            lambda v: parse_scope(v) if v.strip() else default_scope,
        )
        reason = _cell(
            plan, number, values, "reason", lambda v: parse_reason(v.strip() or default_reason)
        )
        source = _cell(plan, number, values, "source", lambda v: parse_source(v.strip(), "import"))
        if len(plan.problems) > before:
            continue
        assert phone is not None and scope is not None and reason is not None
        key = (phone, scope.campaign_id)
        if key in seen:
            continue  # the same number twice in one file: once is enough
        seen.add(key)
        plan.rows.append(ImportRow(number, phone, scope, reason, source or "import"))
    return plan


def _cell(
    plan: ImportPlan,
    number: int,
    values: dict[str, str],
    column_: str,
    parse: Callable[[str], _T],
) -> _T | None:
    """One cell of an import row parsed; None (and a problem noted) when it does not parse."""
    raw = values.get(column_, "")
    try:
        return parse(raw)
    except DncError as exc:
        plan.problems.append(RowProblem(number, column_, raw, exc.message))
        return None


async def import_plan(
    session: AsyncSession,
    plan: ImportPlan,
    *,
    actor: Actor,
    now: datetime,
    skip_bad: bool = False,
    file_name: str = "",
) -> ImportResult:
    """Writes the plan in the caller's transaction: nothing if any row is bad (unless
    `skip_bad`); campaigns named by rows must exist (a row naming none is a problem too)."""
    result = ImportResult(problems=list(plan.problems))
    good = []
    for row in plan.rows:
        try:
            await _check_scope(session, row.scope)
        except DncError as exc:
            result.problems.append(RowProblem(row.row, "scope", row.scope.label, exc.message))
            continue
        good.append(row)
    result.problems.sort(key=lambda p: (p.row, p.column))
    if result.problems and not skip_bad:
        return result
    result.skipped = len({p.row for p in result.problems})
    for row in good:
        _, created = await add(
            session,
            phone=row.phone,
            scope=row.scope,
            reason=row.reason,
            source=row.source,
            actor=actor,
            now=now,
            row=row.row,
            file=file_name[:100],
        )
        if created:
            result.added += 1
        else:
            result.already += 1
    audit.record(
        session,
        at=now,
        user_id=actor.user_id,
        action="dnc_import",
        object_type="dnc",
        object_id=file_name[:64],
        remote_addr=actor.remote_addr,
        added=result.added,
        already_listed=result.already,
        skipped_bad_rows=result.skipped,
    )
    result.written = True
    return result


def report_csv(problems: Iterable[RowProblem]) -> str:
    """The row-level report of an import, formula-neutralised."""
    out = io.StringIO()
    writer = csv_safe.writer(out)  # every cell neutralised
    writer.writerow(["row", "column", "value", "reason"])
    for p in problems:
        writer.writerow([p.row, neutralise(p.column), neutralise(p.value), neutralise(p.reason)])
    return out.getvalue()


def export_csv(rows: Iterable[DoNotCallEntry]) -> str:
    """The lists as CSV (the import's columns), formula-neutralised."""
    out = io.StringIO()
    writer = csv_safe.writer(out)  # every cell neutralised
    writer.writerow(CSV_COLUMNS)
    for e in rows:
        writer.writerow(
            [
                neutralise(e.phone),
                neutralise(Scope(e.campaign_id).label),
                neutralise(e.reason),
                neutralise(e.source),
                e.added_at.isoformat(),
            ]
        )
    return out.getvalue()
