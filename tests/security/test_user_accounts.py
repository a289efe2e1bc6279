"""Finding 12: creating a user took a password longer than sign-in reads (the user could never
sign in), a password of spaces, a NUL in a user name, case twins (`Olga` beside `olga`),
look-alike names mixing Latin and Cyrillic, and endpoints with CR/LF, which reach Asterisk in
AMI headers (a header injection). One validation below the web layer (crm_core.users) now
guards every path that creates or edits users."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_core.models import User

GOOD = "correct horse battery staple"


async def _create(client, csrf, **fields):
    body = {"username": "newbie", "password": GOOD, "role": "operator", **fields}
    return await client.post("/api/admin/users", json=body, headers={"X-CSRF-Token": csrf})


async def _usernames(env) -> list[str]:
    async with env.db.session() as session:
        return list((await session.execute(select(User.username))).scalars())


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"password": "x" * 257}, "password"),
        ({"password": " " * 12}, "password"),
        ({"password": "\t\n " * 5}, "password"),
        ({"password": "abcdefghij\x00k"}, "password"),
        ({"username": "ol\x00ga"}, "username"),
        ({"username": "olga\n"}, "username"),
        ({"username": "ol ga"}, "username"),
        ({"username": "оlga"}, "username"),  # Cyrillic о, Latin lga
        ({"username": "аdmin"}, "username"),  # Cyrillic а
        ({"username": "x" * 65}, "username"),
        ({"username": {"a": 1}}, "username"),
        ({"endpoint": "PJSIP/1001\r\nAction: Originate"}, "endpoint"),
        ({"endpoint": "PJSIP/1001\nChannel: x"}, "endpoint"),
        ({"endpoint": "PJSIP/10 01"}, "endpoint"),
        ({"full_name": "Olga\r\nEvil"}, "full_name"),
        ({"full_name": ["Olga"]}, "full_name"),
    ],
)
async def test_bad_user_fields_are_refused(client, env, sign_in, fields, field) -> None:
    csrf = await sign_in(client, "admin")
    before = await _usernames(env)
    response = await _create(client, csrf, **fields)
    assert response.status == 422, await response.text()
    assert (await response.json())["error"]["details"]["field"] == field
    assert await _usernames(env) == before


async def test_case_twins_and_look_alikes_of_existing_users_are_refused(client, env, sign_in):
    csrf = await sign_in(client, "admin")
    assert (await _create(client, csrf, username="Olga")).status == 201
    for twin in ("olga", "OLGA", "Ｏｌｇａ", "ОLGА", "Op1", "ADMIN", "аdмін"):
        response = await _create(client, csrf, username=twin)
        assert response.status in (409, 422), (twin, await response.text())
        assert (await response.json())["error"]["details"]["field"] == "username"
    assert (await _create(client, csrf, username="Ольга")).status == 201  # one script: fine


async def test_edits_are_checked_too_and_a_created_user_can_sign_in(client, env, sign_in):
    csrf = await sign_in(client, "admin")
    headers = {"X-CSRF-Token": csrf}
    url = f"/api/admin/users/{env.users['op1']}"
    for body in (
        {"endpoint": "Local/agent1@cb-agents\r\nAction: Hangup"},
        {"password": "y" * 300},
        {"password": "          "},
        {"full_name": "x\x00"},
    ):
        response = await client.patch(url, json=body, headers=headers)
        assert response.status == 422, (body, await response.text())
    longest = "p" * 256
    created = await _create(client, csrf, username="maxpass", password=longest)
    assert created.status == 201, await created.text()
    await client.post("/logout", headers=headers)
    await sign_in(client, "maxpass", longest)  # the longest password admitted signs in
