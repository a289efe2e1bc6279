"""The websocket endpoint: one per open tab of a signed-in user.

The browser opens `/ws?page=desk` (a desk tab, which takes part in the active-tab choice) or
`/ws?page=panel` (supervisor panels and the wallboard). After connecting it fetches its state
over HTTP and then applies pushed messages; after a reconnect it does the same, so nothing
depends on messages missed while offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from functools import partial

from aiohttp import WSCloseCode, WSMsgType, web

from agent_desktop.board import PANEL, agent_topic
from agent_desktop.errors import ApiError, forbidden
from agent_desktop.hub import Connection, TopicDenied
from agent_desktop.keys import HUB
from agent_desktop.security import require, same_origin

log = logging.getLogger(__name__)

HEARTBEAT_S = 20.0


async def websocket(request: web.Request) -> web.StreamResponse:
    principal = require(request)
    if not same_origin(request):
        raise ApiError(403, "auth.bad_origin", "websocket from another site refused")
    page = request.query.get("page", "desk")
    if page == "desk":
        topics, handles_calls = [agent_topic(principal.agent_id)], True
    elif page == "panel":
        topics, handles_calls = [PANEL], False
    else:
        raise ApiError(400, "ws.bad_page", "page must be desk or panel")
    hub = request.app[HUB]
    try:
        conn = hub.connect(principal, handles_calls=handles_calls, topics=topics)
    except TopicDenied as exc:
        raise forbidden(f"listen to {exc.topic}") from exc
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=64 * 1024)
    await ws.prepare(request)
    conn.close = partial(ws.close, code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
    writer = asyncio.create_task(_write(ws, conn), name=f"ws-writer-{conn.tab_id}")
    try:
        await ws.send_str(json.dumps({"type": "hello", "tab_id": conn.tab_id}))
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            try:
                data = json.loads(message.data)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and data.get("type") == "claim":
                hub.claim(conn)
    finally:
        hub.disconnect(conn)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    return ws


async def _write(ws: web.WebSocketResponse, conn: Connection) -> None:
    try:
        while not ws.closed:
            text = await conn.outbox.get()
            if conn.overflowed:
                log.warning("closing slow websocket of user %s", conn.principal.username)
                await ws.close(code=4008, message=b"too slow; resync")
                return
            await ws.send_str(text)
    except ConnectionResetError:
        return
