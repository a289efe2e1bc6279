"""The recording index: what was recorded for which call, and whether the file is sound.

On CallEnded the file is checked (exists, not empty, valid WAV header, duration close to the time
recorded), hashed, linked to the call's interaction and queued for transcription. A file that is
missing or damaged raises a RecordingAlert and goes on the retry list (Asterisk closes files
after the hangup, and a network share can lag): it is checked again with back-off until it is
sound or a person resolves it. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.bus import Bus
from crm_core.clock import Clock
from crm_core.db import Database
from crm_core.interactions import InteractionLog
from crm_core.models import Contact, Interaction
from recordings import jobs
from recordings.audio import AudioError
from recordings.config import RecordingPolicy
from recordings.engines import FALLBACK_LANGUAGE
from recordings.events import Problem, RecordingAlert, RecordingStored
from recordings.storage import (
    FileCheck,
    check_file,
    interleave_legs,
    is_stereo,
    join_parts,
    leg_path,
)
from recordings.tables import Recording, RecordingStatus

log = logging.getLogger(__name__)


async def contact_language(session: AsyncSession, linkedid: str) -> str:
    """The debtor's language for the call, else the fallback language."""
    language = await session.scalar(
        select(Contact.language)
        .join(Interaction, Interaction.contact_id == Contact.id)
        .where(Interaction.linkedid == linkedid)
    )
    return language or FALLBACK_LANGUAGE


class RecordingIndex:
    def __init__(
        self,
        db: Database,
        policy: RecordingPolicy,
        *,
        bus: Bus | None = None,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        """`on_queued` (e.g. TranscriptionService.wake) is called after a job is queued."""
        self._db = db
        self._policy = policy
        self._bus = bus
        self._interactions = InteractionLog(db)
        self._on_queued = on_queued

    async def call_ended(self, linkedid: str, ended_at: datetime) -> Recording | None:
        """Close the call's recording and check it; None if the call was not recorded."""
        async with self._db.session() as session:
            recording = await session.scalar(
                select(Recording).where(Recording.linkedid == linkedid)
            )
            if recording is None:
                return None
            if recording.status is not RecordingStatus.RECORDING:
                return recording  # a replayed CallEnded: already handled
            recording.ended_at = recording.ended_at or ended_at  # an early stop keeps its time
            if recording.paused_at is not None:  # paused until the hangup
                recording.pauses = [
                    *recording.pauses,
                    [
                        self._offset(recording, recording.paused_at),
                        self._offset(recording, ended_at),
                    ],
                ]
                recording.paused_at = None
            await session.commit()
        return await self.check(recording.id, ended_at)

    async def check(self, recording_id: int, now: datetime) -> Recording:
        """Check (or re-check) one recording's file and record the outcome."""
        async with self._db.session() as session:
            found = await session.get_one(Recording, recording_id)
        outcome = await asyncio.to_thread(self._check_files, found)
        if outcome.ok:
            await self._interactions.call_updated(found.linkedid, at=now, recording_ref=found.path)
        async with self._db.session() as session:
            recording = await session.get_one(Recording, recording_id)
            if outcome.ok:
                await self._stored(session, recording, outcome, now)
            else:
                self._problem(recording, outcome, now)
            await session.commit()
        if outcome.problem is not None:
            log.warning(
                "recording %s: %s",
                recording.path,
                outcome.detail,
                extra={"linkedid": recording.linkedid},
            )
            if self._bus is not None:
                self._bus.publish(
                    RecordingAlert(
                        linkedid=recording.linkedid,
                        at=now,
                        recording_id=recording.id,
                        path=recording.path,
                        problem=outcome.problem,
                        detail=outcome.detail,
                        checks=recording.checks,
                    )
                )
            return recording
        if self._bus is not None:
            self._bus.publish(
                RecordingStored(
                    linkedid=recording.linkedid,
                    at=now,
                    recording_id=recording.id,
                    path=recording.path,
                    sha256=outcome.sha256,
                    duration_s=outcome.duration_s,
                )
            )
        if self._on_queued is not None:
            self._on_queued()
        return recording

    async def recheck_due(self, now: datetime) -> list[Recording]:
        """Check again every recording on the retry list whose time has come."""
        async with self._db.session() as session:
            due = (
                await session.scalars(
                    select(Recording.id)
                    .where(Recording.status.in_((RecordingStatus.MISSING, RecordingStatus.CORRUPT)))
                    .where(Recording.next_check_at <= now)
                    .order_by(Recording.next_check_at)
                )
            ).all()
        return [await self.check(recording_id, now) for recording_id in due]

    async def watch_retry_list(
        self, clock: Clock, stop: asyncio.Event, every_s: float = 5.0
    ) -> None:
        """Re-check due recordings every `every_s` until `stop` is set (owned by the service)."""
        while not stop.is_set():
            await self.recheck_due(clock.now())
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)

    async def retry_list(self) -> list[Recording]:
        """Recordings waiting for their file: what the supervisor's alert panel shows."""
        async with self._db.session() as session:
            return list(
                (
                    await session.scalars(
                        select(Recording)
                        .where(
                            Recording.status.in_((RecordingStatus.MISSING, RecordingStatus.CORRUPT))
                        )
                        .order_by(Recording.started_at)
                    )
                ).all()
            )

    # -- internals ------------------------------------------------------------------------

    def _offset(self, recording: Recording, at: datetime) -> float:
        return max(0.0, (at - recording.started_at).total_seconds())

    def _check_files(self, recording: Recording) -> FileCheck:
        """Runs in a thread: join paused parts if any, then check the one file."""
        base = self._policy.directory
        target = base / recording.path
        parts = [base / part for part in recording.parts]
        if recording.stereo:
            problem = _make_stereo(base, recording.parts)
            if problem is not None:
                return problem
        if len(parts) > 1:
            absent = [str(part) for part in parts if not part.exists()]
            if absent:
                return FileCheck(Problem.MISSING, f"missing recording parts: {', '.join(absent)}")
            try:
                join_parts(parts, [end - start for start, end in recording.pauses], target)
            except (AudioError, ValueError) as exc:
                return FileCheck(Problem.BAD_HEADER, f"cannot join parts of {target}: {exc}")
        expected = None
        if recording.ended_at is not None:
            # Pauses between parts are filled with silence; one that lasted to the end is not.
            trailing = recording.pauses[len(recording.parts) - 1 :]
            expected = self._offset(recording, recording.ended_at) - sum(
                end - start for start, end in trailing
            )
        return check_file(
            target,
            expected,
            tolerance_s=self._policy.duration_tolerance_s,
            tolerance_ratio=self._policy.duration_tolerance_ratio,
        )

    async def _stored(
        self, session: AsyncSession, recording: Recording, outcome: FileCheck, now: datetime
    ) -> None:
        recording.status = RecordingStatus.STORED
        recording.sha256, recording.size_bytes = outcome.sha256, outcome.size_bytes
        recording.duration_s, recording.stored_at = outcome.duration_s, now
        recording.parts, recording.problem, recording.next_check_at = [recording.path], "", None
        recording.interaction_id = await session.scalar(
            select(Interaction.id).where(Interaction.linkedid == recording.linkedid)
        )
        language = await contact_language(session, recording.linkedid)
        await jobs.enqueue(session, recording.id, language, now)

    def _problem(self, recording: Recording, outcome: FileCheck, now: datetime) -> None:
        recording.status = (
            RecordingStatus.MISSING
            if outcome.problem is Problem.MISSING
            else RecordingStatus.CORRUPT
        )
        recording.problem = outcome.detail
        recording.checks += 1
        delay = self._policy.recheck_delay(recording.checks)
        recording.next_check_at = now + timedelta(seconds=delay)


def _make_stereo(base: Path, parts: list[str]) -> FileCheck | None:
    """Turn each part's rx/tx legs into its stereo file (once: a re-check finds it done)."""
    for part in parts:
        rx, tx = base / leg_path(part, "rx"), base / leg_path(part, "tx")
        if not (rx.exists() and tx.exists()):
            if is_stereo(base / part):
                continue
            absent = ", ".join(str(leg) for leg in (rx, tx) if not leg.exists())
            return FileCheck(Problem.MISSING, f"missing stereo legs: {absent}")
        try:
            interleave_legs(rx, tx, base / part)
        except AudioError as exc:
            return FileCheck(Problem.BAD_HEADER, f"cannot make stereo {base / part}: {exc}")
    return None
