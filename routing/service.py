"""AcdService: the ACD at its I/O edge.

Owns the decision core (`Acd`) and feeds it what happens: enqueue requests from the IVR, agent
actions from the desktop, call events from the bus (CallBridged: connected; CallTransferred of
the caller: the agent's part is over; CallEnded: abandon, end of talk, or the caller leaving
while the agent rings), and the passing of time. It publishes
the core's events, hands each offer to the Ringer (card first, then the agent's phone), sends
callers whose maximum wait expired to `max_wait_target`, publishes QueueStats snapshots, and
writes every agent state change to agent_state_log.

All tasks live in one TaskGroup owned by `start()`/`stop()`; commands never wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Mapping
from typing import Any

from ami_bridge.errors import AmiError
from ami_bridge.events import (
    CallBridged,
    CallEnded,
    CallerIdChanged,
    CallStarted,
    CallTransferred,
    LegStarted,
)
from ami_bridge.switch import DialplanTarget, Switch
from crm_core.bus import Bus, Event, Overflow, SubscriberOverflow, Subscription
from crm_core.clock import Clock
from crm_core.db import Database
from crm_core.logcontext import event_context, log_context
from routing.acd import Acd
from routing.errors import RoutingError
from routing.events import CallAbandoned, CallDequeued, DequeueReason
from routing.records import RoutingRecorder
from routing.ringing import Ringer
from routing.waiting import CallStatus

log = logging.getLogger(__name__)

# where a caller goes when the queue's maximum wait expires (trace 06 used cb-voicemail,100)
MAX_WAIT_TARGET = DialplanTarget("cb-voicemail", "100")


class AcdNotRunning(RoutingError):
    code = "acd_not_running"


class AcdService:
    def __init__(
        self,
        acd: Acd,
        *,
        bus: Bus,
        switch: Switch,
        clock: Clock,
        db: Database | None = None,
        default_region: str = "US",
        card_timeout_s: float = 1.0,
        stats_interval_s: float = 5.0,
        max_wait_target: DialplanTarget | None = MAX_WAIT_TARGET,
    ) -> None:
        """`max_wait_target`: where callers go when their queue's max wait expires (None: they
        stay on hold, for a dialplan timeout to handle)."""
        self.acd = acd
        self._bus = bus
        self._switch = switch
        self._clock = clock
        self._stats_interval = stats_interval_s
        self._max_wait_target = max_wait_target
        self._caller_channels: dict[str, str] = {}  # linkedid -> caller channel, while queued
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._group: asyncio.TaskGroup | None = None
        self._runner: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._writer = RoutingRecorder(db) if db is not None else None
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._ringer = Ringer(
            acd,
            bus=bus,
            switch=switch,
            clock=clock,
            db=db,
            default_region=default_region,
            card_timeout_s=card_timeout_s,
            flush=self._flush,
            spawn=self._spawn,
        )

    # ---- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("AcdService.start() called twice")
        started = asyncio.Event()
        self._runner = asyncio.create_task(self._run(started), name="acd")
        await started.wait()  # subscribed before any command can publish

    async def stop(self) -> None:
        """Stop consuming, let the state log drain, cancel rings in progress."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping.set()
        self._wake.set()
        if self._subscription is not None:
            self._bus.unsubscribe(self._subscription)
        if self._writer is not None:
            self._bus.unsubscribe(self._writer.subscription)
        for task in list(self._side_tasks):
            task.cancel()
        await runner

    async def __aenter__(self) -> AcdService:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _run(self, started: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            if self._writer is not None:
                subscribed = asyncio.Event()
                group.create_task(self._writer.run(self._bus, subscribed), name="acd-records")
                await subscribed.wait()
            self._subscription = self._subscribe()
            group.create_task(self._consume(), name="acd-call-events")
            group.create_task(self._run_timers(), name="acd-timers")
            group.create_task(self._publish_stats(), name="acd-stats")
            started.set()
        self._group = None

    def _subscribe(self) -> Subscription:
        return self._bus.subscribe(
            "routing-acd",
            CallStarted,
            LegStarted,
            CallBridged,
            CallTransferred,
            CallEnded,
            CallerIdChanged,
            maxsize=100_000,
            overflow=Overflow.FAIL,
        )

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        if self._group is None:
            coro.close()
            raise AcdNotRunning("the ACD service is not running")
        task = self._group.create_task(self._guarded(coro, name), name=name)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    @staticmethod
    async def _guarded(coro: Coroutine[Any, Any, None], name: str) -> None:
        """One failed ring must not stop the ACD: log it at the task boundary."""
        try:
            await coro
        except Exception:
            log.exception("ACD task %s failed", name)

    # ---- commands (never wait) ---------------------------------------------------------------

    def enqueue(
        self,
        *,
        linkedid: str,
        queue: str,
        caller_channel: str,
        caller_number: str | None = None,
        contact_id: int | None = None,
        priority: int = 0,
        skills: Mapping[str, int] | None = None,
        preferred_agent: str | None = None,
        ivr_path: Iterable[str] = (),
    ) -> None:
        """A caller waits in cb-hold for an agent (called by the IVR at the end of its flow)."""
        if self._group is None:
            raise AcdNotRunning("the ACD service is not running")
        if not caller_channel:
            raise RoutingError(f"call {linkedid}: the caller's channel is needed to connect it")
        self.acd.enqueue(
            linkedid,
            queue,
            caller_channel=caller_channel,
            caller_number=caller_number,
            contact_id=contact_id,
            priority=priority,
            skills=skills,
            sticky_agent=preferred_agent or None,
            ivr_path=ivr_path,
        )
        self._caller_channels[linkedid] = caller_channel
        self._flush()

    def login(
        self,
        agent_id: str,
        endpoint: str,
        skills: Mapping[str, int],
        *,
        paused_reason: str | None = None,
    ) -> None:
        self.acd.login(agent_id, endpoint, skills, paused_reason=paused_reason)
        self._flush()

    def logout(self, agent_id: str) -> None:
        self.acd.logout(agent_id)
        self._flush()

    def pause(self, agent_id: str, reason: str) -> None:
        self.acd.pause(agent_id, reason)
        self._flush()

    def make_ready(self, agent_id: str) -> None:
        self.acd.make_ready(agent_id)
        self._flush()

    def extend_wrap_up(self, agent_id: str, seconds: float) -> None:
        self.acd.extend_wrap_up(agent_id, seconds)
        self._flush()

    def set_skills(self, agent_id: str, skills: Mapping[str, int]) -> None:
        self.acd.set_skills(agent_id, skills)
        self._flush()

    def accept_callback(self, linkedid: str) -> None:
        self.acd.accept_callback(linkedid)
        self._flush()

    # ---- core outputs ------------------------------------------------------------------------

    def _flush(self) -> None:
        """Publish what the core decided and start ringing for its offers."""
        for event in self.acd.take_events():
            self._bus.publish(event)
            if isinstance(event, CallDequeued | CallAbandoned):
                channel = self._caller_channels.pop(event.linkedid, None)
                if isinstance(event, CallDequeued) and event.reason is DequeueReason.MAX_WAIT:
                    self._on_max_wait(event.linkedid, channel)
        for offer in self.acd.take_offers():
            with log_context(linkedid=offer.linkedid, agent=offer.agent_id):  # the ring inherits
                self._spawn(self._ringer.ring(offer), name=f"acd-ring-{offer.linkedid}")
        self._wake.set()  # the next deadline may have changed

    def _on_max_wait(self, linkedid: str, channel: str | None) -> None:
        target = self._max_wait_target
        if target is not None and channel is not None:
            self._spawn(self._redirect(linkedid, channel, target), "acd-max-wait")

    async def _redirect(self, linkedid: str, channel: str, target: DialplanTarget) -> None:
        try:
            await self._switch.redirect(channel, target.context, target.exten, target.priority)
        except AmiError as exc:
            log.warning("max wait redirect failed linkedid=%s: %s", linkedid, exc)

    # ---- ringing an agent --------------------------------------------------------------------

    # ---- call events -------------------------------------------------------------------------

    async def _consume(self) -> None:
        while not self._stopping.is_set():
            subscription = self._subscription or self._subscribe()
            try:
                async for event in subscription:
                    with event_context(event):
                        self.on_call_event(event)
                return
            except SubscriberOverflow:
                log.error("ACD fell behind the call events; calls may be left in wrong states")
                self._subscription = self._subscribe()

    def on_call_event(self, event: Event) -> None:
        match event:
            case (
                LegStarted(uniqueid=uniqueid, channel=channel)
                | CallStarted(uniqueid=uniqueid, channel=channel)
            ):
                self._ringer.leg_started(uniqueid, channel)  # the agent leg is a LegStarted
            case CallBridged(linkedid=linkedid, parties=parties):
                call = self.acd.call(linkedid)
                if (
                    call is not None
                    and call.status is CallStatus.OFFERED
                    and call.caller_channel in parties
                    and len(parties) >= 2
                ):
                    agent_channel = next(p for p in parties if p != call.caller_channel)
                    self.acd.answered(linkedid, agent_channel=agent_channel)
                    self._flush()
            case CallTransferred(linkedid=linkedid, channel=channel):
                call = self.acd.call(linkedid)
                if call is not None and call.caller_channel == channel:
                    self.acd.agent_left(linkedid)  # the caller went elsewhere; the agent is free
                    self._flush()
            case CallerIdChanged(linkedid=linkedid, caller_number=number):
                self.acd.caller_id_changed(linkedid, number)
            case CallEnded(linkedid=linkedid):
                if self.acd.call_ended(linkedid) is CallStatus.OFFERED:
                    self._ringer.caller_left(linkedid)
                self._flush()

    # ---- time --------------------------------------------------------------------------------

    async def _run_timers(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            due = self.acd.next_deadline()
            delay = None if due is None else max(0.0, due - self._clock.monotonic())
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self.acd.advance()
            self._flush()

    async def _publish_stats(self) -> None:
        while not self._stopping.is_set():
            for name in list(self.acd.board.configs):
                for window in ("today", "30m"):
                    self._bus.publish(self.acd.snapshot(name, window))
            try:
                async with asyncio.timeout(self._stats_interval):
                    await self._stopping.wait()
            except TimeoutError:
                pass
