"""Helpers shared by the recordings tests."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from crm_core.db import Database
from recordings import jobs
from recordings.tables import Recording, RecordingStatus

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def add_stored_recording(
    db: Database,
    directory: Path,
    source: Path,
    linkedid: str,
    *,
    language: str = "en",
    campaign: str = "",
    now: datetime = T0,
) -> int:
    """A recording already checked and indexed, with its transcription job queued."""
    relative = f"2026-11-23/collections/{linkedid}.wav"
    target = directory / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    async with db.session() as session:
        recording = Recording(
            linkedid=linkedid,
            status=RecordingStatus.STORED,
            path=relative,
            channel="x",
            campaign=campaign,
            parts=[relative],
            pauses=[],
            started_at=now,
        )
        session.add(recording)
        await session.flush()
        await jobs.enqueue(session, recording.id, language, now)
        await session.commit()
        return recording.id
