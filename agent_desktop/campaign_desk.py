"""Campaigns worked from the operator's desk: join, leave, and what the campaign is doing.

A thin edge over `dialer.seats.CampaignSeats` (the composition root hands it in as
`DesktopDeps.seats`): joining nails the operator's line up and tells the ACD, leaving waits for
the current call; a supervisor marks an operator blended (inbound calls too) for a campaign.
"""

from __future__ import annotations

from aiohttp import web

from agent_desktop.api_routes import BOOLEAN, ApiRoute, json_body
from agent_desktop.audit_trail import audit_request
from agent_desktop.desk_views import require_active_tab
from agent_desktop.errors import ApiError, invalid, path_id, read_json, unavailable
from agent_desktop.keys import DEPS
from agent_desktop.security import require, require_supervisor
from dialer.seats import CampaignSeats, SeatError


def seats_of(request: web.Request) -> CampaignSeats:
    seats = request.app[DEPS].seats
    if not isinstance(seats, CampaignSeats):
        raise unavailable("dialer")
    return seats


def _refused(exc: SeatError) -> ApiError:
    return ApiError(409, exc.code, str(exc))


async def desk_campaigns(request: web.Request) -> web.Response:
    """The campaigns the operator may join, and the one they are on (None if none)."""
    principal = require(request)
    seats = seats_of(request)
    return web.json_response(
        {
            "campaigns": seats.campaigns_for(principal.agent_id),
            "seat": seats.state(principal.agent_id),
        }
    )


async def join_campaign(request: web.Request) -> web.Response:
    principal = require(request)
    require_active_tab(request, principal)
    body = await read_json(request)
    campaign_id = body.get("campaign_id")
    if not isinstance(campaign_id, int) or isinstance(campaign_id, bool):
        raise invalid("campaign_id", "a campaign id (integer)")
    seats = seats_of(request)
    try:
        seat = await seats.join(principal.agent_id, campaign_id)
    except SeatError as exc:
        raise _refused(exc) from exc
    return web.json_response({"seat": seat})


async def leave_campaign(request: web.Request) -> web.Response:
    principal = require(request)
    require_active_tab(request, principal)
    try:
        seat = seats_of(request).leave(principal.agent_id)
    except SeatError as exc:
        raise _refused(exc) from exc
    return web.json_response({"seat": seat})


async def set_blended(request: web.Request) -> web.Response:
    principal = require_supervisor(request)
    campaign_id = path_id(request, "campaign_id")
    agent_id = str(path_id(request, "agent_id"))
    body = await read_json(request)
    blended = body.get("blended")
    if not isinstance(blended, bool):
        raise invalid("blended", "true or false")
    seats = seats_of(request)
    before = seats.is_blended(campaign_id, agent_id)
    try:
        seats.set_blended(campaign_id, agent_id, blended)
    except SeatError as exc:
        raise _refused(exc) from exc
    await audit_request(
        request,
        user_id=principal.user_id,
        action="campaign_blend",
        object_type="campaign",
        object_id=campaign_id,
        reason=f"operator {agent_id}",
        before=str(before).lower(),
        after=str(blended).lower(),
    )
    return web.json_response({"campaign_id": campaign_id, "agent_id": agent_id, "blended": blended})


def add_desk_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/desk/campaign", desk_campaigns)
    r.add_post("/desk/campaign/join", join_campaign)
    r.add_post("/desk/campaign/leave", leave_campaign)


ROUTES = (
    ApiRoute(
        "POST",
        "/api/campaigns/{campaign_id}/operators/{agent_id}/blended",
        set_blended,
        "Mark an operator blended (inbound calls too) for a campaign, or not",
        "supervisor",
        json_body(blended=BOOLEAN),
    ),
)
