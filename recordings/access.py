"""Who may hear a recording, and serving its bytes in ranges (the player seeks).

The rule is plain data in, decision out, so the desktop's HTTP handler, the REST API and the
tests share it; the handler audits every playback it allows (crm_core.audit, action "playback").
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 64 * 1024
_RANGE = re.compile(r"^bytes=([0-9]{0,18})-([0-9]{0,18})$")  # ASCII digits; no 5000-digit ints


@dataclass(frozen=True, slots=True)
class Listener:
    user_id: int
    agent_id: str  # the listener's id as the ACD and the dialer know them (agent_id_for)
    role: str  # "operator" | "supervisor" | "admin" (crm_core.models.Role values)
    active: bool = True


@dataclass(frozen=True, slots=True)
class RecordingFacts:
    # the agent id of the operator who took the call, as written on connect from routing's
    # CallConnected / the dialer's AttemptResolved ("" if none); never a user name
    agent: str
    agent_supervisor_id: int | None  # the operator's team lead (User.team_id)
    status: str  # recordings.tables.RecordingStatus value
    agent_name: str = ""  # for display only; never compared


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


def may_hear(listener: Listener, recording: RecordingFacts) -> Decision:
    """Admins hear everything; supervisors their team's calls and their own; operators only
    calls they took. Nobody hears a recording that is not stored (purged, missing, running)."""
    if not listener.active:
        return Decision(False, "account disabled")
    if recording.status != "stored":
        return Decision(False, f"recording is {recording.status}")
    if listener.role == "admin":
        return Decision(True, "administrator")
    if recording.agent and recording.agent == listener.agent_id:
        return Decision(True, "own call")
    if listener.role == "supervisor" and recording.agent_supervisor_id == listener.user_id:
        return Decision(True, "call of the supervisor's team")
    return Decision(False, "not the listener's call or team")


class RangeNotSatisfiable(ValueError):
    """Answer 416 with `Content-Range: bytes */<size>`."""

    def __init__(self, header: str, size: int) -> None:
        super().__init__(f"range {header!r} cannot be served from {size} bytes")
        self.size = size


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """A single `Range: bytes=a-b` (or `a-`, or `-n` for the last n bytes) against a file of
    `size` bytes. None means no Range header: send the whole file with 200. Several ranges
    in one header are not served (players ask for one)."""
    if header is None or not header.strip():
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        raise RangeNotSatisfiable(header, size)
    first, last = match.groups()
    if not first and not last:
        raise RangeNotSatisfiable(header, size)
    if not first:  # suffix: the last n bytes
        count = int(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable(header, size)
        return ByteRange(max(0, size - count), size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(header, size)
    return ByteRange(start, end)


async def stream(
    path: Path, byte_range: ByteRange | None, chunk: int = CHUNK
) -> AsyncGenerator[bytes, None]:
    """The file's bytes (or the range's), read in a thread chunk by chunk."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        size = (await asyncio.to_thread(path.stat)).st_size
        start, remaining = (
            (0, size) if byte_range is None else (byte_range.start, byte_range.length)
        )
        await asyncio.to_thread(handle.seek, start)
        while remaining > 0:
            data = await asyncio.to_thread(handle.read, min(chunk, remaining))
            if not data:
                return
            remaining -= len(data)
            yield data
    finally:
        await asyncio.to_thread(handle.close)
