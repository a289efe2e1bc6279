"""The supervisors' campaign editor: create, edit and clone campaigns from the browser and the
REST API, a thin edge over dialer/campaign_store.py.

The definition is the JSON form of the TOML file `callboard campaign create` reads (same keys,
same sections), checked by the same validator (dialer.settings.define_campaign): a bad value
answers 422 `campaign.invalid` with `details.field` naming the setting (`compliance.
max_attempts_per_debt`), and a loosened legal default names its rule. Supervisors and admins
only; CSRF as every state change; each write is audited with the definition before and after.

A running campaign is not edited (409 `campaign.running`): pause it, save, resume. The saved
settings go to the campaign's dialer on this node at once and dial from the resume. A campaign
created or cloned here is stored stopped; a node loads its dialer at its next start.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_desktop.api_routes import STRING, ApiRoute, json_body
from agent_desktop.audit_trail import audit_request
from agent_desktop.errors import ApiError, not_found, path_id, read_json
from agent_desktop.keys import DEPS, RENDERER
from agent_desktop.manual_dial import supervisor
from agent_desktop.security import SESSION
from dialer import campaign_store
from dialer.campaign import CampaignError
from dialer.campaign_store import CampaignNameTaken, CampaignNotFound, CampaignRunning, Saved
from dialer.compliance import Rule
from dialer.settings import LEGAL, LEGAL_ABANDON_RATE, CampaignSettings, CampaignSettingsError

WHAT = "create or edit campaigns"


def _error(exc: CampaignError) -> ApiError:
    if isinstance(exc, CampaignNameTaken):
        return ApiError(409, "campaign.name_taken", str(exc), {"field": "name"})
    if isinstance(exc, CampaignSettingsError):
        return ApiError(422, "campaign.invalid", str(exc), {"field": exc.key})
    if isinstance(exc, CampaignRunning):
        return ApiError(409, "campaign.running", str(exc))
    if isinstance(exc, CampaignNotFound):
        return not_found("campaign")
    return ApiError(422, "campaign.invalid", str(exc))


def _dialer(request: web.Request, campaign_id: int) -> Any:
    dialers = request.app[DEPS].dialer
    return dialers.get(campaign_id) if hasattr(dialers, "get") else None


def _answer(saved: Saved, status: int = 200) -> web.Response:
    return web.json_response(
        {"id": saved.id, "state": saved.state, "definition": saved.after}, status=status
    )


async def defaults(request: web.Request) -> web.Response:
    """A new campaign's definition (the legal defaults) and the legal limits, for the form."""
    supervisor(request, WHAT)
    data = CampaignSettings(name="-").to_dict()
    data["name"] = ""
    return web.json_response({"definition": data, "legal": legal_limits()})


def legal_limits() -> dict[str, Any]:
    """What no campaign may loosen, each with the rule that refuses it."""
    return {
        "compliance.calling_from": {
            "min": f"{LEGAL.calling_from:%H:%M}",
            "rule": Rule.CALLING_HOURS,
        },
        "compliance.calling_until": {
            "max": f"{LEGAL.calling_until:%H:%M}",
            "rule": Rule.CALLING_HOURS,
        },
        "compliance.max_attempts_per_debt": {
            "max": LEGAL.max_attempts_per_debt,
            "rule": Rule.ATTEMPT_CAP,
        },
        "compliance.attempts_window_days": {
            "min": LEGAL.attempts_window.days,
            "rule": Rule.ATTEMPT_CAP,
        },
        "compliance.quiet_after_conversation_days": {
            "min": LEGAL.quiet_after_conversation.days,
            "rule": Rule.AFTER_CONVERSATION,
        },
        "compliance.max_attempts_per_phone_per_day": {
            "max": LEGAL.max_attempts_per_phone_per_day,
            "rule": Rule.PHONE_DAILY_CAP,
        },
        "compliance.abandoned_redial_gap_hours": {
            "min": LEGAL.abandoned_redial_gap.total_seconds() / 3600,
            "rule": Rule.ABANDONED_REDIAL,
        },
        "target_abandon_rate": {"max": LEGAL_ABANDON_RATE, "rule": "abandon_rate"},
    }


async def get_definition(request: web.Request) -> web.Response:
    supervisor(request, WHAT)
    campaign_id = path_id(request, "campaign_id")
    try:
        row = await campaign_store.load(request.app[DEPS].db, campaign_id)
    except CampaignError as exc:
        raise _error(exc) from exc
    problem = None
    try:
        row.campaign_settings()
    except CampaignError as exc:
        problem = {"message": str(exc), "field": getattr(exc, "key", None)}
    dialer = _dialer(request, campaign_id)
    state = dialer.campaign.state.value if dialer is not None else row.state
    return web.json_response(
        {
            "id": row.id,
            "state": state,
            "definition": campaign_store.definition(row),
            "problem": problem,
        }
    )


async def create(request: web.Request) -> web.Response:
    principal = supervisor(request, WHAT)
    body = await read_json(request)
    deps = request.app[DEPS]
    try:
        saved = await campaign_store.create_campaign(
            deps.db, body, deps.clock.now(), reason=f"created by {principal.username}"
        )
    except CampaignError as exc:
        raise _error(exc) from exc
    await audit_request(
        request,
        user_id=principal.user_id,
        action="campaign_create",
        object_type="campaign",
        object_id=saved.id,
        before=None,
        after=saved.after,
    )
    return _answer(saved, 201)


async def edit(request: web.Request) -> web.Response:
    principal = supervisor(request, WHAT)
    campaign_id = path_id(request, "campaign_id")
    body = await read_json(request)
    deps = request.app[DEPS]
    dialer = _dialer(request, campaign_id)
    try:
        saved = await campaign_store.edit_campaign(
            deps.db,
            campaign_id,
            body,
            deps.clock.now(),
            live_state=dialer.campaign.state if dialer is not None else None,
        )
    except CampaignError as exc:
        raise _error(exc) from exc
    if dialer is not None:
        dialer.apply_settings(saved.settings)  # used from the campaign's resume on
    await audit_request(
        request,
        user_id=principal.user_id,
        action="campaign_edit",
        object_type="campaign",
        object_id=campaign_id,
        before=saved.before,
        after=saved.after,
    )
    return _answer(saved)


async def clone(request: web.Request) -> web.Response:
    principal = supervisor(request, WHAT)
    campaign_id = path_id(request, "campaign_id")
    body = await read_json(request)
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise ApiError(422, "campaign.invalid", "name: must be a string", {"field": "name"})
    deps = request.app[DEPS]
    try:
        saved = await campaign_store.clone_campaign(
            deps.db, campaign_id, deps.clock.now(), name=name or None
        )
    except CampaignError as exc:
        raise _error(exc) from exc
    await audit_request(
        request,
        user_id=principal.user_id,
        action="campaign_clone",
        object_type="campaign",
        object_id=saved.id,
        source=campaign_id,
        before=None,
        after=saved.after,
    )
    return _answer(saved, 201)


async def editor_page(request: web.Request) -> web.StreamResponse:
    """The editor: the campaigns to pick from, and the form (filled by campaign_editor.js)."""
    principal = supervisor(request, "open supervisor panels")
    return request.app[RENDERER].page(
        "campaign_editor.html",
        principal.language,
        user=principal,
        csrf_token=request[SESSION].csrf_token,
        outcomes=OUTCOMES,
        campaigns=await campaign_store.listing(request.app[DEPS].db),
        weekdays=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    )


OUTCOMES = (
    ("busy", "Busy"),
    ("no_answer", "No answer"),
    ("machine", "Answering machine"),
    ("human", "Person, no conversation"),
    ("hung_up", "Hung up before AMD"),
    ("rejected", "Rejected"),
    ("congestion", "Congestion"),
    ("invalid_number", "Invalid number"),
    ("failed", "Failed (our side)"),
    ("not_dialled", "Not dialled (PBX refused)"),
)

DEFINITION = {"type": "object", "description": "the campaign's settings, as deploy/campaign.toml"}
ROUTES = (
    ApiRoute(
        "GET",
        "/api/campaign-defaults",
        defaults,
        "A new campaign's defaults and legal limits",
        "supervisor",
    ),
    ApiRoute("POST", "/api/campaigns", create, "Create a campaign", "supervisor", DEFINITION),
    ApiRoute(
        "GET",
        "/api/campaigns/{campaign_id}/definition",
        get_definition,
        "A campaign's settings",
        "supervisor",
    ),
    ApiRoute(
        "PUT",
        "/api/campaigns/{campaign_id}/definition",
        edit,
        "Replace a campaign's settings (not while it runs: pause it first)",
        "supervisor",
        DEFINITION,
    ),
    ApiRoute(
        "POST",
        "/api/campaigns/{campaign_id}/clone",
        clone,
        "A stopped copy of a campaign under a new name",
        "supervisor",
        json_body(name=STRING),
    ),
)
PAGES = (("GET", "/supervisor/campaigns/editor", editor_page),)
