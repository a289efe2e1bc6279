"""Recording control: MixMonitor on when an operator is connected, pause/resume, off at hangup.

The composition root calls `call_connected` when routing or the dialer connects an operator
(recordings does not import routing), and `run()` follows CallEnded on the bus to close and
check the file. Pausing stops MixMonitor and resuming starts a new part file (as in trace 09:
StopMixMonitor by id, then a second MixMonitor); the parts are joined with silence for the
paused time when the call ends, and the pause is marked in the transcript. Asterisk closes the
file by itself at hangup and sends no MixMonitorStop then (traces README, behaviour 17).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ami_bridge.errors import AmiError
from ami_bridge.events import CallEnded
from ami_bridge.switch import Switch
from crm_core.bus import Bus, Overflow, Subscription
from crm_core.clock import Clock
from crm_core.db import Database
from crm_core.logcontext import log_context
from crm_core.models import Interaction, QueueDefinition
from recordings.config import RecordingPolicy, RecordMode
from recordings.events import Problem, RecordingAlert
from recordings.index import RecordingIndex
from recordings.storage import part_path, recording_path
from recordings.tables import Recording, RecordingStatus

log = logging.getLogger(__name__)


def _record_mode(stored: str | None, owner: str) -> RecordMode | None:
    """A stored rule (`always`, `never`, `on_demand`; `on demand` is read too), or None when
    there is none; an unreadable one is logged and left to the next rule."""
    if not stored:
        return None
    try:
        return RecordMode(stored.strip().replace(" ", "_"))
    except ValueError:
        log.warning("%s has an unknown recording rule %r; using the next rule", owner, stored)
        return None


class RecordingStateError(RuntimeError):
    """Pause/resume/stop asked of a call that is not in the state that allows it."""


class RecordingControl:
    def __init__(
        self,
        switch: Switch,
        db: Database,
        policy: RecordingPolicy,
        index: RecordingIndex,
        clock: Clock,
        *,
        bus: Bus | None = None,
    ) -> None:
        self._switch = switch
        self._db = db
        self._policy = policy
        self._index = index
        self._clock = clock
        self._bus = bus

    async def call_connected(
        self,
        *,
        linkedid: str,
        channel: str,
        queue: str = "",
        campaign: str = "",
        agent: str = "",
        requested: bool = False,
        campaign_mode: str | None = None,
    ) -> Recording | None:
        """Start recording the call if its queue/campaign rule says so (`requested`: the
        operator asked, for on-demand rules). The queue's rule is the one stored with it
        (crm_core QueueDefinition.recording, read now, so an admin's change applies to the
        next call); the campaign's comes as `campaign_mode` (its settings' `recording`, from
        the composition root: recordings does not import dialer). Idempotent per call: a
        second connection of the same call (a transfer) keeps the recording that runs. Prefer
        the caller's channel: it stays in the call across transfers."""
        mode = self._policy.mode_for(
            queue=queue,
            campaign=campaign,
            queue_mode=await self._stored_queue_mode(queue),
            campaign_mode=_record_mode(campaign_mode, f"campaign {campaign!r}"),
        )
        if mode is RecordMode.NEVER or (mode is RecordMode.ON_DEMAND and not requested):
            return None
        async with self._db.session() as session:
            existing = await session.scalar(select(Recording).where(Recording.linkedid == linkedid))
            if existing is not None:
                return existing
        now = self._clock.now()
        path = recording_path(
            self._policy.layout,
            started_at=now,
            linkedid=linkedid,
            queue=queue,
            campaign=campaign,
            agent=agent,
        )
        folder = (self._policy.directory / path).parent
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        recording = Recording(
            linkedid=linkedid,
            status=RecordingStatus.RECORDING,
            path=path,
            channel=channel,
            queue=queue,
            campaign=campaign,
            agent=agent,
            stereo=self._policy.stereo,
            parts=[path],
            pauses=[],
            started_at=now,
        )
        try:
            recording.mixmonitor_id = await self._switch.start_recording(
                channel, self._policy.asterisk_path(path), self._policy.mixmonitor_options_for(path)
            )
        except AmiError as exc:
            # Not recorded is a compliance fact: it is kept on the retry list for a person.
            recording.status, recording.checks = RecordingStatus.MISSING, 1
            recording.problem = f"MixMonitor could not start on {channel}: {exc}"
        async with self._db.session() as session:
            session.add(recording)
            await session.commit()
        if recording.status is RecordingStatus.MISSING:
            self._alert(recording, Problem.START_FAILED, recording.problem, now)
        else:
            log.info("recording %s on %s", path, channel, extra={"linkedid": linkedid})
        return recording

    async def _stored_queue_mode(self, queue: str) -> RecordMode | None:
        if not queue:
            return None
        async with self._db.session() as session:
            stored = await session.scalar(
                select(QueueDefinition.recording).where(QueueDefinition.name == queue)
            )
        return _record_mode(stored, f"queue {queue!r}")

    async def pause(self, linkedid: str) -> Recording:
        """Stop the audio (e.g. while the debtor reads out card details)."""
        now = self._clock.now()
        async with self._db.session() as session:
            recording = await self._running(session, linkedid)
            if recording.paused_at is not None:
                raise RecordingStateError(f"recording of {linkedid} is already paused")
            await self._switch.stop_recording(recording.channel, recording.mixmonitor_id)
            recording.paused_at = now
            await session.commit()
        return recording

    async def resume(self, linkedid: str) -> Recording:
        now = self._clock.now()
        async with self._db.session() as session:
            recording = await self._running(session, linkedid)
            if recording.paused_at is None:
                raise RecordingStateError(f"recording of {linkedid} is not paused")
            part = part_path(recording.path, len(recording.parts) + 1)
            recording.mixmonitor_id = await self._switch.start_recording(
                recording.channel,
                self._policy.asterisk_path(part),
                self._policy.mixmonitor_options_for(part),
            )
            start = (recording.paused_at - recording.started_at).total_seconds()
            recording.pauses = [
                *recording.pauses,
                [start, (now - recording.started_at).total_seconds()],
            ]
            recording.parts = [*recording.parts, part]
            recording.paused_at = None
            await session.commit()
        return recording

    async def stop(self, linkedid: str) -> Recording:
        """Stop before the hangup (on-demand recording switched off); checked at CallEnded."""
        now = self._clock.now()
        async with self._db.session() as session:
            recording = await self._running(session, linkedid)
            if recording.paused_at is None:
                await self._switch.stop_recording(recording.channel, recording.mixmonitor_id)
            else:
                start = (recording.paused_at - recording.started_at).total_seconds()
                end = (now - recording.started_at).total_seconds()
                recording.pauses = [*recording.pauses, [start, end]]
                recording.paused_at = None
            recording.ended_at = now
            await session.commit()
        return recording

    async def call_ended(self, linkedid: str, at: datetime) -> Recording | None:
        return await self._index.call_ended(linkedid, at)

    @staticmethod
    def subscribe(bus: Bus) -> Subscription:
        """FAIL overflow: a lost CallEnded would leave a recording unchecked, so falling behind
        closes the subscription loudly rather than dropping events."""
        return bus.subscribe("recordings", CallEnded, overflow=Overflow.FAIL)

    async def run(self, subscription: Subscription) -> None:
        """Close and check each ended call's recording until the owner unsubscribes."""
        async for event in subscription:
            if isinstance(event, CallEnded):
                with log_context(linkedid=event.linkedid):
                    await self.call_ended(event.linkedid, event.at)

    async def catch_up(self) -> int:
        """Close every recording still running whose call the interaction log has ended (the
        CallEnded events it missed while it was behind); the number closed."""
        async with self._db.session() as session:
            ended = (
                await session.execute(
                    select(Recording.linkedid, Interaction.ended_at)
                    .join(Interaction, Interaction.linkedid == Recording.linkedid)
                    .where(
                        Recording.status == RecordingStatus.RECORDING,
                        Interaction.ended_at.is_not(None),
                    )
                )
            ).all()
        for linkedid, ended_at in ended:
            if ended_at is not None:
                with log_context(linkedid=linkedid):
                    await self.call_ended(linkedid, ended_at)
        return len(ended)

    async def _running(self, session: AsyncSession, linkedid: str) -> Recording:
        recording = await session.scalar(select(Recording).where(Recording.linkedid == linkedid))
        if recording is None or recording.status is not RecordingStatus.RECORDING:
            raise RecordingStateError(f"call {linkedid} has no running recording")
        if recording.ended_at is not None:
            raise RecordingStateError(f"recording of {linkedid} was already stopped")
        return recording

    def _alert(self, recording: Recording, problem: Problem, detail: str, at: datetime) -> None:
        log.error(
            "recording of %s: %s",
            recording.linkedid,
            detail,
            extra={"linkedid": recording.linkedid},
        )
        if self._bus is not None:
            self._bus.publish(
                RecordingAlert(
                    linkedid=recording.linkedid,
                    at=at,
                    recording_id=recording.id,
                    path=recording.path,
                    problem=problem,
                    detail=detail,
                    checks=recording.checks,
                )
            )
