"""Replay a wire capture through the live path (bytes -> FrameParser -> CallTracker) and
describe the resulting call events compactly, for whole-sequence assertions."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from ami_bridge.events import (
    AmdResult,
    CallAnswered,
    CallBridged,
    CallEnded,
    CallerIdChanged,
    CallEvent,
    CallHeld,
    CallResumed,
    CallRinging,
    CallStarted,
    CallTransferred,
    CallUnbridged,
    ChannelHungUp,
    ChannelJoined,
    DtmfReceived,
    LegEnded,
    LegStarted,
    RecordingStarted,
    RecordingStopped,
    SpyStarted,
    SpyStopped,
)
from ami_bridge.frames import FrameParser
from ami_bridge.traces import Connection, Trace, load_trace
from ami_bridge.tracker import CallTracker
from crm_core.clock import ManualClock

TRACES = Path(
    os.environ.get(
        "CALLBOARD_TRACES", Path(__file__).resolve().parents[3] / "shared/asterisk/traces"
    )
)
CHUNK = 1460  # one TCP segment: frames split across reads, as on the wire

Compact = tuple[str, ...]


def trace(prefix: str) -> Trace:
    (path,) = sorted(TRACES.glob(f"{prefix}-*.ami"))
    return load_trace(path)


def clock_at(epoch: float) -> ManualClock:
    return ManualClock(datetime.fromtimestamp(epoch, UTC))


def replay(connection: Connection, tracker: CallTracker, chunk: int = CHUNK) -> list[CallEvent]:
    """Feed the connection's received bytes in TCP-sized pieces, as the link would."""
    parser = FrameParser()
    data = connection.received_bytes
    events: list[CallEvent] = []
    for start in range(0, len(data), chunk):
        for message in parser.feed(data[start : start + chunk]):
            events.extend(tracker.feed(message))
    assert parser.buffered == 0
    assert not parser.malformed
    return events


_SEQUENCE = re.compile(r"-0*([0-9a-f]+)(;[12])$")


def replay_parts(connection: Connection, tracker: CallTracker) -> dict[str, list[CallEvent]]:
    """Like replay(), with the events grouped by the capture's `# ==== title ====` parts, keyed
    by the part number ("7.1", "1-2") or, for unnumbered titles, the text before ':'; events
    before the first part (login) are under ""."""
    recv_items = [i for i, (direction, _) in enumerate(connection.items) if direction == "recv"]
    parts: dict[str, list[CallEvent]] = {"": []}
    marks = list(connection.marks)
    current = parts[""]
    parser = FrameParser()
    data = connection.received_bytes
    ordinal = 0
    for start in range(0, len(data), CHUNK):
        for message in parser.feed(data[start : start + CHUNK]):
            while marks and marks[0][0] <= recv_items[ordinal]:
                title = marks.pop(0)[1]
                current = parts.setdefault(_part_key(title), [])
            current.extend(tracker.feed(message))
            ordinal += 1
    assert ordinal == len(recv_items) and not parser.malformed
    return parts


def _part_key(title: str) -> str:
    if title[:1].isdigit():
        return title.split()[0].rstrip(":")
    return title.split(":")[0]


def short(channel: str) -> str:
    """ "Local/100@cb-hold-00000000;2" -> "100@cb-hold-0;2": readable expectations."""
    return _SEQUENCE.sub(r"-\1\2", channel.removeprefix("Local/"))


def compact(event: CallEvent) -> Compact:
    """(type, linkedid, the fields that matter for that type), channel names without 'Local/'."""
    name = type(event).__name__
    lid = event.linkedid
    match event:
        case CallStarted():
            caller = event.caller_number or ""
            return (name, lid, event.direction.value, short(event.channel), caller)
        case CallRinging() | CallAnswered():
            return (name, lid, short(event.channel))
        case ChannelJoined():
            return (name, lid, short(event.channel), event.previous_linkedid)
        case CallBridged() | CallUnbridged():
            return (name, lid, short(event.channel), *map(short, event.parties))
        case CallTransferred():
            return (name, lid, event.kind.value, short(event.channel), short(event.target))
        case CallHeld() | CallResumed():
            return (name, lid, event.kind.value, short(event.channel))
        case RecordingStarted() | RecordingStopped():
            reason = event.reason if isinstance(event, RecordingStopped) else ""
            return (name, lid, short(event.channel), Path(event.file or "").name, reason)
        case AmdResult():
            return (name, lid, event.status, event.cause)
        case DtmfReceived():
            return (name, lid, event.digit)
        case ChannelHungUp():
            return (name, lid, short(event.channel), str(event.cause))
        case CallEnded():
            return (name, lid, str(event.cause), event.reason.value)
        case LegStarted():
            return (name, lid, event.role, short(event.channel))
        case LegEnded():
            return (name, lid, str(event.cause), event.reason.value)
        case CallerIdChanged():
            return (name, lid, short(event.channel), event.caller_number or "")
        case SpyStarted() | SpyStopped():
            return (name, lid, short(event.spyer), short(event.spyee))
    return (name, lid)


def compact_all(events: Iterable[CallEvent]) -> list[Compact]:
    return [compact(event) for event in events]
