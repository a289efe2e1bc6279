"""Finding 6: hostile input gave 500s instead of 4xx. "NaN"/"Infinity" amounts, year-9999
callbacks, non-ASCII digits ("²", Arabic-Indic) and 30-digit ids in paths and queries,
5000-digit integers in JSON bodies and in the Range header, a queue priority of 10**20, and
JSON nested 20 000 levels deep each crashed a handler. Now one place parses ids, integers,
decimals and dates from requests, with bounds (`agent_desktop/inputs.py`), and one reader takes
JSON bodies with a size and depth limit: every route answers such input with a 4xx.

The sweep walks the router's own table, so a route added later is swept too."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from agent_desktop.app import API_ROUTES

HOSTILE_SCALARS: list[Any] = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "9999-12-31T23:59:59",
    "9999-12-31",
    "²",
    "١٢٣",
    "9" * 30,
    -1,
    10**20,
    1e308,
    "\x00",
    "",
    [],
    {},
    True,
    None,
]
HOSTILE_PATH = ["²", "١٢٣", "9" * 30, "0", "-1", "%00", "x" * 300]
HOSTILE_QUERY = ["NaN", "²", "١٢٣", "9" * 30, "-1", "1e999", "9999-12-31", "\x00", "", "9" * 5000]
DIGITS_5000 = "9" * 5000


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def _bodies(properties: list[str]) -> list[str]:
    """Raw JSON texts: each property set to each hostile scalar, nested objects filled with
    them, a 5000-digit integer, NaN literals, and a 20k-deep nesting."""
    texts = [_deep(20_000), '{"a":' * 20_000 + "1" + "}" * 20_000, "NaN", "[]", "1" * 5000]
    names = properties or ["amount", "id"]
    for name in names:
        for value in HOSTILE_SCALARS:
            texts.append(json.dumps({name: value}))
        for raw in (DIGITS_5000, "NaN", "Infinity", "-1e400"):
            texts.append(f'{{"{name}": {raw}}}')
    nested = {
        "amount": "NaN",
        "due_on": "9999-12-31",
        "at": "9999-12-31T23:59:59",
        "when": "9999-12-31T23:59:59+00:00",
        "user_id": 10**20,
    }
    for name in names:
        for hostile in (nested, {k: "Infinity" for k in nested}, {k: 10**20 for k in nested}):
            texts.append(json.dumps({name: hostile, "disposition": "promise", "key": "k1"}))
    texts.append(
        json.dumps(
            {
                "key": "k2",
                "disposition": "promise_to_pay",
                "promise": {"amount": "NaN", "due_on": "9999-12-31"},
                "callback": {"at": "9999-12-31T23:59:59"},
            }
        )
    )
    return texts


def _property_names() -> dict[tuple[str, str], list[str]]:
    names: dict[tuple[str, str], list[str]] = {}
    for route in API_ROUTES:
        body = route.body or {}
        names[(route.method, route.path)] = list(body.get("properties", {}))
    return names


_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")


def _paths(template: str) -> list[tuple[str, bool]]:
    """(path, every hostile query and body?): the route with existing ids ("1") gets them all;
    each hostile path value gets a few (the handler refuses the path before the rest)."""
    if not _PARAM.search(template):
        return [(template, True)]
    paths = [(_PARAM.sub("1", template), True)]
    for value in HOSTILE_PATH:
        paths.append((_PARAM.sub(lambda _m, v=value: v, template), False))
    return paths


FEW_QUERIES = ["NaN", "9" * 30]
FEW_BODIES = ["{}", _deep(20_000), '{"id": ' + DIGITS_5000 + "}"]


async def _failed(response: ClientResponse) -> bool:
    """A 5xx, except the 503 of a service this test app was composed without (the campaign
    seats need the real ACD): that answer does not depend on the input."""
    if response.status == 503:
        body = await response.json()
        return not body.get("error", {}).get("code", "").endswith(".unavailable")
    return response.status >= 500


async def _sweep(client: TestClient, csrf: str, who: str, failures: list[str]) -> int:
    app = client.server.app
    properties = _property_names()
    sent = 0
    for route in list(app.router.routes()):
        info = route.resource.get_info() if route.resource else {}
        template = info.get("formatter") or info.get("path") or ""
        if not template or template.startswith("/static") or template in ("/ws", "/logout"):
            continue
        plain = re.sub(r"{(\w+):[^}]*}", r"{\1}", template)
        method = route.method
        for path, every in _paths(template):
            if method == "GET":
                for value in HOSTILE_QUERY if every else FEW_QUERIES:
                    params = {
                        k: value
                        for k in ("contact_id", "limit", "q", "queue", "download", "campaign")
                    }
                    params["since"] = value
                    sendable = value.isascii() and value.isprintable()  # as a header
                    headers = {"Range": f"bytes={value}-{DIGITS_5000}"} if sendable else {}
                    response = await client.get(path, params=params, headers=headers)
                    sent += 1
                    if await _failed(response):
                        failures.append(f"{who} GET {path} {value[:20]!r}: {response.status}")
            elif method in ("POST", "PUT", "PATCH", "DELETE"):
                texts = _bodies(properties.get((method, plain), [])) if every else FEW_BODIES
                for text in texts:
                    response = await client.request(
                        method,
                        path,
                        data=text.encode(),
                        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
                    )
                    sent += 1
                    if await _failed(response):
                        failures.append(f"{who} {method} {path} {text[:60]!r}: {response.status}")
    return sent


@pytest.mark.parametrize("who", ["op1", "sup", "admin"])
async def test_no_route_answers_hostile_input_with_a_500(client, env, sign_in, who, caplog) -> None:
    caplog.set_level(logging.ERROR)
    csrf = await sign_in(client, who)
    failures: list[str] = []
    sent = await _sweep(client, csrf, who, failures)
    assert sent > 500
    assert not failures, "\n".join(failures[:60])


HOSTILE_PROMISES = [
    {"amount": "NaN"},
    {"amount": "Infinity"},
    {"amount": "-Infinity"},
    {"amount": "sNaN"},
    {"amount": "1e30"},
    {"amount": "9" * 29},
    {"amount": "١٠٠"},
    {"amount": "10²"},
    {"due_on": "9999-12-31"},
    {"due_on": "٢٠٢٦-١٢-٠١"},
    {"debt_id": "9" * 30},
    {"debt_id": "١"},
    {"debt_id": 10**15},
]


async def test_hostile_amounts_dates_and_ids_in_a_wrap_up_are_refused(client, env, sign_in):
    from tests.security.test_wrapup_once import log_call

    await log_call(env, "L-hostile-1")
    csrf = await sign_in(client, "op1")
    headers = {"X-CSRF-Token": csrf}
    for n, change in enumerate(HOSTILE_PROMISES):
        promise = {"debt_id": env.debt_id, "amount": "10.00", "due_on": "2026-12-01", **change}
        body = {"key": f"hostile-key-{n}", "disposition": "ptp", "promise": promise}
        for method, url in (
            ("POST", "/api/calls/L-hostile-1/disposition"),
            ("PUT", "/api/calls/L-hostile-1/disposition"),
        ):
            response = await client.request(method, url, json=body, headers=headers)
            assert 400 <= response.status < 500, (method, change, await response.text())
    for local in ("9999-12-31T23:59:59", "0001-01-01T00:00", "٢٠٢٦-١٢-٠١T10:00"):
        body = {"key": "hostile-callback", "disposition": "callback", "callback": {"local": local}}
        for tz in ("Europe/London", "Pacific/Kiritimati", "America/Adak"):
            async with env.db.session() as session:
                from crm_core.models import Contact

                (await session.get(Contact, env.contact_id)).timezone = tz
                await session.commit()
            response = await client.post(
                "/api/calls/L-hostile-1/disposition", json=body, headers=headers
            )
            assert response.status == 422, (local, tz, await response.text())
            assert (await response.json())["error"]["details"]["field"] == "callback.local"
    fine = {
        "key": "hostile-fine",
        "disposition": "ptp",
        "promise": {"debt_id": env.debt_id, "amount": "10.00", "due_on": "2026-12-01"},
    }
    response = await client.post("/api/calls/L-hostile-1/disposition", json=fine, headers=headers)
    assert response.status == 200, await response.text()


async def test_queue_numbers_are_bounded(client, env, sign_in) -> None:
    csrf = await sign_in(client, "admin")
    headers = {"X-CSRF-Token": csrf}
    created = await client.post("/api/admin/queues", json={"name": "q1"}, headers=headers)
    assert created.status == 201
    queue_id = (await created.json())["id"]
    for body in (
        {"priority": 10**20},
        {"priority": 10**15},
        {"priority": 2**31},
        {"sl_target_pct": 101},
        {"max_wait_s": 10**12},
        {"priority": "5"},
    ):
        response = await client.patch(f"/api/admin/queues/{queue_id}", json=body, headers=headers)
        assert 400 <= response.status < 500, (body, await response.text())
    ok = await client.patch(f"/api/admin/queues/{queue_id}", json={"priority": 7}, headers=headers)
    assert (await ok.json())["priority"] == 7


async def test_ids_beyond_the_database_and_non_ascii_digits_are_404(client, env, sign_in):
    await sign_in(client, "sup")
    for raw in ("9" * 30, "2147483648", "١", "%D9%A1", "0"):
        for url in (
            f"/api/contacts/{raw}/card",
            f"/api/recordings/{raw}/audio",
            f"/api/campaigns/{raw}",
        ):
            response = await client.get(url)
            assert response.status == 404, (url, response.status)
    for raw in ("9" * 30, "١٢٣", "²", "9" * 5000):
        response = await client.get("/api/interactions", params={"contact_id": raw})
        assert response.status == 422, raw
        response = await client.get("/api/recordings/search", params={"q": "x", "limit": raw})
        assert response.status == 422, raw


async def test_hostile_ranges_on_a_real_recording_are_4xx(env, desk_deps, sign_in, tmp_path):
    from datetime import timedelta

    from aiohttp.test_utils import TestServer

    from agent_desktop.app import create_app
    from tests.agent_desktop.test_agent_desktop_recordings_support import (
        deps_with_recordings,
        recorded_calls,
    )

    calls = recorded_calls(tmp_path / "recordings", env.db, env.bus)
    recording = await calls.call(
        "L-range-1",
        agent="op1",
        agent_id=env.users["op1"],
        contact_id=env.contact_id,
        started_at=env.clock.now() - timedelta(hours=1),
        said=None,
    )
    app = create_app(deps_with_recordings(desk_deps(env), calls.directory))
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, "op1")
        url = f"/api/recordings/{recording.id}/audio"
        assert (await client.get(url, headers={"Range": "bytes=0-9"})).status == 206
        for header in (
            f"bytes=0-{DIGITS_5000}",
            f"bytes={DIGITS_5000}-",
            f"bytes=-{DIGITS_5000}",
            "bytes=١-٢",
            "bytes=0-" + "9" * 30,
        ):
            response = await client.get(url, headers={"Range": header})
            assert response.status == 416, (header[:30], response.status)
