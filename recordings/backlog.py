"""`callboard transcribe --backlog`: transcribe every recording still waiting, with progress."""

from __future__ import annotations

from sqlalchemy import select

from crm_core.clock import Clock, SystemClock
from crm_core.config import Settings
from crm_core.db import Database
from recordings import jobs
from recordings.config import RecordingPolicy
from recordings.index import contact_language
from recordings.tables import Recording, RecordingStatus, TranscriptionJob
from recordings.workers import BacklogResult, Progress, TranscriptionService


async def queue_untranscribed(db: Database, clock: Clock) -> int:
    """Stored recordings that never got a job (imported, or indexed before transcription was
    configured) are queued. Returns how many."""
    now = clock.now()
    async with db.session() as session:
        waiting = (
            await session.scalars(
                select(Recording)
                .outerjoin(TranscriptionJob, TranscriptionJob.recording_id == Recording.id)
                .where(Recording.status == RecordingStatus.STORED)
                .where(TranscriptionJob.id.is_(None))
            )
        ).all()
        for recording in waiting:
            language = await contact_language(session, recording.linkedid)
            await jobs.enqueue(session, recording.id, language, now)
        await session.commit()
    return len(waiting)


async def run_backlog(
    db: Database,
    settings: Settings,
    progress: Progress | None = None,
    *,
    policy: RecordingPolicy | None = None,
    clock: Clock | None = None,
) -> BacklogResult:
    """Process the whole queue with `settings.recordings.workers` worker processes."""
    policy = policy or RecordingPolicy.from_settings(settings)
    clock = clock or SystemClock()
    await queue_untranscribed(db, clock)
    service = TranscriptionService(db, policy, clock=clock)
    try:
        recovered = await service.start()
        result = await service.drain(progress)
        result.recovered = recovered
    finally:
        await service.close()
    return result
