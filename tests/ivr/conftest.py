"""Shared pieces for the IVR tests: the FastAGI trace, parsed into the exact bytes per session."""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

TRACE = Path(__file__).resolve().parents[3] / "shared" / "asterisk" / "traces" / "13-fastagi.agi"


@dataclass(frozen=True)
class TracedSession:
    """One FastAGI connection of the capture: request bytes, then (command, reply bytes) pairs."""

    request: bytes
    exchanges: list[tuple[str, bytes]]


def parse_agi_trace(path: Path) -> list[TracedSession]:
    sessions: list[TracedSession] = []
    request: list[str] = []
    exchanges: list[tuple[str, list[str]]] = []
    state = "none"

    def finish() -> None:
        if request:
            sessions.append(
                TracedSession(
                    request="".join(line + "\n" for line in request).encode(),
                    exchanges=[(c, "".join(x + "\n" for x in r).encode()) for c, r in exchanges],
                )
            )

    for line in path.read_text().split("\n"):
        if line.startswith("# ---- connection"):
            finish()
            request, exchanges, state = [], [], "request"
        elif line.startswith("#") or state == "none":
            continue
        elif line == ">>> SENT":
            state = "command"
        elif state == "request":
            request.append(line)
            if line == "":
                state = "replies"
        elif state == "command":
            exchanges.append((line, []))
            state = "replies"
        elif state == "replies" and exchanges and line != "":
            exchanges[-1][1].append(line)
    finish()
    return sessions


@pytest.fixture(scope="session")
def agi_trace() -> list[TracedSession]:
    return parse_agi_trace(TRACE)


class ScriptedAsterisk:
    """Asterisk's side of one FastAGI call, answering as Asterisk 22 did in trace 13.

    `keys` answers each GET DATA in turn: "" times out, "123#" ends with the terminator, "123"
    stops at max digits or times out with a partial entry, and "HANGUP" is the caller hanging
    up during the prompt (`200 result=-1` then `HANGUP`). After that the channel is dead: STREAM
    FILE / GET DATA get 511, as in the trace. `keys` may be an asyncio.Queue to pace a call.
    """

    def __init__(
        self,
        *,
        number: str = "5551234",
        keys: list[str] | None = None,
        linkedid: str = "1795445332.0",
        script: str = "inbound",
        hang_up_on_prompt: str = "",
    ) -> None:
        self.number = number
        self.keys: asyncio.Queue[str] = asyncio.Queue()
        for key in keys or []:
            self.keys.put_nowait(key)
        self.linkedid = linkedid
        self.script = script
        self.hang_up_on_prompt = hang_up_on_prompt
        self.commands: list[str] = []
        self.variables: dict[str, str] = {}
        self.dead = False
        self.waiting_for_keys = asyncio.Event()  # set while a GET DATA waits on `keys`

    def request(self) -> bytes:
        channel = "Local/100@cb-inbound-00000000;2"
        headers = {
            "agi_network": "yes",
            "agi_network_script": self.script,
            "agi_request": f"agi://127.0.0.1:4573/{self.script}",
            "agi_channel": channel,
            "agi_language": "en",
            "agi_type": "Local",
            "agi_uniqueid": "1795445332.1",
            "agi_version": "22.10.1",
            "agi_callerid": self.number,
            "agi_calleridname": "Alice Customer",
            "agi_context": "cb-inbound",
            "agi_extension": "100",
            "agi_priority": "2",
            "agi_accountcode": "",
        }
        return "".join(f"{k}: {v}\n" for k, v in headers.items()).encode() + b"\n"

    async def reply(self, line: str) -> str:
        words = shlex.split(line)
        verb = " ".join(words[:2]).upper()
        if words[:1] == ["ANSWER"]:
            return "200 result=0\n"
        if words[:1] == ["HANGUP"]:
            self.dead = True
            return "200 result=1\nHANGUP\n"
        if verb == "SET VARIABLE":
            self.variables[words[2]] = words[3]
            return "200 result=1\n"
        if verb == "GET VARIABLE":
            known = {"CHANNEL(linkedid)": self.linkedid, "CALLERID(num)": self.number}
            value = self.variables.get(words[2], known.get(words[2]))
            return "200 result=0\n" if value is None else f"200 result=1 ({value})\n"
        if verb in ("STREAM FILE", "GET DATA") and self.dead:
            return "511 Command Not Permitted on a dead channel or intercept routine\n"
        if verb == "STREAM FILE":
            if words[2] == self.hang_up_on_prompt:
                self.dead = True
                return "200 result=-1 endpos=0\nHANGUP\n"
            return "200 result=0 endpos=11234\n"
        if verb == "GET DATA":
            if self.keys.empty():
                self.waiting_for_keys.set()
            key = await asyncio.wait_for(self.keys.get(), 10)  # a test gave too few keys
            self.waiting_for_keys.clear()
            max_digits = int(words[4])
            if key == "HANGUP":
                self.dead = True
                return "200 result=-1\nHANGUP\n"
            if key.endswith("#"):
                return f"200 result={key[:-1]}\n"
            if len(key) >= max_digits:
                return f"200 result={key[:max_digits]}\n"
            return f"200 result={key} (timeout)\n" if key else "200 result= (timeout)\n"
        return "510 Invalid or unknown command\n"

    async def call(self, port: int) -> list[str]:
        """Dial in, answer every command, and return them once the server closes the socket."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(self.request())
        try:
            while line := await asyncio.wait_for(reader.readline(), 10):
                command = line.decode().rstrip("\n")
                self.commands.append(command)
                writer.write((await self.reply(command)).encode())
        finally:
            writer.close()
            await writer.wait_closed()
        return self.commands


@pytest.fixture
def scripted_asterisk() -> type[ScriptedAsterisk]:
    return ScriptedAsterisk
