"""FrameParser and encode_action: the AMI framing, against the real captured bytes and
against arbitrary input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ami_bridge.frames import FrameParser, encode_action, variables
from tests.ami_bridge.tracker_replay import trace

TRANSFER = trace("07").connection("A")
RESYNC_B = trace("02").connection("B")


def _parse_all(data: bytes, pieces: list[int] | None = None, **kwargs: int) -> list[dict]:
    parser = FrameParser(**kwargs)
    out: list[dict] = []
    cuts = sorted(set(pieces or []))
    start = 0
    for cut in [*cuts, len(data)]:
        out.extend(parser.feed(data[start:cut]))
        start = cut
    return out


def test_the_banner_is_one_line_with_no_blank_line_after() -> None:
    parser = FrameParser()
    assert parser.feed(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n") == []
    assert parser.banner == "Asterisk Call Manager/11.0.0"
    assert parser.version == "11.0.0"
    assert parser.feed(b"ActionID: a-1\r\n\r\n") == [{"Response": "Success", "ActionID": "a-1"}]


def test_a_stream_without_banner_is_parsed_from_its_first_frame() -> None:
    parser = FrameParser()
    assert parser.feed(b"Event: FullyBooted\r\nUptime: 1\r\n\r\n") == [
        {"Event": "FullyBooted", "Uptime": "1"}
    ]
    assert parser.banner is None


def test_every_captured_message_is_parsed_in_order_with_its_headers_in_order() -> None:
    messages = _parse_all(TRANSFER.received_bytes)
    assert messages == TRANSFER.received()
    assert len(messages) == 691
    hangup = next(m for m in messages if m.get("Event") == "Hangup")
    assert list(hangup)[:3] == ["Event", "Privilege", "Timestamp"]
    assert hangup["AccountCode"] == ""  # "AccountCode: " with nothing after the space


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=len(TRANSFER.received_bytes)), max_size=40))
def test_any_split_of_the_stream_gives_the_same_messages(cuts: list[int]) -> None:
    assert _parse_all(TRANSFER.received_bytes, cuts) == TRANSFER.received()


def test_byte_by_byte_reads() -> None:
    data = RESYNC_B.received_bytes
    parser = FrameParser()
    messages = [m for i in range(len(data)) for m in parser.feed(data[i : i + 1])]
    assert messages == RESYNC_B.received()


def test_repeated_headers_keep_every_value() -> None:
    status = next(m for m in RESYNC_B.received() if "Variable" in m)
    assert status["Variable"] == "HOLD_SECS=300\nBRIDGEPEER=Local/agent1@cb-agents-00000001;1"
    assert variables(status) == {
        "HOLD_SECS": "300",
        "BRIDGEPEER": "Local/agent1@cb-agents-00000001;1",
    }
    assert list(status)[-1] == "ActionID"  # Status puts ActionID last (README behaviour 3)
    assert variables({"Event": "Status"}) == {}


def test_a_line_without_colon_skips_only_its_frame() -> None:
    parser = FrameParser(expect_banner=False)
    data = b"Event: A\r\ngarbage line\r\n\r\nEvent: B\r\nX: 1\r\n\r\n"
    assert parser.feed(data) == [{"Event": "B", "X": "1"}]
    assert parser.malformed == {"line without a header name and colon": 1}


def test_a_header_without_space_after_the_colon_is_accepted() -> None:
    parser = FrameParser(expect_banner=False)
    assert parser.feed(b"Event: A\r\nKey:value\r\nEmpty:\r\n\r\n") == [
        {"Event": "A", "Key": "value", "Empty": ""}
    ]
    assert not parser.malformed


def test_stray_blank_lines_between_messages_are_ignored() -> None:
    parser = FrameParser(expect_banner=False)
    assert parser.feed(b"\r\n\r\nEvent: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n") == [
        {"Event": "A"},
        {"Event": "B"},
    ]
    assert not parser.malformed


def test_an_oversized_frame_is_dropped_and_the_stream_goes_on() -> None:
    parser = FrameParser(expect_banner=False, max_frame=100)
    big = b"Event: Big\r\n" + b"X: " + b"y" * 300 + b"\r\n"
    out = []
    for start in range(0, len(big), 64):  # arrives over several reads, no end in sight
        out += parser.feed(big[start : start + 64])
    assert parser.buffered < 100  # memory stays bounded while the frame is skipped
    out += parser.feed(b"\r\n\r\nEvent: After\r\n\r\n")
    assert out == [{"Event": "After"}]
    assert parser.malformed == {"oversized frame": 1}


def test_an_oversized_frame_within_one_read_is_dropped() -> None:
    parser = FrameParser(expect_banner=False, max_frame=50)
    data = b"Event: Big\r\nX: " + b"y" * 100 + b"\r\n\r\nEvent: Small\r\n\r\n"
    assert parser.feed(data) == [{"Event": "Small"}]
    assert parser.malformed == {"oversized frame": 1}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20), st.booleans())
def test_arbitrary_bytes_never_raise(chunks: list[bytes], banner: bool) -> None:
    parser = FrameParser(expect_banner=banner, max_frame=256)
    for chunk in chunks:
        for message in parser.feed(chunk):
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in message.items())
    assert parser.buffered <= 256 + 200


_NAME = st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12
)
_VALUE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(_NAME, _VALUE, min_size=1, max_size=6), max_size=8), st.data())
def test_truncated_streams_yield_only_complete_messages(messages: list[dict], data) -> None:
    wire = b"".join(encode_action({"Action": "X", **m}) for m in messages)
    cut = data.draw(st.integers(min_value=0, max_value=len(wire)))
    parsed = FrameParser(expect_banner=False).feed(wire[:cut])
    expected = [{"Action": "X", **m} for m in messages]
    assert parsed == expected[: len(parsed)]
    assert len(parsed) == wire[:cut].count(b"\r\n\r\n")


def test_encode_action_keeps_order_and_repeats_list_values() -> None:
    wire = encode_action(
        {
            "Action": "Originate",
            "Channel": "Local/100@cb-hold",
            "Variable": ["HOLD_SECS=16", "CB_QUEUE=sales"],
            "Timeout": 30000,
            "ActionID": "a-2",
        }
    )
    assert wire == (
        b"Action: Originate\r\nChannel: Local/100@cb-hold\r\nVariable: HOLD_SECS=16\r\n"
        b"Variable: CB_QUEUE=sales\r\nTimeout: 30000\r\nActionID: a-2\r\n\r\n"
    )
    (parsed,) = FrameParser(expect_banner=False).feed(wire)
    assert variables(parsed) == {"HOLD_SECS": "16", "CB_QUEUE": "sales"}


@pytest.mark.parametrize(
    "action",
    [
        {"Action": "Hangup", "Channel": "x\r\nAction: Logoff"},
        {"Action": "Hangup", "Chan\nnel": "x"},
        {"Action": "Originate", "Variable": ["A=1", "B=2\r\n"]},
    ],
)
def test_encode_action_refuses_line_breaks(action: dict) -> None:
    with pytest.raises(ValueError, match="line break"):
        encode_action(action)


def test_encode_action_needs_an_action() -> None:
    with pytest.raises(ValueError, match="without an 'Action' header"):
        encode_action({"Channel": "x"})


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=80), st.sampled_from([b"no colon here", b": x"]))
def test_a_malformed_frame_among_real_ones_costs_only_itself(position: int, bad: bytes) -> None:
    frames = RESYNC_B.received_bytes.split(b"\r\n\r\n")[:-1]
    position = min(position, len(frames) - 1)
    broken = b"Event: Broken\r\n" + bad
    wire = b"\r\n\r\n".join([*frames[:position], broken, *frames[position:]]) + b"\r\n\r\n"
    parser = FrameParser()
    assert parser.feed(wire) == RESYNC_B.received()
    assert parser.malformed == {"line without a header name and colon": 1}
