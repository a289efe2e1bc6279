"""The durable transcription queue: rows in `transcription_jobs`, claimed atomically.

A job is claimed by one `owner` ("node:pid") with one UPDATE ... RETURNING, so two worker
processes (or two nodes on PostgreSQL, with SKIP LOCKED) never take the same job. A job is
never lost: a process that dies leaves it `running`, and the next start of that node puts it
back in the queue, or fails it once it has used all its attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db import Database
from recordings.tables import JobStatus, Recording, TranscriptionJob

_ERROR_LIMIT = 2000  # an error text is for people; a traceback tail is enough


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    recording_id: int
    linkedid: str
    path: str  # relative to the recordings directory
    language: str
    attempts: int
    pauses: tuple[tuple[float, float], ...]
    campaign: str


async def enqueue(session: AsyncSession, recording_id: int, language: str, now: datetime) -> None:
    """Queue (or re-queue) the recording's job in the caller's transaction."""
    existing = await session.scalar(
        select(TranscriptionJob).where(TranscriptionJob.recording_id == recording_id)
    )
    if existing is None:
        session.add(
            TranscriptionJob(
                recording_id=recording_id, status=JobStatus.QUEUED, language=language, queued_at=now
            )
        )
        return
    if existing.status in (JobStatus.DONE, JobStatus.FAILED):
        existing.status, existing.attempts, existing.error = JobStatus.QUEUED, 0, ""
        existing.language, existing.queued_at, existing.owner = language, now, ""


async def claim(db: Database, owner: str, now: datetime) -> ClaimedJob | None:
    """Take the oldest queued job, or None when the queue is empty."""
    oldest = (
        select(TranscriptionJob.id)
        .where(TranscriptionJob.status == JobStatus.QUEUED)
        .order_by(TranscriptionJob.id)
        .limit(1)
    )
    if db.dialect == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    statement = (
        update(TranscriptionJob)
        .where(TranscriptionJob.id == oldest.scalar_subquery())
        .where(TranscriptionJob.status == JobStatus.QUEUED)
        .values(
            status=JobStatus.RUNNING,
            attempts=TranscriptionJob.attempts + 1,
            owner=owner,
            started_at=now,
        )
        .returning(
            TranscriptionJob.id,
            TranscriptionJob.recording_id,
            TranscriptionJob.language,
            TranscriptionJob.attempts,
        )
    )
    async with db.session() as session:
        row = (await session.execute(statement)).first()
        if row is None:
            await session.commit()
            return None
        recording = await session.get_one(Recording, row.recording_id)
        await session.commit()
    return ClaimedJob(
        id=row.id,
        recording_id=row.recording_id,
        linkedid=recording.linkedid,
        path=recording.path,
        language=row.language,
        attempts=row.attempts,
        pauses=tuple((float(a), float(b)) for a, b in recording.pauses),
        campaign=recording.campaign,
    )


async def mark_done(session: AsyncSession, job_id: int, now: datetime) -> None:
    await session.execute(
        update(TranscriptionJob)
        .where(TranscriptionJob.id == job_id)
        .values(status=JobStatus.DONE, finished_at=now)  # earlier errors stay as history
    )


async def mark_failed(
    db: Database,
    job: ClaimedJob,
    error: str,
    now: datetime,
    max_attempts: int,
    *,
    permanent: bool = False,
) -> JobStatus:
    """Back to the queue while attempts remain, else failed for good; `permanent` errors (the
    file is not audio, no model for the language) fail at once. Returns the new status."""
    retry = not permanent and job.attempts < max_attempts
    status = JobStatus.QUEUED if retry else JobStatus.FAILED
    async with db.session() as session:
        await session.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.id == job.id)
            .values(
                status=status,
                error=error[-_ERROR_LIMIT:],
                owner="",
                finished_at=now if status is JobStatus.FAILED else None,
            )
        )
        await session.commit()
    return status


async def recover(db: Database, node: str, now: datetime, max_attempts: int) -> int:
    """At start-up: jobs this node was running when its previous process died go back in the
    queue, or fail if that death was their last attempt. Returns how many were found."""
    async with db.session() as session:
        stale = (
            await session.scalars(
                select(TranscriptionJob)
                .where(TranscriptionJob.status == JobStatus.RUNNING)
                .where(TranscriptionJob.owner.startswith(f"{node}:", autoescape=True))
            )
        ).all()
        for job in stale:
            note = f"interrupted: process {job.owner} stopped while transcribing"
            job.error = (f"{job.error}\n{note}" if job.error else note)[-_ERROR_LIMIT:]
            job.owner = ""
            if job.attempts >= max_attempts:
                job.status, job.finished_at = JobStatus.FAILED, now
            else:
                job.status = JobStatus.QUEUED
        await session.commit()
    return len(stale)


async def retry_failed(db: Database, now: datetime) -> int:
    """An administrator's "try the failed ones again" (e.g. after installing a missing model)."""
    async with db.session() as session:
        result = await session.execute(
            update(TranscriptionJob)
            .where(TranscriptionJob.status == JobStatus.FAILED)
            .values(status=JobStatus.QUEUED, attempts=0, queued_at=now, finished_at=None)
        )
        await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


async def counts(db: Database) -> dict[JobStatus, int]:
    async with db.session() as session:
        rows = await session.execute(
            select(TranscriptionJob.status, func.count()).group_by(TranscriptionJob.status)
        )
        found = {JobStatus(status): int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in JobStatus}
