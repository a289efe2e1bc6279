"""The recordings feature survives falling behind the calls: when the bus closes its
subscription (FAIL overflow), it follows the calls again and closes, from the interaction log,
the recordings whose CallEnded it missed — instead of its whole task group ending silently
(transcription and the retry list with it), as the soak benchmark found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select

from ami_bridge.events import CallEnded, EndReason
from ami_bridge.switch import Switch
from crm_core.bus import InProcessBus
from crm_core.clock import SystemClock
from crm_core.db import Database
from crm_core.models import Interaction
from recordings.config import RecordingPolicy
from recordings.service import Recordings
from recordings.tables import Recording, RecordingStatus
from tests.waiting import eventually

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _ended(linkedid: str) -> CallEnded:
    return CallEnded(
        linkedid=linkedid,
        at=START + timedelta(seconds=30),
        cause=16,
        cause_text="Normal Clearing",
        duration_s=30.0,
        talk_s=20.0,
        reason=EndReason.HANGUP,
    )


async def _closed(db: Database, linkedid: str) -> bool:
    async with db.session() as session:
        recording = await session.scalar(select(Recording).where(Recording.linkedid == linkedid))
    assert recording is not None
    return recording.status is not RecordingStatus.RECORDING


async def test_an_overflow_is_caught_up_and_the_feature_goes_on(
    sqlite_db: Database, recordings_dir: Path
) -> None:
    async with sqlite_db.session() as session:
        for linkedid in ("missed", "later"):
            session.add(
                Recording(
                    linkedid=linkedid,
                    status=RecordingStatus.RECORDING,
                    path=f"{linkedid}.wav",
                    channel=f"Local/100@cb-hold-{linkedid};2",
                    started_at=START,
                )
            )
        # the interaction log saw the first call end while recordings was behind
        session.add(Interaction(linkedid="missed", started_at=START, ended_at=START))
        await session.commit()
    bus = InProcessBus()
    policy = RecordingPolicy(directory=recordings_dir, recheck_after_s=(60.0,))
    switch = cast(Switch, cast(Any, object()))  # no call is connected: nothing is sent to the PBX
    recordings = Recordings(sqlite_db, policy, switch, bus, SystemClock())
    await recordings.start()
    try:
        for n in range(10_001):  # more than the subscription holds, with no chance to drain
            bus.publish(_ended(f"unrecorded-{n}"))
        await eventually(
            lambda: _closed(sqlite_db, "missed"),
            what="the missed call's recording closed from the interaction log",
        )
        bus.publish(_ended("later"))  # still following the calls after the overflow
        await eventually(
            lambda: _closed(sqlite_db, "later"),
            what="a call ending after the overflow closes its recording",
        )
        assert recordings._task is not None and not recordings._task.done()
    finally:
        await recordings.stop()
