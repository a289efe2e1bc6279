"""The recordings feature as the composition root owns it: one object, `start()` / `stop()`.

recordings = Recordings(db, policy, bridge.switch, bus, clock)
await recordings.start()
... routing's CallConnected -> await recordings.control.call_connected(...)
await recordings.stop()
"""

from __future__ import annotations

import asyncio
import logging

from ami_bridge.switch import Switch
from crm_core.bus import Bus, SubscriberOverflow, Subscription
from crm_core.clock import Clock
from crm_core.db import Database
from recordings.config import RecordingPolicy
from recordings.control import RecordingControl
from recordings.index import RecordingIndex
from recordings.workers import TranscriptionService

log = logging.getLogger(__name__)


class Recordings:
    def __init__(
        self,
        db: Database,
        policy: RecordingPolicy,
        switch: Switch,
        bus: Bus,
        clock: Clock,
        *,
        recheck_every_s: float = 5.0,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._recheck_every_s = recheck_every_s
        self.transcription = TranscriptionService(db, policy, bus=bus, clock=clock)
        self.index = RecordingIndex(db, policy, bus=bus, on_queued=self.transcription.wake)
        self.control = RecordingControl(switch, db, policy, self.index, clock, bus=bus)
        self._subscription: Subscription | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Recover interrupted jobs, spawn the workers (models load now), follow the bus."""
        if self._task is not None:
            raise RuntimeError("Recordings.start() called twice")
        await self.transcription.start()
        self._subscription = self.control.subscribe(self._bus)
        self._task = asyncio.create_task(self._run(), name="recordings")

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._follow_calls(), name="recordings-calls")
            tasks.create_task(self.transcription.run(), name="recordings-transcription")
            tasks.create_task(
                self.index.watch_retry_list(self._clock, self._stop, self._recheck_every_s),
                name="recordings-retry-list",
            )

    async def _follow_calls(self) -> None:
        """Close each ended call's recording. Falling too far behind the calls (the bus closes
        the subscription) must not end the feature: follow again first, then catch up from
        the interaction log, so no ended call is left unchecked in between."""
        while (subscription := self._subscription) is not None:
            try:
                await self.control.run(subscription)
                return
            except SubscriberOverflow:
                log.error("recordings fell behind the calls: following again, catching up")
                self._bus.unsubscribe(subscription)
                if self._stop.is_set():
                    return
                self._subscription = self.control.subscribe(self._bus)
                caught_up = await self.control.catch_up()
                log.warning("recordings caught up: %d ended calls closed from storage", caught_up)

    async def stop(self) -> None:
        """Let running transcriptions finish, stop following calls, shut the workers down."""
        if self._task is None:
            return
        if self._subscription is not None:
            self._bus.unsubscribe(self._subscription)
        self._stop.set()
        self.transcription.stop()
        task, self._task = self._task, None
        await task
        await self.transcription.close()
