"""Click-to-call under the dialer's rules: a manual dial is an attempt like any other.

Before the desk originates, the number's debts go through the same compliance rules as a
campaign's dials (debtor-local calling hours, attempt caps, the quiet week after a conversation,
do-not-call, disputes, the 72 h after an abandoned call). A refusal reaches the operator with the
rule and the reason, and the supervisors' panel, where a supervisor may approve that one dial with
a reason; supervisors dialling themselves may override with a reason. Every refusal, approval and
override is in the audit log, and every manual dial is written to the attempt ledger (under the
"manual-dial" campaign row, since the ledger needs a campaign), so the rules count it.

The rules themselves (what may be dialled, check-and-record under one lock, outcomes) live in
dialer/manual.py; this module is the desk's edge: approvals, the supervisors' list, the audit.
Every manual dial is audited ("manual_dial", allowed or refused); a number that is neither an
internal extension ([center] internal_extensions) nor a valid number is refused
("dial.invalid_number"), never dialled unchecked.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web

from agent_desktop.api_routes import STRING, ApiRoute, json_body
from agent_desktop.audit_trail import audit_request
from agent_desktop.board import PANEL
from agent_desktop.errors import ApiError, forbidden, invalid, read_json
from agent_desktop.hub import Hub
from agent_desktop.keys import DEPS
from agent_desktop.principal import Principal
from agent_desktop.security import require
from crm_core import audit
from crm_core.clock import Clock
from crm_core.config import Settings
from crm_core.db import Database
from dialer.compliance import NEVER_OVERRIDDEN, CompliancePolicy
from dialer.manual import MANUAL_CAMPAIGN as MANUAL_CAMPAIGN
from dialer.manual import (
    Decision,
    Denial,
    ManualDials,
    ManualOutcomes,
    NotDialable,
    Override,
    classify,
    compile_extensions,
    new_call_id,
)

APPROVAL_TTL = timedelta(minutes=15)
# the global list and a stopped debt: nobody dials them, full stop (dialer.compliance)
MAX_REASON = 200


@dataclass(frozen=True, slots=True)
class Approval:
    """A supervisor's leave for one operator to dial one number once, soon."""

    agent_id: str
    phone: str
    approver_id: int
    reason: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PlannedDial:
    """What click-to-call dials once the guard let it through."""

    dial: str  # the extension as typed, or the checked number in E.164
    decision: Decision | None  # None: an internal extension (no debtor, no ledger)


def policy_from(settings: Settings) -> CompliancePolicy:
    """The center's legal defaults for manual dials (campaigns carry their own policies)."""
    return CompliancePolicy(
        calling_from=time.fromisoformat(settings.dialer.calling_hours_start),
        calling_until=time.fromisoformat(settings.dialer.calling_hours_end),
        center_zone=settings.center.timezone,
    )


def reason_from(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "a reason is required")
    if len(value) > MAX_REASON:
        raise invalid(field, f"at most {MAX_REASON} characters")
    return value.strip()


class ManualDialGuard:
    """Checks, records and (with a reason) lets through the desk's manual dials."""

    def __init__(self, db: Database, hub: Hub, clock: Clock, settings: Settings) -> None:
        self._db = db
        self._hub = hub
        self._clock = clock
        self._region = settings.center.default_region
        self._extensions = compile_extensions(settings.center.internal_extensions)
        self.dials = ManualDials(db, policy_from(settings), clock)
        self.outcomes: ManualOutcomes | None = None  # started with the app (app.py)
        self._approvals: dict[tuple[str, str], Approval] = {}
        self._ids = itertools.count(1)
        self.denials: deque[dict[str, Any]] = deque(maxlen=50)  # recent, for the panel

    # -- approvals -----------------------------------------------------------------------------

    def approve(self, agent_id: str, raw_number: str, approver: Principal, reason: str) -> Approval:
        try:
            e164 = classify(raw_number, self._region, ()).e164
        except NotDialable as exc:
            raise invalid("number", str(exc)) from exc
        if e164 is None:
            raise invalid("number", "a phone number")
        approval = Approval(
            agent_id, e164, approver.user_id, reason, self._clock.now() + APPROVAL_TTL
        )
        now = self._clock.now()  # approvals never used are dropped once expired: no growth
        for key in [k for k, a in self._approvals.items() if a.expires_at <= now]:
            del self._approvals[key]
        self._approvals[(agent_id, e164)] = approval
        self._drop_denials(agent_id, e164)
        return approval

    def _take_approval(self, agent_id: str, e164: str, now: datetime) -> Approval | None:
        approval = self._approvals.pop((agent_id, e164), None)
        return approval if approval is not None and approval.expires_at > now else None

    def _drop_denials(self, agent_id: str, e164: str) -> None:
        for entry in [d for d in self.denials if (d["agent_id"], d["phone"]) == (agent_id, e164)]:
            self.denials.remove(entry)
            self._hub.publish(PANEL, {"type": "dial_denial_closed", "id": entry["id"]})

    # -- the hook in click-to-call -------------------------------------------------------------

    async def guard(
        self, request: web.Request, principal: Principal, body: dict[str, Any]
    ) -> PlannedDial | None:
        """Raises `dial.denied` unless every rule allows the dial or a reasoned override does;
        the check and the attempts in the ledger are one transaction (before the Originate,
        like the dialer). None: the dial handler refuses the request itself."""
        number = body.get("number")
        if not isinstance(number, str) or not principal.endpoint:
            return None  # the dial handler refuses these (bad field, no phone) without dialling
        now = self._clock.now()
        try:
            target = classify(number, self._region, self._extensions)
        except NotDialable as exc:
            await self._audit(request, principal, number, now, allowed=False, reason=str(exc))
            raise ApiError(
                422, "dial.invalid_number", str(exc), {"field": "number", "number": number}
            ) from exc
        if target.e164 is None:
            await self._audit(request, principal, number, now, allowed=True, kind=target.kind)
            return PlannedDial(target.dial, None)
        e164 = target.e164
        override_reason: str | None = None
        if "override_reason" in body:
            if not principal.is_supervisor:
                raise forbidden("override the dialing rules; ask a supervisor to approve the dial")
            override_reason = reason_from(body, "override_reason")

        def override_for(denials: list[Denial]) -> Override | None:
            if any(d.rule in NEVER_OVERRIDDEN for d in denials):
                return None
            if override_reason is not None:
                return Override(override_reason, None)
            approval = self._take_approval(principal.agent_id, e164, now)
            return Override(approval.reason, approval.approver_id) if approval else None

        decision = await self.dials.check_and_record(
            e164, now, call_id=new_call_id(), agent_id=principal.agent_id, override_for=override_for
        )
        details = [d.to_dict() for d in decision.denials]
        await self._audit(
            request,
            principal,
            number,
            now,
            allowed=decision.allowed,
            e164=e164,
            call_id=decision.call_id,
            attempts=[a.attempt_id for a in decision.attempts],
            denials=details,
            **({"override": decision.override.to_dict()} if decision.override else {}),
        )
        if decision.allowed:
            return PlannedDial(e164, decision)
        overridable = not any(d.rule in NEVER_OVERRIDDEN for d in decision.denials)
        first = decision.denials[0]
        when = f"; allowed from {first.not_before:%Y-%m-%d %H:%M} UTC" if first.not_before else ""
        if overridable:
            self._publish_denial(principal, e164, details, now)
        raise ApiError(
            409,
            "dial.denied" if overridable else "dial.not_overridable",
            f"not allowed now ({first.rule.value}): {first.reason}{when}",
            {"denials": details, "overridable": overridable},
        )

    async def _audit(
        self,
        request: web.Request,
        principal: Principal,
        number: str,
        now: datetime,
        *,
        allowed: bool,
        **detail: Any,
    ) -> None:
        """Every manual dial, allowed or refused, on the audit log (an override or a denial by
        the rules keeps its own action name, as before)."""
        action = "manual_dial"
        if detail.get("denials"):
            action = "dial_override" if allowed else "dial_denied"
        async with self._db.session() as session:
            audit.record(
                session,
                at=now,
                user_id=principal.user_id,
                action=action,
                object_type="phone",
                object_id=str(detail.get("e164") or number)[:64],
                remote_addr=request.remote or "",
                number=number,
                allowed=allowed,
                **detail,
            )
            await session.commit()

    def _publish_denial(
        self, principal: Principal, e164: str, details: list[dict[str, Any]], now: datetime
    ) -> None:
        self._drop_denials(principal.agent_id, e164)
        entry = {
            "id": next(self._ids),
            "at": now.isoformat(),
            "agent_id": principal.agent_id,
            "agent_name": principal.full_name,
            "phone": e164,
            "denials": details,
        }
        self.denials.append(entry)
        self._hub.publish(PANEL, {"type": "dial_denial", "denial": entry})


MANUAL_DIAL = web.AppKey("manual_dial", ManualDialGuard)


def start_outcomes(
    app: web.Application,
    background: Callable[
        [Callable[[], Coroutine[Any, Any, None]], str],
        Callable[[web.Application], AsyncIterator[None]],
    ],
) -> None:
    """The watcher that gives manual attempts their outcome, owned by the app."""
    guard = app[MANUAL_DIAL]
    guard.outcomes = ManualOutcomes(guard.dials, app[DEPS].bus)
    app.cleanup_ctx.append(background(guard.outcomes.run, "desktop-manual-dial-outcomes"))


async def guard(
    request: web.Request, principal: Principal, body: dict[str, Any]
) -> PlannedDial | None:
    """The one call click-to-call makes before it originates."""
    return await request.app[MANUAL_DIAL].guard(request, principal, body)


def supervisor(request: web.Request, what: str) -> Principal:
    """The signed-in supervisor or admin; `auth.forbidden` naming `what` for anyone else."""
    principal = require(request)
    if not principal.is_supervisor:
        raise forbidden(what)
    return principal


async def list_dial_denials(request: web.Request) -> web.Response:
    supervisor(request, "see refused manual dials")
    return web.json_response({"items": list(request.app[MANUAL_DIAL].denials)})


async def approve_dial(request: web.Request) -> web.Response:
    """A supervisor lets one operator dial one refused number once (within 15 minutes)."""
    principal = supervisor(request, "approve manual dials")
    body = await read_json(request)
    agent_id, number = body.get("agent_id"), body.get("number")
    if not isinstance(agent_id, str) or not agent_id:
        raise invalid("agent_id", "the operator's agent id")
    if not isinstance(number, str):
        raise invalid("number", "a phone number")
    reason = reason_from(body, "reason")
    approval = request.app[MANUAL_DIAL].approve(agent_id, number, principal, reason)
    await audit_request(
        request,
        user_id=principal.user_id,
        action="dial_approval",
        object_type="phone",
        object_id=approval.phone,
        agent_id=agent_id,
        reason=reason,
        expires_at=approval.expires_at.isoformat(),
    )
    return web.json_response(
        {
            "agent_id": agent_id,
            "phone": approval.phone,
            "expires_at": approval.expires_at.isoformat(),
        },
        status=201,
    )


ROUTES = (
    ApiRoute("GET", "/api/dial-denials", list_dial_denials, "Refused manual dials", "supervisor"),
    ApiRoute(
        "POST",
        "/api/dial-approvals",
        approve_dial,
        "Let an operator dial a refused number once (reason required, audited)",
        "supervisor",
        json_body(agent_id=STRING, number=STRING, reason=STRING),
    ),
)
