"""Recorded calls for the desktop's recordings tests, made with the recordings package's own
index (file check, hashing) and transcript store, from a small WAV written here."""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from agent_desktop.keys import DesktopDeps
from crm_core.bus import Bus
from crm_core.config import RecordingsSettings, Settings
from crm_core.db import Database
from crm_core.interactions import InteractionLog
from crm_core.models import User
from recordings.config import DEFAULT_KEYWORDS, RecordingPolicy
from recordings.index import RecordingIndex
from recordings.keywords import flags
from recordings.search import save_transcript
from recordings.storage import recording_path
from recordings.tables import Recording, RecordingStatus
from recordings.transcript import Pause, Transcript, Word

RATE = 8000
SECONDS = 6


def write_tone(path: Path, seconds: float = SECONDS) -> bytes:
    """An 8 kHz 16-bit mono WAV (what Asterisk writes) of a 440 Hz tone; returns its bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = bytearray()
    for n in range(int(RATE * seconds)):
        sample = int(8000 * math.sin(2 * math.pi * 440 * n / RATE))
        frames += sample.to_bytes(2, "little", signed=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(bytes(frames))
    return path.read_bytes()


def spoken(text: str, start: float = 0.3, step: float = 0.45) -> Transcript:
    words = tuple(
        Word(w, start + i * step, start + i * step + 0.35, 0.4 if i == 1 else 0.92)
        for i, w in enumerate(text.split())
    )
    return Transcript("pocketsphinx", "en", SECONDS, words, (Pause(4.5, 5.0),))


@dataclass
class RecordedCalls:
    directory: Path
    policy: RecordingPolicy
    index: RecordingIndex
    db: Database

    async def call(
        self,
        linkedid: str,
        *,
        agent: str,
        agent_id: int,
        contact_id: int,
        started_at: datetime,
        said: str | None,
        with_file: bool = True,
        campaign: str = "collect-q4",
    ) -> Recording:
        """A call taken by `agent` (user `agent_id`): interaction, recording row (as MixMonitor
        started it, naming the agent id), the file, then the index's own CallEnded check and,
        if `said`, the stored transcript."""
        log = InteractionLog(self.db)
        await log.call_started(linkedid, started_at=started_at, contact_id=contact_id)
        await log.call_updated(linkedid, at=started_at, agent_id=agent_id, queue="collections")
        relative = recording_path(
            self.policy.layout, started_at=started_at, linkedid=linkedid, queue="collections"
        )
        async with self.db.session() as session:
            row = Recording(
                linkedid=linkedid,
                status=RecordingStatus.RECORDING,
                path=relative,
                channel="Local/100@cb-hold-00000000;2",
                queue="collections",
                campaign=campaign,
                agent=str(agent_id),  # what the node writes: the ACD's agent id
                parts=[relative],
                pauses=[],
                started_at=started_at,
            )
            session.add(row)
            await session.commit()
        if with_file:
            write_tone(self.directory / relative)
        ended = started_at + timedelta(seconds=SECONDS)
        recording = await self.index.call_ended(linkedid, ended)
        assert recording is not None
        if said is not None:
            transcript = spoken(said)
            async with self.db.session() as session:
                await save_transcript(
                    session, recording.id, transcript, flags(transcript, DEFAULT_KEYWORDS), ended
                )
                await session.commit()
        return recording


def recorded_calls(directory: Path, db: Database, bus: Bus | None = None) -> RecordedCalls:
    policy = RecordingPolicy(directory=directory)
    return RecordedCalls(directory, policy, RecordingIndex(db, policy, bus=bus), db)


def settings_for(directory: Path) -> Settings:
    return replace(Settings(), recordings=RecordingsSettings(directory=str(directory)))


def deps_with_recordings(deps: DesktopDeps, directory: Path) -> DesktopDeps:
    return replace(deps, settings=settings_for(directory))


async def put_in_team(db: Database, operator_id: int, supervisor_id: int) -> None:
    async with db.session() as session:
        await session.execute(
            update(User).where(User.id == operator_id).values(team_id=supervisor_id)
        )
        await session.commit()
