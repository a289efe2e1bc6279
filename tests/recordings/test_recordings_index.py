"""Closing, checking and indexing recordings at CallEnded, the retry list, paused parts, and
retention, on a real SQLite database with real WAV files."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from crm_core.bus import InProcessBus
from crm_core.db import Database
from crm_core.models import AuditEntry, Contact, Interaction
from recordings.audio import Pcm, read_wav, write_wav
from recordings.config import RecordingPolicy
from recordings.events import Problem, RecordingAlert, RecordingStored
from recordings.index import RecordingIndex
from recordings.retention import purge
from recordings.search import index_transcript, search
from recordings.tables import (
    JobStatus,
    Recording,
    RecordingStatus,
    TranscriptionJob,
    TranscriptRecord,
)
from recordings.transcript import Transcript, Word
from tests.recordings.recordings_support import T0

CALL_S = 10.0
SPOKEN = Transcript(
    engine="pocketsphinx",
    language="en",
    duration=2.0,
    words=(
        Word("i", 0.2, 0.3, 0.9),
        Word("filed", 0.3, 0.6, 0.9),
        Word("for", 0.6, 0.7, 0.9),
        Word("bankruptcy", 0.7, 1.4, 0.8),
    ),
)


def tone(path: Path, seconds: float) -> Path:
    t = np.arange(int(seconds * 8000)) / 8000
    samples = (3000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, Pcm.mono(samples, 8000))
    return path


async def recording_row(db: Database, linkedid: str, **fields: object) -> int:
    relative = f"2026-11-23/collections/{linkedid}.wav"
    values: dict[str, object] = dict(
        linkedid=linkedid,
        status=RecordingStatus.RECORDING,
        path=relative,
        channel="c",
        parts=[relative],
        pauses=[],
        started_at=T0,
        queue="collections",
    )
    values.update(fields)
    async with db.session() as session:
        recording = Recording(**values)
        session.add(recording)
        await session.commit()
        return recording.id


async def fetch(db: Database, linkedid: str) -> Recording:
    async with db.session() as session:
        return (
            await session.scalars(select(Recording).where(Recording.linkedid == linkedid))
        ).one()


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()


@pytest.fixture
def index(sqlite_db: Database, recordings_dir: Path, bus: InProcessBus) -> RecordingIndex:
    return RecordingIndex(sqlite_db, RecordingPolicy(directory=recordings_dir), bus=bus)


async def test_a_sound_file_is_hashed_linked_to_its_interaction_and_queued(
    sqlite_db: Database, recordings_dir: Path, index: RecordingIndex, bus: InProcessBus
) -> None:
    events = bus.subscribe("test", RecordingStored, RecordingAlert)
    async with sqlite_db.session() as session:
        contact = Contact(language="ko", created_at=T0, updated_at=T0)
        session.add(contact)
        await session.flush()
        session.add(Interaction(linkedid="L1", contact_id=contact.id, started_at=T0))
        await session.commit()
    await recording_row(sqlite_db, "L1")
    file = tone(recordings_dir / "2026-11-23/collections/L1.wav", CALL_S - 0.4)
    await index.call_ended("L1", T0 + timedelta(seconds=CALL_S))
    recording = await fetch(sqlite_db, "L1")
    assert recording.status is RecordingStatus.STORED
    assert recording.sha256 == hashlib.sha256(file.read_bytes()).hexdigest()
    assert recording.duration_s == pytest.approx(CALL_S - 0.4)
    async with sqlite_db.session() as session:
        interaction = (await session.scalars(select(Interaction))).one()
        job = (await session.scalars(select(TranscriptionJob))).one()
    assert recording.interaction_id == interaction.id
    assert interaction.recording_ref == recording.path
    assert (job.status, job.language) == (JobStatus.QUEUED, "ko")
    event = events.get_nowait()
    assert isinstance(event, RecordingStored) and event.sha256 == recording.sha256
    assert events.get_nowait() is None
    # CallEnded replayed after a reconnect: nothing happens twice.
    await index.call_ended("L1", T0 + timedelta(seconds=CALL_S + 5))
    assert events.get_nowait() is None


@pytest.mark.parametrize(
    ("content", "problem", "status", "detail"),
    [
        (None, Problem.MISSING, RecordingStatus.MISSING, "no such file"),
        (b"", Problem.EMPTY, RecordingStatus.CORRUPT, "empty"),
        (
            b"this is not a wav file at all" * 20,
            Problem.BAD_HEADER,
            RecordingStatus.CORRUPT,
            "not a valid WAV",
        ),
        ("short", Problem.TRUNCATED, RecordingStatus.CORRUPT, "2.0 s of audio for 10.0 s"),
        ("header-only", Problem.EMPTY, RecordingStatus.CORRUPT, "no audio"),
    ],
)
async def test_a_damaged_or_missing_file_raises_an_alert_and_stays_on_the_retry_list(
    sqlite_db: Database,
    recordings_dir: Path,
    index: RecordingIndex,
    bus: InProcessBus,
    content: bytes | str | None,
    problem: Problem,
    status: RecordingStatus,
    detail: str,
) -> None:
    alerts = bus.subscribe("test", RecordingAlert)
    await recording_row(sqlite_db, "L2")
    file = recordings_dir / "2026-11-23/collections/L2.wav"
    file.parent.mkdir(parents=True, exist_ok=True)
    if content == "short":
        tone(file, 2.0)
    elif content == "header-only":
        tone(file, 0.0)
    elif isinstance(content, bytes):
        file.write_bytes(content)
    ended = T0 + timedelta(seconds=CALL_S)
    await index.call_ended("L2", ended)
    recording = await fetch(sqlite_db, "L2")
    assert recording.status is status
    assert detail in recording.problem
    assert recording.next_check_at == ended + timedelta(seconds=5)
    alert = alerts.get_nowait()
    assert isinstance(alert, RecordingAlert)
    assert (alert.problem, alert.linkedid, alert.checks) == (problem, "L2", 1)
    assert [r.linkedid for r in await index.retry_list()] == ["L2"]
    async with sqlite_db.session() as session:
        assert (await session.scalars(select(TranscriptionJob))).first() is None

    # Not due yet: untouched. Due, still bad: checked again, the wait grows.
    assert await index.recheck_due(ended + timedelta(seconds=4)) == []
    await index.recheck_due(ended + timedelta(seconds=6))
    recording = await fetch(sqlite_db, "L2")
    assert recording.checks == 2
    assert recording.next_check_at == ended + timedelta(seconds=66)

    # The file turns up sound (Asterisk finished writing, the share came back): indexed.
    tone(file, CALL_S)
    [checked] = await index.recheck_due(ended + timedelta(seconds=70))
    assert checked.status is RecordingStatus.STORED
    assert await index.retry_list() == []


async def test_paused_parts_are_joined_with_the_pause_as_silence(
    sqlite_db: Database, recordings_dir: Path, index: RecordingIndex
) -> None:
    base = "2026-11-23/collections/L3"
    await recording_row(
        sqlite_db, "L3", parts=[f"{base}.wav", f"{base}.part2.wav"], pauses=[[3.0, 7.0]]
    )
    tone(recordings_dir / f"{base}.wav", 3.0)
    tone(recordings_dir / f"{base}.part2.wav", 3.0)
    await index.call_ended("L3", T0 + timedelta(seconds=CALL_S))
    recording = await fetch(sqlite_db, "L3")
    assert recording.status is RecordingStatus.STORED, recording.problem
    joined = read_wav(recordings_dir / f"{base}.wav")
    assert joined.duration == pytest.approx(CALL_S)
    assert not joined.channels[0, 3 * 8000 + 100 : 7 * 8000 - 100].any()  # the pause is silent
    assert joined.channels[0, 8 * 8000 : 9 * 8000].any()
    assert not (recordings_dir / f"{base}.part2.wav").exists()
    assert recording.parts == [recording.path]


async def test_a_call_paused_until_the_hangup_closes_its_pause(
    sqlite_db: Database, recordings_dir: Path, index: RecordingIndex
) -> None:
    await recording_row(sqlite_db, "L4", paused_at=T0 + timedelta(seconds=6))
    tone(recordings_dir / "2026-11-23/collections/L4.wav", 6.0)
    await index.call_ended("L4", T0 + timedelta(seconds=CALL_S))
    recording = await fetch(sqlite_db, "L4")
    assert recording.pauses == [[6.0, CALL_S]]
    assert recording.status is RecordingStatus.STORED, recording.problem  # 6 s expected, not 10


async def test_retention_purges_old_recordings_and_logs_each_one(
    sqlite_db: Database, recordings_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = "2025-01-01/collections/OLD.wav"
    new = "2026-11-23/collections/NEW.wav"
    old_id = await recording_row(
        sqlite_db,
        "OLD",
        path=old,
        parts=[old],
        status=RecordingStatus.STORED,
        started_at=T0 - timedelta(days=400),
    )
    await recording_row(sqlite_db, "NEW", path=new, parts=[new], status=RecordingStatus.STORED)
    tone(recordings_dir / old, 1.0)
    tone(recordings_dir / new, 1.0)
    async with sqlite_db.session() as session:
        session.add(
            TranscriptRecord(
                recording_id=old_id,
                engine="pocketsphinx",
                language="en",
                text="i filed for bankruptcy",
                body=SPOKEN.to_dict(),
                created_at=T0,
            )
        )
        await index_transcript(session, old_id, "i filed for bankruptcy")
        await session.commit()
    assert len(await search(sqlite_db, "bankruptcy")) == 1
    policy = RecordingPolicy(directory=recordings_dir, retention_days=365)
    with caplog.at_level(logging.INFO, logger="recordings.retention"):
        purged = await purge(sqlite_db, policy, T0)
    assert [p.linkedid for p in purged] == ["OLD"]
    assert not (recordings_dir / old).exists() and (recordings_dir / new).exists()
    assert "deleted recording 2025-01-01/collections/OLD.wav of OLD" in caplog.text
    assert (await fetch(sqlite_db, "OLD")).status is RecordingStatus.PURGED
    assert await search(sqlite_db, "bankruptcy") == []
    async with sqlite_db.session() as session:
        entry = (await session.scalars(select(AuditEntry))).one()
    assert (entry.action, entry.object_type, entry.object_id) == ("purge", "recording", str(old_id))
    assert await purge(sqlite_db, policy, T0) == []  # nothing twice


async def test_stereo_legs_become_one_two_channel_file(
    sqlite_db: Database, recordings_dir: Path, index: RecordingIndex
) -> None:
    base = "2026-11-23/collections/L5"
    await recording_row(sqlite_db, "L5", stereo=True)
    tone(recordings_dir / f"{base}.wav", CALL_S)  # the mixed file MixMonitor always writes
    tone(recordings_dir / f"{base}.rx.wav", CALL_S)
    write_wav(recordings_dir / f"{base}.tx.wav", Pcm.mono(np.zeros(8000 * 9, np.int16), 8000))
    await index.call_ended("L5", T0 + timedelta(seconds=CALL_S))
    recording = await fetch(sqlite_db, "L5")
    assert recording.status is RecordingStatus.STORED, recording.problem
    stereo = read_wav(recordings_dir / recording.path)
    assert stereo.channel_count == 2 and stereo.duration == pytest.approx(CALL_S)
    assert stereo.channels[0].any() and not stereo.channels[1].any()
    assert not (recordings_dir / f"{base}.rx.wav").exists()
    # a re-check (e.g. after a retention dry run) finds the stereo file already made
    assert (await index.check(recording.id, T0 + timedelta(hours=1))).status is (
        RecordingStatus.STORED
    )


async def test_stereo_without_its_legs_is_missing_and_named(
    sqlite_db: Database, recordings_dir: Path, index: RecordingIndex
) -> None:
    await recording_row(sqlite_db, "L6", stereo=True)
    tone(recordings_dir / "2026-11-23/collections/L6.wav", CALL_S)
    await index.call_ended("L6", T0 + timedelta(seconds=CALL_S))
    recording = await fetch(sqlite_db, "L6")
    assert recording.status is RecordingStatus.MISSING
    assert "L6.rx.wav" in recording.problem and "L6.tx.wav" in recording.problem


def test_stereo_policy_asks_mixmonitor_for_both_legs(recordings_dir: Path) -> None:
    policy = RecordingPolicy(directory=recordings_dir, stereo=True, asterisk_directory="/spool")
    assert policy.mixmonitor_options_for("d/q/L.wav") == (
        "br(/spool/d/q/L.rx.wav)t(/spool/d/q/L.tx.wav)"
    )
    assert RecordingPolicy(directory=recordings_dir).mixmonitor_options_for("x.wav") == "b"
