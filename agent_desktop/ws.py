"""The websocket endpoint: one per open tab of a signed-in user.

The browser opens `/ws?page=desk` (a desk tab, which takes part in the active-tab choice) or
`/ws?page=panel` (supervisor panels and the wallboard). After connecting it fetches its state
over HTTP and then applies pushed messages; after a reconnect it does the same, so nothing
depends on messages missed while offline.

A session may hold at most `[web] max_sockets_per_session` sockets (5 by default): one more is
accepted and closed at once with 4429, and the page retries slowly. Ending the session closes
its sockets with 4401 (see hub.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiohttp import WSMsgType, web

from agent_desktop.board import PANEL, agent_topic
from agent_desktop.errors import ApiError, forbidden
from agent_desktop.hub import TOO_MANY, Connection, TopicDenied
from agent_desktop.keys import DEPS, HUB
from agent_desktop.security import SESSION, require, same_origin

log = logging.getLogger(__name__)

HEARTBEAT_S = 20.0
CLOSE_WAIT_S = 5.0


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
    sid = request[SESSION].sid
    limit = request.app[DEPS].settings.web.max_sockets_per_session
    if hub.session_connections(sid) >= limit:
        log.warning("user %s: websocket refused, %d already open", principal.username, limit)
        refused = web.WebSocketResponse()
        await refused.prepare(request)
        await refused.close(code=TOO_MANY, message=b"too many open tabs")
        return refused
    try:
        conn = hub.connect(principal, handles_calls=handles_calls, topics=topics, session_id=sid)
    except TopicDenied as exc:
        raise forbidden(f"listen to {exc.topic}") from exc
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=64 * 1024)
    try:
        await ws.prepare(request)
    except BaseException:
        hub.disconnect(conn)
        raise

    async def close(code: int, reason: str) -> object:
        return await ws.close(code=code, message=reason.encode())

    conn.close = close
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
        if conn.closing is not None:  # the session ended: let the close frame go out first
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(conn.closing), CLOSE_WAIT_S)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
    return ws


async def _write(ws: web.WebSocketResponse, conn: Connection) -> None:
    try:
        while not ws.closed:
            text = await conn.outbox.get()
            if conn.ended:
                return  # the session ended: end_session closes the socket
            if conn.overflowed:
                log.warning("closing slow websocket of user %s", conn.principal.username)
                await ws.close(code=4008, message=b"too slow; resync")
                return
            await ws.send_str(text)
    except ConnectionResetError:
        return
