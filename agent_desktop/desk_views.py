"""The operator's desk: the page, its state (for resync), agent state and wrap-up actions."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_desktop import counters, wrapup
from agent_desktop.callbacks import callback_list
from agent_desktop.errors import ApiError, invalid, read_json, unavailable
from agent_desktop.keys import BOARD, DEPS, HUB, RENDERER
from agent_desktop.principal import Principal
from agent_desktop.security import SESSION, current, require
from crm_core import disposition_codes
from crm_core import payments as payment_methods
from crm_core.models import Interaction
from dialer.seats import CampaignSeats, SeatError
from routing.agent_state import AgentState
from routing.errors import RoutingError

TAB_HEADER = "X-Tab-Id"


async def desk_page(request: web.Request) -> web.StreamResponse:
    principal = current(request)
    if principal is None:
        raise web.HTTPFound("/login")
    deps = request.app[DEPS]
    dispositions = [
        {
            "code": d.code,
            "label": d.label(principal.language),
            "promise": d.needs_promise,
            "callback": d.needs_callback,
        }
        for d in await disposition_codes.active(deps.db, deps.dispositions)
    ]
    return request.app[RENDERER].page(
        "desk.html",
        principal.language,
        user=principal,
        csrf_token=request[SESSION].csrf_token,
        dispositions=dispositions,
        payment_methods=list(payment_methods.METHODS),
        pause_reasons=list(deps.pause_reasons),
        boot={
            "user": {"id": principal.user_id, "agent_id": principal.agent_id},
            "wrap_up_s": deps.settings.routing.wrap_up_s,
        },
    )


def require_active_tab(request: web.Request, principal: Principal) -> None:
    """A read-only tab (another tab of the same operator handles calls) may not act."""
    tab = request.headers.get(TAB_HEADER)
    active = request.app[HUB].active_tab(principal.agent_id)
    if tab is not None and active is not None and tab != active:
        raise ApiError(409, "desk.read_only_tab", "another tab of yours is handling calls")


async def desk_state(request: web.Request) -> web.Response:
    """Everything the desk shows, for the first paint and for a resync after a reconnect."""
    principal = require(request)
    deps = request.app[DEPS]
    board = request.app[BOARD]
    now = deps.clock.now()
    snapshot = board.desk_snapshot(principal.agent_id)
    async with deps.db.session() as session:
        figures = await counters.today(
            session, principal.user_id, now, deps.settings.center.timezone
        )
        queues = [snapshot["call"]["queue"]] if snapshot["call"] else []
        callbacks = await callback_list(session, user_id=principal.user_id, queues=queues, now=now)
        disposed = await _disposed(session, board.agent(principal.agent_id).linkedid)
    return web.json_response(
        {
            **snapshot,
            "server_now": now.isoformat(),
            "today": figures,
            "callbacks": callbacks,
            "disposed": disposed,
            "active_tab": request.app[HUB].active_tab(principal.agent_id),
        }
    )


async def _disposed(session: AsyncSession, linkedid: str | None) -> bool:
    if linkedid is None:
        return False
    row = await session.execute(
        select(Interaction.disposition).where(Interaction.linkedid == linkedid)
    )
    value = row.scalar_one_or_none()
    return bool(value)


async def agent_action(request: web.Request) -> web.Response:
    """login / ready / pause (with a reason) / logout / extend wrap-up, through the ACD."""
    principal = require(request)
    require_active_tab(request, principal)
    deps = request.app[DEPS]
    if deps.acd is None:
        raise unavailable("acd")
    body = await read_json(request)
    action = body.get("action")
    agent_id = principal.agent_id
    view = request.app[BOARD].agent(agent_id)
    seats = deps.seats
    campaign = (
        seats if isinstance(seats, CampaignSeats) and seats.seat(agent_id) is not None else None
    )
    seated = campaign is not None
    try:
        if seated and action in ("login", "logout"):
            raise ApiError(409, "seat.on_campaign", "leave the campaign first")
        if action == "login":
            await deps.acd.login(agent_id)
        elif action == "ready":
            if view.state is AgentState.WRAP_UP:
                async with deps.db.session() as session:
                    if not await _disposed(session, view.linkedid):
                        raise ApiError(
                            409, "desk.disposition_required", "save a disposition to leave wrap-up"
                        )
            if campaign is not None:  # its wrap-up or pause (dialer.seats decides the ACD's part)
                campaign.ready(agent_id)
            else:
                await deps.acd.ready(agent_id)
        elif action == "pause":
            reason = body.get("reason")
            if reason not in deps.pause_reasons:
                raise invalid("reason", f"one of {', '.join(deps.pause_reasons)}")
            if campaign is not None:
                campaign.pause(agent_id, reason)
            else:
                await deps.acd.pause(agent_id, reason)
        elif action == "logout":
            await deps.acd.logout(agent_id)
        elif action == "extend":
            await deps.acd.extend_wrap_up(agent_id, 30.0)
        else:
            raise invalid("action", "one of login, ready, pause, logout, extend")
    except RoutingError as exc:
        raise ApiError(409, f"acd.{exc.code}", str(exc)) from exc
    except SeatError as exc:
        raise ApiError(409, exc.code, str(exc)) from exc
    except ValueError as exc:  # the ACD refuses bad input (no endpoint, bad reason) this way
        raise ApiError(409, "acd.refused", str(exc)) from exc
    return web.json_response({"ok": True})


async def save_wrapup(request: web.Request) -> web.Response:
    """The desk's wrap-up: the operator's one disposition of their call (crm_core.dispositions)."""
    principal = require(request)
    require_active_tab(request, principal)
    body = await read_json(request)
    return web.json_response(await wrapup.save(request, principal, body))
