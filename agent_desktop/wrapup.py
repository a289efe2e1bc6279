"""Saving an operator's wrap-up: disposition, notes, promise to pay, callback — once.

The browser sends a key it generated for this wrap-up; a retried save (double click, reconnect)
with the same key returns the first result instead of writing a second promise or callback.
The key is kept in the audit entry of the save, so it survives a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_desktop.dispositions import DispositionCode, by_code
from crm_core import audit
from crm_core.models import (
    AuditEntry,
    Contact,
    Debt,
    DebtStatus,
    Interaction,
    PromiseToPay,
    Task,
    TaskKind,
)
from crm_core.phones import time_zones

MAX_NOTES = 4000
MAX_PROMISE_DAYS = 90
MAX_CALLBACK_DAYS = 60


class WrapUpError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class PromiseInput:
    debt_id: int
    amount: Decimal
    due_on: date


@dataclass(frozen=True, slots=True)
class CallbackInput:
    local: datetime  # naive: wall-clock time in the debtor's zone
    to_queue: bool


@dataclass(frozen=True, slots=True)
class WrapUp:
    key: str
    linkedid: str
    code: DispositionCode
    notes: str
    promise: PromiseInput | None
    callback: CallbackInput | None


def parse(body: dict[str, Any], codes: tuple[DispositionCode, ...]) -> WrapUp:
    """The wrap-up form as typed input; every problem names its field."""
    key = body.get("key")
    if not isinstance(key, str) or not 8 <= len(key) <= 64:
        raise WrapUpError("key", "a client-generated key of 8-64 characters is required")
    linkedid = body.get("linkedid")
    if not isinstance(linkedid, str) or not linkedid:
        raise WrapUpError("linkedid", "which call is this wrap-up for?")
    code = by_code(codes, str(body.get("disposition", "")))
    if code is None:
        raise WrapUpError("disposition", "choose one of the disposition codes")
    notes = body.get("notes", "")
    if not isinstance(notes, str) or len(notes) > MAX_NOTES:
        raise WrapUpError("notes", f"text of at most {MAX_NOTES} characters")
    promise = None
    if code.needs_promise:
        raw = body.get("promise")
        if not isinstance(raw, dict):
            raise WrapUpError("promise", "amount, date and debt are required")
        try:
            debt_id = int(raw.get("debt_id"))
        except (TypeError, ValueError):
            raise WrapUpError("promise.debt_id", "choose the debt") from None
        try:
            amount = Decimal(str(raw.get("amount", ""))).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise WrapUpError("promise.amount", "not an amount") from None
        try:
            due_on = date.fromisoformat(str(raw.get("due_on", "")))
        except ValueError:
            raise WrapUpError("promise.due_on", "a date YYYY-MM-DD is required") from None
        promise = PromiseInput(debt_id, amount, due_on)
    callback = None
    if code.needs_callback:
        raw = body.get("callback")
        if not isinstance(raw, dict):
            raise WrapUpError("callback", "a date and time are required")
        try:
            local = datetime.fromisoformat(str(raw.get("local", "")))
        except ValueError:
            raise WrapUpError("callback.local", "a date and time are required") from None
        if local.tzinfo is not None:
            raise WrapUpError("callback.local", "give the debtor's local time, without a zone")
        assign = raw.get("assign", "self")
        if assign not in ("self", "queue"):
            raise WrapUpError("callback.assign", "assign to 'self' or 'queue'")
        callback = CallbackInput(local, assign == "queue")
    return WrapUp(key, linkedid, code, notes.strip(), promise, callback)


def debtor_zone(contact: Contact | None, phone_e164: str | None, center_tz: str) -> ZoneInfo:
    """The debtor's time zone: their address's, else their number's (if it has one), else ours."""
    candidates = []
    if contact is not None and contact.timezone:
        candidates.append(contact.timezone)
    if phone_e164:
        zones = time_zones(phone_e164)
        if len(zones) == 1:
            candidates.append(zones[0])
    candidates.append(center_tz)
    for name in candidates:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


async def save(
    session: AsyncSession,
    wrap: WrapUp,
    interaction: Interaction,
    *,
    user_id: int,
    queue: str,
    now: datetime,
    center_tz: str,
    remote_addr: str,
) -> dict[str, Any]:
    previous = await _previous_result(session, interaction.id, user_id, wrap.key)
    if previous is not None:
        return previous
    contact = await session.get(Contact, interaction.contact_id) if interaction.contact_id else None
    promise_id = task_id = None
    if wrap.promise is not None:
        promise_id = await _promise(session, wrap.promise, interaction, user_id, now)
    if wrap.callback is not None:
        zone = debtor_zone(contact, interaction.caller_number or None, center_tz)
        due_at = wrap.callback.local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))
        if due_at <= now:
            raise WrapUpError("callback.local", "the callback time has passed")
        if due_at > now + timedelta(days=MAX_CALLBACK_DAYS):
            raise WrapUpError("callback.local", f"at most {MAX_CALLBACK_DAYS} days ahead")
        task = Task(
            kind=TaskKind.CALLBACK,
            contact_id=interaction.contact_id,
            debt_id=interaction.debt_id,
            phone_e164=interaction.caller_number if interaction.caller_number else "",
            due_at=due_at,
            owner_agent_id=None if wrap.callback.to_queue else user_id,
            owner_queue=queue if wrap.callback.to_queue else "",
            note=wrap.notes[:500],
            created_at=now,
            created_by=user_id,
        )
        session.add(task)
        await session.flush()
        task_id = task.id
    interaction.disposition = wrap.code.code
    interaction.notes = wrap.notes
    if interaction.agent_id is None:
        interaction.agent_id = user_id
    result = {
        "interaction_id": interaction.id,
        "disposition": wrap.code.code,
        "promise_id": promise_id,
        "task_id": task_id,
    }
    audit.record(
        session,
        at=now,
        user_id=user_id,
        action="disposition",
        object_type="interaction",
        object_id=interaction.id,
        remote_addr=remote_addr,
        key=wrap.key,
        result=result,
    )
    await session.commit()
    return result


async def _previous_result(
    session: AsyncSession, interaction_id: int, user_id: int, key: str
) -> dict[str, Any] | None:
    rows = await session.execute(
        select(AuditEntry.detail).where(
            AuditEntry.action == "disposition",
            AuditEntry.object_type == "interaction",
            AuditEntry.object_id == str(interaction_id),
            AuditEntry.user_id == user_id,
        )
    )
    for (detail,) in rows:
        if isinstance(detail, dict) and detail.get("key") == key:
            return dict(detail.get("result") or {})
    return None


async def _promise(
    session: AsyncSession,
    promise: PromiseInput,
    interaction: Interaction,
    user_id: int,
    now: datetime,
) -> int:
    debt = await session.get(Debt, promise.debt_id)
    if debt is None or debt.contact_id != interaction.contact_id:
        raise WrapUpError("promise.debt_id", "not a debt of this caller")
    if promise.amount <= 0:
        raise WrapUpError("promise.amount", "must be more than zero")
    if promise.amount > debt.balance:
        raise WrapUpError("promise.amount", f"more than the balance {debt.balance}")
    today = now.date()
    if promise.due_on < today:
        raise WrapUpError("promise.due_on", "the date has passed")
    if promise.due_on > today + timedelta(days=MAX_PROMISE_DAYS):
        raise WrapUpError("promise.due_on", f"at most {MAX_PROMISE_DAYS} days ahead")
    row = PromiseToPay(
        debt_id=debt.id,
        amount=promise.amount,
        due_on=promise.due_on,
        created_at=now,
        created_by=user_id,
        interaction_id=interaction.id,
    )
    session.add(row)
    if debt.status is DebtStatus.ACTIVE:
        debt.status = DebtStatus.PROMISE
    interaction.debt_id = debt.id
    await session.flush()
    return row.id
