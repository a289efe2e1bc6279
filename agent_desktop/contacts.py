"""Contact search, quick creation for an unknown caller, and audited card views."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import audit
from crm_core.card import Card
from crm_core.config import PrivacySettings
from crm_core.lookup import card_for_contact
from crm_core.models import Contact, ContactPhone, Debt, Phone
from crm_core.phones import InvalidPhoneNumber, normalise, try_normalise
from crm_core.search_scope import long_enough, mask_number

SEARCH_LIMIT = 25


class QueryTooShort(ValueError):
    """Too little of a name or a number, and not an exact account reference."""


@dataclass(frozen=True, slots=True)
class ContactHit:
    """What identifies a caller, and no more: name, masked numbers, debt references."""

    contact_id: int
    name: str
    external_ref: str | None
    phones: tuple[str, ...]
    references: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "name": self.name,
            "phones": [mask_number(p) for p in self.phones],
            "references": list(self.references),
        }


async def search(
    session: AsyncSession,
    query: str,
    default_region: str,
    *,
    limit: int = SEARCH_LIMIT,
    privacy: PrivacySettings | None = None,
) -> list[ContactHit]:
    """By phone number (any format), by debt or contact reference, or by name. A query shorter
    than the `[privacy]` minimum is searched as an exact reference only (`QueryTooShort` if it
    is none)."""
    privacy = privacy or PrivacySettings()
    query = query.strip()
    exact_only = not long_enough(query, privacy)
    if not query:
        raise QueryTooShort(query)
    ids: list[int] = []
    e164 = try_normalise(query, default_region) if any(c.isdigit() for c in query) else None
    if e164 is not None and not exact_only:
        rows = await session.execute(
            select(ContactPhone.contact_id)
            .join(Phone, Phone.id == ContactPhone.phone_id)
            .where(Phone.e164 == e164)
            .limit(limit)
        )
        ids += [r[0] for r in rows]
    rows = await session.execute(
        select(Debt.contact_id).where(Debt.reference == query).limit(limit)
    )
    ids += [r[0] for r in rows]
    if exact_only:
        rows = await session.execute(
            select(Contact.id).where(Contact.external_ref == query).limit(limit)
        )
        ids += [r[0] for r in rows]
        if not ids:
            raise QueryTooShort(query)
    else:
        pattern = f"%{_escape_like(query.lower())}%"
        full_name = func.lower(Contact.first_name + " " + Contact.last_name)
        rows = await session.execute(
            select(Contact.id)
            .where(
                or_(
                    Contact.external_ref == query,
                    full_name.like(pattern, escape="\\"),
                    func.lower(Contact.last_name).like(pattern, escape="\\"),
                    func.lower(Contact.company_name).like(pattern, escape="\\"),
                )
            )
            .order_by(Contact.last_name, Contact.first_name)
            .limit(limit)
        )
        ids += [r[0] for r in rows]
    unique = list(dict.fromkeys(ids))[:limit]
    return await _hits(session, unique)


async def _hits(session: AsyncSession, ids: list[int]) -> list[ContactHit]:
    if not ids:
        return []
    contacts = {
        c.id: c
        for c in (await session.execute(select(Contact).where(Contact.id.in_(ids)))).scalars()
    }
    phones: dict[int, list[str]] = {}
    for contact_id, e164 in await session.execute(
        select(ContactPhone.contact_id, Phone.e164)
        .join(Phone, Phone.id == ContactPhone.phone_id)
        .where(ContactPhone.contact_id.in_(ids))
    ):
        phones.setdefault(contact_id, []).append(e164)
    refs: dict[int, list[str]] = {}
    for contact_id, reference in await session.execute(
        select(Debt.contact_id, Debt.reference).where(Debt.contact_id.in_(ids))
    ):
        refs.setdefault(contact_id, []).append(reference)
    return [
        ContactHit(
            i,
            contacts[i].display_name,
            contacts[i].external_ref,
            tuple(phones.get(i, ())),
            tuple(refs.get(i, ())),
        )
        for i in ids
        if i in contacts
    ]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ContactInputError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NumberTaken(ContactInputError):
    """The number is an existing contact's: linking it to a new one needs the operator's
    explicit confirmation (`confirm_shared_number`), so a debtor's number is not quietly given
    to a stranger (and their calls then pop the wrong card)."""

    def __init__(self, e164: str) -> None:
        super().__init__(
            "phone",
            f"{e164} belongs to an existing contact: search for it, or confirm that this is"
            " another person who shares the number",
        )
        self.e164 = e164


async def create_contact(
    session: AsyncSession,
    *,
    first_name: str,
    last_name: str,
    phone: str,
    default_region: str,
    now: datetime,
    user_id: int,
    remote_addr: str,
    confirm_shared_number: bool = False,
) -> int:
    """A new person with one phone number. A number already known as an existing contact's is
    refused (`NumberTaken`) unless the operator confirms that the new person shares it; the
    confirmation is audited with the contacts it is shared with."""
    for field, value in (("first_name", first_name), ("last_name", last_name), ("phone", phone)):
        if not isinstance(value, str):  # {"a": 1} is not a name
            raise ContactInputError(field, "a text")
        if any(unicodedata.category(c) == "Cc" for c in value):
            raise ContactInputError(field, "no control characters")
    first_name, last_name = first_name.strip()[:100], last_name.strip()[:100]
    if not first_name and not last_name:
        raise ContactInputError("last_name", "a name is needed")
    try:
        e164 = normalise(phone, default_region)
    except InvalidPhoneNumber as exc:
        raise ContactInputError("phone", exc.reason) from exc
    contact = Contact(first_name=first_name, last_name=last_name, created_at=now, updated_at=now)
    session.add(contact)
    number = (await session.execute(select(Phone).where(Phone.e164 == e164))).scalar_one_or_none()
    owners: list[int] = []
    if number is not None:
        rows = await session.execute(
            select(ContactPhone.contact_id).where(ContactPhone.phone_id == number.id)
        )
        owners = sorted({row[0] for row in rows})
    if owners and not confirm_shared_number:
        raise NumberTaken(e164)
    if number is None:
        number = Phone(e164=e164, raw=phone.strip()[:40])
        session.add(number)
    await session.flush()
    session.add(
        ContactPhone(contact_id=contact.id, phone_id=number.id, is_primary=True, source="desk")
    )
    audit.record(
        session,
        at=now,
        user_id=user_id,
        action="create",
        object_type="contact",
        object_id=contact.id,
        remote_addr=remote_addr,
        **({"shared_number": e164, "shared_with": owners} if owners else {}),
    )
    await session.commit()
    return contact.id


async def view_card(
    session: AsyncSession,
    contact_id: int,
    *,
    now: datetime,
    user_id: int,
    remote_addr: str,
    reason: str,
    linkedid: str = "",
    **context: str,
) -> Card:
    """The card, with the look written to the audit log in the same transaction. `reason` (and
    the call's `linkedid`) come from the server's own context, never from the client."""
    card = await card_for_contact(session, contact_id, today=now.date())
    audit.record(
        session,
        at=now,
        user_id=user_id,
        action="view",
        object_type="contact",
        object_id=contact_id,
        remote_addr=remote_addr,
        reason=reason,
        **({"linkedid": linkedid} if linkedid else {}),
        **context,  # a search's purpose and query
    )
    await session.commit()
    return card
