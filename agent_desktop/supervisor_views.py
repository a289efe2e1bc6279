"""Supervisor panels and the wallboard: pages, their state for resync, and agent actions."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from agent_desktop.audit_trail import audit_request
from agent_desktop.errors import ApiError, invalid, plain_text, read_json, unavailable
from agent_desktop.keys import BOARD, DEPS, RENDERER
from agent_desktop.ports import agent_id_for
from agent_desktop.principal import Principal
from agent_desktop.security import SESSION, require_supervisor
from ami_bridge.errors import AmiError
from ami_bridge.switch import SpyMode
from crm_core import inputs
from crm_core.models import User
from routing.errors import RoutingError

PAUSE_REASON_MAX = 200  # characters of a supervisor's force-pause reason
SPY_MODES = {"listen": SpyMode.LISTEN, "whisper": SpyMode.WHISPER, "barge": SpyMode.BARGE}


async def supervisor_page(request: web.Request) -> web.StreamResponse:
    principal = require_supervisor(request)
    return request.app[RENDERER].page(
        "supervisor.html",
        principal.language,
        user=principal,
        csrf_token=request[SESSION].csrf_token,
        dialer_ready=request.app[DEPS].dialer is not None,
    )


async def wallboard_page(request: web.Request) -> web.StreamResponse:
    principal = require_supervisor(request)
    return request.app[RENDERER].page(
        "wallboard.html",
        principal.language,
        user=principal,
        csrf_token=request[SESSION].csrf_token,
    )


async def refresh_names(request: web.Request) -> None:
    """Every active user appears on the grid, by name, even before their first state change."""
    deps = request.app[DEPS]
    board = request.app[BOARD]
    async with deps.db.session() as session:
        rows = await session.execute(
            select(User.id, User.full_name, User.username).where(User.active.is_(True))
        )
        for user_id, full_name, username in rows:
            board.name_agent(agent_id_for(user_id), full_name or username)


async def panel_state(request: web.Request) -> web.Response:
    require_supervisor(request)
    await refresh_names(request)
    deps = request.app[DEPS]
    return web.json_response(
        {**request.app[BOARD].panel_snapshot(), "server_now": deps.clock.now().isoformat()}
    )


async def _in_scope(request: web.Request, principal: Principal, agent_id: str) -> bool:
    """Every agent command follows the recordings' rule: a supervisor listens to, pauses or
    logs out their own team (the operator's `User.team_id` is theirs), an administrator
    everyone."""
    if principal.is_admin:
        return True
    try:
        user_id = inputs.ident(agent_id, "agent_id")
    except inputs.InputError:
        return False
    async with request.app[DEPS].db.session() as session:
        team_id = await session.scalar(select(User.team_id).where(User.id == user_id))
    return team_id == principal.user_id


async def agent_command(request: web.Request) -> web.Response:
    """listen / whisper / barge on an agent's call; force pause; force logout."""
    principal = require_supervisor(request)
    deps = request.app[DEPS]
    agent_id = request.match_info["agent_id"]
    command = request.match_info["command"]
    body = await read_json(request)
    board = request.app[BOARD]
    if agent_id not in board.agents:
        raise ApiError(404, "not_found", f"agent {agent_id} is not on the board")
    if command not in SPY_MODES and command not in ("pause", "logout"):
        raise ApiError(404, "not_found", f"no agent command {command!r}")
    if not await _in_scope(request, principal, agent_id):
        raise ApiError(
            403,
            "auth.forbidden",
            f"you may {command} only your own team's agents",
            {"reason": "not_your_team"},
        )
    detail: dict[str, str] = {}
    if command in SPY_MODES:
        if deps.switch is None:
            raise unavailable("switch")
        call = board.current_call(agent_id)
        if call is None or not call.agent_channel:
            raise ApiError(409, "panel.no_call", "the agent is not on a call")
        endpoint = principal.endpoint or deps.supervisor_endpoint_default
        if not endpoint:
            raise ApiError(409, "desk.no_endpoint", "your user has no phone endpoint configured")
        try:
            await deps.switch.spy(endpoint, call.agent_channel, SPY_MODES[command])
        except AmiError as exc:
            raise ApiError(502, exc.code, str(exc)) from exc
    else:  # pause or logout
        if deps.acd is None:
            raise unavailable("acd")
        reason = body.get("reason", "supervisor")
        if not isinstance(reason, str) or not reason.strip():
            raise invalid("reason", "a pause reason")
        reason = plain_text(reason, "reason", PAUSE_REASON_MAX)
        try:
            if command == "pause":
                await deps.acd.pause(agent_id, reason)
                detail["reason"] = reason  # what the supervisor gave, as the ACD got it
            else:
                await deps.acd.logout(agent_id)
        except RoutingError as exc:
            raise ApiError(409, f"acd.{exc.code}", str(exc)) from exc
    await audit_request(
        request,
        user_id=principal.user_id,
        action=command,
        object_type="agent",
        object_id=agent_id,
        **detail,
    )
    return web.json_response({"ok": True})
