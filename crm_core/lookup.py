"""Finding the debtor behind a caller, fast: the card must reach the operator before the ring."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.card import (
    Card,
    CardDebt,
    CardInteraction,
    CardPayment,
    CardPhone,
    CardPromise,
    CardTask,
)
from crm_core.models import (
    Contact,
    ContactPhone,
    Debt,
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
LAST_INTERACTIONS = 10


async def contacts_for_number(session: AsyncSession, e164: str) -> list[int]:
    """Contact ids sharing this number, the primary holder first."""
    rows = await session.execute(
        select(ContactPhone.contact_id)
        .join(Phone, Phone.id == ContactPhone.phone_id)
        .where(Phone.e164 == e164)
        .order_by(ContactPhone.is_primary.desc(), ContactPhone.contact_id)
    )
    return [r[0] for r in rows]


async def lookup_by_phone(
    session: AsyncSession, raw_number: str, default_region: str, *, today: date | None = None
) -> Card | None:
    e164 = try_normalise(raw_number, default_region)
    if e164 is None:
        return None
    contact_ids = await contacts_for_number(session, e164)
    if not contact_ids:
        return None
    card = await card_for_contact(
        session, contact_ids[0], today=today, matched_number=e164, matched_by="phone"
    )
    if len(contact_ids) > 1:
        names = await session.execute(
            select(Contact.id, Contact.first_name, Contact.last_name, Contact.company_name).where(
                Contact.id.in_(contact_ids[1:])
            )
        )
        others = tuple(
            (r.id, " ".join(p for p in (r.first_name, r.last_name) if p) or r.company_name)
            for r in names
        )
        card = _with_others(card, others)
    return card


async def lookup_by_account(
    session: AsyncSession, reference: str, *, today: date | None = None
) -> Card | None:
    row = await session.execute(select(Debt.contact_id).where(Debt.reference == reference).limit(1))
    contact_id = row.scalar_one_or_none()
    if contact_id is None:
        return None
    return await card_for_contact(session, contact_id, today=today, matched_by="account")


async def card_for_contact(
    session: AsyncSession,
    contact_id: int,
    *,
    today: date | None = None,
    matched_number: str | None = None,
    matched_by: str = "contact",
) -> Card:
    today = today or date.today()
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise LookupError(f"no contact with id {contact_id}")
    phones = (
        await session.execute(
            select(Phone.e164, Phone.kind, Phone.do_not_call, Phone.dnc_reason)
            .join(ContactPhone, ContactPhone.phone_id == Phone.id)
            .where(ContactPhone.contact_id == contact_id)
            .order_by(ContactPhone.is_primary.desc(), Phone.id)
        )
    ).all()
    debts = (
        (await session.execute(select(Debt).where(Debt.contact_id == contact_id).order_by(Debt.id)))
        .scalars()
        .all()
    )
    debt_ids = [d.id for d in debts]
    payments: list[CardPayment] = []
    promises: list[CardPromise] = []
    if debt_ids:
        payment_rows = await session.execute(
            select(Payment.debt_id, Payment.amount, Payment.paid_on, Payment.method)
            .where(Payment.debt_id.in_(debt_ids))
            .order_by(Payment.paid_on.desc(), Payment.id.desc())
            .limit(LAST_PAYMENTS)
        )
        payments = [CardPayment(r.debt_id, r.amount, r.paid_on, r.method) for r in payment_rows]
        promise_rows = await session.execute(
            select(
                PromiseToPay.id,
                PromiseToPay.debt_id,
                PromiseToPay.amount,
                PromiseToPay.due_on,
                PromiseToPay.status,
            )
            .where(
                PromiseToPay.debt_id.in_(debt_ids),
                PromiseToPay.status.in_([PromiseStatus.OPEN, PromiseStatus.BROKEN]),
            )
            .order_by(PromiseToPay.due_on.desc())
        )
        promises = [
            CardPromise(r.id, r.debt_id, r.amount, r.due_on, str(r.status)) for r in promise_rows
        ]
    interaction_rows = await session.execute(
        select(
            Interaction.id,
            Interaction.kind,
            Interaction.direction,
            Interaction.started_at,
            Interaction.ended_at,
            Interaction.agent_id,
            Interaction.disposition,
            Interaction.notes,
            Interaction.recording_ref,
        )
        .where(Interaction.contact_id == contact_id)
        .order_by(Interaction.started_at.desc())
        .limit(LAST_INTERACTIONS)
    )
    task_rows = await session.execute(
        select(Task.id, Task.kind, Task.due_at, Task.owner_agent_id, Task.owner_queue, Task.note)
        .where(Task.contact_id == contact_id, Task.status == TaskStatus.OPEN)
        .order_by(Task.due_at)
    )
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
        name=contact.display_name,
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
                d.days_past_due(today),
                str(d.status),
            )
            for d in debts
        ),
        payments=tuple(payments),
        promises=tuple(promises),
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
                r.recording_ref,
            )
            for r in interaction_rows
        ),
        tasks=tuple(
            CardTask(r.id, str(r.kind), r.due_at, r.owner_agent_id, r.owner_queue, r.note)
            for r in task_rows
        ),
    )


def _with_others(card: Card, others: tuple[tuple[int, str], ...]) -> Card:
    from dataclasses import replace

    return replace(card, other_contacts=others)
