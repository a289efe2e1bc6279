"""Finding 13: quick creation of a contact stored `{"a": 1}` as a name (any JSON value was
turned into text), and linked an existing debtor's number to a new contact without a word, so
the debtor's next call could pop a stranger's card. Now names, phone and linkedid must be text,
and a number that is an existing contact's is refused with 409 `contact.number_taken` unless the
operator confirms (`confirm_shared_number`); the confirmed link is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_core.models import Contact, ContactPhone, Phone
from tests.agent_desktop.conftest import CALLER
from tests.security.support import audit_rows


async def _create(client, csrf, **body):
    return await client.post("/api/contacts", json=body, headers={"X-CSRF-Token": csrf})


async def _contacts(env) -> int:
    async with env.db.session() as session:
        return len((await session.execute(select(Contact.id))).all())


@pytest.mark.parametrize(
    "body",
    [
        {"first_name": {"a": 1}, "last_name": "New", "phone": "07911 123999"},
        {"first_name": "Nina", "last_name": ["New"], "phone": "07911 123999"},
        {"first_name": "Nina", "last_name": 42, "phone": "07911 123999"},
        {"first_name": "Nina", "last_name": "New", "phone": 7911123999},
        {"first_name": "Nina", "last_name": "New", "phone": {"e164": "+447911123999"}},
        {"first_name": "Nina", "last_name": "New", "phone": "07911 123999", "linkedid": {}},
        {"first_name": "Ni\x00na", "last_name": "New", "phone": "07911 123999"},
        {"first_name": True, "last_name": "New", "phone": "07911 123999"},
    ],
)
async def test_names_and_numbers_must_be_text(client, env, sign_in, body) -> None:
    csrf = await sign_in(client, "op1")
    before = await _contacts(env)
    response = await _create(client, csrf, **body)
    assert response.status == 422, await response.text()
    assert await _contacts(env) == before


async def test_an_existing_debtors_number_needs_an_explicit_confirmation(client, env, sign_in):
    csrf = await sign_in(client, "op1")
    before = await _contacts(env)
    refused = await _create(client, csrf, first_name="Stranger", last_name="X", phone="07911123456")
    assert refused.status == 409, await refused.text()
    error = (await refused.json())["error"]
    assert error["code"] == "contact.number_taken"
    assert error["details"] == {"field": "phone", "confirm_with": "confirm_shared_number"}
    assert "existing contact" in error["message"] and CALLER in error["message"]
    assert await _contacts(env) == before
    not_quite = await _create(
        client,
        csrf,
        first_name="Stranger",
        last_name="X",
        phone="07911123456",
        confirm_shared_number="yes",
    )
    assert not_quite.status == 422

    confirmed = await _create(
        client,
        csrf,
        first_name="Stranger",
        last_name="X",
        phone="+44 7911 123456",
        confirm_shared_number=True,
    )
    assert confirmed.status == 201, await confirmed.text()
    new_id = (await confirmed.json())["contact_id"]
    async with env.db.session() as session:
        owners = (
            await session.execute(
                select(ContactPhone.contact_id)
                .join(Phone, Phone.id == ContactPhone.phone_id)
                .where(Phone.e164 == CALLER)
            )
        ).all()
    assert sorted(row[0] for row in owners) == sorted([env.contact_id, new_id])
    (created,) = [row for row in await audit_rows(env, "create") if row.object_type == "contact"]
    assert created.object_id == str(new_id)
    assert created.detail["shared_number"] == CALLER
    assert created.detail["shared_with"] == [env.contact_id]


async def test_a_new_number_needs_no_confirmation(client, env, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    response = await _create(client, csrf, first_name="Nina", last_name="New", phone="07911123999")
    assert response.status == 201, await response.text()
