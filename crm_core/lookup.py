"""Finding the debtor behind a caller, fast: the card must reach the operator before the ring."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from crm_core.card import (
    Card,
    CardDebt,
    CardInstalment,
    CardInteraction,
    CardPayment,
    CardPhone,
    CardPlan,
    CardPromise,
    CardTask,
    public_recording_ref,
)
from crm_core.db import Database
from crm_core.models import (
    Arrangement,
    ArrangementStatus,
    Contact,
    ContactKind,
    ContactPhone,
    Debt,
    Instalment,
    Interaction,
    Payment,
    Phone,
    PromiseStatus,
    PromiseToPay,
    Task,
    TaskStatus,
)
from crm_core.phones import try_normalise

LAST_PAYMENTS = 5
T = TypeVar("T")
LAST_INTERACTIONS = 10
Source = Database | AsyncSession


async def _run(source: Source, work: Callable[[Session], T]) -> T:
    """A Database reads on its fastest path (one worker-thread hop on SQLite); a session in use
    by the caller reads through that session."""
    if isinstance(source, Database):
        return await source.read(work)
    return await source.run_sync(work)


async def contacts_for_number(source: Source, e164: str) -> list[int]:
    """Contact ids sharing this number, the primary holder first."""
    return await _run(source, lambda s: _contacts_for_number(s, e164))


async def lookup_by_phone(
    source: Source, raw_number: str, default_region: str, *, today: date | None = None
) -> Card | None:
    return await _run(
        source, lambda s: _lookup_by_phone(s, raw_number, default_region, today=today)
    )


async def lookup_by_account(
    source: Source, reference: str, *, today: date | None = None
) -> Card | None:
    return await _run(source, lambda s: _lookup_by_account(s, reference, today=today))


async def card_for_contact(
    source: Source,
    contact_id: int,
    *,
    today: date | None = None,
    matched_number: str | None = None,
    matched_by: str = "contact",
) -> Card:
    return await _run(
        source,
        lambda s: _card_for_contact(
            s, contact_id, today=today, matched_number=matched_number, matched_by=matched_by
        ),
    )


# Statements are built once: SQLAlchemy memoises their cache keys, which keeps a card (eight
# small queries) well under a millisecond of Python work per query.
_contact, _phone, _link = Contact.__table__, Phone.__table__, ContactPhone.__table__
_debt, _payment, _promise = Debt.__table__, Payment.__table__, PromiseToPay.__table__
_interaction, _task = Interaction.__table__, Task.__table__
_plan, _instalment = Arrangement.__table__, Instalment.__table__
LAST_PLANS = 5

_CONTACTS_BY_NUMBER = (
    select(_link.c.contact_id)
    .join(_phone, _phone.c.id == _link.c.phone_id)
    .where(_phone.c.e164 == bindparam("e164"))
    .order_by(_link.c.is_primary.desc(), _link.c.contact_id)
)
_NAMES = select(
    _contact.c.id,
    _contact.c.first_name,
    _contact.c.last_name,
    _contact.c.company_name,
    _contact.c.kind,
).where(_contact.c.id.in_(bindparam("ids", expanding=True)))
_CONTACT_BY_ACCOUNT = (
    select(_debt.c.contact_id).where(_debt.c.reference == bindparam("reference")).limit(1)
)
_CONTACT = select(_contact).where(_contact.c.id == bindparam("cid"))
_PHONES = (
    select(_phone.c.e164, _phone.c.kind, _phone.c.do_not_call, _phone.c.dnc_reason)
    .join(_link, _link.c.phone_id == _phone.c.id)
    .where(_link.c.contact_id == bindparam("cid"))
    .order_by(_link.c.is_primary.desc(), _phone.c.id)
)
_DEBTS = (
    select(
        _debt.c.id,
        _debt.c.creditor,
        _debt.c.reference,
        _debt.c.principal,
        _debt.c.balance,
        _debt.c.currency,
        _debt.c.due_date,
        _debt.c.status,
    )
    .where(_debt.c.contact_id == bindparam("cid"))
    .order_by(_debt.c.id)
)
_PAYMENTS = (
    select(
        _payment.c.debt_id,
        _payment.c.amount,
        _payment.c.paid_on,
        _payment.c.method,
        _payment.c.reference,
    )
    .where(_payment.c.debt_id.in_(bindparam("ids", expanding=True)))
    .order_by(_payment.c.paid_on.desc(), _payment.c.id.desc())
    .limit(LAST_PAYMENTS)
)
_PROMISES = (
    select(
        _promise.c.id, _promise.c.debt_id, _promise.c.amount, _promise.c.due_on, _promise.c.status
    )
    .where(
        _promise.c.debt_id.in_(bindparam("ids", expanding=True)),
        _promise.c.status.in_([PromiseStatus.OPEN.value, PromiseStatus.BROKEN.value]),
    )
    .order_by(_promise.c.due_on.desc())
)
_PLANS = (
    select(_plan.c.id, _plan.c.debt_id, _plan.c.status, _plan.c.total, _plan.c.created_at)
    .where(
        _plan.c.debt_id.in_(bindparam("ids", expanding=True)),
        _plan.c.status != ArrangementStatus.CANCELLED.value,
    )
    .order_by(_plan.c.created_at.desc(), _plan.c.id.desc())
    .limit(LAST_PLANS)
)
_INSTALMENTS = (
    select(
        _instalment.c.arrangement_id,
        _instalment.c.seq,
        _instalment.c.amount,
        _instalment.c.due_on,
        _instalment.c.status,
        _instalment.c.paid,
    )
    .where(_instalment.c.arrangement_id.in_(bindparam("ids", expanding=True)))
    .order_by(_instalment.c.arrangement_id, _instalment.c.seq)
)
_INTERACTIONS = (
    select(
        _interaction.c.id,
        _interaction.c.kind,
        _interaction.c.direction,
        _interaction.c.started_at,
        _interaction.c.ended_at,
        _interaction.c.agent_id,
        _interaction.c.disposition,
        _interaction.c.notes,
        _interaction.c.recording_ref,
    )
    .where(_interaction.c.contact_id == bindparam("cid"))
    .order_by(_interaction.c.started_at.desc())
    .limit(LAST_INTERACTIONS)
)
_TASKS = (
    select(
        _task.c.id,
        _task.c.kind,
        _task.c.due_at,
        _task.c.owner_agent_id,
        _task.c.owner_queue,
        _task.c.note,
    )
    .where(_task.c.contact_id == bindparam("cid"), _task.c.status == TaskStatus.OPEN.value)
    .order_by(_task.c.due_at)
)


def _name(row: Any) -> str:
    company: str = row.company_name
    if row.kind == ContactKind.COMPANY:
        return company
    return " ".join(p for p in (row.first_name, row.last_name) if p) or company


def _contacts_for_number(session: Session, e164: str) -> list[int]:
    return [r[0] for r in session.connection().execute(_CONTACTS_BY_NUMBER, {"e164": e164})]


def _lookup_by_phone(
    session: Session, raw_number: str, default_region: str, *, today: date | None = None
) -> Card | None:
    e164 = try_normalise(raw_number, default_region)
    if e164 is None:
        return None
    contact_ids = _contacts_for_number(session, e164)
    if not contact_ids:
        return None
    card = _card_for_contact(
        session, contact_ids[0], today=today, matched_number=e164, matched_by="phone"
    )
    if len(contact_ids) > 1:
        names = session.connection().execute(_NAMES, {"ids": contact_ids[1:]})
        card = replace(card, other_contacts=tuple((r.id, _name(r)) for r in names))
    return card


def _lookup_by_account(
    session: Session, reference: str, *, today: date | None = None
) -> Card | None:
    contact_id = (
        session.connection()
        .execute(_CONTACT_BY_ACCOUNT, {"reference": reference})
        .scalar_one_or_none()
    )
    if contact_id is None:
        return None
    return _card_for_contact(session, contact_id, today=today, matched_by="account")


def _card_for_contact(
    session: Session,
    contact_id: int,
    *,
    today: date | None = None,
    matched_number: str | None = None,
    matched_by: str = "contact",
) -> Card:
    today = today or date.today()
    db = session.connection()
    contact = db.execute(_CONTACT, {"cid": contact_id}).one_or_none()
    if contact is None:
        raise LookupError(f"no contact with id {contact_id}")
    key = {"cid": contact_id}
    phones = db.execute(_PHONES, key).all()
    debts = db.execute(_DEBTS, key).all()
    debt_ids = [d.id for d in debts]
    payments: list[CardPayment] = []
    promises: list[CardPromise] = []
    plans: list[CardPlan] = []
    if debt_ids:
        payments = [
            CardPayment(r.debt_id, r.amount, r.paid_on, r.method, r.reference)
            for r in db.execute(_PAYMENTS, {"ids": debt_ids})
        ]
        plan_rows = db.execute(_PLANS, {"ids": debt_ids}).all()
        instalments: dict[int, list[CardInstalment]] = {}
        if plan_rows:
            for r in db.execute(_INSTALMENTS, {"ids": [p.id for p in plan_rows]}):
                instalments.setdefault(r.arrangement_id, []).append(
                    CardInstalment(r.seq, r.amount, r.due_on, str(r.status), r.paid)
                )
        plans = [
            CardPlan(
                p.id,
                p.debt_id,
                str(p.status),
                p.total,
                p.created_at,
                tuple(instalments.get(p.id, ())),
            )
            for p in plan_rows
        ]
        promises = [
            CardPromise(r.id, r.debt_id, r.amount, r.due_on, str(r.status))
            for r in db.execute(_PROMISES, {"ids": debt_ids})
        ]
    interactions = db.execute(_INTERACTIONS, key)
    tasks = db.execute(_TASKS, key)
    address = ", ".join(
        p
        for p in (
            contact.address_line,
            contact.city,
            contact.region,
            contact.postal_code,
            contact.country,
        )
        if p
    )
    return Card(
        contact_id=contact.id,
        name=_name(contact),
        kind=str(contact.kind),
        external_ref=contact.external_ref,
        language=contact.language,
        address=address,
        timezone=contact.timezone,
        segment=contact.segment,
        vip=contact.vip,
        notes=contact.notes,
        matched_number=matched_number,
        matched_by=matched_by,
        phones=tuple(CardPhone(r.e164, str(r.kind), r.do_not_call, r.dnc_reason) for r in phones),
        debts=tuple(
            CardDebt(
                d.id,
                d.creditor,
                d.reference,
                d.principal,
                d.balance,
                d.currency,
                d.due_date,
                max(0, (today - d.due_date).days),
                str(d.status),
            )
            for d in debts
        ),
        payments=tuple(payments),
        promises=tuple(promises),
        plans=tuple(plans),
        interactions=tuple(
            CardInteraction(
                r.id,
                str(r.kind),
                str(r.direction),
                r.started_at,
                r.ended_at,
                r.agent_id,
                r.disposition,
                r.notes,
                public_recording_ref(r.recording_ref),  # never an absolute server path
            )
            for r in interactions
        ),
        tasks=tuple(
            CardTask(r.id, str(r.kind), r.due_at, r.owner_agent_id, r.owner_queue, r.note)
            for r in tasks
        ),
    )
