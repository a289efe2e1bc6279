"""Retention: recordings older than the policy allows are deleted, and the deletion is recorded.

The row stays (status purged) so the interaction still says a recording existed and when it
went; the transcript goes with the audio, since it holds the same personal data.

The node runs `RetentionJob`: the first purge a few minutes after start-up (out of the way of a
busy start), then one every 24 hours, timed on the injected clock. `retention_days = 0` keeps
everything: `purge` deletes nothing and the node runs no job.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select

from crm_core import audit
from crm_core.clock import Clock
from crm_core.db import Database
from recordings.config import RecordingPolicy
from recordings.search import remove_from_index
from recordings.tables import Recording, RecordingStatus, TranscriptRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Purged:
    recording_id: int
    linkedid: str
    path: str
    started_at: datetime
    file_existed: bool


async def purge(
    db: Database, policy: RecordingPolicy, now: datetime, user_id: int | None = None
) -> list[Purged]:
    """Delete recordings started before the retention cut-off; returns (and logs) each one."""
    if policy.retention_days == 0:  # kept forever
        return []
    cutoff = now - timedelta(days=policy.retention_days)
    purged: list[Purged] = []
    async with db.session() as session:
        expired = (
            await session.scalars(
                select(Recording)
                .where(Recording.started_at < cutoff)
                .where(Recording.status != RecordingStatus.PURGED)
                .where(Recording.status != RecordingStatus.RECORDING)
                .order_by(Recording.started_at)
            )
        ).all()
        for recording in expired:
            files = [policy.directory / relative for relative in {recording.path, *recording.parts}]
            existed = await asyncio.to_thread(_remove, files)
            await session.execute(
                delete(TranscriptRecord).where(TranscriptRecord.recording_id == recording.id)
            )
            await remove_from_index(session, recording.id)
            recording.status, recording.purged_at = RecordingStatus.PURGED, now
            recording.next_check_at = None
            audit.record(
                session,
                at=now,
                user_id=user_id,
                action="purge",
                object_type="recording",
                object_id=recording.id,
                path=recording.path,
                linkedid=recording.linkedid,
                retention_days=policy.retention_days,
            )
            purged.append(
                Purged(
                    recording.id, recording.linkedid, recording.path, recording.started_at, existed
                )
            )
        await session.commit()
    for item in purged:
        log.info(
            "retention purge: deleted recording %s of %s (started %s%s)",
            item.path,
            item.linkedid,
            item.started_at.isoformat(),
            "" if item.file_existed else "; file was already gone",
            extra={"linkedid": item.linkedid},
        )
    return purged


def _remove(files: list[Path]) -> bool:
    existed = False
    for file in files:
        if file.exists():
            file.unlink()
            existed = True
    return existed


FIRST_PURGE_AFTER_S = 600.0  # after start-up: not while the node is busy starting
PURGE_EVERY_S = 86_400.0
RETRY_AFTER_S = 3_600.0  # a failed purge (database away) is tried again sooner than a day


class RetentionJob:
    """The node's daily purge. Time is the injected clock's: the loop only polls it (every
    `poll_s` seconds of real time), so a test drives a day in virtual time."""

    def __init__(
        self,
        db: Database,
        policy: RecordingPolicy,
        clock: Clock,
        *,
        first_after_s: float = FIRST_PURGE_AFTER_S,
        every_s: float = PURGE_EVERY_S,
        retry_after_s: float = RETRY_AFTER_S,
        poll_s: float = 60.0,
    ) -> None:
        if policy.retention_days == 0:
            raise ValueError("retention_days = 0 keeps recordings forever: no purge to run")
        self._db = db
        self._policy = policy
        self._clock = clock
        self._first_after_s = first_after_s
        self._every_s = every_s
        self._retry_after_s = retry_after_s
        self._poll_s = poll_s
        self._next: float | None = None  # on the clock's monotonic scale
        self.runs = 0  # purges done by this process
        self.checks = 0  # times run() looked whether a purge was due
        self.purged = 0  # recordings they deleted

    async def run_due(self) -> bool:
        """Purges if the next purge is due; True when this call purged."""
        now = self._clock.monotonic()
        if self._next is None:
            self._next = now + self._first_after_s
        if now < self._next:
            return False
        try:
            purged = await purge(self._db, self._policy, self._clock.now())
        except Exception:
            self._next = now + min(self._retry_after_s, self._every_s)
            raise
        self._next = now + self._every_s
        self.runs += 1
        self.purged += len(purged)
        log.info(
            "retention purge: %d recording(s) older than %d days deleted; next in %.0f h",
            len(purged),
            self._policy.retention_days,
            self._every_s / 3600,
        )
        return True

    async def run(self) -> None:
        """Until cancelled; a failed purge is logged and tried again after `retry_after_s`."""
        while True:
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention purge failed; trying again later")
            self.checks += 1
            await asyncio.sleep(self._poll_s)
