"""Sign-in and sign-out pages."""

from __future__ import annotations

import asyncio
import hmac
import secrets

from aiohttp import web
from sqlalchemy import select

from agent_desktop.audit_trail import audit_request
from agent_desktop.i18n import text
from agent_desktop.keys import DEPS, RENDERER, SESSIONS, THROTTLE
from agent_desktop.principal import Principal
from agent_desktop.security import CSRF_FIELD, LOGIN_CSRF_COOKIE, SESSION, current, require
from agent_desktop.sessions import COOKIE, IDLE_TIMEOUT_S
from crm_core import audit
from crm_core.auth import hash_password, verify_password
from crm_core.models import User

# compared against when the user does not exist, so a wrong name costs the same time
_DECOY_HASH = hash_password(secrets.token_urlsafe(16))


def home_for(principal: Principal) -> str:
    return "/supervisor" if principal.is_supervisor else "/"


async def login_page(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    if principal is not None:
        raise web.HTTPFound(home_for(principal))
    return _form(request, error=None)


def _form(request: web.Request, error: str | None, status: int = 200) -> web.Response:
    token = secrets.token_urlsafe(24)
    language = request.query.get("lang", "en")
    response = request.app[RENDERER].page(
        "login.html", language, status=status, csrf_token=token, error=error
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.app[DEPS].settings.web.cookie_secure,
        path="/login",
    )
    return response


async def login(request: web.Request) -> web.StreamResponse:
    deps = request.app[DEPS]
    form = await request.post()
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    form_token = form.get(CSRF_FIELD)
    if not (
        isinstance(form_token, str)
        and cookie_token
        and hmac.compare_digest(form_token, cookie_token)
    ):
        return _form(request, error=renderer_text(request, "bad_login"), status=403)
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:256]
    addr = request.remote or ""
    throttle = request.app[THROTTLE]
    wait = throttle.retry_after(username, addr)
    if wait > 0:
        message = renderer_text(request, "throttled").format(s=int(wait) + 1)
        response = _form(request, error=message, status=429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    async with deps.db.session() as session:
        user = (
            await session.execute(select(User).where(User.username == username))
        ).scalar_one_or_none()
    stored = user.password_hash if user is not None and user.active else _DECOY_HASH
    loop = asyncio.get_running_loop()
    ok = await loop.run_in_executor(None, verify_password, password, stored)
    if user is None or not user.active or not ok:
        throttle.failed(username, addr)
        return _form(request, error=renderer_text(request, "bad_login"), status=401)
    throttle.succeeded(username, addr)
    principal = Principal.of(user)
    _session, cookie_value = request.app[SESSIONS].create(principal, addr)
    async with deps.db.session() as session:
        audit.record(
            session,
            at=deps.clock.now(),
            user_id=user.id,
            action="login",
            object_type="user",
            object_id=user.id,
            remote_addr=addr,
        )
        await session.commit()
    response = web.HTTPFound(home_for(principal))
    response.set_cookie(
        COOKIE,
        cookie_value,
        httponly=True,
        samesite="Strict",
        secure=deps.settings.web.cookie_secure,
        path="/",
        max_age=int(IDLE_TIMEOUT_S),
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


def renderer_text(request: web.Request, key: str) -> str:
    return text(key, request.query.get("lang", "en"))


async def logout(request: web.Request) -> web.StreamResponse:
    principal = require(request)
    request.app[SESSIONS].end(request[SESSION].sid)
    await audit_request(
        request,
        user_id=principal.user_id,
        action="logout",
        object_type="user",
        object_id=principal.user_id,
    )
    response = web.HTTPFound("/login")
    response.del_cookie(COOKIE, path="/")
    raise response
