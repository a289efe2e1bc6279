"""Who may hear a recording, and byte ranges for the player."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.access import (
    ByteRange,
    Listener,
    RangeNotSatisfiable,
    RecordingFacts,
    may_hear,
    parse_range,
    stream,
)

OPERATOR = Listener(user_id=7, agent_id="7", role="operator")
OTHER_OPERATOR = Listener(user_id=8, agent_id="8", role="operator")
SUPERVISOR = Listener(user_id=2, agent_id="2", role="supervisor")
OTHER_SUPERVISOR = Listener(user_id=3, agent_id="3", role="supervisor")
ADMIN = Listener(user_id=1, agent_id="1", role="admin")
CALL_OF_OP7 = RecordingFacts(agent="7", agent_supervisor_id=2, status="stored")


@pytest.mark.parametrize(
    ("listener", "facts", "allowed", "reason"),
    [
        (OPERATOR, CALL_OF_OP7, True, "own call"),
        (OTHER_OPERATOR, CALL_OF_OP7, False, "not the listener's call or team"),
        (SUPERVISOR, CALL_OF_OP7, True, "call of the supervisor's team"),
        (OTHER_SUPERVISOR, CALL_OF_OP7, False, "not the listener's call or team"),
        (ADMIN, CALL_OF_OP7, True, "administrator"),
        (ADMIN, RecordingFacts("7", 2, "purged"), False, "recording is purged"),
        (OPERATOR, RecordingFacts("7", 2, "missing"), False, "recording is missing"),
        (Listener(7, "7", "operator", active=False), CALL_OF_OP7, False, "account disabled"),
        (OPERATOR, RecordingFacts("", None, "stored"), False, "not the listener's call or team"),
    ],
)
def test_who_may_hear(
    listener: Listener, facts: RecordingFacts, allowed: bool, reason: str
) -> None:
    decision = may_hear(listener, facts)
    assert (decision.allowed, decision.reason) == (allowed, reason)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
    ],
)
def test_range_header_parsing(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=5-1", "bytes=-0", "bytes=-", "items=0-1", "bytes=0-1,5-9"]
)
def test_unsatisfiable_ranges_are_refused(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, 1000)
    assert caught.value.size == 1000


async def test_streaming_a_range_yields_exactly_those_bytes(tmp_path: Path) -> None:
    file = tmp_path / "call.wav"
    data = bytes(range(256)) * 1000
    file.write_bytes(data)
    wanted = parse_range("bytes=1000-70000", len(data))
    assert wanted is not None and wanted.content_range(len(data)) == "bytes 1000-70000/256000"
    got = b"".join([chunk async for chunk in stream(file, wanted, chunk=4096)])
    assert got == data[1000:70001]
    assert b"".join([chunk async for chunk in stream(file, None)]) == data
