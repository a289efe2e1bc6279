"""Sign-in, sessions, CSRF, throttling and security headers, through the real HTTP stack."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from agent_desktop.throttle import FREE_FAILURES

PASSWORD = "correct horse battery"  # as seeded by conftest


async def test_pages_carry_security_headers(client: TestClient) -> None:
    response = await client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    html = await response.text()
    assert "<script>" not in html and " style=" not in html  # no inline script or style


async def test_sign_in_sets_a_strict_httponly_session_cookie(client: TestClient) -> None:
    page = await client.get("/login")
    token = (await page.text()).split('name="csrf_token" value="')[1].split('"')[0]
    response = await client.post(
        "/login",
        data={"username": "op1", "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 302
    assert response.headers["Location"] == "/"
    cookie = response.cookies["cb_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    sid, _, signature = cookie.value.partition(".")
    assert sid and len(signature) == 32


async def test_supervisors_land_on_their_panel(client: TestClient) -> None:
    page = await client.get("/login")
    token = (await page.text()).split('name="csrf_token" value="')[1].split('"')[0]
    response = await client.post(
        "/login",
        data={"username": "sup", "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/supervisor"


async def test_wrong_password_is_refused_and_repeated_failures_are_throttled(
    client: TestClient,
) -> None:
    for attempt in range(FREE_FAILURES + 1):
        page = await client.get("/login")
        token = (await page.text()).split('name="csrf_token" value="')[1].split('"')[0]
        response = await client.post(
            "/login", data={"username": "op1", "password": "nope", "csrf_token": token}
        )
        assert response.status == 401, attempt
    page = await client.get("/login")
    token = (await page.text()).split('name="csrf_token" value="')[1].split('"')[0]
    response = await client.post(
        "/login", data={"username": "op1", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status == 429  # even the right password waits out the delay
    assert int(response.headers["Retry-After"]) >= 1


async def test_sign_in_without_its_form_token_is_refused(client: TestClient) -> None:
    response = await client.post("/login", data={"username": "op1", "password": PASSWORD})
    assert response.status == 403


async def test_state_changes_need_the_csrf_token(client: TestClient, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    missing = await client.post("/desk/agent", json={"action": "login"})
    assert missing.status == 403
    assert (await missing.json())["error"]["code"] == "auth.csrf"
    wrong = await client.post(
        "/desk/agent", json={"action": "login"}, headers={"X-CSRF-Token": csrf + "x"}
    )
    assert wrong.status == 403
    right = await client.post(
        "/desk/agent", json={"action": "login"}, headers={"X-CSRF-Token": csrf}
    )
    assert right.status == 200, await right.text()


async def test_forged_or_ended_sessions_are_not_signed_in(client: TestClient, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    assert (await client.get("/api/me")).status == 200
    response = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 302
    me = await client.get("/api/me")
    assert me.status == 401
    assert (await me.json())["error"]["code"] == "auth.not_signed_in"
    client.session.cookie_jar.update_cookies({"cb_session": "forged.0123456789abcdef"})
    assert (await client.get("/api/me")).status == 401


async def test_signed_out_desk_redirects_to_sign_in(client: TestClient) -> None:
    response = await client.get("/", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/login"
