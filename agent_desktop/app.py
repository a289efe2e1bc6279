"""The web app factory: pages, websocket, REST API, each wired from explicit dependencies."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from agent_desktop import (
    api_admin,
    api_desk,
    campaign_desk,
    campaign_editor,
    campaign_views,
    dnc_views,
    manual_dial,
    openapi,
    payments_views,
    recordings_views,
    reports_views,
    serving,
)
from agent_desktop.account_watch import watch_accounts
from agent_desktop.auth_views import login, login_page, logout
from agent_desktop.board import LiveBoard
from agent_desktop.call_views import call_action
from agent_desktop.callbacks import CallbackReminders
from agent_desktop.desk_views import agent_action, desk_page, desk_state, save_wrapup
from agent_desktop.errors import ApiError, error_middleware
from agent_desktop.hub import Hub
from agent_desktop.i18n import Renderer
from agent_desktop.keys import (
    BOARD,
    DEPS,
    HUB,
    LOGIN_FAILURES,
    LOGIN_TOKENS,
    PROXIES,
    RENDERER,
    SEARCH_SCOPE,
    SESSIONS,
    THROTTLE,
    DesktopDeps,
)
from agent_desktop.login_guard import FailureCoalescer, LoginTokens
from agent_desktop.pop_audit import PopAuditor
from agent_desktop.security import current, headers_middleware, session_middleware
from agent_desktop.sessions import SessionStore
from agent_desktop.supervisor_views import (
    agent_command,
    panel_state,
    supervisor_page,
    wallboard_page,
)
from agent_desktop.throttle import LoginThrottle, TrustedProxies
from agent_desktop.ws import websocket
from crm_core.search_scope import SearchScope

STATIC = Path(__file__).parent / "static"
API_ROUTES = (
    api_desk.ROUTES
    + api_admin.ROUTES
    + recordings_views.ROUTES
    + campaign_views.ROUTES
    + campaign_editor.ROUTES
    + campaign_desk.ROUTES
    + dnc_views.ROUTES
    + payments_views.ROUTES
    + reports_views.ROUTES
)


def create_app(deps: DesktopDeps) -> web.Application:
    secret = deps.settings.web.secret_key.encode() or secrets.token_bytes(32)
    sessions = SessionStore(secret, deps.clock)
    board = LiveBoard(ZoneInfo(deps.settings.center.timezone))
    hub = Hub(deps.bus, board, deps.clock)
    sessions.on_end(hub.end_session)  # an ended session's websockets close with it
    app = web.Application(
        middlewares=[
            headers_middleware,
            error_middleware(_error_page),
            serving.body_deadline(deps.settings.web.body_timeout_s),
            session_middleware(sessions),
        ],
        client_max_size=256 * 1024,
    )
    app.on_response_prepare.append(serving.on_prepare)  # Server header, HSTS over TLS
    app[DEPS] = deps
    app[SESSIONS] = sessions
    web_settings = deps.settings.web
    app[THROTTLE] = LoginThrottle(
        deps.clock,
        address_failures=web_settings.address_failures,
        address_delay_s=web_settings.address_delay_s,
    )
    app[LOGIN_TOKENS] = LoginTokens(secret, deps.clock)
    app[LOGIN_FAILURES] = FailureCoalescer(deps.clock)
    app[PROXIES] = TrustedProxies(web_settings.trusted_proxies)
    app[BOARD] = board
    app[SEARCH_SCOPE] = SearchScope(deps.clock, deps.settings.privacy)
    app[HUB] = hub
    app[RENDERER] = Renderer()
    _routes(app)
    campaign_views.setup(app)
    manual_dial.start_outcomes(app, _background)
    recordings_views.setup(app)
    dnc_views.setup(app)
    reports_views.setup(app)
    app.on_shutdown.append(_close_websockets)
    app.cleanup_ctx.append(_background(hub.run, "desktop-hub"))
    app.cleanup_ctx.append(_background(hub.run_sampler, "desktop-wallboard-sampler"))
    app.cleanup_ctx.append(_background(PopAuditor(deps.db, deps.bus).run, "desktop-pop-audit"))
    app.cleanup_ctx.append(
        _background(lambda: watch_accounts(deps, sessions), "desktop-account-watch")
    )
    reminders = CallbackReminders(deps.db, hub, deps.clock)
    app.cleanup_ctx.append(_background(reminders.run, "desktop-callback-reminders"))
    return app


def _routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/login", login_page)
    r.add_post("/login", login)
    r.add_post("/logout", logout)
    r.add_get("/", desk_page)
    r.add_get("/desk/state", desk_state)
    r.add_post("/desk/agent", agent_action)
    r.add_post("/desk/wrapup", save_wrapup)
    r.add_post("/desk/call/{action}", call_action)
    campaign_desk.add_desk_routes(app)
    r.add_get("/supervisor", supervisor_page)
    r.add_get("/supervisor/state", panel_state)
    r.add_post("/supervisor/agents/{agent_id}/{command}", agent_command)
    r.add_get("/wallboard", wallboard_page)
    for method, path, handler in campaign_editor.PAGES:
        r.add_route(method, path, handler)
    r.add_get("/ws", websocket)
    for route in API_ROUTES:
        # ids in paths are numbers: anything else is a 404, not a crash in int()
        path = re.sub(r"{(\w+_id)}", r"{\1:\\d+}", route.path)
        r.add_route(route.method, path, route.handler)
    r.add_get("/api/openapi.json", openapi.handler(API_ROUTES))
    r.add_static("/static/", STATIC, append_version=True)


def _error_page(request: web.Request, error: ApiError) -> web.Response:
    principal = current(request)
    return request.app[RENDERER].page(
        "error.html",
        principal.language if principal else "en",
        status=error.status,
        http_status=error.status,
        message=error.message,
        code=error.code,
        signed_out=principal is None,
        csrf_token="",
    )


async def _close_websockets(app: web.Application) -> None:
    await app[HUB].close_all()


def _background(
    run: Callable[[], Coroutine[Any, Any, None]], name: str
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx entry owning one task: started with the app, cancelled and awaited at exit."""

    async def owner(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run(), name=name)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return owner
