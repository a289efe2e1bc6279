"""Preview mode: the operator sees the next debtor before the call, and dials or skips.

A campaign in preview mode never dials by itself (its ticks only refill the window of leads).
An operator on it asks for the next debtor: the same selection as the power and predictive modes
(the window's order, the retry plan, the rules: dialer/selection.py) picks one, and that debt is
*reserved* for the operator: no other operator and no dialer (of any campaign in this process)
takes it until the reservation ends. The desk shows the card and a countdown
(`preview_countdown_s`); the operator dials (one of the debtor's numbers) or skips with a reason
from a short fixed list, audited. When the countdown ends the campaign's `preview_on_timeout`
decides: "dial" (the default) or "skip" (reason `timeout`).

A dial goes through the same check-and-record as a manual dial (dialer/manual.py: one
transaction locks the debt, checks every rule against the ledger, writes the attempt), filed
under the campaign; a refusal is named (the rule and its reason) and ends the reservation. The
call itself then runs as the campaign's other calls (dialer/calls.py), the debtor going straight
into the operator's conference.

`PreviewBook` is the rule (plain, the time passed in); `PreviewDesk` is the service the desk calls.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crm_core import audit
from crm_core.clock import Clock
from crm_core.db import Database
from dialer.campaign import Lead
from dialer.compliance import CompliancePolicy
from dialer.manual import Denial, ManualDials
from dialer.operators import OperatorError, OperatorState
from dialer.pacing import DialMode
from dialer.service import CampaignDialer

log = logging.getLogger(__name__)

PREVIEW_CALL_PREFIX = "dial-p"  # `dial-`: the tracker knows the call as a dialer's outbound call


class SkipReason(enum.StrEnum):
    """Why an operator passed a debtor over (the fixed list the desk offers, plus timeout)."""

    PAYMENT_REPORTED = "payment_reported"  # paid or arranged, not on record yet
    DISPUTE_REPORTED = "dispute_reported"  # a dispute to file before any call
    WRONG_DEBTOR = "wrong_debtor"  # the card does not match the debtor
    RECENT_CONTACT = "recent_contact"  # spoken to today through another channel
    OTHER = "other"
    TIMEOUT = "timeout"  # the countdown ran out and the campaign says skip


OPERATOR_REASONS = tuple(r for r in SkipReason if r is not SkipReason.TIMEOUT)


class PreviewError(ValueError):
    """A preview request the rules refuse; `code` names the reason for the API."""

    def __init__(self, code: str, message: str, denials: list[Denial] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.denials = denials or []


# -- the rule ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Reservation:
    agent_id: str
    campaign_id: int
    lead: Lead
    phone: str  # the number the selection chose (the operator may choose another of the debtor's)
    reserved_at: datetime
    deadline: datetime
    on_timeout: str  # "dial" or "skip"

    def remaining_s(self, now: datetime) -> float:
        return max(0.0, (self.deadline - now).total_seconds())

    def to_dict(self, now: datetime) -> dict[str, Any]:
        lead = self.lead
        return {
            "campaign_id": self.campaign_id,
            "debt_id": lead.debt_id,
            "contact_id": lead.contact_id,
            "creditor": lead.creditor,
            "balance": str(lead.balance),
            "days_past_due": lead.days_past_due,
            "phone": self.phone,
            "phones": [p.e164 for p in lead.phones if not p.do_not_call],
            "reserved_at": self.reserved_at.isoformat(),
            "deadline": self.deadline.isoformat(),
            "remaining_s": round(self.remaining_s(now), 1),
            "on_timeout": self.on_timeout,
            "skip_reasons": [r.value for r in OPERATOR_REASONS],
        }


@dataclass(slots=True)
class PreviewBook:
    """Who holds which debt for a preview, until when. One per process: every campaign's
    dialer passes over the debts held here."""

    _by_agent: dict[str, Reservation] = field(default_factory=dict)

    def held(self) -> frozenset[int]:
        return frozenset(r.lead.debt_id for r in self._by_agent.values())

    def of(self, agent_id: str) -> Reservation | None:
        return self._by_agent.get(agent_id)

    def reserve(
        self,
        agent_id: str,
        campaign_id: int,
        lead: Lead,
        phone: str,
        now: datetime,
        countdown: timedelta,
        on_timeout: str,
    ) -> Reservation:
        if agent_id in self._by_agent:
            raise PreviewError("preview.already_reserved", "you have a debtor on preview already")
        if lead.debt_id in self.held():
            raise PreviewError("preview.taken", f"debt {lead.debt_id} is on another preview")
        reservation = Reservation(
            agent_id, campaign_id, lead, phone, now, now + countdown, on_timeout
        )
        self._by_agent[agent_id] = reservation
        return reservation

    def release(self, agent_id: str) -> Reservation | None:
        return self._by_agent.pop(agent_id, None)

    def due(self, now: datetime) -> list[Reservation]:
        """The reservations whose countdown has run out, oldest first."""
        return sorted(
            (r for r in self._by_agent.values() if r.deadline <= now), key=lambda r: r.deadline
        )


# -- the service -------------------------------------------------------------------------------

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class PreviewDesk:
    """Next / dial / skip for the desk, and the countdowns."""

    dialers: Mapping[int, CampaignDialer]
    db: Database
    clock: Clock
    book: PreviewBook = field(default_factory=PreviewBook)
    _checks: dict[int, tuple[CompliancePolicy, ManualDials]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for dialer in self.dialers.values():
            dialer.held = self.book.held

    def _campaign_of(self, agent_id: str) -> CampaignDialer:
        for dialer in self.dialers.values():
            if any(op.agent_id == agent_id for op in dialer.roster):
                if dialer.campaign.settings.dial_mode is not DialMode.PREVIEW:
                    raise PreviewError("preview.not_preview", "your campaign is not in preview")
                return dialer
        raise PreviewError("preview.not_joined", "you are not on a campaign")

    def _check(self, dialer: CampaignDialer) -> ManualDials:
        campaign = dialer.campaign
        policy = campaign.settings.compliance
        known = self._checks.get(campaign.id)
        if known is not None and known[0] is policy:
            return known[1]
        check = ManualDials(self.db, policy, self.clock, campaign_id=campaign.id)
        self._checks[campaign.id] = (policy, check)
        return check

    def current(self, agent_id: str) -> dict[str, Any] | None:
        reservation = self.book.of(agent_id)
        return None if reservation is None else reservation.to_dict(self.clock.now())

    def next(self, agent_id: str) -> dict[str, Any] | None:
        """The operator's preview: the one they hold, else the next debt reserved for them;
        None when no debt may be called now (or they are not ready for one)."""
        held = self.book.of(agent_id)
        now = self.clock.now()
        if held is not None:
            return held.to_dict(now)
        dialer = self._campaign_of(agent_id)
        op = dialer.roster.get(agent_id)
        if op.state is not OperatorState.READY or op.leaving or not dialer.sharing.free(agent_id):
            return None
        pick = dialer.take_preview(now, self.book.held())
        if pick is None:
            return None
        settings = dialer.campaign.settings
        reservation = self.book.reserve(
            agent_id,
            dialer.campaign.id,
            pick.lead,
            pick.phone,
            now,
            timedelta(seconds=settings.preview_countdown_s),
            settings.preview_on_timeout,
        )
        log.info("preview: debt %s reserved for %s", pick.lead.debt_id, agent_id)
        return reservation.to_dict(now)

    async def dial(self, agent_id: str, phone: str | None = None) -> dict[str, Any]:
        """Check and record the dial of the held debtor on `phone` (one of theirs; default the
        number the selection chose), then place it. A refusal names the rule and ends the
        reservation (the debt goes back to the window, where the rules hold it)."""
        reservation = self.book.of(agent_id)
        if reservation is None:
            raise PreviewError("preview.none", "no debtor on preview: ask for the next one")
        lead = reservation.lead
        number = phone or reservation.phone
        if number not in {p.e164 for p in lead.phones}:
            raise PreviewError("preview.not_their_number", f"{number} is not this debtor's")
        dialer = self.dialers[reservation.campaign_id]
        op = dialer.roster.get(agent_id)
        if op.state is not OperatorState.READY:
            raise PreviewError("preview.not_ready", f"you are {op.state.value}, not ready")
        now = self.clock.now()
        call_id = f"{PREVIEW_CALL_PREFIX}{reservation.campaign_id}-{uuid.uuid4().hex[:16]}"
        decision = await self._check(dialer).check_and_record(
            number,
            now,
            call_id=call_id,
            agent_id=agent_id,
            override_for=lambda _denials: None,  # no override in a campaign's preview
            debt_ids=frozenset({lead.debt_id}),
        )
        if self.book.of(agent_id) is not reservation:  # skipped or expired meanwhile
            raise PreviewError("preview.none", "the preview ended meanwhile")
        if not decision.allowed or not decision.attempts:
            self.book.release(agent_id)
            dialer.return_preview(lead, now, rest=False)
            if not decision.attempts and not decision.denials:
                raise PreviewError("preview.debt_closed", f"debt {lead.debt_id} is closed")
            first = decision.denials[0]
            raise PreviewError(
                f"preview.refused.{first.rule.value}",
                f"the rules refuse this dial: {first.reason}",
                decision.denials,
            )
        attempt = decision.attempts[0]
        self.book.release(agent_id)
        try:
            dialer.place_preview(attempt, lead, agent_id)
        except OperatorError as exc:  # not running, or left meanwhile: on record, not dialled
            await self._check(dialer).originated(decision, None)
            dialer.return_preview(lead, now, rest=False)
            raise PreviewError("preview.not_ready", str(exc)) from exc
        log.info("preview: %s dials debt %s on %s", agent_id, lead.debt_id, number)
        return {"attempt_id": attempt.attempt_id, "debt_id": lead.debt_id, "phone": number}

    async def skip(self, agent_id: str, reason: str, user_id: int | None = None) -> None:
        """Pass the held debtor over, with a reason from the fixed list; audited. The debt
        rests until the window's recheck."""
        try:
            why = SkipReason(reason)
        except ValueError:
            why = None
        if why is None or why is SkipReason.TIMEOUT:
            choices = ", ".join(r.value for r in OPERATOR_REASONS)
            raise PreviewError("preview.bad_reason", f"the reason must be one of {choices}")
        await self._skip(agent_id, why, user_id)

    async def _skip(self, agent_id: str, why: SkipReason, user_id: int | None) -> None:
        reservation = self.book.release(agent_id)
        if reservation is None:
            raise PreviewError("preview.none", "no debtor on preview")
        now = self.clock.now()
        dialer = self.dialers.get(reservation.campaign_id)
        if dialer is not None:
            dialer.return_preview(reservation.lead, now, rest=True)
        async with self.db.session() as session:
            audit.record(
                session,
                at=now,
                user_id=user_id if user_id is not None else _user_id(agent_id),
                action="preview_skip",
                object_type="debt",
                object_id=reservation.lead.debt_id,
                reason=why.value,
                campaign_id=reservation.campaign_id,
                agent_id=agent_id,
            )
            await session.commit()
        log.info("preview: %s skipped debt %s (%s)", agent_id, reservation.lead.debt_id, why)

    async def expire(self) -> None:
        """Run out the countdowns due now: dial, or skip as `timeout`, as the campaign says."""
        for reservation in self.book.due(self.clock.now()):
            agent_id = reservation.agent_id
            try:
                if reservation.on_timeout == "skip":
                    await self._skip(agent_id, SkipReason.TIMEOUT, None)
                else:
                    await self.dial(agent_id)
            except PreviewError as exc:
                log.info("preview of %s ran out: %s", agent_id, exc)
                if self.book.of(agent_id) is reservation:  # e.g. the operator is not ready
                    await self._skip(agent_id, SkipReason.TIMEOUT, None)
            except OperatorError as exc:  # left the campaign meanwhile
                log.info("preview of %s ran out: %s", agent_id, exc)
                if self.book.of(agent_id) is reservation:
                    await self._skip(agent_id, SkipReason.TIMEOUT, None)

    def release_operator(self, agent_id: str) -> None:
        """The operator left or paused: their held debt goes back, unskipped."""
        reservation = self.book.release(agent_id)
        if reservation is not None and reservation.campaign_id in self.dialers:
            self.dialers[reservation.campaign_id].return_preview(
                reservation.lead, self.clock.now(), rest=False
            )

    async def run(self, sleep: Sleep = asyncio.sleep, tick_s: float = 1.0) -> None:
        """The countdowns, on the injected clock and sleep."""
        while True:
            try:
                await self.expire()
            except Exception:  # one failed expiry must not stop the countdowns
                log.exception("preview countdowns")
            await sleep(tick_s)


def _user_id(agent_id: str) -> int | None:
    return int(agent_id) if agent_id.isdigit() else None
