"""The node's daily retention purge on an injected clock: the first purge a few minutes after
start-up, then one a day; a failed purge is tried again within the hour; 0 days keeps all."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_core.clock import ManualClock
from crm_core.db import Database
from recordings.config import RecordingPolicy
from recordings.retention import (
    FIRST_PURGE_AFTER_S,
    PURGE_EVERY_S,
    RETRY_AFTER_S,
    RetentionJob,
    purge,
)
from recordings.tables import Recording, RecordingStatus
from tests.waiting import eventually

DAY = 86_400.0


async def old_recording(db: Database, clock: ManualClock, directory: Path, name: str, age_days):
    path = f"old/{name}.wav"
    (directory / "old").mkdir(parents=True, exist_ok=True)
    (directory / path).write_bytes(b"RIFF")
    async with db.session() as s:
        s.add(
            Recording(
                linkedid=name,
                status=RecordingStatus.STORED,
                path=path,
                channel="PJSIP/trunk-1",
                parts=[path],
                pauses=[],
                started_at=clock.now() - timedelta(days=age_days),
            )
        )
        await s.commit()


async def statuses(db: Database) -> dict[str, RecordingStatus]:
    async with db.session() as s:
        return {r.linkedid: r.status for r in (await s.scalars(select(Recording))).all()}


async def test_first_purge_after_the_delay_then_daily(sqlite_db: Database, tmp_path: Path):
    clock = ManualClock()
    policy = RecordingPolicy(directory=tmp_path, retention_days=30)
    job = RetentionJob(sqlite_db, policy, clock, poll_s=0.01)
    await old_recording(sqlite_db, clock, tmp_path, "A", age_days=31)
    await old_recording(sqlite_db, clock, tmp_path, "B", age_days=29.5)
    task = asyncio.create_task(job.run())
    try:

        async def settle() -> None:
            """A few checks of the loop that began after now (one under way may have read the
            clock before it was advanced): what is due has run, what is not would have."""
            checks = job.checks
            await eventually(lambda: job.checks >= checks + 3, what="three more checks")

        await settle()
        assert job.runs == 0  # not at start-up
        clock.advance(FIRST_PURGE_AFTER_S - 1)
        await settle()
        assert job.runs == 0
        clock.advance(1)
        await settle()
        assert (job.runs, job.purged) == (1, 1)
        assert await statuses(sqlite_db) == {
            "A": RecordingStatus.PURGED,
            "B": RecordingStatus.STORED,
        }
        assert not (tmp_path / "old/A.wav").exists() and (tmp_path / "old/B.wav").exists()
        clock.advance(PURGE_EVERY_S - 10)  # B is 30.5 days old now, but the day is not over
        await settle()
        assert job.runs == 1
        clock.advance(10)
        await settle()
        assert (job.runs, job.purged) == (2, 2)
        assert (await statuses(sqlite_db))["B"] is RecordingStatus.PURGED
        clock.advance(PURGE_EVERY_S)
        await settle()
        assert (job.runs, job.purged) == (3, 2)  # a day later: nothing left to purge
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_failed_purge_is_tried_again_within_the_hour(
    sqlite_db: Database, tmp_path: Path, monkeypatch
):
    import recordings.retention as retention

    clock = ManualClock()
    job = RetentionJob(sqlite_db, RecordingPolicy(directory=tmp_path), clock, first_after_s=0)
    real_purge, failures = retention.purge, []

    async def failing(*args, **kwargs):
        failures.append(clock.monotonic())
        raise OSError("disk gone")

    monkeypatch.setattr(retention, "purge", failing)
    with pytest.raises(OSError):
        await job.run_due()
    assert not await job.run_due()  # not again at once
    monkeypatch.setattr(retention, "purge", real_purge)
    clock.advance(RETRY_AFTER_S)
    assert await job.run_due()
    assert failures == [0.0] and job.runs == 1


async def test_0_days_keeps_recordings_forever(sqlite_db: Database, tmp_path: Path):
    clock = ManualClock()
    forever = RecordingPolicy(directory=tmp_path, retention_days=0)
    await old_recording(sqlite_db, clock, tmp_path, "A", age_days=5000)
    assert await purge(sqlite_db, forever, clock.now()) == []
    assert (await statuses(sqlite_db))["A"] is RecordingStatus.STORED
    with pytest.raises(ValueError, match="forever"):
        RetentionJob(sqlite_db, forever, clock)
