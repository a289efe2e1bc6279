"""AMI framing: bytes from the socket into header dicts, and actions into bytes.

AMI is a stream of `Key: Value\\r\\n` lines; a message ends with an empty line. The one exception
is the banner (`Asterisk Call Manager/11.0.0\\r\\n`), a single line with no blank line after it.
The parser is incremental (any split of the stream gives the same messages) and never raises on
bad input: a malformed or oversized frame is logged, counted by reason and skipped, so one bad
message cannot stop the event stream. It is built for the hot path (one decode per read, one
split per frame, `dict()` over the split lines): about twice panoramisk's own parsing
(benchmarks/ami_ingest.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping

log = logging.getLogger(__name__)

Message = dict[str, str]
"""One AMI message: headers in wire order. A repeated header (`Variable:`, `ChanVariable:`,
`Output:`, a UserEvent's copied `Channel:`) keeps one key whose values are joined with "\\n"
(a value never contains a newline on the wire); `variables()` splits them back."""

BANNER_PREFIX = "Asterisk Call Manager/"
EOL = "\r\n"
_END = b"\r\n\r\n"
_SEP = "\r\n\r\n"
DEFAULT_MAX_FRAME = 1 << 20  # the longest real frames (Status with Variables) are a few KiB


class FrameParser:
    """Incremental AMI parser for one connection: `feed(bytes) -> list[Message]`."""

    __slots__ = ("_buf", "_skipping", "banner", "count", "expect_banner", "malformed", "max_frame")

    def __init__(self, *, expect_banner: bool = True, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._buf = bytearray()
        self._skipping = False  # inside an oversized frame: drop bytes until its end
        self.expect_banner = expect_banner
        self.banner: str | None = None
        self.max_frame = max_frame
        self.malformed: Counter[str] = Counter()  # reason -> frames skipped
        self.count = 0  # messages returned so far

    @property
    def version(self) -> str | None:
        """The AMI protocol version from the banner, e.g. "11.0.0"."""
        if self.banner is None:
            return None
        return self.banner[len(BANNER_PREFIX) :].strip()

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the end of their frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        buf = self._buf
        buf += data
        if self._skipping and not self._skip_oversized():
            return []
        if self.expect_banner and not self._take_banner():
            return []
        end = buf.rfind(_END)
        if end < 0:
            if len(buf) > self.max_frame:
                self._reject("oversized frame", bytes(buf[:80]))
                self._skipping = True
                self._skip_oversized()
            return []
        text = buf[:end].decode("utf-8", "replace")
        del buf[: end + 4]
        messages = self._parse_frames(text.split(_SEP))
        if len(buf) > self.max_frame:
            self._reject("oversized frame", bytes(buf[:80]))
            self._skipping = True
            self._skip_oversized()
        return messages

    def _take_banner(self) -> bool:
        """Consume the banner line once it is complete; False while it is still arriving."""
        buf = self._buf
        eol = buf.find(b"\r\n")
        if eol < 0:
            if len(buf) > self.max_frame:
                self._reject("oversized banner", bytes(buf[:80]))
                del buf[:]
                self.expect_banner = False
            return False
        line = buf[:eol].decode("utf-8", "replace")
        self.expect_banner = False
        if line.startswith(BANNER_PREFIX):
            self.banner = line
            del buf[: eol + 2]
        else:
            # Not a banner (connected mid-stream, or a peer that sends none): parse it as a frame.
            log.warning("AMI stream did not start with a banner: %r", line[:80])
        return True

    def _skip_oversized(self) -> bool:
        """Drop the rest of an oversized frame; True once its end was found."""
        buf = self._buf
        end = buf.find(_END)
        if end < 0:
            # keep the last 3 bytes: the terminator may straddle two reads
            del buf[:-3]
            return False
        del buf[: end + 4]
        self._skipping = False
        return True

    def _parse_frames(self, frames: list[str]) -> list[Message]:
        out: list[Message] = []
        append = out.append
        max_frame = self.max_frame
        for frame in frames:
            if not frame:
                continue
            if frame.startswith(EOL):
                frame = frame.lstrip(EOL)  # stray blank lines between messages
                if not frame:
                    continue
            if len(frame) > max_frame:
                self._reject("oversized frame", frame[:80])
                continue
            pairs = [line.split(": ", 1) for line in frame.split(EOL)]
            try:
                message = dict(pairs)
            except ValueError:  # a line without ": "
                slow = self._parse_slow(frame)
                if slow is None:
                    continue
                message = slow
            else:
                if "" in message:  # ": value" names no header
                    self._reject("line without a header name and colon", frame[:80])
                    continue
                if len(message) != len(pairs):
                    message = _join_repeated(pairs)
            append(message)
        self.count += len(out)
        return out

    def _parse_slow(self, frame: str) -> Message | None:
        """Frames the fast path refused: `Key:value` without a space, or a line with no colon."""
        pairs: list[list[str]] = []
        for line in frame.split(EOL):
            key, colon, value = line.partition(":")
            if not colon or not key:
                self._reject("line without a header name and colon", line[:80])
                return None
            pairs.append([key, value[1:] if value.startswith(" ") else value])
        return _join_repeated(pairs)

    def _reject(self, reason: str, sample: object) -> None:
        self.malformed[reason] += 1
        count = self.malformed[reason]
        if count & (count - 1) == 0:  # the 1st, 2nd, 4th, 8th...: a flood cannot flood the log
            log.warning("AMI frame skipped (%s, %d so far): %r", reason, count, sample)


def _join_repeated(pairs: Iterable[list[str]]) -> Message:
    message: Message = {}
    for key, value in pairs:
        if key in message:
            message[key] = message[key] + "\n" + value
        else:
            message[key] = value
    return message


def variables(message: Mapping[str, str], key: str = "Variable") -> dict[str, str]:
    """`Variable: NAME=value` headers (repeated or not) as a dict; entries without '=' map to ''."""
    raw = message.get(key)
    if not raw:
        return {}
    result: dict[str, str] = {}
    for item in raw.split("\n"):
        name, _, value = item.partition("=")
        result[name] = value
    return result


def encode_action(action: Mapping[str, str | int | Iterable[str]]) -> bytes:
    """One action as wire bytes. Iterable values become repeated headers (`Variable: A=1`).

    Raises ValueError for a CR or LF in a key or value: it would end the frame early and let
    the rest be read as another action (header injection).
    """
    if "Action" not in action:
        raise ValueError(f"AMI action without an 'Action' header: {sorted(action)}")
    lines: list[str] = []
    for key, value in action.items():
        values = [str(value)] if isinstance(value, str | int) else list(value)
        for item in values:
            if "\r" in key or "\n" in key or "\r" in item or "\n" in item:
                name = action["Action"]
                raise ValueError(f"AMI action {name!r}: header {key!r} has a line break")
            lines.append(f"{key}: {item}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8")
