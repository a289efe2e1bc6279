"""AMI wire framing: CRLF header blocks ended by an empty line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
MAX_MESSAGE = 64 * 1024

Headers = Sequence[tuple[str, str]]


class FramingError(Exception):
    """The peer sent something that is not an AMI message."""


def encode(headers: Iterable[tuple[str, str]]) -> bytes:
    """One AMI message: `Key: Value` lines, each CRLF-terminated, then an empty line."""
    return "".join(f"{key}: {value}\r\n" for key, value in headers).encode() + b"\r\n"


class Action:
    """A received action: header names are case-insensitive, some repeat (Variable)."""

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers = headers

    @property
    def name(self) -> str:
        return self.get("Action")

    @property
    def action_id(self) -> str | None:
        for key, value in self.headers:
            if key.lower() == "actionid":
                return value
        return None

    def get(self, key: str, default: str = "") -> str:
        lowered = key.lower()
        for k, value in self.headers:
            if k.lower() == lowered:
                return value
        return default

    def has(self, key: str) -> bool:
        lowered = key.lower()
        return any(k.lower() == lowered for k, _ in self.headers)

    def getall(self, key: str) -> list[str]:
        lowered = key.lower()
        return [value for k, value in self.headers if k.lower() == lowered]


def parse(block: bytes) -> Action:
    headers: list[tuple[str, str]] = []
    for raw in block.decode("utf-8", errors="replace").splitlines():
        if not raw.strip():
            continue
        key, sep, value = raw.partition(":")
        if sep:  # like Asterisk, a line that is not `Key: Value` is kept out of the headers
            headers.append((key.strip(), value.strip()))
    return Action(headers)


async def read_action(reader: asyncio.StreamReader) -> Action | None:
    """The next action, or None at EOF. Accepts CRLF (the standard) and bare LF."""
    lines: list[bytes] = []
    size = 0
    while True:
        line = await reader.readline()
        if not line:
            return None
        size += len(line)
        if size > MAX_MESSAGE:
            raise FramingError(f"AMI message longer than {MAX_MESSAGE} bytes")
        if line in (b"\r\n", b"\n"):
            if lines:
                return parse(b"".join(lines))
            continue
        lines.append(line)
