"""The life of one dial attempt: Originate into cb-dialer with AMD (trace 11), then for a
person a ready operator's conference (Redirect to cb-conf, trace 08) within the 2 s grace after
their desktop got the debtor's card, else the identification message; every step on record.

Waits run on the dialer's injected clock and `sleep`, so a simulator's virtual time decides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from ami_bridge.errors import AmiError
from ami_bridge.switch import DialplanTarget, OriginateOutcome, OriginateRequest
from crm_core.card import Card
from crm_core.interactions import InteractionLog
from crm_core.lookup import card_for_contact
from dialer.attempts import Attempt, AttemptOutcome
from dialer.breaker import ANSWERED, classify_ami_error, classify_failed_originate
from dialer.events import AttemptPlaced, AttemptResolved
from dialer.operators import OperatorState
from dialer.pacing import CallStage
from dialer.retry import MachineAction
from routing.events import AgentOffered

if TYPE_CHECKING:
    from dialer.service import CampaignDialer

log = logging.getLogger(__name__)

# A slow card lookup must not eat the person's 2 s: past this, the card pop carries only the
# contact id and the desktop loads the card itself.
CARD_WAIT_S = 0.5

Sleep = Callable[[float], Awaitable[None]]
# failures whose Reason already says everything; for the others (Reason 0/1: the far end hung
# up, or the PBX never placed the call) the channels' hangup cause decides
_SELF_EXPLAINED = frozenset({OriginateOutcome.BUSY, OriginateOutcome.NO_ANSWER})


@dataclass(frozen=True, slots=True, kw_only=True)
class DialerDialplan:
    """Where calls go in the dialplan (names from the shared contexts contract)."""

    answered: DialplanTarget = field(default_factory=lambda: DialplanTarget("cb-dialer", "s"))
    conference_context: str = "cb-conf"
    # the identification message an abandoned call must hear; None: hang up (not compliant
    # where Ofcom rules apply). If the Redirect fails, the call is hung up.
    abandon: DialplanTarget | None = field(
        default_factory=lambda: DialplanTarget("cb-abandon", "s")
    )
    grace_s: float = 2.0  # a person waits this long for an operator before it is abandoned
    amd_timeout_s: float = 8.0  # no AMD verdict by then: treated as NOTSURE, i.e. a person


@dataclass(slots=True)
class CallInFlight:
    """One dial attempt while it is live; its futures are fed from the bus by the dialer."""

    attempt: Attempt
    contact_id: int
    stage: CallStage
    since: float
    amd: asyncio.Future[str]  # the AMD status, from the AmdResult event
    ended: asyncio.Future[tuple[datetime, int]]  # (at, cause), from the CallEnded event
    channel: str = ""


class CallFlow:
    """Runs the calls of one campaign's dialer (one `place()` task per attempt)."""

    def __init__(self, dialer: CampaignDialer) -> None:
        self.d = dialer

    async def place(self, live: CallInFlight, conference: str | None = None) -> None:
        """Dial, screen, connect or abandon, and record: the whole life of one attempt.
        `conference`: a preview's dial (dialer/preview.py), its attempt already written by the
        check-and-record and its operator already on it: the debtor goes straight there."""
        attempt = live.attempt
        if not self.d.campaign.dialling and conference is None:
            self.d.forget(attempt.attempt_id)  # paused (e.g. by the breaker) since the tick
            self.d.discard(attempt)
            return
        try:
            if conference is None:
                with self.d.working():
                    await self.d.ledger.started(attempt)
            self.d.campaign.counters.dialled += 1
            self.d.campaign.counters.in_progress += 1
            self.d.bus.publish(
                AttemptPlaced(
                    attempt_id=attempt.attempt_id,
                    campaign_id=attempt.campaign_id,
                    debt_id=attempt.debt_id,
                    phone=attempt.phone,
                    at=attempt.started_at,
                )
            )
            if not self.d.campaign.dialling:  # paused while the ledger was being written
                await self._resolve(live, AttemptOutcome.NOT_DIALLED)
                await self._finish(live, wait_s=0)
                return
            await self._dial(live, conference)
        except Exception:  # one call's failure must not end the campaign: log, record, go on
            log.exception("dial attempt %s failed", attempt.attempt_id)
            operator = self.d.roster.on_call(attempt.attempt_id)
            if operator is not None:  # never leave an operator stuck on a call we lost
                self.d.roster.move(
                    operator.agent_id, OperatorState.WRAP_UP, self.d.clock.monotonic()
                )
                self.d.operator_ready(operator.agent_id)
            if live.attempt.outcome is None:
                try:
                    await self._resolve(live, AttemptOutcome.FAILED)
                except SQLAlchemyError:
                    log.exception("attempt %s left without an outcome", attempt.attempt_id)
        finally:
            self.d.forget(attempt.attempt_id)

    async def _dial(self, live: CallInFlight, conference: str | None = None) -> None:
        settings = self.d.campaign.settings
        attempt = live.attempt
        target = self.d.plan.answered
        if conference is not None:
            target = DialplanTarget(self.d.plan.conference_context, conference)
        request = OriginateRequest(
            endpoint=self.d.switch.number_endpoint(attempt.phone),
            target=target,
            caller_id=settings.caller_id or None,
            ring_timeout=settings.ring_timeout_s,
            variables=settings.originate_variables(attempt.attempt_id),
            channel_id=attempt.attempt_id,
            other_channel_id=f"{attempt.attempt_id}-b",
        )
        try:
            result = await self.d.switch.originate(request)
        except AmiError as exc:
            verdict = classify_ami_error(exc)
            log.warning("originate %s failed: %s", attempt.attempt_id, verdict.detail)
            await self._resolve(live, verdict.outcome)
            await self.d.dial_verdict(live.attempt, verdict)  # may pause the campaign at once
            await self._finish(live, wait_s=self.d.plan.grace_s)
            return
        ring_s = self.d.clock.monotonic() - live.since
        if not result.answered:
            wait_s = self.d.plan.grace_s
            if result.outcome not in _SELF_EXPLAINED:
                # the channels' cause tells a far end's reject from a dial that never left the
                # PBX; no channel at all (no such extension) means nothing ends: wait briefly
                await self._wait(live.ended, within_s=wait_s)
                wait_s = 0.0  # waited for the end already
            cause = live.ended.result()[1] if live.ended.done() else None
            verdict = classify_failed_originate(result.reason, cause)
            if verdict.feeds_pacing:  # PBX failures say nothing of the list's answer rate
                self.d.pacer.stats.dial_resolved(False, ring_s)
            else:
                log.warning("dial %s: %s", attempt.attempt_id, verdict.detail)
            await self._resolve(live, verdict.outcome)
            await self.d.dial_verdict(live.attempt, verdict)
            await self._finish(live, wait_s=wait_s)
            return
        self.d.pacer.stats.dial_resolved(True, ring_s)
        await self.d.dial_verdict(attempt, ANSWERED)
        live.channel = result.channel
        live.stage, live.since = CallStage.SCREENING, self.d.clock.monotonic()
        answered_at = self.d.clock.now()
        with self.d.working():
            await self.d.ledger.answered(attempt.attempt_id, answered_at)
        live.attempt = replace(attempt, answered_at=answered_at)
        if conference is not None:  # a preview: the operator hears who answered
            await self._previewed(live)
            await self._finish(live)
            return
        card = asyncio.ensure_future(card_for_contact(self.d.db, live.contact_id))
        try:
            await self._wait(live.amd, live.ended, within_s=self.d.plan.amd_timeout_s)
            status = live.amd.result() if live.amd.done() else None
            if status is None and live.ended.done():
                await self._resolve(live, AttemptOutcome.HUNG_UP)
            elif status == "MACHINE":
                await self._machine(live)
            else:  # HUMAN, NOTSURE, or no verdict in time: the dialplan holds it as a person
                await self._person(live, card)
        finally:
            card.cancel()
        await self._finish(live)

    async def _machine(self, live: CallInFlight) -> None:
        self.d.pacer.stats.screened(False, self.d.clock.monotonic() - live.since)
        await self._resolve(live, AttemptOutcome.MACHINE)
        if self.d.campaign.settings.retry.machine_action is MachineAction.HANG_UP:
            await self._quietly(self.d.switch.hangup(live.channel, 16))

    async def _person(self, live: CallInFlight, card: asyncio.Future[Card]) -> None:
        self.d.pacer.stats.screened(True, self.d.clock.monotonic() - live.since)
        live.stage, live.since = CallStage.WAITING, self.d.clock.monotonic()
        detected = self.d.clock.now().timestamp()
        operator = None
        deadline = self.d.clock.monotonic() + self.d.plan.grace_s
        while not live.ended.done():
            operator = self.d.roster.take_ready(
                self.d.clock.monotonic(), live.attempt.attempt_id, self.d.sharing.free
            )
            if operator is not None:  # at once, before any await: the ACD offers them nothing
                self.d.sharing.engaged(operator.agent_id)
            remaining = deadline - self.d.clock.monotonic()
            if operator is not None or remaining <= 0:
                break
            await self._wait(live.ended, self.d.operator_freed(), within_s=remaining)
        if operator is None:
            self.d.pacer.live_answer(detected, abandoned=not live.ended.done())
            await self._resolve(live, AttemptOutcome.HUMAN, abandoned=not live.ended.done())
            if not live.ended.done():
                await self._abandon(live)
            return
        self.d.operator_event(operator.agent_id, OperatorState.TALKING, live.attempt.attempt_id)
        card_data = None
        await self._wait(card, within_s=CARD_WAIT_S)  # fetched since the answer: usually ready
        try:
            card_data = card.result().to_dict() if card.done() else None
        except (LookupError, SQLAlchemyError):  # a missing card must not cost the connection
            log.warning("no card for contact %s (%s)", live.contact_id, live.attempt.attempt_id)
        self.d.bus.publish(
            AgentOffered(
                agent_id=operator.agent_id,
                linkedid=live.attempt.attempt_id,
                queue=f"campaign:{self.d.campaign.settings.name}",
                caller_number=live.attempt.phone,
                card=card_data,
                contact_id=live.contact_id,
                endpoint=operator.conference,
                at=self.d.clock.now(),
            )
        )
        self.d.pacer.live_answer(detected, abandoned=False)
        try:
            await self.d.switch.redirect(
                live.channel, self.d.plan.conference_context, operator.conference
            )
        except AmiError as exc:  # the debtor hung up in between: the operator is free again
            log.info("debtor left before joining %s: %s", operator.agent_id, exc)
            self.d.roster.move(operator.agent_id, OperatorState.WRAP_UP, self.d.clock.monotonic())
            self.d.operator_ready(operator.agent_id)
            await self._resolve(live, AttemptOutcome.HUMAN)
            return
        await self._resolve(live, AttemptOutcome.HUMAN, agent_id=operator.agent_id)

    async def _previewed(self, live: CallInFlight) -> None:
        """A preview's debtor answered, in the operator's conference already: no screening
        and no grace (the operator, who chose the dial, hears a machine and dispositions it)."""
        operator = self.d.roster.on_call(live.attempt.attempt_id)
        agent_id = operator.agent_id if operator is not None else None
        live.stage = CallStage.WAITING  # answered: the call's interaction row learns its debt
        if operator is not None:
            self.d.bus.publish(
                AgentOffered(
                    agent_id=operator.agent_id,
                    linkedid=live.attempt.attempt_id,
                    queue=f"campaign:{self.d.campaign.settings.name}",
                    caller_number=live.attempt.phone,
                    card=None,  # on the desk already, since the preview
                    contact_id=live.contact_id,
                    endpoint=operator.conference,
                    at=self.d.clock.now(),
                )
            )
        await self._resolve(live, AttemptOutcome.HUMAN, agent_id=agent_id)

    async def _abandon(self, live: CallInFlight) -> None:
        target = self.d.plan.abandon
        if target is not None:
            try:
                await self.d.switch.redirect(
                    live.channel, target.context, target.exten, target.priority
                )
                return
            except AmiError as exc:
                log.warning(
                    "identification message for %s failed: %s", live.attempt.attempt_id, exc
                )
        await self._quietly(self.d.switch.hangup(live.channel, 16))

    async def _resolve(
        self,
        live: CallInFlight,
        outcome: AttemptOutcome,
        *,
        abandoned: bool = False,
        agent_id: str | None = None,
    ) -> None:
        attempt = live.attempt
        # a preview's attempt names its operator from the start, answered or not
        on_record = agent_id or attempt.agent_id
        with self.d.working():
            await self.d.ledger.classified(
                attempt.attempt_id, outcome, abandoned=abandoned, agent_id=on_record
            )
            # the call's interaction row (written by ami_bridge) learns its campaign, contact,
            # debt and operator, so the operator finds it among their own calls and the
            # debtor's history shows it; an attempt that never answered is no call (no row)
            if live.stage is not CallStage.RINGING:
                extra = {"agent_id": int(agent_id)} if agent_id and agent_id.isdigit() else {}
                await InteractionLog(self.d.db).call_updated(
                    attempt.attempt_id,
                    at=self.d.clock.now(),
                    contact_id=live.contact_id,
                    debt_id=attempt.debt_id,
                    campaign=self.d.campaign.settings.name,
                    **extra,
                )
        live.attempt = replace(attempt, outcome=outcome, abandoned=abandoned, agent_id=on_record)
        self.d.remember(live.attempt)
        self.d.campaign.counters.resolved(
            outcome, abandoned=abandoned, connected=agent_id is not None
        )
        self.d.bus.publish(
            AttemptResolved(
                attempt_id=attempt.attempt_id,
                campaign_id=attempt.campaign_id,
                debt_id=attempt.debt_id,
                outcome=outcome.value,
                abandoned=abandoned,
                agent_id=agent_id,
                at=self.d.clock.now(),
            )
        )

    async def _finish(self, live: CallInFlight, wait_s: float | None = None) -> None:
        """Wait for the call to end (at most `wait_s` if given), record it, then give the
        operator who took it their wrap-up time."""
        await self._wait(live.ended, within_s=wait_s)
        ended_at, cause = live.ended.result() if live.ended.done() else (self.d.clock.now(), None)
        with self.d.working():
            await self.d.ledger.ended(live.attempt.attempt_id, ended_at, cause)
        live.attempt = replace(live.attempt, ended_at=ended_at)
        self.d.remember(live.attempt)
        self.d.forget(live.attempt.attempt_id)
        operator = self.d.roster.on_call(live.attempt.attempt_id)
        if operator is None:
            return
        mono = self.d.clock.monotonic()
        self.d.pacer.stats.talk.add(mono - operator.since)
        self.d.roster.move(operator.agent_id, OperatorState.WRAP_UP, mono)
        self.d.operator_event(operator.agent_id, OperatorState.WRAP_UP, live.attempt.attempt_id)
        if operator.leaving:  # their last call: the line goes now, the wrap-up stays on the desk
            self.d.sharing.finished(operator.agent_id)
        await self.d.sleep(self.d.wrap_up_s)
        if (
            operator.state is OperatorState.WRAP_UP
            and operator.attempt_id == live.attempt.attempt_id
        ):
            self.d.pacer.stats.wrap.add(self.d.wrap_up_s)
            self.d.operator_ready(operator.agent_id)

    async def _wait(self, *futures: asyncio.Future[Any], within_s: float | None) -> None:
        """Until one of `futures` is done or `within_s` passed on the injected clock (so that a
        simulator's virtual time decides, not the event loop's)."""
        waiters: set[asyncio.Future[Any]] = set(futures)
        timer = None if within_s is None else asyncio.ensure_future(self.d.sleep(within_s))
        if timer is not None:
            waiters.add(timer)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if timer is not None:
                timer.cancel()

    async def _quietly(self, action: Awaitable[None]) -> None:
        try:
            await action
        except AmiError as exc:
            log.info("call already gone: %s", exc)
