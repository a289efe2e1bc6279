"""Manual dials (click-to-call from the desk, or any other edge) under the dialer's rules.

- What may be dialled: a typed number is either an internal extension (a configured pattern,
  and not a valid number of the center's region) or a valid phone number, read the way the
  center's region writes it (its national form and its international prefixes, 00 / 011 / 810,
  as the phonenumbers metadata knows them). Anything else is refused with the reason; nothing
  is ever dialled unchecked, and a number is dialled in the E.164 form that was checked.
- Check and record are one transaction: the number's open debts are locked (PostgreSQL: their
  rows FOR UPDATE; SQLite: BEGIN IMMEDIATE, the database's one write lock, which serialises
  every process sharing the file), the ledger is read, the rules decide, and the attempts are
  written before the lock is released. Two simultaneous dials of one debt cannot both pass.
- Every attempt of one manual call shares the call's id (the Originate ChannelId, hence the
  call's Linkedid); the call's outcome (OriginateResponse, then the bridge and the hang-up
  seen on the bus) is written to each of them, like a campaign attempt's.
"""

from __future__ import annotations

import enum
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ami_bridge.events import CallBridged, CallEnded, LegEnded
from ami_bridge.switch import OriginateResult
from crm_core.bus import Bus, Overflow
from crm_core.clock import Clock
from crm_core.db import Database
from crm_core.interactions import InteractionLog
from crm_core.models import (
    NO_DIALING_STATUSES,
    Contact,
    ContactPhone,
    Debt,
    DebtStatus,
    Direction,
    Phone,
)
from dialer.attempts import Attempt, AttemptOutcome
from dialer.compliance import NEVER_OVERRIDDEN, Compliance, CompliancePolicy, DialTarget, Rule
from dialer.leads import load_do_not_call
from dialer.ledger import AttemptLedger, LedgerError
from dialer.pacing import DialMode
from dialer.settings import CampaignSettings
from dialer.tables import CampaignRow

log = logging.getLogger(__name__)

MANUAL_CAMPAIGN = "manual-dial"  # the ledger row every manual attempt is filed under
CLOSED_DEBTS = (DebtStatus.PAID.value, DebtStatus.CLOSED.value)
_SEPARATORS = re.compile(r"[\s().-]")


class NumberKind(enum.StrEnum):
    EXTENSION = "extension"  # an internal extension: no debtor behind it
    NUMBER = "number"  # a phone number: checked against the rules


@dataclass(frozen=True, slots=True)
class Dialable:
    kind: NumberKind
    dial: str  # what the Switch dials: the extension as typed, or the number in E.164
    e164: str | None


class NotDialable(ValueError):
    """Neither an internal extension nor a valid number: the reason is for the operator."""


def compile_extensions(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def classify(raw: str, region: str, extensions: Sequence[re.Pattern[str]]) -> Dialable:
    """How a typed number is dialled, or NotDialable with the reason."""
    digits = _SEPARATORS.sub("", raw)
    if not re.fullmatch(r"\+?[0-9]{1,20}", digits):
        raise NotDialable(f"{raw!r} is not a phone number (digits, optionally a leading +)")
    number = _parse(digits, region)
    if number is not None and phonenumbers.is_valid_number(number):
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return Dialable(NumberKind.NUMBER, e164, e164)
    if not digits.startswith("+") and any(p.fullmatch(digits) for p in extensions):
        return Dialable(NumberKind.EXTENSION, digits, None)
    reason = f"{raw!r} is not an internal extension nor a valid number in {region.upper()}"
    written_abroad = _parse("+" + digits.lstrip("+"), region)
    if (
        not digits.startswith("+")
        and written_abroad is not None
        and phonenumbers.is_valid_number(written_abroad)
    ):
        e164 = phonenumbers.format_number(written_abroad, phonenumbers.PhoneNumberFormat.E164)
        reason += f"; for {e164} type it with a leading + (or the international prefix)"
    raise NotDialable(reason)


def _parse(digits: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(digits, region.upper())
    except phonenumbers.NumberParseException:
        return None


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
class Override:
    """Who let a refused dial through, and why (approver None: the dialler themselves)."""

    reason: str
    approver_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "approver_id": self.approver_id}


@dataclass(slots=True)
class Decision:
    """The outcome of one check-and-record: the attempts written (none when refused)."""

    call_id: str
    e164: str
    targets: list[DialTarget]
    denials: list[Denial]
    override: Override | None = None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.denials or self.override is not None


OverrideFor = Callable[[list[Denial]], Override | None]


# The Originate ChannelId of a manual call names the operator's phone leg: the tracker's rules
# (set by the composition root) know it as Callboard's own leg, not the debtor.
MANUAL_CALL_ID_PREFIX = "manual-"


def new_call_id() -> str:
    """A manual call's id: the Originate ChannelId, so also the call's Linkedid."""
    return f"{MANUAL_CALL_ID_PREFIX}{uuid.uuid4().hex[:16]}"


async def ensure_campaign(db: Database, name: str, reason: str, now: datetime) -> int:
    """A ledger campaign row that never dials by itself (manual dials, inbound calls)."""
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    statement = (
        insert(CampaignRow)
        .values(
            name=name,
            state="stopped",
            state_reason=reason,
            settings=CampaignRow.stored(CampaignSettings(name=name, dial_mode=DialMode.PREVIEW)),
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )
    async with db.session() as session:
        await session.execute(statement)
        await session.commit()
        found = await session.scalar(select(CampaignRow.id).where(CampaignRow.name == name))
    if found is None:  # the insert was refused for another reason than the name
        raise RuntimeError(f"could not create the {name!r} campaign row")
    return found


async def lock_for_write(session: AsyncSession, db: Database) -> None:
    """SQLite: take the database's write lock now (BEGIN IMMEDIATE), so that the reads that
    follow cannot be overtaken by another writer, in this process or another one. Must be the
    session's first statement. PostgreSQL locks rows instead (SELECT ... FOR UPDATE)."""
    if db.dialect == "sqlite":
        await session.execute(text("BEGIN IMMEDIATE"))


class ManualDials:
    """The rules, the ledger and the outcomes of manual dials."""

    def __init__(
        self,
        db: Database,
        policy: CompliancePolicy,
        clock: Clock,
        *,
        campaign_id: int | None = None,
    ) -> None:
        """`campaign_id`: file the attempts under that campaign (and read its do-not-call
        list), as a preview campaign's dials are; None: the manual-dial campaign."""
        self._db = db
        self._policy = policy
        self._clock = clock
        self.ledger = AttemptLedger(db)
        self._campaign_id: int | None = campaign_id

    async def campaign_id(self) -> int:
        if self._campaign_id is None:
            self._campaign_id = await ensure_campaign(
                self._db, MANUAL_CAMPAIGN, "manual dials from the desk", self._clock.now()
            )
        return self._campaign_id

    async def evaluate(self, e164: str, now: datetime) -> tuple[list[DialTarget], list[Denial]]:
        """The rules' verdict now, without recording anything (for previews)."""
        async with self._db.session() as session:
            return await self._evaluate(session, e164, now)

    async def check_and_record(
        self,
        e164: str,
        now: datetime,
        *,
        call_id: str,
        agent_id: str | None,
        override_for: OverrideFor,
        debt_ids: frozenset[int] | None = None,
    ) -> Decision:
        """One transaction: lock the number's debts, check every rule, and (allowed, or let
        through by `override_for`) write one attempt per debt under `call_id`. `debt_ids`:
        only these of the number's debts (a preview dial is about its one debt)."""
        campaign_id = await self.campaign_id()
        async with self._db.session() as session:
            await lock_for_write(session, self._db)
            targets, denials = await self._evaluate(
                session, e164, now, lock=True, debt_ids=debt_ids
            )
            decision = Decision(call_id, e164, targets, denials)
            if denials:
                # the global list and a stopped debt: nobody's override passes them
                if not any(d.rule in NEVER_OVERRIDDEN for d in denials):
                    decision.override = override_for(denials)
                if decision.override is None:
                    await session.rollback()
                    return decision
            for target in targets:
                attempt = Attempt(
                    attempt_id=f"{call_id}-{target.debt_id}",
                    campaign_id=campaign_id,
                    debt_id=target.debt_id,
                    phone=e164,
                    started_at=now,
                    agent_id=agent_id,
                    call_id=call_id,
                )
                await self.ledger.start_in(session, attempt)
                decision.attempts.append(attempt)
            await session.commit()
        return decision

    async def _evaluate(
        self,
        session: AsyncSession,
        e164: str,
        now: datetime,
        *,
        lock: bool = False,
        debt_ids: frozenset[int] | None = None,
    ) -> tuple[list[DialTarget], list[Denial]]:
        targets = await self._targets(session, e164, lock=lock)
        if debt_ids is not None:
            targets = [t for t in targets if t.debt_id in debt_ids]
        dnc = await load_do_not_call(self._db, await self.campaign_id())
        if not targets:  # not a debtor's number (a creditor, a colleague): only the global list
            if e164 in dnc.global_numbers:
                reason = f"{e164} is on do-not-call"
                return [], [Denial(None, e164, Rule.DO_NOT_CALL, reason, None)]
            return [], []
        compliance = Compliance(self._policy, dnc)
        p = self._policy
        lookback = max(p.attempts_window, p.quiet_after_conversation, p.abandoned_redial_gap)
        history = await self.ledger.history_in(
            session,
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

    async def _targets(self, session: AsyncSession, e164: str, *, lock: bool) -> list[DialTarget]:
        query = (
            select(Debt.id, Debt.status, Contact.timezone, Phone.do_not_call)
            .join(Contact, Contact.id == Debt.contact_id)
            .join(ContactPhone, ContactPhone.contact_id == Contact.id)
            .join(Phone, Phone.id == ContactPhone.phone_id)
            .where(Phone.e164 == e164, Debt.status.not_in(CLOSED_DEBTS))
            .order_by(Debt.id)
        )
        if lock and self._db.dialect == "postgresql":
            query = query.with_for_update(of=Debt)  # in debt-id order: no deadlocks
        rows = (await session.execute(query)).all()
        return [
            DialTarget(
                debt_id=debt_id,
                phone=e164,
                address_zone=zone,
                debt_disputed=str(status) == DebtStatus.DISPUTED.value,
                debt_stopped=str(status) if status in NO_DIALING_STATUSES else "",
                phone_do_not_call=flagged,
            )
            for debt_id, status, zone, flagged in rows
        ]

    async def record_call(self, decision: Decision, user_id: int, now: datetime) -> None:
        """The manual call's interaction, the operator's from the start: they wrap it up, and
        their disposition reaches the call's attempts (dialer/conversations.py)."""
        contact_id = None
        if decision.targets:
            async with self._db.session() as session:
                contact_id = await session.scalar(
                    select(Debt.contact_id).where(Debt.id == decision.targets[0].debt_id)
                )
        log_ = InteractionLog(self._db)
        await log_.call_started(
            decision.call_id,
            started_at=now,
            direction=Direction.OUTBOUND,
            caller_number=decision.e164,
            campaign=MANUAL_CAMPAIGN,
            contact_id=contact_id,
        )
        single = decision.targets[0].debt_id if len(decision.targets) == 1 else None
        await log_.call_updated(
            decision.call_id,
            at=now,
            agent_id=user_id,
            direction=Direction.OUTBOUND,
            **({"debt_id": single} if single is not None else {}),
        )

    # -- outcomes ------------------------------------------------------------------------------

    async def originated(self, decision: Decision, result: OriginateResult | None) -> None:
        """The desk's Originate came back. Not answered (the operator's phone, or the AMI link
        failed: result None): the debtor was never rung, so the attempts end here as not
        dialled: on record, but no call attempt on the debtor (dialer/attempts.py)."""
        if not decision.attempts or (result is not None and result.answered):
            return
        now = self._clock.now()
        for attempt in decision.attempts:
            await self._settle(attempt.attempt_id, AttemptOutcome.NOT_DIALLED, None, now, None)

    async def call_outcome(
        self, call_id: str, answered_at: datetime | None, ended_at: datetime, cause: int | None
    ) -> None:
        """The manual call is over: the debtor answered (a bridge formed) or the network's
        hang-up cause says why not."""
        outcome = AttemptOutcome.HUMAN if answered_at is not None else _by_cause(cause)
        for attempt in await self.ledger.for_call(call_id):
            if attempt.outcome is None:
                await self._settle(attempt.attempt_id, outcome, answered_at, ended_at, cause)

    async def _settle(
        self,
        attempt_id: str,
        outcome: AttemptOutcome,
        answered_at: datetime | None,
        ended_at: datetime,
        cause: int | None,
    ) -> None:
        try:
            if answered_at is not None:
                await self.ledger.answered(attempt_id, answered_at)
            attempt = await self.ledger.get(attempt_id)
            agent = attempt.agent_id if attempt else None
            await self.ledger.classified(attempt_id, outcome, agent_id=agent)
            await self.ledger.ended(attempt_id, ended_at, cause)
        except LedgerError:
            log.warning("manual attempt %s: outcome already on record", attempt_id)


_BY_CAUSE = {
    17: AttemptOutcome.BUSY,
    18: AttemptOutcome.NO_ANSWER,
    19: AttemptOutcome.NO_ANSWER,
    21: AttemptOutcome.REJECTED,
    34: AttemptOutcome.CONGESTION,
    38: AttemptOutcome.CONGESTION,
    1: AttemptOutcome.INVALID_NUMBER,
    28: AttemptOutcome.INVALID_NUMBER,
}


def _by_cause(cause: int | None) -> AttemptOutcome:
    return _BY_CAUSE.get(cause or 0, AttemptOutcome.NO_ANSWER)


class ManualOutcomes:
    """Watches the bus for the manual calls in progress: a bridge means the debtor answered,
    the call's end settles every attempt of the call."""

    def __init__(self, dials: ManualDials, bus: Bus) -> None:
        self._dials = dials
        self._bus = bus
        self._calls: dict[str, datetime | None] = {}  # call id -> when the debtor answered

    def watch(self, call_id: str) -> None:
        self._calls.setdefault(call_id, None)

    async def run(self) -> None:
        subscription = self._bus.subscribe(
            "manual-dial-outcomes",
            CallBridged,
            CallEnded,
            LegEnded,
            overflow=Overflow.DROP_OLDEST,
        )
        try:
            async for event in subscription:
                await self.handle(event)
        finally:
            self._bus.unsubscribe(subscription)

    async def handle(self, event: object) -> None:
        if isinstance(event, CallBridged):
            if event.linkedid in self._calls and len(event.parties) >= 2:
                self._calls[event.linkedid] = self._calls[event.linkedid] or event.at
        elif isinstance(event, CallEnded | LegEnded) and event.linkedid in self._calls:
            # LegEnded: the debtor never answered, so the call never became a call
            answered_at = self._calls.pop(event.linkedid)
            try:
                await self._dials.call_outcome(event.linkedid, answered_at, event.at, event.cause)
            except Exception:  # one call's bookkeeping must not stop the watcher
                log.exception("manual call %s: outcome not recorded", event.linkedid)
