"""The `*.ami` capture reader: connections, our sends, annotations and the exact wire bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ami_bridge.frames import FrameParser
from ami_bridge.traces import TraceFormatError, load_trace
from tests.ami_bridge.tracker_replay import TRACES, trace


@pytest.mark.parametrize("path", sorted(TRACES.glob("*.ami")), ids=lambda p: p.stem)
def test_every_capture_loads_and_its_bytes_reparse_to_the_same_messages(path: Path) -> None:
    loaded = load_trace(path)
    assert loaded.connections
    for connection in loaded.connections:
        assert connection.banner == "Asterisk Call Manager/11.0.0"
        assert connection.received_bytes.startswith(b"Asterisk Call Manager/11.0.0\r\n")
        assert b"\n" not in connection.received_bytes.replace(b"\r\n", b"")  # CRLF only
        assert connection.closed_by_peer
        assert connection.sent()  # every connection logs in (or tries an action first)
        assert FrameParser().feed(connection.received_bytes) == connection.received()
    assert len(loaded.timeline) == sum(len(c) for c in loaded.connections)


def test_interleaved_connections_keep_their_own_streams() -> None:
    login = trace("01")
    assert [c.name for c in login.connections] == ["A", "B", "C", "D"]
    wrong_secret = login.connection("B")
    assert [(d, m.get("Action") or m.get("Response")) for d, m in wrong_secret] == [
        ("sent", "Login"),
        ("recv", "Error"),
    ]
    # the timeline interleaves them in capture order: A's Ping comes after B's failure
    order = [name for name, _, _ in login.timeline]
    assert order.index("B") < len(order) - 1 - order[::-1].index("A")
    with pytest.raises(KeyError, match="no connection 'Z'"):
        login.connection("Z")


def test_sent_actions_and_sub_captures_are_where_they_happened() -> None:
    transfer = trace("07").connection("A")
    assert [title.split(" ")[0] for _, title in transfer.marks] == ["7.1", "7.2", "7.3", "7.4"]
    index, _ = transfer.marks[2]
    assert transfer[index] == (
        "sent",
        {
            "Action": "Originate",
            "Channel": "Local/102@cb-hold",
            "Context": "caller-sim",
            "Exten": "s",
            "Priority": "1",
            "CallerID": '"Carol Caller" <5553333>',
            "Timeout": "30000",
            "Variable": "HOLD_SECS=14",
            "Async": "true",
            "ActionID": "a-8",
        },
    )
    kinds = [direction for direction, _ in transfer.segments]
    assert kinds[:3] == ["recv", "sent", "recv"]  # banner, Login, its reply...
    assert transfer.segments[1][1].endswith(b"ActionID: a-1\r\n\r\n")


def test_the_header_is_kept_without_comment_marks() -> None:
    assert trace("03").header[0].startswith("03-hold-originate-bridge:")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Event: X\n\n", "before '# ---- stream begins ----'"),
        ("# ---- stream begins ----\n# ---- connection A ----\n>>> SENT\n\n", "empty"),
        ("# ---- stream begins ----\n# ---- connection A ----\nEvent: X\n", "ends mid-frame"),
        ("# ---- stream begins ----\n# ---- connection A ----\nno colon\n\n", "malformed"),
    ],
)
def test_a_broken_capture_is_refused_with_the_file_named(
    tmp_path: Path, text: str, error: str
) -> None:
    path = tmp_path / "broken.ami"
    path.write_text(text)
    with pytest.raises(TraceFormatError, match=error) as caught:
        load_trace(path)
    assert "broken.ami" in str(caught.value)
