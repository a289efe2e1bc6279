"""Tables owned by recordings: the recording index, the durable transcription queue, transcripts.

Full-text search needs one more object per backend that metadata cannot declare portably (an
FTS5 virtual table on SQLite, a GIN expression index on PostgreSQL): DDL events at the end of this
module create it with the `transcripts` table; a migration must create it too.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models import Base
from crm_core.models.base import str_enum


class RecordingStatus(enum.StrEnum):
    RECORDING = "recording"  # MixMonitor is (or was last seen) running
    STORED = "stored"  # file checked, hashed and indexed
    MISSING = "missing"  # on the retry list: no file where Asterisk should have written it
    CORRUPT = "corrupt"  # on the retry list: empty, bad header, or too short for the call
    PURGED = "purged"  # deleted by the retention policy; the row stays as the record of it


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Recording(Base):
    """One call's recording. Pauses are seconds from the recording's start; parts are the
    MixMonitor files written between pauses, joined into `path` when the call ends."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    interaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("interactions.id", ondelete="SET NULL")
    )
    status: Mapped[RecordingStatus] = mapped_column(str_enum(RecordingStatus))
    path: Mapped[str] = mapped_column(String(300))  # relative to the recordings directory
    channel: Mapped[str] = mapped_column(String(100))  # the channel MixMonitor runs on
    stereo: Mapped[bool] = mapped_column(default=False)
    queue: Mapped[str] = mapped_column(String(64), default="")
    campaign: Mapped[str] = mapped_column(String(64), default="")
    # the operator's agent id (routing / dialer), as written when the call connected
    agent: Mapped[str] = mapped_column(String(64), default="")
    mixmonitor_id: Mapped[str] = mapped_column(String(64), default="")
    parts: Mapped[list[str]] = mapped_column(JSON, default=list)
    pauses: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    paused_at: Mapped[datetime | None]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    stored_at: Mapped[datetime | None]
    sha256: Mapped[str] = mapped_column(String(64), default="")
    size_bytes: Mapped[int] = mapped_column(default=0)
    duration_s: Mapped[float] = mapped_column(default=0.0)
    problem: Mapped[str] = mapped_column(Text, default="")
    checks: Mapped[int] = mapped_column(default=0)
    next_check_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_recordings_status_next_check", "status", "next_check_at"),
        Index("ix_recordings_started", "started_at"),
    )


class TranscriptionJob(Base):
    """The durable queue: a job survives restarts; `owner` is the node:pid that runs it."""

    __tablename__ = "transcription_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus))
    language: Mapped[str] = mapped_column(String(8), default="en")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(100), default="")
    queued_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_transcription_jobs_status", "status", "id"),)


class TranscriptRecord(Base):
    """A finished transcript: words with times (JSON) and the plain text that search indexes."""

    __tablename__ = "transcripts"

    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), primary_key=True
    )
    engine: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # Transcript.to_dict()
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]


# Search objects metadata cannot declare portably (recordings.search uses them).
_SQLITE_FTS = DDL(
    "CREATE VIRTUAL TABLE IF NOT EXISTS transcript_search USING fts5(text, tokenize='unicode61')"
)
_SQLITE_FTS_DROP = DDL("DROP TABLE IF EXISTS transcript_search")
_PG_INDEX = DDL(
    "CREATE INDEX IF NOT EXISTS ix_transcripts_text_search "
    "ON transcripts USING GIN (to_tsvector('simple', text))"
)
event.listen(TranscriptRecord.__table__, "after_create", _SQLITE_FTS.execute_if(dialect="sqlite"))
event.listen(
    TranscriptRecord.__table__, "after_drop", _SQLITE_FTS_DROP.execute_if(dialect="sqlite")
)
event.listen(TranscriptRecord.__table__, "after_create", _PG_INDEX.execute_if(dialect="postgresql"))
