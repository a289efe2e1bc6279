"""Retention: recordings older than the policy allows are deleted, and the deletion is recorded.

The row stays (status purged) so the interaction still says a recording existed and when it
went; the transcript goes with the audio, since it holds the same personal data.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select

from crm_core import audit
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
