"""Call controls on the desk: each one is a typed action on the Switch.

Hold parks the caller in the holding context (music on hold) and resume rings the operator back
into a bridge with them: that is what hold means for an ACD that bridges by Originate. A phone
with its own hold button does not need these.
"""

from __future__ import annotations

import re

from aiohttp import web

from agent_desktop import manual_dial
from agent_desktop.board import CallView
from agent_desktop.desk_views import require_active_tab
from agent_desktop.errors import ApiError, invalid, read_json, unavailable
from agent_desktop.keys import BOARD, DEPS
from agent_desktop.principal import Principal
from agent_desktop.security import require
from ami_bridge.errors import AmiError, InvalidRequest
from ami_bridge.switch import ApplicationTarget, OriginateRequest, Switch
from crm_core.logcontext import log_context

_EXTEN = re.compile(r"[0-9A-Za-z_*#+-]{1,40}")


def _switch(request: web.Request) -> Switch:
    switch = request.app[DEPS].switch
    if switch is None:
        raise unavailable("switch")
    return switch


def _my_call(request: web.Request, principal: Principal) -> CallView:
    call = request.app[BOARD].current_call(principal.agent_id)
    if call is None or call.ended:
        raise ApiError(409, "desk.no_call", "you have no call to act on")
    return call


def _channel(channel: str | None, which: str) -> str:
    if not channel:
        raise ApiError(409, "desk.no_channel", f"the {which} channel is not known yet")
    return channel


def _exten(value: object, field: str) -> str:
    if not isinstance(value, str) or not _EXTEN.fullmatch(value):
        raise invalid(field, "an extension or queue name (letters, digits, _ * # + -)")
    return value


async def call_action(request: web.Request) -> web.Response:
    principal = require(request)
    with log_context(agent=principal.agent_id):
        require_active_tab(request, principal)
        action = request.match_info["action"]
        body = await read_json(request)
        switch = _switch(request)
        try:
            if action == "dial":
                planned = await manual_dial.guard(request, principal, body)
                return await _dial(request, switch, principal, body, planned)
            call = _my_call(request, principal)
            with log_context(linkedid=call.linkedid):
                await _act_on_call(request, switch, principal, call, action, body)
        except InvalidRequest as exc:
            raise ApiError(422, exc.code, str(exc)) from exc
        except AmiError as exc:
            raise ApiError(502, exc.code, str(exc)) from exc
    return web.json_response({"ok": True, "action": action})


async def _act_on_call(
    request: web.Request,
    switch: Switch,
    principal: Principal,
    call: CallView,
    action: str,
    body: dict[str, object],
) -> None:
    deps = request.app[DEPS]
    if action == "hangup":
        await switch.hangup(_channel(call.caller_channel, "caller"))
    elif action == "hold":
        await switch.redirect(_channel(call.caller_channel, "caller"), deps.hold_context, "s")
    elif action == "resume":
        await switch.connect(
            _channel(call.caller_channel, "caller"),
            principal.endpoint,
            caller_id=call.caller_number,
            allow_transfer=True,
        )
    elif action == "transfer":
        kind = body.get("kind")
        target = _exten(body.get("target"), "target")
        if kind == "queue":
            context = deps.queue_transfer_context
        elif kind == "operator":
            context = deps.agent_transfer_context
        else:
            raise invalid("kind", "queue or operator")
        await switch.blind_transfer(_channel(call.agent_channel, "agent"), context, target)
    elif action == "consult":
        target = _exten(body.get("target"), "target")
        await switch.attended_transfer(
            _channel(call.agent_channel, "agent"), target, deps.agent_transfer_context
        )
    elif action == "dtmf":
        digit = body.get("digit")
        if not isinstance(digit, str):
            raise invalid("digit", "one of 0-9 * #")
        await switch.play_dtmf(_channel(call.caller_channel, "caller"), digit)
    else:
        raise ApiError(404, "not_found", f"no call action {action!r}")


async def _dial(
    request: web.Request,
    switch: Switch,
    principal: Principal,
    body: dict[str, object],
    planned: manual_dial.PlannedDial | None,
) -> web.Response:
    """Click-to-call: ring the operator's phone, then dial the checked number from it. The
    Originate carries the call's id (ChannelId, so the Linkedid) and the attempts' outcome is
    recorded from its response and from the call's end."""
    number = body.get("number")
    if not isinstance(number, str):
        raise invalid("number", "a phone number")
    if not principal.endpoint:
        raise ApiError(409, "desk.no_endpoint", "your user has no phone endpoint configured")
    if planned is None:  # the guard lets nothing else through
        raise invalid("number", "a phone number")
    guard = request.app[manual_dial.MANUAL_DIAL]
    decision = planned.decision
    dial_string = switch.number_endpoint(planned.dial)
    variables = {"CB_ATTEMPT": decision.call_id} if decision is not None else {}
    if decision is not None:
        await guard.dials.record_call(decision, principal.user_id, request.app[DEPS].clock.now())
        if guard.outcomes is not None:
            guard.outcomes.watch(decision.call_id)
    try:
        result = await switch.originate(
            OriginateRequest(
                endpoint=principal.endpoint,
                target=ApplicationTarget("Dial", dial_string),
                caller_id=planned.dial,
                ring_timeout=30.0,
                variables=variables,
                channel_id=decision.call_id if decision is not None else None,
            )
        )
    except AmiError:
        if decision is not None:
            await guard.dials.originated(decision, None)
        raise
    if decision is not None:
        await guard.dials.originated(decision, result)
    return web.json_response(
        {
            "ok": result.answered,
            "outcome": result.outcome.value,
            "call_id": decision.call_id if decision is not None else None,
        }
    )
