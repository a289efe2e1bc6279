"""The web edge of the disposition rule (crm_core.dispositions): the desk's wrap-up and the REST
API's save and correction turn HTTP into calls of the one rule and its refusals into API errors.

- `POST /desk/wrapup` and `POST /api/calls/{linkedid}/disposition` save the operator's
  disposition of a call, once (a repeat with the same key answers the first result; another key
  is a 409 `disposition.already_saved` that says how to correct it);
- `PUT /api/calls/{linkedid}/disposition` corrects a saved one (its operator within
  `[dispositions] correction_window_s` of saving, a supervisor or an administrator any time).
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from aiohttp import web
from sqlalchemy import select

from agent_desktop.errors import ApiError, invalid, read_json
from agent_desktop.keys import BOARD, DEPS, DesktopDeps
from agent_desktop.principal import Principal
from agent_desktop.security import client_address, require
from crm_core import disposition_codes
from crm_core import dispositions as rule
from crm_core.arrangements import CollectionRules
from crm_core.interactions import InteractionLog
from crm_core.models import Interaction
from dialer.conversations import record_disposition

_STATUS: dict[type[rule.DispositionRefused], int] = {
    rule.CallNotFound: 404,
    rule.NotYourCall: 403,
    rule.AlreadyDisposed: 409,
    rule.NothingToCorrect: 404,
    rule.CorrectionRefused: 403,
}


def dispositions(deps: DesktopDeps) -> rule.Dispositions:
    return rule.Dispositions(
        deps.db,
        center_tz=deps.settings.center.timezone,
        correction_window=timedelta(seconds=deps.settings.dispositions.correction_window_s),
        ledger=partial(record_disposition, deps.db),
        rules=CollectionRules.from_settings(deps.settings),
    )


def correction_path(linkedid: str) -> str:
    return f"/api/calls/{linkedid}/disposition"


def api_error(exc: Exception, linkedid: str) -> ApiError:
    if isinstance(exc, rule.WrapUpError):
        return invalid(exc.field, exc.message)
    assert isinstance(exc, rule.DispositionRefused)
    details = dict(exc.details)
    if isinstance(exc, rule.AlreadyDisposed):
        details["correct_with"] = f"PUT {correction_path(linkedid)}"
    return ApiError(_STATUS.get(type(exc), 409), exc.code, exc.message, details)


async def save(
    request: web.Request, principal: Principal, body: dict[str, Any], linkedid: str | None = None
) -> dict[str, Any]:
    """The operator's wrap-up of a call: the one offered to them now, or one logged as theirs."""
    deps = request.app[DEPS]
    try:
        codes = await disposition_codes.active(deps.db, deps.dispositions)
        wrap = rule.parse(body, codes, linkedid)
    except rule.WrapUpError as exc:
        raise invalid(exc.field, exc.message) from exc
    call = request.app[BOARD].calls.get(wrap.linkedid)
    offered_here = call is not None and call.agent_id == principal.agent_id
    interaction_id = await _interaction_id(deps, wrap.linkedid)
    if interaction_id is None and call is not None and offered_here:
        interaction_id = await InteractionLog(deps.db).call_started(
            wrap.linkedid,
            started_at=call.offered_at or deps.clock.now(),
            caller_number=call.caller_number or "",
            queue=call.queue,
            contact_id=call.contact_id,
        )
    if interaction_id is None:
        raise ApiError(404, "not_found", f"no call {wrap.linkedid}")
    try:
        return await dispositions(deps).save(
            wrap,
            interaction_id=interaction_id,
            user_id=principal.user_id,
            current_call=offered_here,
            queue=call.queue if call is not None else None,
            contact_id=call.contact_id if call is not None else None,
            now=deps.clock.now(),
            remote_addr=client_address(request),
        )
    except (rule.WrapUpError, rule.DispositionRefused) as exc:
        raise api_error(exc, wrap.linkedid) from exc


async def correct(
    request: web.Request, principal: Principal, body: dict[str, Any], linkedid: str
) -> dict[str, Any]:
    deps = request.app[DEPS]
    leg_user_id = body.get("user_id")
    if leg_user_id is not None and (
        not isinstance(leg_user_id, int) or isinstance(leg_user_id, bool)
    ):
        raise invalid("user_id", "the operator whose disposition to correct, as a number")
    try:
        codes = await disposition_codes.active(deps.db, deps.dispositions)
        wrap = rule.parse(body, codes, linkedid)
        reason = rule.parse_reason(body)
    except rule.WrapUpError as exc:
        raise invalid(exc.field, exc.message) from exc
    interaction_id = await _interaction_id(deps, linkedid)
    if interaction_id is None:
        raise ApiError(404, "not_found", f"no call {linkedid}")
    try:
        return await dispositions(deps).correct(
            wrap,
            interaction_id=interaction_id,
            actor=rule.Actor(principal.user_id, principal.is_supervisor),
            leg_user_id=leg_user_id,
            reason=reason,
            now=deps.clock.now(),
            remote_addr=client_address(request),
        )
    except (rule.WrapUpError, rule.DispositionRefused) as exc:
        raise api_error(exc, linkedid) from exc


async def _interaction_id(deps: DesktopDeps, linkedid: str) -> int | None:
    async with deps.db.session() as session:
        return await session.scalar(select(Interaction.id).where(Interaction.linkedid == linkedid))


# -- the REST API's handlers -------------------------------------------------------------------


async def save_disposition(request: web.Request) -> web.Response:
    principal = require(request)
    body = await read_json(request)
    return web.json_response(await save(request, principal, body, request.match_info["linkedid"]))


async def correct_disposition(request: web.Request) -> web.Response:
    principal = require(request)
    body = await read_json(request)
    linkedid = request.match_info["linkedid"]
    return web.json_response(await correct(request, principal, body, linkedid))
