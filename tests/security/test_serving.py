"""Finding 11 and the info items on serving: slow or idle HTTP connections never timed out (a
client trickling its request head or body held a connection for minutes); the Server header
named aiohttp's and Python's versions; the OpenAPI document was served without sign-in; no
Secure cookie flag or HSTS over TLS. Now `[web] keepalive_timeout_s` closes connections that
send no whole request head in time (idle ones too), `[web] body_timeout_s` answers a trickled
body with 408 and closes; the Server header is "Callboard"; the document needs sign-in; over
TLS (here: a trusted proxy's X-Forwarded-Proto) cookies are Secure and HSTS is sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from agent_desktop.app import create_app
from agent_desktop.serving import server_options
from crm_core.config import Settings

TIMEOUT_S = 1.0  # short in the test; the default is 15 s
DEADLINE_S = 15.0  # how long the test waits for the condition at most


def _settings(**web: object) -> Settings:
    base = Settings()
    return replace(base, web=replace(base.web, **web))


@pytest.fixture
async def served(env, desk_deps) -> AsyncIterator[TestClient]:
    settings = _settings(
        keepalive_timeout_s=TIMEOUT_S, body_timeout_s=TIMEOUT_S, trusted_proxies=["127.0.0.1"]
    )
    app = create_app(desk_deps(env, settings=settings))
    server = TestServer(app)
    await server.start_server(**server_options(settings.web))  # as callboard.node serves it
    async with TestClient(server) as client:
        yield client


async def _closed_within(reader: asyncio.StreamReader, trickle) -> tuple[float, bytes]:
    """Runs `trickle` (which writes slowly) until the server closes the connection; returns
    how long that took and what the server sent before closing."""
    started = time.monotonic()
    writer_task = asyncio.create_task(trickle())
    received = b""
    try:
        async with asyncio.timeout(DEADLINE_S):
            while chunk := await reader.read(4096):
                received += chunk
    finally:
        writer_task.cancel()
        await asyncio.gather(writer_task, return_exceptions=True)
    return time.monotonic() - started, received


async def test_slow_request_heads_are_cut_off(served) -> None:
    reader, writer = await asyncio.open_connection(served.host, served.port)

    async def trickle() -> None:
        writer.write(b"GET /login HTTP/1.1\r\nHost: x\r\n")
        for n in range(1000):  # one header byte at a time, never the blank line
            writer.write(b"X-Slow-%d: y\r\n"[:1] if n % 2 else b"X")
            await writer.drain()
            await asyncio.sleep(0.1)

    elapsed, received = await _closed_within(reader, trickle)
    writer.close()
    assert received == b""  # never answered: the head never came
    assert elapsed < TIMEOUT_S + 3, elapsed


async def test_idle_connections_are_closed(served) -> None:
    reader, writer = await asyncio.open_connection(served.host, served.port)

    async def nothing() -> None:
        await asyncio.sleep(DEADLINE_S)

    elapsed, received = await _closed_within(reader, nothing)
    assert received == b"" and elapsed < TIMEOUT_S + 3, elapsed
    writer.close()

    reader, writer = await asyncio.open_connection(served.host, served.port)  # after a reply
    writer.write(b"GET /login HTTP/1.1\r\nHost: x\r\n\r\n")
    elapsed, received = await _closed_within(reader, nothing)
    assert received.startswith(b"HTTP/1.1 200")
    assert elapsed < TIMEOUT_S + 3, elapsed
    writer.close()


async def test_slow_bodies_get_408_and_are_cut_off(served) -> None:
    reader, writer = await asyncio.open_connection(served.host, served.port)

    async def trickle() -> None:
        writer.write(
            b"POST /login HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n"
        )
        for _ in range(1000):
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(0.1)

    elapsed, received = await _closed_within(reader, trickle)
    writer.close()
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    assert elapsed < TIMEOUT_S + 3, elapsed


async def test_the_server_header_names_no_versions(served, sign_in) -> None:
    for path in ("/login", "/api/me", "/static/nonexistent.js", "/nowhere"):
        response = await served.get(path)
        assert response.headers.get("Server") == "Callboard", (path, response.headers)


async def test_the_openapi_document_needs_sign_in(served, sign_in) -> None:
    assert (await served.get("/api/openapi.json")).status == 401
    await sign_in(served, "op1")
    assert (await served.get("/api/openapi.json")).status == 200


async def test_over_tls_cookies_are_secure_and_hsts_is_sent(served) -> None:
    plain = await served.get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    assert "secure" not in plain.headers.get("Set-Cookie", "").lower()
    tls = await served.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert tls.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "; secure" in tls.headers["Set-Cookie"].lower()


async def test_an_untrusted_peer_cannot_claim_tls(env, desk_deps) -> None:
    app = create_app(desk_deps(env, settings=_settings()))  # no trusted proxies
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "Strict-Transport-Security" not in response.headers
