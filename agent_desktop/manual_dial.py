"""Click-to-call under the dialer's rules: a manual dial is an attempt like any other.

Before the desk originates, the number's debts go through the same compliance rules as a
campaign's dials (debtor-local calling hours, attempt caps, the quiet week after a conversation,
do-not-call, disputes, the 72 h after an abandoned call). A refusal reaches the operator with the
rule and the reason, and the supervisors' panel, where a supervisor may approve that one dial with
a reason; supervisors dialling themselves may override with a reason. Every refusal, approval and
override is in the audit log, and every manual dial is written to the attempt ledger (under the
"manual-dial" campaign row, since the ledger needs a campaign), so the rules count it.
"""

from __future__ import annotations

import itertools
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agent_desktop.api_routes import STRING, ApiRoute, json_body
from agent_desktop.audit_trail import audit_request
from agent_desktop.board import PANEL
from agent_desktop.errors import ApiError, forbidden, invalid, read_json
from agent_desktop.hub import Hub
from agent_desktop.principal import Principal
from agent_desktop.security import require
from crm_core import audit
from crm_core.clock import Clock
from crm_core.config import Settings
from crm_core.db import Database
from crm_core.models import Contact, ContactPhone, Debt, DebtStatus, Phone
from crm_core.phones import try_normalise
from dialer.attempts import Attempt
from dialer.compliance import Compliance, CompliancePolicy, DialTarget, Rule
from dialer.leads import load_do_not_call
from dialer.ledger import AttemptLedger
from dialer.tables import CampaignRow

MANUAL_CAMPAIGN = "manual-dial"  # the ledger row every manual attempt is filed under
APPROVAL_TTL = timedelta(minutes=15)
NEVER_OVERRIDDEN = frozenset({Rule.DO_NOT_CALL})  # the global list: nobody dials it, full stop
CLOSED_DEBTS = (DebtStatus.PAID.value, DebtStatus.CLOSED.value)
MAX_REASON = 200


@dataclass(frozen=True, slots=True)
class Denial:
    """One rule refusing the dial (for one debt of the number, or for the number itself)."""

    debt_id: int | None
    phone: str
    rule: Rule
    reason: str
    not_before: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "debt_id": self.debt_id,
            "phone": self.phone,
            "rule": self.rule.value,
            "reason": self.reason,
            "not_before": self.not_before.isoformat() if self.not_before else None,
        }


@dataclass(frozen=True, slots=True)
class Approval:
    """A supervisor's leave for one operator to dial one number once, soon."""

    agent_id: str
    phone: str
    approver_id: int
    reason: str
    expires_at: datetime


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
        self._policy = policy_from(settings)
        self._ledger = AttemptLedger(db)
        self._approvals: dict[tuple[str, str], Approval] = {}
        self._ids = itertools.count(1)
        self._campaign_id: int | None = None
        self.denials: deque[dict[str, Any]] = deque(maxlen=50)  # recent, for the panel

    # -- the rules -----------------------------------------------------------------------------

    async def evaluate(self, e164: str, now: datetime) -> tuple[list[DialTarget], list[Denial]]:
        """The number's open debts as dial targets, and every refusal the rules give now."""
        targets = await self._targets(e164)
        dnc = await load_do_not_call(self._db, await self.campaign_id())
        compliance = Compliance(self._policy, dnc)
        if not targets:  # not a debtor's number (a creditor, a colleague): only the global list
            if e164 in dnc.global_numbers:
                reason = f"{e164} is on do-not-call"
                return [], [Denial(None, e164, Rule.DO_NOT_CALL, reason, None)]
            return [], []
        p = self._policy
        lookback = max(p.attempts_window, p.quiet_after_conversation, p.abandoned_redial_gap)
        history = await self._ledger.history(
            since=now - lookback - timedelta(days=1),
            debt_ids=[t.debt_id for t in targets],
            phones=[e164],
        )
        denials = []
        for target in targets:
            verdict = compliance.check(target, history, now)
            if not verdict.allowed and verdict.rule is not None:
                denials.append(
                    Denial(target.debt_id, e164, verdict.rule, verdict.reason, verdict.not_before)
                )
        return targets, denials

    async def _targets(self, e164: str) -> list[DialTarget]:
        query = (
            select(Debt.id, Debt.status, Contact.timezone, Phone.do_not_call)
            .join(Contact, Contact.id == Debt.contact_id)
            .join(ContactPhone, ContactPhone.contact_id == Contact.id)
            .join(Phone, Phone.id == ContactPhone.phone_id)
            .where(Phone.e164 == e164, Debt.status.not_in(CLOSED_DEBTS))
            .order_by(Debt.id)
        )
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return [
            DialTarget(
                debt_id=debt_id,
                phone=e164,
                address_zone=zone,
                debt_disputed=str(status) == DebtStatus.DISPUTED.value,
                phone_do_not_call=flagged,
            )
            for debt_id, status, zone, flagged in rows
        ]

    async def campaign_id(self) -> int:
        """The manual-dial campaign row (created once; it never dials by itself)."""
        if self._campaign_id is not None:
            return self._campaign_id
        now = self._clock.now()
        insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        statement = (
            insert(CampaignRow)
            .values(
                name=MANUAL_CAMPAIGN,
                state="stopped",
                state_reason="manual dials from the desk",
                settings={"name": MANUAL_CAMPAIGN, "dial_mode": "preview"},
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
        )
        async with self._db.session() as session:
            await session.execute(statement)
            await session.commit()
            found = await session.scalar(
                select(CampaignRow.id).where(CampaignRow.name == MANUAL_CAMPAIGN)
            )
        if found is None:  # the insert was refused for another reason than the name
            raise RuntimeError(f"could not create the {MANUAL_CAMPAIGN!r} campaign row")
        self._campaign_id = found
        return found

    # -- approvals -----------------------------------------------------------------------------

    def approve(self, agent_id: str, raw_number: str, approver: Principal, reason: str) -> Approval:
        e164 = try_normalise(raw_number.replace(" ", ""), self._region)
        if e164 is None:
            raise invalid("number", "a phone number")
        approval = Approval(
            agent_id, e164, approver.user_id, reason, self._clock.now() + APPROVAL_TTL
        )
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

    async def guard(self, request: web.Request, principal: Principal, body: dict[str, Any]) -> None:
        """Raises `dial.denied` unless every rule allows the dial or a reasoned override does;
        then files the attempt in the ledger (before the Originate, like the dialer)."""
        number = body.get("number")
        if not isinstance(number, str) or not principal.endpoint:
            return  # the dial handler refuses these (bad field, no phone) without dialling
        e164 = try_normalise(number.replace(" ", ""), self._region)
        if e164 is None:
            return  # an extension or a service number: no debtor behind it
        now = self._clock.now()
        targets, denials = await self.evaluate(e164, now)
        if denials:
            await self._refused_or_overridden(request, principal, body, e164, denials, now)
        campaign_id = await self.campaign_id()
        batch = uuid.uuid4().hex[:16]
        for target in targets:
            await self._ledger.started(
                Attempt(
                    attempt_id=f"manual-{batch}-{target.debt_id}",
                    campaign_id=campaign_id,
                    debt_id=target.debt_id,
                    phone=e164,
                    started_at=now,
                )
            )

    async def _refused_or_overridden(
        self,
        request: web.Request,
        principal: Principal,
        body: dict[str, Any],
        e164: str,
        denials: list[Denial],
        now: datetime,
    ) -> None:
        overridable = not any(d.rule in NEVER_OVERRIDDEN for d in denials)
        details = [d.to_dict() for d in denials]
        override: dict[str, Any] | None = None
        if "override_reason" in body:
            if not principal.is_supervisor:
                raise forbidden("override the dialing rules; ask a supervisor to approve the dial")
            override = {"reason": reason_from(body, "override_reason"), "approver_id": None}
        elif overridable:
            approval = self._take_approval(principal.agent_id, e164, now)
            if approval is not None:
                override = {"reason": approval.reason, "approver_id": approval.approver_id}
        async with self._db.session() as session:
            audit.record(
                session,
                at=now,
                user_id=principal.user_id,
                action="dial_override" if override and overridable else "dial_denied",
                object_type="phone",
                object_id=e164,
                remote_addr=request.remote or "",
                denials=details,
                **({"override": override} if override else {}),
            )
            await session.commit()
        if override is not None and overridable:
            return
        first = denials[0]
        when = f"; allowed from {first.not_before:%Y-%m-%d %H:%M} UTC" if first.not_before else ""
        if overridable:
            self._publish_denial(principal, e164, details, now)
        raise ApiError(
            409,
            "dial.denied" if overridable else "dial.not_overridable",
            f"not allowed now ({first.rule.value}): {first.reason}{when}",
            {"denials": details, "overridable": overridable},
        )

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


async def guard(request: web.Request, principal: Principal, body: dict[str, Any]) -> None:
    """The one call click-to-call makes before it originates."""
    await request.app[MANUAL_DIAL].guard(request, principal, body)


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
