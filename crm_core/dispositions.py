"""What saving and correcting a disposition does: the one rule the desk, the REST API and any
other edge obey (the web handlers only turn HTTP into calls of `Dispositions`).

Saving — once per call leg (one operator on one call):
- the first save writes the disposition, the notes, the promise to pay and the callback, the
  leg's row (`call_dispositions`, unique per interaction and operator) and an audit entry, in
  one transaction;
- a repeat with the same client key (a double click, a retry after a reconnect) answers the
  first result and writes nothing;
- a save with another key is refused (`AlreadyDisposed`): a second wrap-up would add a second
  promise. The database enforces it too: two saves at once (two tabs, two web nodes) cannot
  both insert the leg's row, and the loser's promise rolls back with it. On SQLite the save
  also takes the write lock first (BEGIN IMMEDIATE), so the two simply run one after the other.
- an operator saves only their own call (the one offered to them now, or one logged as theirs).

Correcting — an explicit edit, never a second save:
- the operator who saved the leg, within `correction_window` of the save (default 10 minutes,
  `[dispositions] correction_window_s`): a slip caught at once; counted from the first save, so
  corrections cannot extend it;
- a supervisor or an administrator at any time (they answer for their teams' records);
- nobody else (another operator, or the operator after the window: they ask a supervisor).
A correction replaces: the leg's open promise and open callback are cancelled (status
`cancelled`, never deleted; a kept or broken promise is history and stays as it is), a debt left
without an open promise goes back from `promise` to `active`, the new promise and callback are
written, and the audit entry holds the leg before and after and the reason — one transaction.
A repeat of a correction with its key answers the correction's result.

After either, a right-party disposition is recorded in the attempt ledger through the injected
`ConversationLedger` (the dialer's `record_disposition`): a correction can add a conversation,
never clear one (the ledger only grows).

Legs saved before the per-leg rows existed are found from the save's audit entry (or, lacking
one, from the call's own disposition) and count as saved: they are refused a second save and
are corrected like any other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import audit, inputs
from crm_core.arrangements import (
    CollectionRules,
    PlanError,
    cancel_plan,
    create_plan,
    parse_instalments,
)
from crm_core.db import Database
from crm_core.models import (
    AuditEntry,
    CallDisposition,
    Contact,
    Debt,
    DebtStatus,
    Interaction,
    PromiseStatus,
    PromiseToPay,
    Task,
    TaskKind,
    TaskStatus,
)
from crm_core.phones import time_zones

MAX_NOTES = 4000
MAX_PROMISE_DAYS = 90
MAX_CALLBACK_DAYS = 60
MAX_REASON = 500


# -- the codes -------------------------------------------------------------------------------


class Effect(enum.StrEnum):
    """What saving a disposition does beyond the record (crm_core.disposition_effects)."""

    NONE = ""
    WRONG_NUMBER = "wrong_number"  # the number is unlinked from the contact: not dialled for them
    DISPUTE = "dispute"  # the debt becomes disputed: no dialing until resolved
    DECEASED = "deceased"  # the contact's open debts: status deceased, no dialing
    BANKRUPT = "bankrupt"  # the debt (or all the contact's open debts): bankrupt, no dialing
    ATTORNEY = "attorney"  # represented by a lawyer: status attorney, no dialing
    CEASE = "cease"  # a cease request: the contact's numbers on the global do-not-call list


@dataclass(frozen=True, slots=True)
class DispositionCode:
    code: str
    label_en: str
    label_ru: str
    needs_promise: bool = False  # a promise to pay (amount, date) must be given
    needs_callback: bool = False  # a callback time must be given
    right_party: bool = False  # a conversation with the debtor (counts for contact rules)
    effect: Effect = Effect.NONE
    needs_arrangement: bool = False  # a payment arrangement is set up with it (payments' wrap-up)

    def label(self, language: str) -> str:
        return self.label_ru if language == "ru" else self.label_en


# The built-in set: what the seed migration (0005) writes into `disposition_codes`, and what
# the desk uses while that table is empty (a test schema, a database never migrated).
DEFAULT_DISPOSITIONS: tuple[DispositionCode, ...] = (
    DispositionCode("rpc", "Right party contact", "Контакт с должником", right_party=True),
    DispositionCode(
        "ptp", "Promise to pay", "Обещание оплаты", needs_promise=True, right_party=True
    ),
    DispositionCode("callback", "Callback", "Перезвонить", needs_callback=True, right_party=True),
    DispositionCode("refused", "Refused to pay", "Отказ от оплаты", right_party=True),
    DispositionCode(
        "dispute", "Dispute", "Оспаривает долг", right_party=True, effect=Effect.DISPUTE
    ),
    DispositionCode("wrong_number", "Wrong number", "Неверный номер", effect=Effect.WRONG_NUMBER),
    DispositionCode("deceased", "Deceased", "Умер", effect=Effect.DECEASED),
    DispositionCode("bankrupt", "Bankrupt", "Банкрот", effect=Effect.BANKRUPT),
    DispositionCode(
        "attorney",
        "Represented by a lawyer",
        "Представлен юристом",
        right_party=True,
        effect=Effect.ATTORNEY,
    ),
    DispositionCode(
        "cease",
        "Stop calling (cease request)",
        "Просит не звонить",
        right_party=True,
        effect=Effect.CEASE,
    ),
)


def by_code(codes: tuple[DispositionCode, ...], code: str) -> DispositionCode | None:
    return next((c for c in codes if c.code == code), None)


# -- what is refused --------------------------------------------------------------------------


class WrapUpError(ValueError):
    """The input is wrong; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DispositionRefused(Exception):
    """The rule refuses the request; `code` is stable, the message is for people."""

    code = "disposition.refused"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class CallNotFound(DispositionRefused):
    code = "not_found"


class NotYourCall(DispositionRefused):
    code = "auth.forbidden"


class AlreadyDisposed(DispositionRefused):
    code = "disposition.already_saved"


class NothingToCorrect(DispositionRefused):
    code = "disposition.not_saved"


class CorrectionRefused(DispositionRefused):
    code = "disposition.correction_refused"


# -- the input --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromiseInput:
    debt_id: int
    amount: Decimal
    due_on: date
    # a payment plan instead of one promise: its instalments (amount: their sum, due_on:
    # the first one's date); rules in crm_core.arrangements
    instalments: tuple[Any, ...] = ()


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
    debt_id: int | None = None  # the debt an effect is about (dispute, bankrupt, attorney)


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    supervises: bool  # a supervisor or an administrator: may correct any leg at any time


def parse(
    body: dict[str, Any], codes: tuple[DispositionCode, ...], linkedid: str | None = None
) -> WrapUp:
    """A wrap-up (or a correction) as typed input; every problem names its field. `linkedid`
    given (the call named by the URL) wins over the body's."""
    key = body.get("key")
    if not isinstance(key, str) or not 8 <= len(key) <= 64:
        raise WrapUpError("key", "a client-generated key of 8-64 characters is required")
    if linkedid is None:
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
    raw_plan = body.get("promise")
    if _wants_plan(code, raw_plan):
        promise = _plan_input(raw_plan)
    elif code.needs_promise:
        raw = body.get("promise")
        if not isinstance(raw, dict):
            raise WrapUpError("promise", "amount, date and debt are required")
        try:  # bounded: no NaN, Infinity, 1e30, non-ASCII digits or year-9999 dates
            promised_debt = inputs.ident(raw.get("debt_id"), "promise.debt_id")
            amount = inputs.amount(raw.get("amount", ""), "promise.amount")
            due_on = inputs.day(raw.get("due_on", ""), "promise.due_on")
        except inputs.InputError as exc:
            raise WrapUpError(exc.field, exc.message) from None
        promise = PromiseInput(promised_debt, amount, due_on)
    callback = None
    if code.needs_callback:
        raw = body.get("callback")
        if not isinstance(raw, dict):
            raise WrapUpError("callback", "a date and time are required")
        try:  # bounded: a year-9999 time would overflow when moved to UTC
            local = inputs.moment(raw.get("local", ""), "callback.local")
        except inputs.InputError as exc:
            raise WrapUpError(exc.field, exc.message) from None
        if local.tzinfo is not None:
            raise WrapUpError("callback.local", "give the debtor's local time, without a zone")
        assign = raw.get("assign", "self")
        if assign not in ("self", "queue"):
            raise WrapUpError("callback.assign", "assign to 'self' or 'queue'")
        callback = CallbackInput(local, assign == "queue")
    debt_id = body.get("debt_id")
    if debt_id is not None and (not isinstance(debt_id, int) or isinstance(debt_id, bool)):
        raise WrapUpError("debt_id", "the debt this disposition is about, as a number")
    return WrapUp(key, linkedid, code, notes.strip(), promise, callback, debt_id)


def _wants_plan(code: DispositionCode, raw: Any) -> bool:
    """A promise with instalments is a payment plan; a code that needs an arrangement
    takes nothing else."""
    if getattr(code, "needs_arrangement", False):
        return True
    return code.needs_promise and isinstance(raw, dict) and raw.get("instalments") is not None


def _plan_input(raw: Any) -> PromiseInput:
    if not isinstance(raw, dict):
        raise WrapUpError("promise", "the debt and the instalments are required")
    debt_id = raw.get("debt_id")
    if isinstance(debt_id, str) and debt_id.isascii() and debt_id.isdigit():
        debt_id = int(debt_id)
    if not isinstance(debt_id, int) or isinstance(debt_id, bool) or debt_id < 1:
        raise WrapUpError("promise.debt_id", "choose the debt")
    try:
        items = parse_instalments(raw.get("instalments"), "promise.instalments")
    except PlanError as exc:
        raise WrapUpError(exc.field, exc.message) from None
    total = sum((i.amount for i in items), Decimal("0.00"))
    return PromiseInput(debt_id, total, items[0].due_on, items)


def parse_reason(body: dict[str, Any]) -> str:
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise WrapUpError("reason", f"text of at most {MAX_REASON} characters")
    return reason.strip()


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


# -- the rule ---------------------------------------------------------------------------------


class ConversationLedger(Protocol):
    """Records a right-party disposition as a conversation (the dialer's attempt ledger)."""

    async def __call__(
        self,
        *,
        linkedid: str,
        right_party: bool,
        contact_id: int | None,
        debt_id: int | None,
        phone: str,
        started_at: datetime,
        ended_at: datetime | None,
        now: datetime,
    ) -> object: ...


class Dispositions:
    def __init__(
        self,
        db: Database,
        *,
        center_tz: str,
        correction_window: timedelta,
        ledger: ConversationLedger | None = None,
        rules: CollectionRules | None = None,
    ) -> None:
        self._db = db
        self._center_tz = center_tz
        self._window = correction_window
        self._ledger = ledger
        self._rules = rules or CollectionRules()

    @property
    def correction_window(self) -> timedelta:
        return self._window

    async def save(
        self,
        wrap: WrapUp,
        *,
        interaction_id: int,
        user_id: int,
        current_call: bool,
        queue: str | None,
        contact_id: int | None,
        now: datetime,
        remote_addr: str,
    ) -> dict[str, Any]:
        """The first disposition of this operator's leg of the call; `current_call`: the call
        is the one offered to them now (else it must be logged as theirs)."""
        try:
            async with self._db.session() as session:
                await _lock_for_write(session)
                interaction = await session.get(Interaction, interaction_id)
                if interaction is None:
                    raise CallNotFound(f"no call {wrap.linkedid}")
                if not current_call and interaction.agent_id != user_id:
                    raise NotYourCall("this call was not yours")
                leg = await _leg(session, interaction, user_id)
                if leg is not None:
                    return self._repeat(leg, wrap)
                if interaction.contact_id is None and contact_id is not None:
                    interaction.contact_id = contact_id
                result = await self._first(
                    session, wrap, interaction, user_id, queue, now, remote_addr
                )
                await session.commit()
        except IntegrityError:
            # Another save of this leg committed first (PostgreSQL: the unique leg row).
            async with self._db.session() as session:
                interaction = await session.get(Interaction, interaction_id)
                leg = await _leg(session, interaction, user_id) if interaction else None
            if leg is None:
                raise
            return self._repeat(leg, wrap)
        await self._record(interaction, wrap.code, now)
        return result

    async def correct(
        self,
        wrap: WrapUp,
        *,
        interaction_id: int,
        actor: Actor,
        leg_user_id: int | None,
        reason: str,
        now: datetime,
        remote_addr: str,
    ) -> dict[str, Any]:
        """Replaces a saved leg's disposition (see the module's rules on who and when)."""
        async with self._db.session() as session:
            await _lock_for_write(session)
            interaction = await session.get(Interaction, interaction_id)
            if interaction is None:
                raise CallNotFound(f"no call {wrap.linkedid}")
            owner = await self._owner(session, interaction, actor, leg_user_id)
            leg = await _leg(session, interaction, owner, for_update=True)
            if leg is None and not actor.supervises and interaction.agent_id != actor.user_id:
                raise CorrectionRefused(
                    "only the operator who saved a disposition, or a supervisor, may correct it"
                )
            if leg is None:
                raise NothingToCorrect("no disposition saved on this call to correct; save one")
            if leg.id is None:  # saved before legs had rows: the correction gives it one
                session.add(leg)
                await session.flush()
            if leg.revision_key and leg.revision_key == wrap.key:
                return dict(leg.revision_result or {})
            if wrap.key == leg.key:
                raise WrapUpError("key", "a correction needs a key of its own, not the save's")
            self._may_correct(leg, actor, now)
            before = await _snapshot(session, leg)
            cancelled = await _cancel(session, leg, now)
            promise_id = task_id = None
            plan_id = None
            if wrap.promise is not None and wrap.promise.instalments:
                plan_id = await self._plan(
                    session, wrap.promise, interaction, actor.user_id, None, now, remote_addr
                )
            elif wrap.promise is not None:
                promise_id = await _promise(session, wrap.promise, interaction, actor.user_id, now)
            if wrap.callback is not None:
                task_id = await self._callback(
                    session, wrap, interaction, leg.user_id, actor.user_id, interaction.queue, now
                )
            previous = (leg.revision_result if leg.revision else leg.result) or {}
            effect = await disposition_effects.apply(
                session,
                wrap.code,
                interaction,
                debt_id=wrap.debt_id,
                user_id=actor.user_id,
                now=now,
                remote_addr=remote_addr,
            )
            kept = await disposition_effects.keep_on_correction(
                session,
                leg,
                previous.get("effect"),
                wrap.code,
                interaction,
                user_id=actor.user_id,
                now=now,
            )
            leg.code = wrap.code.code
            leg.notes = wrap.notes
            leg.promise_id = promise_id
            leg.task_id = task_id
            leg.revision += 1
            leg.revision_key = wrap.key
            leg.corrected_at = now
            leg.corrected_by = actor.user_id
            if await _latest_leg_id(session, interaction.id) == leg.id:
                interaction.disposition = wrap.code.code
                interaction.notes = wrap.notes
            result = {
                "interaction_id": interaction.id,
                "disposition": wrap.code.code,
                "promise_id": promise_id,
                "task_id": task_id,
                **({"arrangement_id": plan_id} if plan_id else {}),
                "revision": leg.revision,
                "cancelled": cancelled,
                **({"effect": effect} if effect else {}),
                **({"effects_kept": kept} if kept else {}),
            }
            leg.revision_result = result
            await session.flush()
            audit.record(
                session,
                at=now,
                user_id=actor.user_id,
                action="disposition_correction",
                object_type="interaction",
                object_id=interaction.id,
                remote_addr=remote_addr,
                key=wrap.key,
                leg_user_id=leg.user_id,
                reason=reason,
                before=before,
                after=await _snapshot(session, leg),
                result=result,
            )
            await session.commit()
        await self._record(interaction, wrap.code, now)
        return result

    # -- helpers ---------------------------------------------------------------------------

    def _repeat(self, leg: CallDisposition, wrap: WrapUp) -> dict[str, Any]:
        if leg.key and leg.key == wrap.key:
            return dict(leg.result or {})
        saved = leg.saved_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise AlreadyDisposed(
            f"you already saved a disposition ({leg.code}) for this call at {saved}; a call "
            "takes one disposition per operator — to change it, send a correction",
            disposition=leg.code,
            saved_at=leg.saved_at.isoformat(),
            correctable_by_you_until=(leg.saved_at + self._window).isoformat(),
        )

    def _may_correct(self, leg: CallDisposition, actor: Actor, now: datetime) -> None:
        if actor.supervises:
            return
        if actor.user_id != leg.user_id:
            raise CorrectionRefused(
                "only the operator who saved a disposition, or a supervisor, may correct it"
            )
        until = leg.saved_at + self._window
        if now > until:
            minutes = int(self._window.total_seconds() // 60)
            raise CorrectionRefused(
                f"you may correct your disposition within {minutes} minutes of saving it; that"
                f" ended at {until.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')} — ask a"
                " supervisor to correct it",
                closed_at=until.isoformat(),
            )

    async def _owner(
        self,
        session: AsyncSession,
        interaction: Interaction,
        actor: Actor,
        leg_user_id: int | None,
    ) -> int:
        """Whose leg is corrected: an operator's own; a supervisor names it, or the call has
        one leg."""
        if not actor.supervises:
            if leg_user_id not in (None, actor.user_id):
                raise CorrectionRefused(
                    "only the operator who saved a disposition, or a supervisor, may correct it"
                )
            return actor.user_id
        if leg_user_id is not None:
            return leg_user_id
        owners = list(
            await session.scalars(
                select(CallDisposition.user_id).where(
                    CallDisposition.interaction_id == interaction.id
                )
            )
        )
        if len(owners) > 1:
            raise WrapUpError("user_id", "several operators disposed this call: name whose")
        if owners:
            return owners[0]
        if interaction.agent_id is None:
            raise NothingToCorrect("no disposition saved on this call to correct")
        return interaction.agent_id

    async def _first(
        self,
        session: AsyncSession,
        wrap: WrapUp,
        interaction: Interaction,
        user_id: int,
        queue: str | None,
        now: datetime,
        remote_addr: str,
    ) -> dict[str, Any]:
        promise_id = task_id = None
        plan_id = None
        if wrap.promise is not None and wrap.promise.instalments:
            plan_id = await self._plan(
                session, wrap.promise, interaction, user_id, queue, now, remote_addr
            )
        elif wrap.promise is not None:
            promise_id = await _promise(session, wrap.promise, interaction, user_id, now)
        if wrap.callback is not None:
            task_id = await self._callback(
                session,
                wrap,
                interaction,
                user_id,
                user_id,
                queue if queue is not None else interaction.queue,
                now,
            )
        effect = await disposition_effects.apply(
            session,
            wrap.code,
            interaction,
            debt_id=wrap.debt_id,
            user_id=user_id,
            now=now,
            remote_addr=remote_addr,
        )
        interaction.disposition = wrap.code.code
        interaction.notes = wrap.notes
        if interaction.agent_id is None:
            interaction.agent_id = user_id
        result = {
            "interaction_id": interaction.id,
            "disposition": wrap.code.code,
            "promise_id": promise_id,
            "task_id": task_id,
            **({"arrangement_id": plan_id} if plan_id else {}),
            **({"effect": effect} if effect else {}),
        }
        session.add(
            CallDisposition(
                interaction_id=interaction.id,
                user_id=user_id,
                key=wrap.key,
                code=wrap.code.code,
                notes=wrap.notes,
                promise_id=promise_id,
                task_id=task_id,
                saved_at=now,
                result=result,
                revision=0,
                revision_key="",
                revision_result={},
            )
        )
        await session.flush()  # the unique leg: a concurrent save fails here or at commit
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
        return result

    async def _plan(
        self,
        session: AsyncSession,
        promise: PromiseInput,
        interaction: Interaction,
        user_id: int,
        queue: str | None,
        now: datetime,
        remote_addr: str,
    ) -> int:
        """A payment plan instead of one promise (crm_core.arrangements' rules)."""
        debt = await session.get(Debt, promise.debt_id)
        if debt is None or debt.contact_id != interaction.contact_id:
            raise WrapUpError("promise.debt_id", "not a debt of this caller")
        today = now.astimezone(debtor_zone(None, None, self._center_tz)).date()
        try:
            plan = await create_plan(
                session,
                debt,
                promise.instalments,
                now=now,
                today=today,
                rules=self._rules,
                user_id=user_id,
                interaction_id=interaction.id,
                queue=queue if queue is not None else interaction.queue,
                remote_addr=remote_addr,
                prefix="promise.instalments",
            )
        except PlanError as exc:
            raise WrapUpError(exc.field, exc.message) from None
        interaction.debt_id = debt.id
        return plan.id

    async def _callback(
        self,
        session: AsyncSession,
        wrap: WrapUp,
        interaction: Interaction,
        owner_id: int,
        created_by: int,
        queue: str,
        now: datetime,
    ) -> int:
        assert wrap.callback is not None
        contact = (
            await session.get(Contact, interaction.contact_id) if interaction.contact_id else None
        )
        zone = debtor_zone(contact, interaction.caller_number or None, self._center_tz)
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
            owner_agent_id=None if wrap.callback.to_queue else owner_id,
            owner_queue=queue if wrap.callback.to_queue else "",
            note=wrap.notes[:500],
            created_at=now,
            created_by=created_by,
        )
        session.add(task)
        await session.flush()
        return task.id

    async def _record(self, interaction: Interaction, code: DispositionCode, now: datetime) -> None:
        if self._ledger is None or not code.right_party or not interaction.linkedid:
            return
        await self._ledger(
            linkedid=interaction.linkedid,
            right_party=True,
            contact_id=interaction.contact_id,
            debt_id=interaction.debt_id,
            phone=interaction.caller_number or "",
            started_at=interaction.started_at,
            ended_at=interaction.ended_at,
            now=now,
        )


async def _lock_for_write(session: AsyncSession) -> None:
    """SQLite: take the database's one write lock first (BEGIN IMMEDIATE), so that what this
    transaction reads is not overtaken by another writer before it writes. PostgreSQL relies on
    the unique leg row (and row locks for corrections)."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("BEGIN IMMEDIATE"))


async def _leg(
    session: AsyncSession, interaction: Interaction, user_id: int, *, for_update: bool = False
) -> CallDisposition | None:
    """The operator's leg of the call: its row, else (saved before legs had rows) one built,
    unsaved, from the save's audit entry or from the call's own disposition."""
    query = select(CallDisposition).where(
        CallDisposition.interaction_id == interaction.id, CallDisposition.user_id == user_id
    )
    if for_update:
        query = query.with_for_update()
    leg = (await session.execute(query)).scalar_one_or_none()
    if leg is not None:
        return leg
    entry = (
        await session.execute(
            select(AuditEntry)
            .where(
                AuditEntry.action == "disposition",
                AuditEntry.object_type == "interaction",
                AuditEntry.object_id == str(interaction.id),
                AuditEntry.user_id == user_id,
            )
            .order_by(AuditEntry.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if entry is not None and isinstance(entry.detail, dict):
        result = dict(entry.detail.get("result") or {})
        return _legacy(
            interaction,
            user_id,
            key=str(entry.detail.get("key") or ""),
            code=str(result.get("disposition") or interaction.disposition),
            promise_id=result.get("promise_id"),
            task_id=result.get("task_id"),
            saved_at=entry.at,
            result=result,
        )
    if interaction.disposition and interaction.agent_id == user_id:
        others = await session.scalar(
            select(func.count(CallDisposition.id)).where(
                CallDisposition.interaction_id == interaction.id
            )
        )
        if not others:
            promise_id = await session.scalar(
                select(func.max(PromiseToPay.id)).where(
                    PromiseToPay.interaction_id == interaction.id
                )
            )
            return _legacy(
                interaction,
                user_id,
                key="",
                code=interaction.disposition,
                promise_id=promise_id,
                task_id=None,
                saved_at=interaction.ended_at or interaction.started_at,
                result={},
            )
    return None


def _legacy(
    interaction: Interaction,
    user_id: int,
    *,
    key: str,
    code: str,
    promise_id: int | None,
    task_id: int | None,
    saved_at: datetime,
    result: dict[str, Any],
) -> CallDisposition:
    return CallDisposition(
        interaction_id=interaction.id,
        user_id=user_id,
        key=key,
        code=code,
        notes=interaction.notes,
        promise_id=promise_id,
        task_id=task_id,
        saved_at=saved_at,
        result=result,
        revision=0,
        revision_key="",
        revision_result={},
    )


async def _latest_leg_id(session: AsyncSession, interaction_id: int) -> int | None:
    return await session.scalar(
        select(CallDisposition.id)
        .where(CallDisposition.interaction_id == interaction_id)
        .order_by(CallDisposition.saved_at.desc(), CallDisposition.id.desc())
        .limit(1)
    )


async def _snapshot(session: AsyncSession, leg: CallDisposition) -> dict[str, Any]:
    """The leg as an auditor reads it: the code, the notes, the promise and callback."""
    promise = await session.get(PromiseToPay, leg.promise_id) if leg.promise_id else None
    task = await session.get(Task, leg.task_id) if leg.task_id else None
    return {
        "disposition": leg.code,
        "notes": leg.notes,
        "revision": leg.revision,
        "promise": None
        if promise is None
        else {
            "id": promise.id,
            "debt_id": promise.debt_id,
            "amount": str(promise.amount),
            "due_on": promise.due_on.isoformat(),
            "status": str(promise.status),
        },
        "callback": None
        if task is None
        else {
            "id": task.id,
            "due_at": task.due_at.isoformat(),
            "owner_agent_id": task.owner_agent_id,
            "owner_queue": task.owner_queue,
            "status": str(task.status),
        },
    }


async def _cancel(session: AsyncSession, leg: CallDisposition, now: datetime) -> dict[str, Any]:
    """The leg's open promise and open callback are cancelled; a debt left with no open promise
    goes back to active."""
    cancelled: dict[str, Any] = {"promise_id": None, "task_id": None}
    if leg.promise_id is not None:
        promise = await session.get(PromiseToPay, leg.promise_id)
        if promise is not None and promise.status is PromiseStatus.OPEN:
            promise.status = PromiseStatus.CANCELLED
            promise.evaluated_at = now
            cancelled["promise_id"] = promise.id
            await session.flush()
            debt = await session.get(Debt, promise.debt_id)
            still_open = await session.scalar(
                select(func.count(PromiseToPay.id)).where(
                    PromiseToPay.debt_id == promise.debt_id,
                    PromiseToPay.status == PromiseStatus.OPEN,
                )
            )
            if debt is not None and debt.status is DebtStatus.PROMISE and not still_open:
                debt.status = DebtStatus.ACTIVE
    if leg.task_id is not None:
        task = await session.get(Task, leg.task_id)
        if task is not None and task.status is TaskStatus.OPEN:
            task.status = TaskStatus.CANCELLED
            task.completed_at = now
            cancelled["task_id"] = task.id
    previous = (leg.revision_result if leg.revision else leg.result) or {}
    plan_id = previous.get("arrangement_id")
    if isinstance(plan_id, int) and await cancel_plan(session, plan_id, now):
        cancelled["arrangement_id"] = plan_id
    return cancelled


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


# Effects use this module's codes and errors: imported once they exist.
from crm_core import disposition_effects  # noqa: E402
