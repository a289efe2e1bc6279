"""Sign-in and sign-out pages."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from aiohttp import web
from sqlalchemy import select

from agent_desktop.account_watch import credential_mark
from agent_desktop.audit_trail import audit_request
from agent_desktop.duty import take_off_duty
from agent_desktop.i18n import text
from agent_desktop.keys import (
    DEPS,
    LOGIN_FAILURES,
    LOGIN_TOKENS,
    RENDERER,
    SESSIONS,
    THROTTLE,
    DesktopDeps,
)
from agent_desktop.principal import Principal
from agent_desktop.security import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION,
    client_address,
    current,
    require,
)
from agent_desktop.serving import cookie_secure
from agent_desktop.sessions import COOKIE, IDLE_TIMEOUT_S
from crm_core import audit
from crm_core.auth import hash_password, verify_password
from crm_core.models import AuditEntry, User
from crm_core.users import MAX_PASSWORD

log = logging.getLogger(__name__)

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
    """The sign-in page with a fresh CSRF token bound to the browser's pre-session
    (`login_guard.LoginTokens`)."""
    tokens = request.app[LOGIN_TOKENS]
    pre_session = tokens.pre_session(request.cookies.get(LOGIN_CSRF_COOKIE))
    token = tokens.issue(pre_session)
    language = request.query.get("lang", "en")
    response = request.app[RENDERER].page(
        "login.html",
        language,
        status=status,
        csrf_token=token,
        error=error,
        signed_out=error is None and "signed_out" in request.query,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        pre_session,
        httponly=True,
        samesite="Strict",
        secure=cookie_secure(request),
        path="/login",
    )
    return response


async def login(request: web.Request) -> web.StreamResponse:
    deps = request.app[DEPS]
    form = await request.post()
    # the token must be one this server issued, for this browser's pre-session, recently, and
    # not used before: a forged, lifted or replayed one is refused
    if not request.app[LOGIN_TOKENS].redeem(
        request.cookies.get(LOGIN_CSRF_COOKIE), form.get(CSRF_FIELD)
    ):
        return _form(request, error=renderer_text(request, "login_expired"), status=403)
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:MAX_PASSWORD]  # what user_rules admits
    addr = client_address(request)
    throttle = request.app[THROTTLE]
    wait = throttle.retry_after(username, addr)
    if wait > 0:
        await _failed(request, username, addr, None, "throttled")
        message = renderer_text(request, "throttled").format(s=int(wait) + 1)
        response = _form(request, error=message, status=429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    if throttle.address_braked(addr):
        # past the address's limit: one attempt at a time, each after a pause; a right
        # password still gets in, so colleagues behind the same address are not locked out
        async with throttle.gate(addr):
            await asyncio.sleep(throttle.address_delay_s)
            user, ok = await _check(deps, username, password)
    else:
        user, ok = await _check(deps, username, password)
    if user is None or not user.active or not ok:
        throttle.failed(username, addr)
        reason = "unknown_user" if user is None else "inactive" if not user.active else "password"
        await _failed(request, username, addr, user, reason)
        return _form(request, error=renderer_text(request, "bad_login"), status=401)
    throttle.succeeded(username, addr)
    principal = Principal.of(user)
    _session, cookie_value = request.app[SESSIONS].create(
        principal, addr, credential=credential_mark(user.password_hash)
    )
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
        secure=cookie_secure(request),
        path="/",
        max_age=int(IDLE_TIMEOUT_S),
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


async def _check(deps: DesktopDeps, username: str, password: str) -> tuple[User | None, bool]:
    async with deps.db.session() as session:
        user = (
            await session.execute(select(User).where(User.username == username))
        ).scalar_one_or_none()
    stored = user.password_hash if user is not None and user.active else _DECOY_HASH
    loop = asyncio.get_running_loop()
    ok = await loop.run_in_executor(None, verify_password, password, stored)
    return user, ok


async def _failed(
    request: web.Request, username: str, addr: str, user: User | None, reason: str
) -> None:
    """Every failed sign-in is logged and audited: the name tried (never the password), the
    client address and why (unknown_user, inactive, password, throttled). Past
    `login_guard.COALESCE_AFTER` failures from one address within a minute, the rest of that
    minute's are counted in one summary row instead of a row each."""
    deps = request.app[DEPS]
    failures = request.app[LOGIN_FAILURES]
    minute = failures.failed(addr, username, reason)
    if minute is not None:
        async with failures.lock, deps.db.session() as session:
            detail: dict[str, Any] = {
                "reason": "coalesced",
                "count": minute.coalesced,
                "minute": minute.minute.isoformat(),
                "reasons": dict(minute.reasons),
                "usernames": list(minute.names),
            }
            if minute.summary_id is None:
                log.warning(
                    "sign-in failures from %s past %d this minute: counted in one audit row",
                    addr,
                    minute.failures - 1,
                )
                entry = audit.record(
                    session,
                    at=deps.clock.now(),
                    user_id=None,
                    action="login_failed",
                    object_type="user",
                    remote_addr=addr,
                    **detail,
                )
                await session.commit()
                minute.summary_id = entry.id
            else:
                summary = await session.get(AuditEntry, minute.summary_id)
                if summary is not None:
                    summary.detail = detail
                    await session.commit()
        return
    log.warning("sign-in failed: user %r from %s (%s)", username, addr, reason)
    async with deps.db.session() as session:
        audit.record(
            session,
            at=deps.clock.now(),
            user_id=user.id if user is not None else None,
            action="login_failed",
            object_type="user",
            object_id=user.id if user is not None else "",
            remote_addr=addr,
            username=username,
            reason=reason,
        )
        await session.commit()


def renderer_text(request: web.Request, key: str) -> str:
    return text(key, request.query.get("lang", "en"))


async def logout(request: web.Request) -> web.StreamResponse:
    """Ends the session (its websockets close with it); signing out of the last session also
    takes the agent off the ACD and the campaigns, so no call rings an empty desk."""
    principal = require(request)
    sessions = request.app[SESSIONS]
    sessions.end(request[SESSION].sid)
    if sessions.user_sessions(principal.user_id) == 0:
        await take_off_duty(request.app[DEPS], principal.agent_id)
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
