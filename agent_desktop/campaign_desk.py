"""Campaigns worked from the operator's desk: join, leave, and what the campaign is doing.

A thin edge over `dialer.seats.CampaignSeats` (the composition root hands it in as
`DesktopDeps.seats`): joining nails the operator's line up and tells the ACD, leaving waits for
the current call; a supervisor marks an operator blended (inbound calls too) for a campaign.
On a campaign in preview mode, the desk asks for the next debtor (reserved for the operator, with
a countdown), then dials or skips it with a reason: `dialer.preview.PreviewDesk`
(`DesktopDeps.preview`) holds the rules.
"""

from __future__ import annotations

from aiohttp import web

from agent_desktop.api_routes import BOOLEAN, ApiRoute, json_body
from agent_desktop.audit_trail import audit_request
from agent_desktop.desk_views import require_active_tab
from agent_desktop.errors import ApiError, invalid, path_id, read_json, unavailable
from agent_desktop.keys import DEPS
from agent_desktop.security import require, require_supervisor
from dialer.operators import OperatorError
from dialer.preview import PreviewDesk, PreviewError
from dialer.seats import CampaignSeats, SeatError


def seats_of(request: web.Request) -> CampaignSeats:
    seats = request.app[DEPS].seats
    if not isinstance(seats, CampaignSeats):
        raise unavailable("dialer")
    return seats


def _refused(exc: SeatError) -> ApiError:
    return ApiError(409, exc.code, str(exc))


def preview_of(request: web.Request) -> PreviewDesk:
    preview = request.app[DEPS].preview
    if not isinstance(preview, PreviewDesk):
        raise unavailable("dialer")
    return preview


def _preview_refused(exc: PreviewError) -> ApiError:
    if exc.code == "preview.bad_reason":
        return invalid("reason", str(exc))
    denials = [d.to_dict() for d in exc.denials]
    return ApiError(409, exc.code, str(exc), {"denials": denials} if denials else None)


async def next_preview(request: web.Request) -> web.Response:
    """The operator's preview: the debtor reserved for them (reserving the next one if none),
    or null when no debtor may be called now."""
    principal = require(request)
    try:
        preview = preview_of(request).next(principal.agent_id)
    except PreviewError as exc:
        raise _preview_refused(exc) from exc
    except OperatorError as exc:
        raise ApiError(409, "preview.not_joined", str(exc)) from exc
    return web.json_response({"preview": preview})


async def dial_preview(request: web.Request) -> web.Response:
    principal = require(request)
    require_active_tab(request, principal)
    body = await read_json(request)
    phone = body.get("phone")
    if phone is not None and not isinstance(phone, str):
        raise invalid("phone", "one of the debtor's numbers (E.164), or omitted")
    try:
        dialled = await preview_of(request).dial(principal.agent_id, phone)
    except PreviewError as exc:
        raise _preview_refused(exc) from exc
    except OperatorError as exc:
        raise ApiError(409, "preview.not_joined", str(exc)) from exc
    return web.json_response(dialled)


async def skip_preview(request: web.Request) -> web.Response:
    principal = require(request)
    require_active_tab(request, principal)
    body = await read_json(request)
    reason = body.get("reason")
    if not isinstance(reason, str):
        raise invalid("reason", "one of the skip reasons")
    try:
        await preview_of(request).skip(principal.agent_id, reason, principal.user_id)
    except PreviewError as exc:
        raise _preview_refused(exc) from exc
    return web.json_response({"skipped": True})


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
    r.add_get("/desk/campaign/preview", next_preview)
    r.add_post("/desk/campaign/preview/dial", dial_preview)
    r.add_post("/desk/campaign/preview/skip", skip_preview)


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
