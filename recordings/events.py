"""Events the recordings package publishes, keyed by the call's Linkedid like every call event."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from crm_core.bus import Event


class Problem(enum.StrEnum):
    MISSING = "missing"  # no file at the expected path
    EMPTY = "empty"  # a file of zero bytes, or a header with no audio
    BAD_HEADER = "bad_header"  # not a 16-bit PCM WAV file
    TRUNCATED = "truncated"  # much shorter (or longer) than the time it should cover
    START_FAILED = "start_failed"  # Asterisk refused MixMonitor: the call is not being recorded


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingAlert(Event):
    """A recording is missing or damaged. It stays on the retry list until it checks out or a
    person resolves it; `checks` counts the failed checks so far."""

    linkedid: str
    at: datetime
    recording_id: int | None
    path: str
    problem: Problem
    detail: str
    checks: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStored(Event):
    """The recording was checked, hashed and indexed on its interaction."""

    linkedid: str
    at: datetime
    recording_id: int
    path: str
    sha256: str
    duration_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptReady(Event):
    linkedid: str
    at: datetime
    recording_id: int
    engine: str
    words: int
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptionFailed(Event):
    """A job that failed for good (attempts used up); the error is on the job row."""

    linkedid: str
    at: datetime
    recording_id: int
    error: str
