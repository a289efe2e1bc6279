"""The durable queue and the worker processes, on a real SQLite database and real speech:
backlog with progress, a worker killed mid-job, a job that keeps killing its worker, a restart
with jobs left running, a file that is not audio."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from pathlib import Path

from sqlalchemy import select

from crm_core.bus import InProcessBus
from crm_core.clock import ManualClock
from crm_core.config import Settings
from crm_core.db import Database
from recordings import jobs
from recordings.backlog import run_backlog
from recordings.config import RecordingPolicy
from recordings.events import TranscriptionFailed, TranscriptReady
from recordings.search import search
from recordings.tables import JobStatus, TranscriptionJob, TranscriptRecord
from recordings.workers import TranscriptionService
from tests.recordings.recordings_support import T0, add_stored_recording
from tests.waiting import eventually


async def job_rows(db: Database) -> list[TranscriptionJob]:
    async with db.session() as session:
        return list(
            (await session.scalars(select(TranscriptionJob).order_by(TranscriptionJob.id))).all()
        )


async def wait_running(db: Database, attempts: int, within: float = 60.0) -> None:
    async with asyncio.timeout(within):
        while True:
            rows = await job_rows(db)
            if any(r.status is JobStatus.RUNNING and r.attempts == attempts for r in rows):
                return
            await asyncio.sleep(0.05)


async def kill_workers_when_busy(killed: set[int], within: float = 60.0) -> None:
    """SIGKILL the worker process once it exists: after a restart it is spawned anew, and one
    killed before (`killed`, updated here) does not count even while not yet reaped. Called
    once the job is claimed: a kill at any moment from then on (before the job reaches the
    process, or while it transcribes) breaks the process pool, so the attempt dies with it."""

    def fresh() -> list[multiprocessing.Process]:
        return [c for c in multiprocessing.active_children() if c.pid not in killed]

    for child in await eventually(fresh, within, what="a new worker process"):
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        killed.add(child.pid)


async def test_backlog_transcribes_every_queued_recording_with_progress(
    sqlite_db: Database, recordings_dir: Path, scripted: dict[str, Path]
) -> None:
    await add_stored_recording(
        sqlite_db, recordings_dir, scripted["i filed for bankruptcy"], "call-1"
    )
    await add_stored_recording(
        sqlite_db, recordings_dir, scripted["i spoke with my lawyer about this debt"], "call-2"
    )
    policy = RecordingPolicy(directory=recordings_dir, workers=2)
    seen: list[tuple[int, int]] = []
    result = await run_backlog(
        sqlite_db,
        Settings(),
        lambda d, t: seen.append((d, t)),
        policy=policy,
        clock=ManualClock(T0),
    )
    assert (result.done, result.failed, result.retried) == (2, 0, 0)
    assert seen[0] == (0, 2) and seen[-1] == (2, 2)
    assert [r.status for r in await job_rows(sqlite_db)] == [JobStatus.DONE, JobStatus.DONE]
    async with sqlite_db.session() as session:
        flags = {
            r.recording_id: r.flags for r in (await session.scalars(select(TranscriptRecord))).all()
        }
    assert flags == {1: ["bankrupt"], 2: ["lawyer"]}
    [hit] = await search(sqlite_db, "bankrupt")
    assert hit.linkedid == "call-1"
    assert ("bankruptcy", True) in hit.fragments
    assert hit.start is not None and 0.3 < hit.start < 1.5
    assert "<mark>bankruptcy</mark>" in hit.snippet_html()


async def test_a_worker_killed_mid_job_is_replaced_and_the_job_retried(
    sqlite_db: Database, recordings_dir: Path, call_audio: Path
) -> None:
    await add_stored_recording(sqlite_db, recordings_dir, call_audio, "call-killed")
    bus = InProcessBus()
    ready = bus.subscribe("test", TranscriptReady)
    service = TranscriptionService(
        sqlite_db,
        RecordingPolicy(directory=recordings_dir),
        bus=bus,
        clock=ManualClock(T0),
        node="n1",
    )
    await service.start()
    try:
        drained = asyncio.create_task(service.drain())
        await wait_running(sqlite_db, attempts=1)
        await kill_workers_when_busy(set())
        result = await drained
    finally:
        await service.close()
    assert (result.done, result.retried, result.failed) == (1, 1, 0)
    [row] = await job_rows(sqlite_db)
    assert row.status is JobStatus.DONE and row.attempts == 2
    assert service.slots[0].restarts == 1
    event = ready.get_nowait()
    assert isinstance(event, TranscriptReady) and event.linkedid == "call-killed"


async def test_a_job_that_keeps_killing_its_worker_fails_with_the_error(
    sqlite_db: Database, recordings_dir: Path, call_audio: Path
) -> None:
    await add_stored_recording(sqlite_db, recordings_dir, call_audio, "call-poison")
    bus = InProcessBus()
    failures = bus.subscribe("test", TranscriptionFailed)
    policy = RecordingPolicy(directory=recordings_dir, max_attempts=2)
    service = TranscriptionService(sqlite_db, policy, bus=bus, clock=ManualClock(T0), node="n1")
    await service.start()
    try:
        drained = asyncio.create_task(service.drain())
        killed: set[int] = set()
        for attempt in (1, 2):
            await wait_running(sqlite_db, attempts=attempt)
            await kill_workers_when_busy(killed)
        result = await drained
    finally:
        await service.close()
    assert (result.done, result.retried, result.failed) == (0, 1, 1)
    [row] = await job_rows(sqlite_db)
    assert row.status is JobStatus.FAILED and row.attempts == 2
    assert "died" in row.error and "attempt 2" in row.error
    event = failures.get_nowait()
    assert isinstance(event, TranscriptionFailed) and event.linkedid == "call-poison"


async def test_restart_requeues_what_the_dead_process_was_running(
    db: Database, recordings_dir: Path, scripted: dict[str, Path]
) -> None:
    line = scripted["i will pay on friday"]
    for linkedid in ("queued", "interrupted", "interrupted-last-time", "other-node"):
        await add_stored_recording(db, recordings_dir, line, linkedid)
    async with db.session() as session:
        rows = (await session.scalars(select(TranscriptionJob).order_by(TranscriptionJob.id))).all()
        rows[1].status, rows[1].owner, rows[1].attempts = JobStatus.RUNNING, "n1:4242", 1
        rows[2].status, rows[2].owner, rows[2].attempts = JobStatus.RUNNING, "n1:4242", 3
        rows[3].status, rows[3].owner, rows[3].attempts = JobStatus.RUNNING, "n2:77", 1
        await session.commit()
    service = TranscriptionService(
        db, RecordingPolicy(directory=recordings_dir), clock=ManualClock(T0), node="n1"
    )
    recovered = await service.start()
    try:
        result = await service.drain()
    finally:
        await service.close()
    assert recovered == 2
    assert result.done == 2
    rows = await job_rows(db)
    assert [r.status for r in rows] == [
        JobStatus.DONE,
        JobStatus.DONE,
        JobStatus.FAILED,
        JobStatus.RUNNING,
    ]
    assert "interrupted: process n1:4242" in rows[1].error
    assert "interrupted: process n1:4242" in rows[2].error
    assert rows[3].owner == "n2:77"  # another node's job is that node's business
    counts = await jobs.counts(db)
    assert counts[JobStatus.DONE] == 2 and counts[JobStatus.QUEUED] == 0


async def test_a_file_that_is_not_audio_fails_at_once_with_a_clear_error(
    sqlite_db: Database, recordings_dir: Path, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 10)
    await add_stored_recording(sqlite_db, recordings_dir, garbage, "call-garbage")
    policy = RecordingPolicy(directory=recordings_dir, max_attempts=3)
    result = await run_backlog(sqlite_db, Settings(), policy=policy, clock=ManualClock(T0))
    assert (result.done, result.failed, result.retried) == (0, 1, 0)
    [row] = await job_rows(sqlite_db)
    assert row.status is JobStatus.FAILED and row.attempts == 1
    assert "AudioError" in row.error and "call-garbage.wav" in row.error
    # an administrator fixes the file and asks for the failed jobs again
    assert await jobs.retry_failed(sqlite_db, T0) == 1
    [row] = await job_rows(sqlite_db)
    assert (row.status, row.attempts) == (JobStatus.QUEUED, 0)
