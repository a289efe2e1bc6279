"""Reader for the `*.ami` wire captures (see asterisk/traces/README.md).

A capture holds, per TCP connection, the bytes Asterisk sent (CRLF normalised to LF), the
actions we sent (`>>> SENT` blocks) in their place, and `#` annotations that were not on the
wire. This module gives back both views the code needs: parsed messages in order (tracker
tests, benchmarks) and the exact received bytes re-CRLF'd (byte-level replay by a test server).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ami_bridge.frames import FrameParser, Message

Side = Literal["recv", "sent"]

_CONNECTION = "# ---- connection "
_SUBCAPTURE = "# ==== "
_EOF = "# <EOF"
_SENT = ">>> SENT"


class TraceFormatError(ValueError):
    """The capture file does not follow the documented format; names the file and line."""


@dataclass(slots=True)
class Connection:
    """One AMI connection of a capture; iterates as ("recv" | "sent", message) in wire order."""

    name: str
    items: list[tuple[Side, Message]] = field(default_factory=list)
    segments: list[tuple[Side, bytes]] = field(default_factory=list)
    """Raw bytes in order: each "recv" run between our sends, and each action we sent."""
    marks: list[tuple[int, str]] = field(default_factory=list)
    """(index into items, title) of the `# ==== title ====` sub-captures."""
    closed_by_peer: bool = False
    banner: str | None = None

    def __iter__(self) -> Iterator[tuple[Side, Message]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[Side, Message]:
        return self.items[index]

    @property
    def received_bytes(self) -> bytes:
        """Everything Asterisk wrote on this connection, banner included, with CRLF endings."""
        return b"".join(data for direction, data in self.segments if direction == "recv")

    def received(self) -> list[Message]:
        return [message for direction, message in self.items if direction == "recv"]

    def sent(self) -> list[Message]:
        return [message for direction, message in self.items if direction == "sent"]


@dataclass(slots=True)
class Trace:
    path: Path
    header: list[str]
    """The comment lines before the stream (scenario, dialplan, results), without '# '."""
    connections: list[Connection]
    timeline: list[tuple[str, Side, Message]]
    """Every message of every connection in capture order, as (connection name, direction, msg)."""

    @property
    def name(self) -> str:
        return self.path.stem

    def connection(self, name: str) -> Connection:
        for connection in self.connections:
            if connection.name == name:
                return connection
        raise KeyError(f"{self.path.name}: no connection {name!r}")

    def received(self) -> list[Message]:
        """All received messages of all connections, in capture order."""
        return [message for _, direction, message in self.timeline if direction == "recv"]


class _Builder:
    """Accumulates one connection's pending received lines while the file is scanned."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.parser = FrameParser(expect_banner=True)
        self.pending: list[str] = []

    def flush(self, trace_name: str, timeline: list[tuple[str, Side, Message]]) -> None:
        if not self.pending:
            return
        data = "".join(line + "\r\n" for line in self.pending).encode("ascii")
        self.pending.clear()
        self.connection.segments.append(("recv", data))
        for message in self.parser.feed(data):
            self.connection.items.append(("recv", message))
            timeline.append((self.connection.name, "recv", message))
        if self.parser.banner is not None:
            self.connection.banner = self.parser.banner
        if self.parser.malformed:
            raise TraceFormatError(f"{trace_name}: malformed frames {dict(self.parser.malformed)}")

    def finish(self, trace_name: str, timeline: list[tuple[str, Side, Message]]) -> None:
        self.flush(trace_name, timeline)
        if self.parser.buffered:
            name = self.connection.name
            raise TraceFormatError(f"{trace_name}: connection {name} ends mid-frame")


def load_trace(path: str | Path) -> Trace:
    path = Path(path)
    lines = path.read_text(encoding="ascii").splitlines()
    header: list[str] = []
    connections: dict[str, _Builder] = {}
    timeline: list[tuple[str, Side, Message]] = []
    current: _Builder | None = None
    in_stream = False
    i = 0
    while i < len(lines):
        line = lines[i]
        where = f"{path.name}:{i + 1}"
        if line.startswith("#"):
            if line.startswith(_CONNECTION):
                name = line[len(_CONNECTION) :].strip(" -")
                if current is not None:
                    current.flush(path.name, timeline)
                current = connections.get(name)
                if current is None:
                    current = connections[name] = _Builder(Connection(name))
                in_stream = True
            elif line.startswith("# ---- stream begins"):
                in_stream = True
            elif not in_stream:
                header.append(line[2:] if line.startswith("# ") else line[1:])
            elif current is not None and line.startswith(_SUBCAPTURE):
                current.flush(path.name, timeline)
                title = line[len(_SUBCAPTURE) :].rstrip(" =")
                current.connection.marks.append((len(current.connection.items), title))
            elif current is not None and line.startswith(_EOF):
                current.flush(path.name, timeline)
                current.connection.closed_by_peer = True
            i += 1
            continue
        if not in_stream:
            if line:
                raise TraceFormatError(f"{where}: text before '# ---- stream begins ----'")
            i += 1
            continue
        if current is None:
            current = connections["A"] = _Builder(Connection("A"))
        if line == _SENT:
            current.flush(path.name, timeline)
            block: list[str] = []
            i += 1
            while i < len(lines) and lines[i]:
                block.append(lines[i])
                i += 1
            if not block:
                raise TraceFormatError(f"{where}: empty '>>> SENT' block")
            data = "".join(item + "\r\n" for item in block).encode("ascii") + b"\r\n"
            sent = FrameParser(expect_banner=False).feed(data)
            if len(sent) != 1:
                raise TraceFormatError(f"{where}: '>>> SENT' block is not one action")
            current.connection.segments.append(("sent", data))
            current.connection.items.append(("sent", sent[0]))
            timeline.append((current.connection.name, "sent", sent[0]))
            i += 1  # the blank line that ended the action
            continue
        current.pending.append(line)
        i += 1
    for builder in connections.values():
        builder.finish(path.name, timeline)
    return Trace(
        path=path,
        header=header,
        connections=[builder.connection for builder in connections.values()],
        timeline=timeline,
    )
