"""Leftovers of the probe, sign-in. (1) The sign-in form's CSRF token was a double submit: any
value passed as long as the `cb_login_csrf` cookie held the same, so whoever could plant that
cookie (a sibling subdomain, a plain-HTTP hop) could sign a victim's browser in to an account of
their choosing, and a captured form could be replayed at will. Now the token is bound to a
pre-session under the server's secret, expires, and is good once: a forged, lifted, stale or
replayed token is 403. (2) A flood of refused sign-ins wrote one audit row per attempt without
bound; now past 20 per address per minute the rest are counted in one summary row."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from agent_desktop.login_guard import COALESCE_AFTER, LOGIN_TOKEN_TTL_S
from agent_desktop.security import LOGIN_CSRF_COOKIE
from agent_desktop.sessions import COOKIE
from tests.agent_desktop.conftest import PASSWORD
from tests.security.support import audit_rows

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _form(client: TestClient) -> tuple[str, str]:
    """A fresh sign-in form: (the pre-session cookie's value, the form's token)."""
    page = await client.get("/login")
    token = _TOKEN.search(await page.text())
    assert token is not None
    return page.cookies[LOGIN_CSRF_COOKIE].value, token.group(1)


async def _post(
    client: TestClient,
    pre_session: str,
    token: str,
    username: str = "op1",
    password: str = PASSWORD,
) -> int:
    client.session.cookie_jar.clear()  # exactly the cookie given, as an attacker would plant it
    response = await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={pre_session}"},
        allow_redirects=False,
    )
    signed_in = COOKIE in response.cookies
    assert signed_in == (response.status == 302)
    return response.status


async def test_a_planted_cookie_and_matching_token_do_not_sign_in(client, env) -> None:
    forged = "A" * 32
    assert await _post(client, forged, forged) == 403
    assert await _post(client, "x", "x") == 403
    pre_session, token = await _form(client)
    tampered = token[:-1] + ("1" if token.endswith("0") else "0")
    assert await _post(client, pre_session, tampered) == 403  # its MAC changed
    assert await _post(client, pre_session, token) == 302  # the real form still works


async def test_a_token_is_good_once(client, env) -> None:
    pre_session, token = await _form(client)
    assert await _post(client, pre_session, token, password="wrong password") == 401
    assert await _post(client, pre_session, token) == 403  # replayed with the right password
    assert await _post(client, *await _form(client)) == 302


async def test_a_token_is_bound_to_its_pre_session(client, env) -> None:
    _victim, token = await _form(client)
    client.session.cookie_jar.clear()
    attacker, _ = await _form(client)
    assert await _post(client, attacker, token) == 403


async def test_a_stale_form_is_refused_and_a_fresh_one_works(client, env) -> None:
    pre_session, token = await _form(client)
    env.clock.advance(LOGIN_TOKEN_TTL_S + 1)
    assert await _post(client, pre_session, token) == 403
    assert await _post(client, *await _form(client)) == 302


async def test_a_flood_of_refused_sign_ins_is_coalesced_per_address_and_minute(client, env) -> None:
    flood = COALESCE_AFTER + 15
    for n in range(flood):
        assert await _post(client, *await _form(client), f"user{n}", "wrong password") == 401
    rows = await audit_rows(env, "login_failed")
    assert len(rows) == COALESCE_AFTER + 1
    assert [r.detail["username"] for r in rows[:-1]] == [f"user{n}" for n in range(20)]
    summary = rows[-1]
    assert summary.remote_addr == "127.0.0.1" and summary.user_id is None
    assert summary.detail["reason"] == "coalesced"
    assert summary.detail["count"] == flood - COALESCE_AFTER  # every failure is still counted
    assert summary.detail["reasons"] == {"unknown_user": flood - COALESCE_AFTER}
    assert summary.detail["usernames"][-1] == f"user{flood - 1}"
    assert "wrong password" not in str(summary.detail)

    env.clock.advance(60)  # a new minute: audited one by one again
    assert await _post(client, *await _form(client), "op2", "wrong password") == 401
    rows = await audit_rows(env, "login_failed")
    assert len(rows) == COALESCE_AFTER + 2
    assert rows[-1].detail["username"] == "op2" and rows[-1].detail["reason"] == "password"
