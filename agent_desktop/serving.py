"""How the desk is served: timeouts for slow or idle connections, a Server header without
versions, and TLS hardening (Secure cookies, HSTS) when the request came over TLS.

- **Idle and slow request heads**: aiohttp closes a connection that has not delivered a whole
  request head within its keep-alive timeout of opening, or of its previous response (its idle
  check fires while the parser still waits for the head). `[web] keepalive_timeout_s` sets it
  (default 15 s; aiohttp's own default is an hour).
- **Slow bodies**: `body_deadline` reads a request's body within `[web] body_timeout_s`
  (default 30 s) before any handler runs, else answers 408 and closes the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from agent_desktop.errors import ApiError
from agent_desktop.keys import DEPS, PROXIES
from crm_core.config import WebSettings

SERVER = "Callboard"  # no product versions (aiohttp's default names itself and Python's)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def server_options(settings: WebSettings) -> dict[str, Any]:
    """Keyword arguments for `web.AppRunner` (and `TestServer`) from `[web]`."""
    return {"keepalive_timeout": settings.keepalive_timeout_s}


def over_tls(request: web.Request) -> bool:
    """Whether the browser reached us over TLS: directly, or through a trusted proxy that says
    so in X-Forwarded-Proto (anyone else's header is ignored)."""
    if request.secure:
        return True
    if not request.app[PROXIES].trusted(request.remote or ""):
        return False
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[-1]
    return proto.strip().lower() == "https"


def cookie_secure(request: web.Request) -> bool:
    """The Secure flag of our cookies: always with `[web] cookie_secure`, else over TLS."""
    return request.app[DEPS].settings.web.cookie_secure or over_tls(request)


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, streamed ones and websockets included, just before its headers go."""
    response.headers["Server"] = SERVER
    max_age = request.app[DEPS].settings.web.hsts_max_age_s
    if max_age and over_tls(request):
        response.headers.setdefault("Strict-Transport-Security", f"max-age={max_age}")


def body_deadline(timeout_s: float) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Reads the body of a request that has one within `timeout_s` (a client that trickles
    it is answered 408 and disconnected). Forms are parsed here (`request.post()` keeps
    them), other bodies read whole (`request.read()` keeps them)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists and request.headers.get("Upgrade", "").lower() != "websocket":
            try:
                async with asyncio.timeout(timeout_s):  # handlers then read it from memory
                    if request.content_type in _FORMS:
                        await request.post()  # parsed and kept (a multipart body is a stream)
                    else:
                        await request.read()
            except TimeoutError:
                response = ApiError(
                    408, "timeout", f"the request body did not arrive within {timeout_s:g} s"
                ).response()
                response.force_close()
                await response.prepare(request)
                await response.write_eof()
                request.protocol.force_close()  # sent: do not linger on the rest of the trickle
                return response
        return await handler(request)

    return middleware
