"""One FastAGI session, the server's side: the request headers, commands out, replies in.

Written against the bytes Asterisk 22 really sends (shared trace 13-fastagi.agi): bare LF lines,
`200 result=...` replies, `510` for an unknown command, a `520-` usage text spread over several
lines up to `520 End of proper usage.`, `511` on a dead channel, and an unsolicited `HANGUP` line
that may arrive at any moment: after the reply to our own HANGUP, and right after the
`200 result=-1` that a caller's hang-up during GET DATA produces.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

MAX_HEADER_LINES = 200
MAX_LINE_BYTES = 8192
_REPLY = re.compile(
    r"^(?P<code>\d{3}) result=(?P<result>\S*)(?: \((?P<data>.*?)\))?(?: endpos=(?P<endpos>-?\d+))?$"
)


class AgiError(Exception):
    """Base of FastAGI failures."""


class AgiProtocolError(AgiError):
    """The peer sent something that is not FastAGI (what, and where in the session)."""


class AgiInvalidCommand(AgiError):
    """`510 Invalid or unknown command`: our bug, never the caller's."""


class AgiUsageError(AgiError):
    """`520` with Asterisk's usage text: we sent a known command with wrong arguments."""

    def __init__(self, command: str, usage: str) -> None:
        super().__init__(f"{command!r} rejected with usage text: {usage.splitlines()[0]}")
        self.command = command
        self.usage = usage


class ChannelHungUp(AgiError):
    """The caller is gone (HANGUP line, `511`, or the socket closed): end the session cleanly."""


@dataclass(frozen=True, slots=True)
class AgiRequest:
    """The `agi_*` headers Asterisk sends first; `script` is the path after `agi://host:port/`."""

    headers: dict[str, str]

    @property
    def script(self) -> str:
        return self.headers.get("agi_network_script", "").split("?")[0].strip("/")

    @property
    def channel(self) -> str:
        return self.headers.get("agi_channel", "")

    @property
    def uniqueid(self) -> str:
        return self.headers.get("agi_uniqueid", "")

    @property
    def caller_number(self) -> str:
        number = self.headers.get("agi_callerid", "")
        return "" if number == "unknown" else number

    @property
    def caller_name(self) -> str:
        name = self.headers.get("agi_calleridname", "")
        return "" if name == "unknown" else name

    @property
    def extension(self) -> str:
        return self.headers.get("agi_extension", "")

    @property
    def language(self) -> str:
        return self.headers.get("agi_language", "")

    @property
    def args(self) -> list[str]:
        """`agi_arg_1..N` in order (the AGI() application's arguments after the URL)."""
        found: list[str] = []
        while (value := self.headers.get(f"agi_arg_{len(found) + 1}")) is not None:
            found.append(value)
        return found


@dataclass(frozen=True, slots=True)
class AgiReply:
    """A `200 result=<result> [(data)] [endpos=N]` reply."""

    result: str
    data: str | None = None
    endpos: int | None = None
    lines: tuple[str, ...] = field(default=())

    @property
    def timed_out(self) -> bool:
        return self.data == "timeout"


def parse_reply(line: str) -> AgiReply:
    """Parse one `200 ...` line; any other shape is a protocol error naming the line."""
    match = _REPLY.match(line)
    if match is None or match["code"] != "200":
        raise AgiProtocolError(f"unexpected FastAGI reply line {line!r}")
    endpos = match["endpos"]
    return AgiReply(
        result=match["result"],
        data=match["data"],
        endpos=int(endpos) if endpos is not None else None,
        lines=(line,),
    )


def quote(argument: str) -> str:
    """Quote one command argument the way res_agi parses it (double quotes, backslash escapes)."""
    escaped = argument.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


async def read_request(reader: asyncio.StreamReader, within_s: float) -> AgiRequest:
    """Read the `agi_*: value` header block that ends with an empty line."""
    headers: dict[str, str] = {}
    async with asyncio.timeout(within_s):
        for number in range(1, MAX_HEADER_LINES + 1):
            raw = await reader.readline()
            if not raw.endswith(b"\n"):
                raise AgiProtocolError(f"connection closed in request header line {number}")
            line = raw[:-1].decode("utf-8", errors="replace")
            if line == "":
                if not headers:
                    raise AgiProtocolError("empty FastAGI request (no agi_* headers)")
                return AgiRequest(headers)
            name, sep, value = line.partition(":")
            if not sep or not name.startswith("agi_"):
                raise AgiProtocolError(f"request line {number} is not 'agi_*: value': {line!r}")
            headers[name] = value[1:] if value.startswith(" ") else value
    raise AgiProtocolError(f"request has more than {MAX_HEADER_LINES} header lines")


class AgiChannel:
    """Commands on the call's channel. One command at a time, as AGI requires.

    `hung_up` turns true once Asterisk says the caller is gone; commands Asterisk still allows on
    a dead channel (GET/SET VARIABLE, VERBOSE) keep working, the rest raise ChannelHungUp.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        reply_timeout: float = 120.0,
        hangup_grace: float = 0.5,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._reply_timeout = reply_timeout
        self._hangup_grace = hangup_grace
        self._lock = asyncio.Lock()
        self.hung_up = False

    async def command(self, command: str, *, reply_within_s: float | None = None) -> AgiReply:
        """Send one raw command line and return its `200` reply."""
        if "\n" in command or "\r" in command:
            raise ValueError(f"an AGI command is one line: {command!r}")
        async with self._lock:
            self._writer.write(command.encode("utf-8") + b"\n")
            try:
                await self._writer.drain()
            except ConnectionError as exc:
                self.hung_up = True
                raise ChannelHungUp(f"connection lost sending {command!r}") from exc
            async with asyncio.timeout(reply_within_s or self._reply_timeout):
                return await self._read_reply(command)

    async def _read_line(self, command: str) -> str:
        try:
            raw = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            self.hung_up = True
            raise ChannelHungUp(f"connection closed waiting for the reply to {command!r}") from exc
        except asyncio.LimitOverrunError as exc:
            raise AgiProtocolError(f"reply line to {command!r} is too long") from exc
        return raw[:-1].decode("utf-8", errors="replace")

    async def _read_reply(self, command: str) -> AgiReply:
        while True:
            line = await self._read_line(command)
            if line == "HANGUP":
                self.hung_up = True
                continue
            if line.startswith("100 "):  # "100 result=0 Trying..." precedes some replies
                continue
            if line.startswith("510"):
                raise AgiInvalidCommand(f"{command!r}: {line}")
            if line.startswith("511"):
                self.hung_up = True
                raise ChannelHungUp(f"{command!r}: {line}")
            if line.startswith("520-"):
                usage = [line[4:]]
                while not (line := await self._read_line(command)).startswith("520 "):
                    usage.append(line)
                raise AgiUsageError(command, "\n".join(usage))
            if line.startswith("520 "):
                raise AgiUsageError(command, line[4:])
            return parse_reply(line)

    async def _hung_up_after_failure(self) -> bool:
        """After `result=-1`, tell a hang-up (HANGUP follows at once) from a failed prompt."""
        if self.hung_up:
            return True
        try:
            async with asyncio.timeout(self._hangup_grace):
                line = await self._read_line("(waiting for HANGUP after result=-1)")
        except TimeoutError:
            return False
        if line != "HANGUP":
            raise AgiProtocolError(f"unsolicited line {line!r} after result=-1")
        self.hung_up = True
        return True

    # ---- the commands the IVR uses -------------------------------------------------------

    async def answer(self) -> None:
        reply = await self.command("ANSWER")
        if reply.result == "-1" and await self._hung_up_after_failure():
            raise ChannelHungUp("ANSWER failed: the caller is gone")

    async def stream_file(self, prompt: str, escape_digits: str = "") -> str | None:
        """Play a prompt; the digit that interrupted it, or None. A missing file is logged."""
        reply = await self.command(f"STREAM FILE {prompt} {quote(escape_digits)}")
        if reply.result == "-1":
            if await self._hung_up_after_failure():
                raise ChannelHungUp(f"caller hung up during prompt {prompt!r}")
            log.warning("prompt %r could not be played (missing sound file?)", prompt)
            return None
        return chr(int(reply.result)) if reply.result not in ("", "0") else None

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> tuple[str, bool]:
        """Play a prompt and read digits ('#' ends input): (digits, timed_out)."""
        reply = await self.command(
            f"GET DATA {prompt} {timeout_ms} {max_digits}",
            reply_within_s=self._reply_timeout + timeout_ms / 1000 * (max_digits + 1),
        )
        if reply.result == "-1":
            if await self._hung_up_after_failure():
                raise ChannelHungUp(f"caller hung up during GET DATA {prompt!r}")
            log.warning("GET DATA %r failed on a live channel (missing sound file?)", prompt)
            return "", True
        return reply.result, reply.timed_out

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(f"SET VARIABLE {name} {quote(value)}")

    async def get_variable(self, name: str) -> str | None:
        """A channel variable or function such as CHANNEL(linkedid); None if it is not set."""
        reply = await self.command(f"GET VARIABLE {name}")
        return reply.data if reply.result == "1" else None

    async def get_full_variable(self, expression: str) -> str | None:
        reply = await self.command(f"GET FULL VARIABLE {quote(expression)}")
        return reply.data if reply.result == "1" else None

    async def exec(self, application: str, options: str = "") -> str:
        reply = await self.command(f"EXEC {application} {options}".rstrip())
        if reply.result == "-1" and await self._hung_up_after_failure():
            raise ChannelHungUp(f"caller hung up during EXEC {application}")
        return reply.result

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command(f"VERBOSE {quote(message)} {level}")

    async def hangup(self) -> None:
        """Hang the caller up; Asterisk answers `200 result=1` and then sends its HANGUP line."""
        await self.command("HANGUP")
        self.hung_up = True
