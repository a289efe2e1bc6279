"""AmiBridge: the ami_bridge service. Wires link -> tracker -> bus, and bus -> interaction log.

One AmiBridge per Asterisk. It owns two tasks in one TaskGroup: the AMI link (which also runs
the resync after every login) and the interaction-log writer, a bus subscriber that records
every call transition through crm_core's InteractionLog, so each call is on record even when no
desktop is open. The writer is idempotent per Linkedid, as the log is; a resync's CallEnded
events and its `PbxResynced` summary close calls that ended unseen.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ami_bridge import events as ev
from ami_bridge.frames import Message
from ami_bridge.link import Link, LinkConfig, LinkState
from ami_bridge.resync import PbxResynced, resync
from ami_bridge.switch import Switch
from ami_bridge.tracker import CallTracker
from crm_core.bus import Bus, Event, Overflow, SubscriberOverflow, Subscription
from crm_core.clock import Clock
from crm_core.db import Database
from crm_core.interactions import InteractionLog
from crm_core.logcontext import log_context
from crm_core.models import Direction, Interaction

log = logging.getLogger(__name__)

ORPHAN_REASON = "ended while Callboard was not watching"
_DIRECTIONS = {
    ev.Direction.INBOUND: Direction.INBOUND,
    ev.Direction.OUTBOUND: Direction.OUTBOUND,
    ev.Direction.INTERNAL: Direction.INTERNAL,
    ev.Direction.UNKNOWN: Direction.INTERNAL,  # the log has no "unknown": not a customer call
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkStatusChanged(Event):
    """The AMI link went up, down or is retrying; the desktop shows it to supervisors."""

    state: LinkState
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class BridgeStatus:
    link: LinkState
    last_error: str | None  # "ami.login_failed: ..." while the link cannot come up
    sessions: int
    live_calls: int
    events_failed: int  # AMI events the tracker could not take (logged)
    log_written: int
    log_failed: int


class InteractionWriter:
    """Writes call transitions to the interaction log, in bus order, one event at a time.

    DTMF digits are deliberately not logged: callers key account numbers and PINs."""

    def __init__(
        self,
        log_: InteractionLog,
        db: Database,
        *,
        close_orphans: bool,
        queue_limit: int = 100_000,
    ) -> None:
        self._log = log_
        self._db = db
        self._close_orphans = close_orphans
        self._queue_limit = queue_limit
        self.subscription: Subscription | None = None
        self.written = 0
        self.failed = 0

    async def run(self, bus: Bus, ready: asyncio.Event | None = None) -> None:
        """Consume until the subscription is closed (then drain what is queued)."""
        while True:
            subscription = bus.subscribe(
                "ami-interaction-log",
                ev.CallEvent,
                PbxResynced,
                maxsize=self._queue_limit,
                overflow=Overflow.FAIL,
            )
            self.subscription = subscription
            if ready is not None:
                ready.set()
            try:
                async for event in subscription:
                    await self.write(event)
                return
            except SubscriberOverflow:
                # Far behind: the database is stuck. Start again from live events;
                # the next resync's PbxResynced closes whatever ended meanwhile.
                log.error("interaction log writer overflowed; transitions were lost")
                bus.unsubscribe(subscription)

    async def write(self, event: Event) -> None:
        linkedid = getattr(event, "linkedid", "")
        try:
            await self._write(event)
            self.written += 1
        except (SQLAlchemyError, ValueError):  # the database, or a value the log refuses
            self.failed += 1
            log.exception(
                "interaction log write failed: %s linkedid=%s", type(event).__name__, linkedid
            )

    async def _write(self, event: Event) -> None:
        lg = self._log
        match event:
            case ev.CallStarted():
                await lg.call_started(
                    event.linkedid,
                    started_at=event.at,
                    direction=_DIRECTIONS[event.direction],
                    caller_number=event.caller_number or "",
                    caller_name=event.caller_name or "",
                )
                await self._transition(
                    event,
                    "started",
                    channel=event.channel,
                    context=event.context,
                    exten=event.exten,
                )
            case ev.CallerIdChanged():
                await lg.call_updated(
                    event.linkedid,
                    at=event.at,
                    caller_number=event.caller_number or "",
                    caller_name=event.caller_name or "",
                )
                await self._transition(
                    event,
                    "caller id changed",
                    channel=event.channel,
                    previous=event.previous_number or "",
                )
            case ev.CallAnswered():
                await lg.call_answered(event.linkedid, at=event.at)
                await self._transition(event, "answered", channel=event.channel)
            case ev.CallBridged():
                if len(event.parties) >= 2:
                    await lg.call_connected(event.linkedid, at=event.at, agent_id=None)
                await self._transition(
                    event, "bridged", channel=event.channel, parties=",".join(event.parties)
                )
            case ev.CallUnbridged():
                await self._transition(event, "unbridged", channel=event.channel)
            case ev.CallRinging():
                await self._transition(event, "ringing", channel=event.channel)
            case ev.ChannelJoined():
                await self._transition(
                    event,
                    "joined",
                    channel=event.channel,
                    previous_linkedid=event.previous_linkedid,
                )
            case ev.CallTransferred():
                await self._transition(
                    event,
                    f"transferred ({event.kind.value})",
                    channel=event.channel,
                    target=event.target,
                )
            case ev.CallHeld() | ev.CallResumed():
                what = "held" if isinstance(event, ev.CallHeld) else "resumed"
                await self._transition(event, what, channel=event.channel, kind=event.kind.value)
            case ev.RecordingStarted():
                if event.file:
                    await lg.recording_seen(event.linkedid, at=event.at, ref=event.file)
                await self._transition(event, "recording started", channel=event.channel)
            case ev.RecordingStopped():
                await self._transition(
                    event, "recording stopped", channel=event.channel, reason=event.reason
                )
            case ev.AmdResult():
                await self._transition(
                    event, "answering machine detection", status=event.status, cause=event.cause
                )
            case ev.ChannelHungUp():
                await self._transition(
                    event, "channel hung up", channel=event.channel, cause=str(event.cause)
                )
            case ev.CallEnded():
                await lg.call_ended(
                    event.linkedid,
                    at=event.at,
                    cause=event.cause,
                    cause_text=event.cause_text,
                    reason=event.reason.value,
                )
            case PbxResynced():
                if self._close_orphans:
                    await self._end_orphans({*event.live_calls, *event.live_legs}, event.at)
            case ev.CallEvent():
                # DTMF (never logged), spy start/stop: the desktop shows them live; LegStarted
                # / LegEnded: Callboard's own legs and unanswered dial attempts are no calls
                pass

    async def _transition(self, event: ev.CallEvent, what: str, **detail: str) -> None:
        await self._log.add_transition(event.linkedid, at=event.at, what=what, **detail)

    async def _end_orphans(self, live: set[str], at: datetime) -> None:
        """Close calls the log still has open although Asterisk no longer has them (they ended
        while Callboard was stopped). Only for one bridge per database: with several, another
        PBX's calls would look like orphans here."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(Interaction.linkedid).where(
                    Interaction.ended_at.is_(None), Interaction.linkedid.is_not(None)
                )
            )
            open_calls = [lid for (lid,) in rows if lid is not None and lid not in live]
        for linkedid in open_calls:
            await self._log.call_ended(linkedid, at=at, cause=None, reason=ORPHAN_REASON)
        if open_calls:
            log.warning(
                "closed %d calls that ended while Callboard was not watching", len(open_calls)
            )


class AmiBridge:
    """The bridge to one Asterisk: `await start()`, use `switch` and `tracker`, `await stop()`."""

    def __init__(
        self,
        config: LinkConfig,
        *,
        bus: Bus,
        clock: Clock,
        db: Database | None = None,
        tracker: CallTracker | None = None,
        number_endpoint: str = "PJSIP/{number}@trunk",
        close_orphans: bool = True,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self.tracker = tracker or CallTracker(clock)
        self.link = Link(
            config, on_event=self._on_ami_event, on_up=self._resync, on_state=self._on_state
        )
        self.switch = Switch(
            self.link, reply_timeout=config.action_timeout, number_endpoint=number_endpoint
        )
        self.writer = (
            None
            if db is None
            else InteractionWriter(InteractionLog(db), db, close_orphans=close_orphans)
        )
        self.last_resync: PbxResynced | None = None
        self._task: asyncio.Task[None] | None = None

    def status(self) -> BridgeStatus:
        """For health checks and the supervisor panel."""
        error = self.link.last_error
        return BridgeStatus(
            link=self.link.state,
            last_error=None if error is None else f"{error.code}: {error}",
            sessions=self.link.sessions,
            live_calls=self.tracker.call_count,
            events_failed=self.link.event_errors,
            log_written=0 if self.writer is None else self.writer.written,
            log_failed=0 if self.writer is None else self.writer.failed,
        )

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("AmiBridge.start() called twice")
        writer_ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(writer_ready), name="ami-bridge")
        if self.writer is not None:
            await writer_ready.wait()  # subscribed before the first event can be published

    async def stop(self) -> None:
        """Log off, let the writer drain what the bus already holds, and end both tasks."""
        if self._task is None:
            return
        await self.link.stop()
        if self.writer is not None and self.writer.subscription is not None:
            self._bus.unsubscribe(self.writer.subscription)
        task, self._task = self._task, None
        await task

    async def __aenter__(self) -> AmiBridge:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _run(self, writer_ready: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tasks:
            if self.writer is not None:
                tasks.create_task(self.writer.run(self._bus, writer_ready), name="ami-log-writer")
            tasks.create_task(self.link.run(), name="ami-link")

    def _on_ami_event(self, message: Message) -> None:
        with log_context(linkedid=message.get("Linkedid")):
            for event in self.tracker.feed(message):
                self._bus.publish(event)

    async def _resync(self, link: Link) -> None:
        self.last_resync = await resync(
            link, self.tracker, self._bus.publish, self._clock, session=link.sessions
        )

    def _on_state(self, state: LinkState, detail: str) -> None:
        if state is LinkState.UP:
            log.info("AMI link up: %s", detail)
        self._bus.publish(LinkStatusChanged(state=state, detail=detail, at=self._clock.now()))
