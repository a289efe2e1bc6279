"""Helpers for the security tests: more browsers on one served app, websocket reading."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientWebSocketResponse, WSMessage, WSMsgType
from aiohttp.test_utils import TestClient

from crm_core.models import AuditEntry


def origin(client: TestClient) -> dict[str, str]:
    return {"Origin": str(client.make_url("/")).rstrip("/")}


async def open_desk(client: TestClient, page: str = "desk") -> ClientWebSocketResponse:
    """A desk tab's websocket, past its hello."""
    ws = await client.ws_connect(f"/ws?page={page}", headers=origin(client))
    hello = await receive(ws)
    assert hello.type is WSMsgType.TEXT and json.loads(hello.data)["type"] == "hello"
    return ws


async def receive(ws: ClientWebSocketResponse, within_s: float = 20.0) -> WSMessage:
    async with asyncio.timeout(within_s):
        return await ws.receive()


async def next_data(ws: ClientWebSocketResponse, within_s: float = 20.0) -> dict[str, Any] | None:
    """The next JSON message, or None when the socket closes (or stays silent) first."""
    try:
        message = await receive(ws, within_s)
    except TimeoutError:
        return None
    if message.type is not WSMsgType.TEXT:
        return None
    return json.loads(message.data)


async def next_of(ws: ClientWebSocketResponse, kind: str) -> dict[str, Any] | None:
    """The next JSON message of type `kind`, skipping others (tab announcements come when they
    come); None when the socket closes first."""
    while (data := await next_data(ws)) is not None:
        if data["type"] == kind:
            return data
    return None


async def closed_with(ws: ClientWebSocketResponse, within_s: float = 20.0) -> list[Any]:
    """Every data message until the socket closes, then the close frame's code (what the
    browser's `onclose` sees as `event.code`); fails on silence."""
    seen: list[Any] = []
    async with asyncio.timeout(within_s):
        while True:
            message = await ws.receive()
            if message.type is WSMsgType.TEXT:
                seen.append(json.loads(message.data)["type"])
            elif message.type is WSMsgType.CLOSE:  # the code the server's close frame carries
                seen.append(message.data)
                return seen
            else:
                seen.append(message.type)
                return seen


async def audit_rows(env: Any, action: str) -> list[AuditEntry]:
    from sqlalchemy import select

    async with env.db.session() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await session.scalars(query)).all())
