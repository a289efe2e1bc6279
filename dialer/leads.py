"""Loading a campaign's leads from crm_core: debts, their debtor's numbers, callbacks due and
broken promises, as plain `Lead`s for filtering, priority and the rules. A broken instalment of
a payment plan counts as a broken promise: the debt comes before the others (priority_key)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import or_, select

from crm_core.db import Database
from crm_core.models import (
    Arrangement,
    Contact,
    ContactPhone,
    Debt,
    Instalment,
    InstalmentStatus,
    Phone,
    PromiseStatus,
    PromiseToPay,
    Task,
    TaskKind,
    TaskStatus,
)
from dialer.campaign import Lead, LeadPhone
from dialer.compliance import DoNotCall
from dialer.settings import CampaignSettings
from dialer.tables import DoNotCallRow


async def load_leads(db: Database, settings: CampaignSettings, now: datetime) -> list[Lead]:
    """Every debt the campaign's filter selects (the cheap parts of the filter run in SQL)."""
    f = settings.filter
    # ties in priority keep this order (debt id): the paged window (dialer/lead_window.py) too
    query = select(Debt, Contact).join(Contact, Contact.id == Debt.contact_id).order_by(Debt.id)
    if f.statuses:
        query = query.where(Debt.status.in_(sorted(f.statuses)))
    if f.creditors:
        query = query.where(Debt.creditor.in_(sorted(f.creditors)))
    if f.segments:
        query = query.where(Debt.segment.in_(sorted(f.segments)))
    if f.debt_ids:
        query = query.where(Debt.id.in_(sorted(f.debt_ids)))
    async with db.session() as session:
        rows = (await session.execute(query)).all()
        contact_ids = sorted({contact.id for _, contact in rows})
        debt_ids = sorted({debt.id for debt, _ in rows})
        phone_rows = (
            await session.execute(
                select(ContactPhone.contact_id, Phone.e164, Phone.do_not_call)
                .join(Phone, Phone.id == ContactPhone.phone_id)
                .where(ContactPhone.contact_id.in_(contact_ids))
                .order_by(ContactPhone.contact_id, ContactPhone.is_primary.desc(), Phone.id)
            )
        ).all()
        callbacks = (
            await session.execute(
                select(Task.contact_id, Task.debt_id, Task.due_at).where(
                    Task.kind == TaskKind.CALLBACK,
                    Task.status == TaskStatus.OPEN,
                    Task.contact_id.in_(contact_ids),
                )
            )
        ).all()
        broken = set(
            (
                await session.scalars(
                    select(PromiseToPay.debt_id).where(
                        PromiseToPay.status == PromiseStatus.BROKEN,
                        PromiseToPay.debt_id.in_(debt_ids),
                    )
                )
            ).all()
        )
        broken.update(
            (
                await session.scalars(
                    select(Arrangement.debt_id)
                    .join(Instalment, Instalment.arrangement_id == Arrangement.id)
                    .where(
                        Instalment.status == InstalmentStatus.BROKEN,
                        Arrangement.debt_id.in_(debt_ids),
                    )
                )
            ).all()
        )
    phones: dict[int, list[LeadPhone]] = defaultdict(list)
    for contact_id, e164, dnc in phone_rows:
        phones[contact_id].append(LeadPhone(e164, dnc))
    due: dict[tuple[int, int | None], datetime] = {}
    for task_contact, callback_debt, due_at in callbacks:
        assert task_contact is not None  # the query asked for these contacts' tasks
        key = (task_contact, callback_debt)
        due[key] = min(due_at, due.get(key, due_at))
    today = now.date()
    leads = []
    for debt, contact in rows:
        callback = [d for k, d in due.items() if k[0] == contact.id and k[1] in (debt.id, None)]
        lead = lead_of(
            debt,
            contact,
            today=today,
            phones=phones.get(contact.id, ()),
            callback_due_at=min(callback, default=None),
            broken_promise=debt.id in broken,
        )
        if f.matches(lead):
            leads.append(lead)
    return leads


def lead_of(
    debt: Debt,
    contact: Contact,
    *,
    today: date,
    phones: Iterable[LeadPhone],
    callback_due_at: datetime | None,
    broken_promise: bool,
) -> Lead:
    """What the dialer knows of one debt, as the full load and the paged window both read it."""
    return Lead(
        debt_id=debt.id,
        contact_id=contact.id,
        creditor=debt.creditor,
        balance=debt.balance,
        days_past_due=debt.days_past_due(today),
        status=str(debt.status),
        segment=debt.segment or contact.segment,
        address_zone=contact.timezone,
        phones=tuple(phones),
        callback_due_at=callback_due_at,
        broken_promise=broken_promise,
    )


async def load_do_not_call(db: Database, campaign_id: int) -> DoNotCall:
    """The global list and this campaign's list."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(DoNotCallRow.phone, DoNotCallRow.campaign_id).where(
                    or_(DoNotCallRow.campaign_id.is_(None), DoNotCallRow.campaign_id == campaign_id)
                )
            )
        ).all()
    return DoNotCall(
        frozenset(phone for phone, campaign in rows if campaign is None),
        frozenset(phone for phone, campaign in rows if campaign is not None),
    )
