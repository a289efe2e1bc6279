"""Request security: who is signed in, CSRF on every state change, and the browser headers.

CSRF uses a per-session synchronizer token: forms send it as `csrf_token`, fetch/JSON sends it
as `X-CSRF-Token`. The session cookie is SameSite=Strict as well, so either defence alone holds.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from agent_desktop.errors import ApiError, forbidden, not_signed_in
from agent_desktop.keys import PROXIES
from agent_desktop.principal import Principal
from agent_desktop.sessions import COOKIE, Session, SessionStore

SESSION = web.RequestKey("session", Session)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LOGIN_CSRF_COOKIE = "cb_login_csrf"

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), geolocation=(), microphone=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _secure(exc, request)
        raise
    _secure(response, request)
    return response


def _secure(response: web.StreamResponse, request: web.Request) -> None:
    if response.prepared:  # websockets and streamed files have sent their headers already
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


def session_middleware(store: SessionStore) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        session = store.resolve(request.cookies.get(COOKIE))
        if session is not None:
            request[SESSION] = session
        if request.method in UNSAFE_METHODS and session is not None:
            await _check_csrf(request, session.csrf_token)
        return await handler(request)

    return middleware


async def _check_csrf(request: web.Request, expected: str) -> None:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not token or not hmac.compare_digest(token, expected):
        raise ApiError(403, "auth.csrf", "missing or wrong CSRF token; reload the page")


def current(request: web.Request) -> Principal | None:
    session = request.get(SESSION)
    return session.principal if session is not None else None


def require(request: web.Request) -> Principal:
    principal = current(request)
    if principal is None:
        raise not_signed_in()
    return principal


def require_supervisor(request: web.Request) -> Principal:
    principal = require(request)
    if not principal.is_supervisor:
        raise forbidden("open supervisor panels")
    return principal


def require_admin(request: web.Request) -> Principal:
    principal = require(request)
    if not principal.is_admin:
        raise forbidden("administer users, skills and queues")
    return principal


def client_address(request: web.Request) -> str:
    """The client's address for audit and throttling: the peer's, or the one a trusted proxy
    (`[web] trusted_proxies`) reports in X-Forwarded-For."""
    return request.app[PROXIES].client(request.remote or "", request.headers.get("X-Forwarded-For"))


def same_origin(request: web.Request) -> bool:
    """Websocket upgrades carry no CSRF token: the Origin must be this site."""
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return origin in (f"{request.scheme}://{request.host}", f"https://{request.host}")
