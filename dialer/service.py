"""The running dialer of one campaign: the I/O edge around selection, pacing and the ledger.

Every tick it asks the pacer how many lines to dial, picks that many lawful leads, and hands
each to the call flow (dialer/calls.py), which places it through the Switch; the ChannelId is
the attempt id, so the call's Linkedid is known before any event. It keeps the operators'
roster, feeds AMD results and call ends from the bus to the calls, and publishes the campaign's
state and figures.

Time comes from the injected clock and `sleep`, so the whole dialer runs in a simulator's
virtual time as well as in real time.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from ami_bridge.events import AmdResult, CallEnded, CallEvent
from ami_bridge.switch import Switch
from crm_core.bus import Bus, Overflow, Subscription
from crm_core.clock import Clock
from crm_core.db import Database
from crm_core.logcontext import log_context
from dialer.attempts import Attempt, AttemptHistory, AttemptOutcome
from dialer.breaker import CircuitBreaker, DialVerdict
from dialer.calls import CallFlow, CallInFlight, DialerDialplan, Sleep
from dialer.campaign import Campaign, CampaignState, Lead
from dialer.compliance import Compliance
from dialer.events import (
    CampaignFigures,
    CampaignStateChanged,
    DialerAlert,
    OperatorActivity,
)
from dialer.lead_window import NEVER, Fill, LeadWindow, wake_of
from dialer.ledger import AttemptLedger
from dialer.operators import (
    OPERATOR_LEAVING,
    OPERATOR_LEFT,
    NoSharing,
    OperatorError,
    OperatorRoster,
    OperatorState,
    Sharing,
)
from dialer.pacing import CallStage, DialMode, LiveCall, Pacer, PacingSnapshot
from dialer.selection import Pick, select
from dialer.settings import CampaignSettings
from dialer.tables import CampaignRow
from dialer.traffic import DAY

log = logging.getLogger(__name__)

try:  # the tracker reports a dial attempt that never answered as a leg, not as a call
    from ami_bridge.events import LegEnded

    _ENDS: tuple[type, ...] = (CallEnded, LegEnded)
except ImportError:  # a tracker from before LegEnded: CallEnded covers every dial
    _ENDS = (CallEnded,)


def _nothing_held() -> frozenset[int]:
    return frozenset()


class CampaignDialer:
    """Dials one campaign until `stop()`; `run()` owns every task it starts."""

    def __init__(
        self,
        campaign: Campaign,
        *,
        db: Database,
        bus: Bus,
        switch: Switch,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        pacer: Pacer | None = None,
        dialplan: DialerDialplan | None = None,
        wrap_up_s: float = 20.0,
        tick_s: float = 1.0,
        refresh_s: float = 60.0,
        working: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        """`working` is entered around the dialer's own database work: a simulator's virtual
        clock (pbx_sim's VirtualClock.busy) holds time still meanwhile; real time ignores it."""
        self.campaign = campaign
        self.roster = OperatorRoster()
        # how the operators' time is shared with the ACD (dialer/seats.py sets it)
        self.sharing: Sharing = NoSharing()
        self.ledger = AttemptLedger(db)
        self.pacer = pacer or Pacer(campaign.settings.pacing())
        self.last_pacing = ""
        self.next_eligible_at: datetime | None = None  # from the last selection's refusals
        # what the call flow (dialer/calls.py) uses too
        self.db, self.bus, self.switch, self.clock, self.sleep = db, bus, switch, clock, sleep
        self.plan = dialplan or DialerDialplan()
        self.wrap_up_s = wrap_up_s
        self.working = working
        self._tick_s, self._refresh_s = tick_s, refresh_s
        self._flow = CallFlow(self)
        self._lines: dict[str, str] = {}  # an operator line's Linkedid -> agent id
        self._live: dict[str, CallInFlight] = {}
        self._history = AttemptHistory()
        self._leads: list[Lead] = []
        self._compliance = Compliance(campaign.settings.compliance)
        # the leads are paged from the database into a bounded window (dialer/lead_window.py),
        # refilled every `refresh_s`, or sooner when it runs low; a campaign that fits in one
        # window refills inside the tick (as small as the window), a bigger one in the
        # background while the ticks go on with the window they have
        self.window = LeadWindow(
            db, campaign.settings, campaign.id, horizon=timedelta(seconds=3 * refresh_s)
        )
        self._window_full = False  # the last fill stopped at the window's size
        self._picked = 0  # dials from the window since it was filled
        self._parked_wake: datetime | None = None
        self._refill: asyncio.Task[None] | None = None
        self._refill_due = False
        self._journal: list[tuple[Attempt, bool]] | None = None  # attempts met during a refill
        # a lead leaves the window while its call is live (select passes over busy debts) and
        # comes back when the call is over, unless the ledger now holds it beyond the window's
        # horizon: then it is parked, so no tick looks at it again before the next fill
        self._order: dict[int, int] = {}  # debt id -> place in the fill's order
        self._out: dict[str, Lead] = {}  # attempt id -> its lead, out of the window
        self._back: list[Lead] = []  # leads whose call is over, to put back at the next tick
        self._until: datetime | None = None
        # PBX-side failures in a row pause the campaign; a supervisor's resume resets it, and
        # the debts those dials held back are eligible again from then
        self.breaker = CircuitBreaker(clock, campaign.settings.pbx_failures_to_pause)
        self.not_dialled_since = clock.now()
        self._refreshed_at: float | None = None
        self._meter_seeded = False
        self._freed: asyncio.Future[None] | None = None
        self._stopping = asyncio.Event()
        # debts reserved for an operator's preview, in any campaign (dialer/preview.py sets
        # it): the ticks pass over them as over debts on a call
        self.held: Callable[[], frozenset[int]] = _nothing_held
        self._calls: asyncio.TaskGroup | None = None

    # -- operators (called by the desktop / supervisor API) ------------------------------------

    def join_operator(self, agent_id: str, conference: str, line: str | None = None) -> None:
        """The operator's nailed-up line is in their conference: they take calls from now.
        `line` is that line's Linkedid: when it ends, the operator leaves the campaign."""
        assigned = self.campaign.settings.operators
        if assigned and agent_id not in assigned:
            raise OperatorError(
                f"operator {agent_id!r} is not assigned to campaign {self.campaign.settings.name!r}"
            )
        self.roster.join(agent_id, conference, self.clock.monotonic())
        if line is not None:
            self._lines[line] = agent_id
        self.operator_event(agent_id, OperatorState.READY, None)

    def operator_ready(self, agent_id: str) -> None:
        """Wrap-up finished early, or back from a pause. An operator who asked to leave leaves
        now instead (their last call is over)."""
        if self.roster.get(agent_id).leaving:
            self.remove_operator(agent_id)
            return
        self.roster.move(agent_id, OperatorState.READY, self.clock.monotonic())
        self.sharing.released(agent_id)
        self.operator_event(agent_id, OperatorState.READY, None)

    def leave_operator(self, agent_id: str) -> bool:
        """The operator asks to leave the campaign. Never mid-call: on a call, they take no
        other and leave once it is over (`sharing.finished` hangs their line up when the debtor
        is gone, and they leave the roster at the end of their wrap-up); otherwise they leave
        at once. Returns whether they left at once."""
        op = self.roster.get(agent_id)
        if op.state is OperatorState.TALKING:
            op.leaving = True
            self.bus.publish(
                OperatorActivity(
                    campaign_id=self.campaign.id,
                    agent_id=agent_id,
                    state=OPERATOR_LEAVING,
                    attempt_id=op.attempt_id,
                    at=self.clock.now(),
                )
            )
            return False
        if op.state is OperatorState.WRAP_UP:  # the call is over: the line goes now
            op.leaving = True
            self.sharing.finished(agent_id)
            return False
        self.remove_operator(agent_id)
        return True

    def operator_freed(self) -> asyncio.Future[None]:
        """Done the next time an operator becomes ready (wakes people waiting in the grace)."""
        if self._freed is None or self._freed.done():
            self._freed = asyncio.get_running_loop().create_future()
        return self._freed

    def pause_operator(self, agent_id: str) -> None:
        self.roster.move(agent_id, OperatorState.PAUSED, self.clock.monotonic())
        self.operator_event(agent_id, OperatorState.PAUSED, None)

    def remove_operator(self, agent_id: str) -> bool:
        """The operator may no longer take this campaign's calls (signed out for good, user
        deactivated): off the roster at once, so the pacer counts them no more and no debtor
        is moved into their conference. Returns whether they were on the campaign."""
        on_campaign = any(op.agent_id == agent_id for op in self.roster)
        self.roster.leave(agent_id)
        for line in [line for line, agent in self._lines.items() if agent == agent_id]:
            del self._lines[line]
        if on_campaign:
            self.sharing.left(agent_id)
            self.bus.publish(
                OperatorActivity(
                    campaign_id=self.campaign.id,
                    agent_id=agent_id,
                    state=OPERATOR_LEFT,
                    attempt_id=None,
                    at=self.clock.now(),
                )
            )
        return on_campaign

    async def conversation(self, attempt_id: str) -> None:
        """The operator's disposition: a right-party conversation about the debt took place."""
        await self.ledger.conversation(attempt_id)
        attempt = await self.ledger.get(attempt_id)
        if attempt is not None:
            self._note(attempt)

    # -- campaign control ----------------------------------------------------------------------

    async def move(self, to: CampaignState, reason: str) -> None:
        """Start, pause, stop or finish the campaign (with the reason shown to supervisors).
        Starting or resuming resets the breaker: the supervisor says the PBX is fixed."""
        self.campaign.move(to, reason)
        if to is CampaignState.RUNNING:
            self.breaker.reset()
            self.not_dialled_since = self.clock.now()
            self.window.unpark_all()  # the debts not_dialled dials held back are free again
            self._refill_due = True
        with self.working():
            async with self.db.session() as session:
                await session.execute(
                    update(CampaignRow)
                    .where(CampaignRow.id == self.campaign.id)
                    .values(state=to.value, state_reason=reason, updated_at=self.clock.now())
                )
                await session.commit()
        self.bus.publish(
            CampaignStateChanged(
                campaign_id=self.campaign.id,
                name=self.campaign.settings.name,
                state=to.value,
                reason=reason,
                at=self.clock.now(),
            )
        )

    def apply_settings(self, settings: CampaignSettings) -> None:
        """An edited definition (dialer/campaign_store.py: only while the campaign does not
        run), used from now on without a restart: pacing (its abandon record kept), the
        rules and the filter of the next fill, the breaker's threshold. The roster stays."""
        self.campaign.settings = settings
        self.pacer.policy = settings.pacing()
        self.window.settings = settings
        self._compliance = Compliance(settings.compliance, self._compliance.dnc)
        self.breaker.threshold = settings.pbx_failures_to_pause
        self._refill_due = True  # the next tick refills with the new filter and rules

    def figures(self) -> CampaignFigures:
        """Live counters, the pacer's latest reasoning and the legal abandon rates."""
        now = self.clock.now().timestamp()
        meter = self.pacer.meter
        return CampaignFigures(
            campaign_id=self.campaign.id,
            counters=self.campaign.counters.to_dict(),
            pacing=self.last_pacing,
            abandon_rate_24h=meter.rate(DAY, now),
            abandon_rate_30d=meter.rate(30 * DAY, now),
            next_eligible_at=self.next_eligible_at,
            at=self.clock.now(),
        )

    # -- running -------------------------------------------------------------------------------

    def stop(self) -> None:
        """No new dials; `run()` returns once the calls in progress have ended."""
        self._stopping.set()

    @property
    def live_calls(self) -> int:
        return len(self._live)

    def remember(self, attempt: Attempt) -> None:
        """The latest state of one of our attempts, for the rules' next decisions."""
        self._note(attempt)

    def discard(self, attempt: Attempt) -> None:
        """A chosen dial that was never placed (the campaign paused first): no trace left."""
        self._history.discard(attempt.attempt_id, attempt.debt_id, attempt.phone)
        if self._journal is not None:
            self._journal.append((attempt, False))

    def _note(self, attempt: Attempt) -> None:
        """An attempt for the rules; a refill under way replays it into its history (the
        ledger it read may be older)."""
        self._history.add(attempt)
        if self._journal is not None:
            self._journal.append((attempt, True))

    async def dial_verdict(self, attempt: Attempt, verdict: DialVerdict) -> None:
        """What a dial said about the PBX; enough PBX-side failures in a row pause the
        campaign (no new dials; calls in progress go on) and alert the supervisors."""
        trip = self.breaker.record(verdict, attempt.started_at)
        if trip is None or self.campaign.state is not CampaignState.RUNNING:
            return
        name = self.campaign.settings.name
        log.warning("campaign %s (%s) paused: %s", self.campaign.id, name, trip.reason)
        await self.move(CampaignState.PAUSED, trip.reason)
        self.bus.publish(
            DialerAlert(
                campaign_id=self.campaign.id,
                name=name,
                kind="pbx_failures",
                detail=trip.reason,
                at=self.clock.now(),
            )
        )

    def forget(self, attempt_id: str) -> None:
        """The call is over: no longer live for the pacer."""
        self._live.pop(attempt_id, None)
        lead = self._out.pop(attempt_id, None)
        if lead is not None:
            self._back.append(lead)
        self.campaign.counters.in_progress = len(self._live)

    async def run(self) -> None:
        with log_context(campaign=self.campaign.settings.name):  # its tasks inherit it
            await self._run()

    async def _run(self) -> None:
        subscription = self.bus.subscribe(
            f"dialer-{self.campaign.id}", AmdResult, *_ENDS, overflow=Overflow.FAIL
        )
        try:
            async with asyncio.TaskGroup() as calls:
                self._calls = calls
                listener = calls.create_task(self._listen(subscription), name="dialer-listen")
                while not self._stopping.is_set():
                    # the next tick's timer is set before the work, so a virtual clock never
                    # jumps further than one tick while this tick waits on the database
                    pause = asyncio.ensure_future(self.sleep(self._tick_s))
                    try:
                        with self.working():
                            await self._tick(calls)
                    except SQLAlchemyError:  # the database will be back; calls go on meanwhile
                        log.exception("campaign %s: tick skipped", self.campaign.id)
                    await pause
                if self._refill is not None:
                    self._refill.cancel()
                while self._live:
                    await self.sleep(self._tick_s)
                listener.cancel()
        finally:
            self.bus.unsubscribe(subscription)

    async def _listen(self, subscription: Subscription) -> None:
        async for event in subscription:
            if not isinstance(event, (AmdResult, *_ENDS)) or not isinstance(event, CallEvent):
                continue
            with log_context(linkedid=event.linkedid):
                self._on_call_event(event)

    def _on_call_event(self, event: CallEvent) -> None:
        ended = isinstance(event, _ENDS)
        agent_id = self._lines.pop(event.linkedid, None) if ended else None
        if agent_id is not None:
            if self._leaving(agent_id):  # hung up after their last call: wrap-up goes on
                return
            log.warning("operator %s's line ended: off the campaign", agent_id)
            self.remove_operator(agent_id)
            return
        live = self._live.get(event.linkedid)
        if live is None:
            return
        if isinstance(event, AmdResult) and not live.amd.done():
            live.amd.set_result(event.status)
        elif ended and not live.ended.done():
            live.ended.set_result((event.at, event.cause))  # type: ignore[attr-defined]

    def _leaving(self, agent_id: str) -> bool:
        return any(op.agent_id == agent_id and op.leaving for op in self.roster)

    async def _tick(self, calls: asyncio.TaskGroup) -> None:
        now = self.clock.now()
        settings = self.campaign.settings
        if not self.campaign.dialling or not settings.schedule.is_open(now):
            return
        mono = self.clock.monotonic()
        due = (
            self._refreshed_at is None
            or self._refill_due
            or mono - self._refreshed_at >= self._refresh_s
            or (self._window_full and self._picked >= 3 * self.window.size // 4)
        )
        if due and self._refill is None:
            self._refill_due = False
            if self._refreshed_at is None or not self._window_full:
                await self._refresh(now)  # the first fill, or a campaign within one window
            else:
                self._refill = calls.create_task(self._refresh_behind(now), name="dialer-refill")
            self._refreshed_at = mono
        snapshot = PacingSnapshot(
            self.roster.loads(mono, self.sharing.free),
            tuple(LiveCall(c.stage, mono - c.since) for c in self._live.values()),
        )
        decision = self.pacer.decide(snapshot, now.timestamp())
        if decision.reason != self.last_pacing or decision.dials:
            self.last_pacing = decision.reason
            self.bus.publish(self.figures())
        if decision.dials <= 0 or settings.dial_mode is DialMode.PREVIEW:
            return  # preview calls are started by the operator, not by the tick
        self._put_back(now)
        chosen = select(
            self._leads,
            count=decision.dials,
            now=now,
            campaign_id=self.campaign.id,
            compliance=self._compliance,
            retry=settings.retry,
            history=self._history,
            busy_debts=frozenset(c.attempt.debt_id for c in self._live.values()) | self.held(),
            busy_phones=frozenset(c.attempt.phone for c in self._live.values()),
            not_dialled_since=self.not_dialled_since,
        )
        self.next_eligible_at = chosen.wake_at
        if len(chosen.picks) < decision.dials:  # every lead of the window tried
            if self._parked_wake is not None and (
                chosen.wake_at is None or self._parked_wake < chosen.wake_at
            ):
                self.next_eligible_at = self._parked_wake
            if self._window_full:  # leads beyond the window may be dialable: refill now
                self._refill_due = True
        self._picked += len(chosen.picks)
        if chosen.picks:
            picked = {pick.lead.debt_id for pick in chosen.picks}
            self._leads = [lead for lead in self._leads if lead.debt_id not in picked]
        for pick in chosen.picks:
            attempt = Attempt(
                attempt_id=f"dial-{self.campaign.id}-{uuid.uuid4().hex[:16]}",  # dial-: outbound
                campaign_id=self.campaign.id,
                debt_id=pick.lead.debt_id,
                phone=pick.phone,
                started_at=now,
            )
            loop = asyncio.get_running_loop()
            live = CallInFlight(
                attempt,
                pick.lead.contact_id,
                CallStage.RINGING,
                mono,
                amd=loop.create_future(),
                ended=loop.create_future(),
            )
            self._live[attempt.attempt_id] = live
            self._out[attempt.attempt_id] = pick.lead
            self._note(attempt)
            with log_context(linkedid=attempt.attempt_id):  # the call's task inherits it
                calls.create_task(self._flow.place(live), name=f"dial-{attempt.attempt_id}")

    async def _refresh_behind(self, now: datetime) -> None:
        """A refill beside the ticks; a failed one is logged and tried at the next interval."""
        try:
            with self.working():
                await self._refresh(now)
        except SQLAlchemyError:
            log.exception("campaign %s: lead refill failed", self.campaign.id)
        finally:
            self._refill = None

    async def _refresh(self, now: datetime) -> None:
        """Refill the window of leads, with the do-not-call lists and the ledger the rules
        look back on for them."""
        self._journal = []
        try:
            fill = await self.window.fill(
                now,
                not_dialled_since=self.not_dialled_since,
                busy=frozenset(c.attempt.debt_id for c in self._live.values()),
            )
            self._swap(fill)
        finally:
            self._journal = None
        if not self._meter_seeded:
            await self._seed_meter(now)
            self._meter_seeded = True

    def _swap(self, fill: Fill) -> None:
        history = fill.history
        for call in self._live.values():  # calls placed but not yet committed stay counted
            history.add(call.attempt)
        for attempt, keep in self._journal or ():  # met while the fill read the ledger
            if keep:
                history.add(attempt)
            else:
                history.discard(attempt.attempt_id, attempt.debt_id, attempt.phone)
        self._leads, self._history, self._compliance = fill.leads, history, fill.compliance
        self._order = {lead.debt_id: n for n, lead in enumerate(fill.leads)}
        self._until = fill.until
        # live calls' leads are in the new window (busy): they leave it as they did the old one
        # (a call placed while the fill ran may have been parked by it: it comes back too)
        live = {c.attempt.debt_id: c.attempt.attempt_id for c in self._live.values()}
        fresh = {lead.debt_id: lead for lead in self._leads if lead.debt_id in live}
        self._out = {
            attempt_id: fresh.get(lead.debt_id, lead)
            for attempt_id, lead in self._out.items()
            if attempt_id in self._live
        }
        self._out.update((live[debt_id], lead) for debt_id, lead in fresh.items())
        for lead in self._out.values():
            self.window.parked.pop(lead.debt_id, None)
        self._leads = [lead for lead in self._leads if lead.debt_id not in live]
        self._back = []
        self._window_full, self._parked_wake, self._picked = fill.full, fill.parked_wake, 0

    def _put_back(self, now: datetime) -> None:
        """The leads whose call is over return to their place in the window, or are parked
        when the ledger holds them past the window's horizon."""
        if not self._back:
            return
        back, self._back = self._back, []
        returning = []
        for lead in back:
            wake = wake_of(
                lead,
                now,
                self.campaign.id,
                self._compliance,
                self.campaign.settings,
                self._history,
                self.not_dialled_since,
            )
            if wake is NEVER:
                self.window.resting[lead.debt_id] = now + self.window.recheck
            elif wake is not None and self._until is not None and wake > self._until:
                self.window.parked[lead.debt_id] = wake
                if self._parked_wake is None or wake < self._parked_wake:
                    self._parked_wake = wake
            else:
                returning.append(lead)
        if returning:
            order = self._order
            self._leads = sorted(
                [*self._leads, *returning], key=lambda lead: order.get(lead.debt_id, len(order))
            )

    async def _seed_meter(self, now: datetime) -> None:
        """After a restart, the abandon windows start from the ledger, not from zero."""
        for attempt in await self.ledger.campaign_attempts(
            self.campaign.id, now - timedelta(days=30)
        ):
            if attempt.outcome is AttemptOutcome.HUMAN and attempt.answered_at is not None:
                self.pacer.meter.record(attempt.answered_at.timestamp(), attempt.abandoned)

    # -- preview mode (dialer/preview.py) ------------------------------------------------------

    def take_preview(self, now: datetime, held: frozenset[int]) -> Pick | None:
        """The next debt for an operator's preview, chosen as the ticks choose (the window's
        order, the retry plan, the rules), passing over debts on a call or `held` by another
        preview; it leaves the window until `return_preview` or its call is over."""
        if not self.campaign.dialling or not self.campaign.settings.schedule.is_open(now):
            return None
        self._put_back(now)
        chosen = select(
            self._leads,
            count=1,
            now=now,
            campaign_id=self.campaign.id,
            compliance=self._compliance,
            retry=self.campaign.settings.retry,
            history=self._history,
            busy_debts=frozenset(c.attempt.debt_id for c in self._live.values()) | held,
            busy_phones=frozenset(c.attempt.phone for c in self._live.values()),
            not_dialled_since=self.not_dialled_since,
        )
        if not chosen.picks:
            if self._window_full:
                self._refill_due = True
            return None
        pick = chosen.picks[0]
        self._leads = [lead for lead in self._leads if lead.debt_id != pick.lead.debt_id]
        self._picked += 1
        return pick

    def return_preview(self, lead: Lead, now: datetime, *, rest: bool) -> None:
        """A preview that was not dialled: its lead goes back to the window, or (`rest`:
        skipped by the operator) rests until the window's recheck."""
        if rest:
            self.window.resting[lead.debt_id] = now + self.window.recheck
        else:
            self._back.append(lead)

    def place_preview(self, attempt: Attempt, lead: Lead, agent_id: str) -> None:
        """Dial a preview whose attempt the check-and-record wrote: the operator is on it from
        now (no other debtor, no inbound call), the debtor goes straight into their
        conference, and the call's life is the ticks' calls' (dialer/calls.py)."""
        if self._calls is None:
            raise OperatorError(f"campaign {self.campaign.id} is not running")
        mono = self.clock.monotonic()
        operator = self.roster.move(agent_id, OperatorState.TALKING, mono, attempt.attempt_id)
        self.sharing.engaged(agent_id)
        self.operator_event(agent_id, OperatorState.TALKING, attempt.attempt_id)
        loop = asyncio.get_running_loop()
        live = CallInFlight(
            attempt,
            lead.contact_id,
            CallStage.RINGING,
            mono,
            amd=loop.create_future(),
            ended=loop.create_future(),
        )
        self._live[attempt.attempt_id] = live
        self._out[attempt.attempt_id] = lead
        self._note(attempt)
        self._calls.create_task(
            self._flow.place(live, conference=operator.conference),
            name=f"preview-{attempt.attempt_id}",
        )

    # -- one call ------------------------------------------------------------------------------

    def operator_event(self, agent_id: str, state: OperatorState, attempt_id: str | None) -> None:
        if state is OperatorState.READY and self._freed is not None and not self._freed.done():
            self._freed.set_result(None)
        self.bus.publish(
            OperatorActivity(
                campaign_id=self.campaign.id,
                agent_id=agent_id,
                state=state.value,
                attempt_id=attempt_id,
                at=self.clock.now(),
            )
        )
