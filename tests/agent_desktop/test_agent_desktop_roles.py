"""Every page, endpoint and websocket topic checks the role; errors carry stable codes."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from agent_desktop.app import API_ROUTES

SUPERVISOR_ONLY = ["/supervisor", "/wallboard", "/supervisor/state", "/api/agents", "/api/queues"]
ADMIN_ONLY = ["/api/admin/users", "/api/admin/skills", "/api/admin/queues"]


async def codes(client: TestClient, paths: list[str]) -> dict[str, int]:
    return {path: (await client.get(path)).status for path in paths}


async def test_signed_out_api_calls_get_a_stable_json_error(client: TestClient) -> None:
    for path in ["/api/me", "/api/contacts?q=ab", "/api/agents", "/api/admin/users"]:
        response = await client.get(path)
        assert response.status == 401, path
        assert (await response.json())["error"]["code"] == "auth.not_signed_in"


async def test_operators_cannot_open_supervisor_or_admin_endpoints(client, sign_in) -> None:
    await sign_in(client, "op1")
    assert set((await codes(client, SUPERVISOR_ONLY + ADMIN_ONLY)).values()) == {403}
    body = await (await client.get("/api/agents")).json()
    assert body["error"]["code"] == "auth.forbidden"


async def test_supervisors_see_panels_but_do_not_administer(client, sign_in) -> None:
    await sign_in(client, "sup")
    assert set((await codes(client, SUPERVISOR_ONLY)).values()) == {200}
    assert set((await codes(client, ADMIN_ONLY)).values()) == {403}


async def test_operators_cannot_listen_to_panel_topics(client, sign_in) -> None:
    await sign_in(client, "op1")
    origin = str(client.make_url("/")).rstrip("/")
    response = await client.get(
        "/ws?page=panel",
        headers={
            "Origin": origin,
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "auth.forbidden"


async def test_websockets_from_another_site_are_refused(client, sign_in) -> None:
    await sign_in(client, "sup")
    response = await client.get(
        "/ws?page=panel",
        headers={
            "Origin": "https://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "auth.bad_origin"


async def test_admins_manage_users_skills_and_queues(client, env, sign_in) -> None:
    csrf = await sign_in(client, "admin")
    headers = {"X-CSRF-Token": csrf}
    skill = await client.post("/api/admin/skills", json={"name": "collections"}, headers=headers)
    assert skill.status == 201
    queue = await client.post(
        "/api/admin/queues",
        json={
            "name": "collections",
            "required_skills": [{"skill": "collections", "min_level": 50}],
            "sl_threshold_s": 20,
        },
        headers=headers,
    )
    assert queue.status == 201, await queue.text()
    weak = await client.post(
        "/api/admin/users", json={"username": "op3", "password": "short"}, headers=headers
    )
    assert weak.status == 422 and (await weak.json())["error"]["details"]["field"] == "password"
    created = await client.post(
        "/api/admin/users",
        json={
            "username": "op3",
            "password": "a long enough one",
            "role": "operator",
            "language": "ru",
            "endpoint": "Local/agent3@cb-agents",
        },
        headers=headers,
    )
    assert created.status == 201
    user_id = (await created.json())["id"]
    duplicate = await client.post(
        "/api/admin/users",
        json={"username": "op3", "password": "a long enough one"},
        headers=headers,
    )
    assert duplicate.status == 409 and (await duplicate.json())["error"]["code"] == "conflict"
    patched = await client.patch(
        f"/api/admin/users/{user_id}", json={"skills": {"collections": 80}}, headers=headers
    )
    assert patched.status == 200, await patched.text()
    users = await (await client.get("/api/admin/users")).json()
    op3 = next(u for u in users["items"] if u["username"] == "op3")
    assert op3["skills"] == {"collections": 80} and op3["language"] == "ru"
    assert (await client.get("/api/admin/users/abc")).status == 404


async def test_openapi_documents_every_api_route_with_its_role(client, sign_in) -> None:
    await sign_in(client, "op1")  # the document is for signed-in users (SECURITY.md)
    doc = await (await client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for route in API_ROUTES:
        operation = doc["paths"][route.path][route.method.lower()]
        assert operation["x-callboard-role"] == route.role
    assert "Error" in doc["components"]["schemas"]


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", 'O\'Brien & "Sons"'])
async def test_server_rendered_names_are_escaped(client, env, sign_in, name) -> None:
    csrf = await sign_in(client, "admin")
    users = await (await client.get("/api/admin/users")).json()
    admin_id = next(u["id"] for u in users["items"] if u["username"] == "admin")
    await client.patch(
        f"/api/admin/users/{admin_id}", json={"full_name": name}, headers={"X-CSRF-Token": csrf}
    )
    await sign_in(client, "admin")  # the change ended the session; names are read at sign-in
    html = await (await client.get("/")).text()
    assert name not in html
    assert "&lt;script&gt;" in html or "&#39;" in html or "&amp;" in html


async def test_unknown_api_paths_answer_json_and_pages_answer_html(client, sign_in) -> None:
    await sign_in(client, "op1")
    missing = await client.get("/api/nothing-here")
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "not_found"
    page = await client.get("/supervisor", headers={"Accept": "text/html"})
    assert page.status == 403 and page.content_type == "text/html"
    assert "auth.forbidden" in await page.text()
