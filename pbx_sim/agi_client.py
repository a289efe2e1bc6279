"""FastAGI client: what Asterisk's AGI(agi://...) does on a channel (trace 13).

Connects to the FastAGI server, sends the `agi_*` request headers, then answers commands one
line at a time with bare LF. The simulated caller's key presses arrive as real DTMF on the
channel (DTMFBegin/DTMFEnd on AMI); a caller hanging up mid-prompt gives `200 result=-1`, then
an unsolicited `HANGUP` line, and the channel stays dead until the server closes the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import shlex
from urllib.parse import urlsplit

from pbx_sim.apps import prompt_seconds
from pbx_sim.channel import Channel, ChannelState, Interrupt, Signal
from pbx_sim.dialplan import substitute
from pbx_sim.parties import Caller
from pbx_sim.runtime import Diverted, Runtime

log = logging.getLogger(__name__)

DEAD_OK = {"GET VARIABLE", "GET FULL VARIABLE", "SET VARIABLE", "VERBOSE", "NOOP"}
USAGE_STREAM_FILE = (
    "520-Invalid command syntax.  Proper usage follows:\n"
    "Send the given file, allowing playback to be interrupted by the given digits, if any. "
    "Returns <literal>0</literal> if playback completes without a digit being pressed, or the "
    "ASCII numerical value of the digit if one was pressed, or <literal>-1</literal> on error or "
    "if the channel was disconnected. If musiconhold is playing before calling stream file it "
    "will be automatically stopped and will not be restarted after completion.\n"
    "It sets the following channel variables upon completion:\n"
    "<variable>PLAYBACKSTATUS</variable>: The status of the playback attempt as a text string.\n"
    "    <value>SUCCESS</value>\n"
    "    <value>FAILED</value>\n"
    "520 End of proper usage."
)


class AgiSession:
    def __init__(
        self, rt: Runtime, ch: Channel, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.rt = rt
        self.ch = ch
        self.reader = reader
        self.writer = writer
        self.dead: Interrupt | None = None
        self.announced = False
        self.hung_up_by_command = False
        self.prompts = 0  # prompts played so far (STREAM FILE, GET DATA, SAY DIGITS)

    def send(self, line: str) -> None:
        self.rt.clock.touch()
        self.writer.write(line.encode() + (b"" if line.endswith("\n") else b"\n"))

    def caller(self) -> tuple[Caller | None, Channel | None]:
        handset = self.ch.peer
        if handset is not None and isinstance(handset.party, Caller):
            return handset.party, handset
        return None, None

    async def serve(self, url: str, args: list[str]) -> None:
        ch = self.ch
        parts = urlsplit(url)
        headers = {
            "agi_network": "yes",
            "agi_network_script": parts.path.lstrip("/"),
            "agi_request": url,
            "agi_channel": ch.name,
            "agi_language": ch.language,
            "agi_type": "Local",
            "agi_uniqueid": ch.uniqueid,
            "agi_version": "22.10.1",
            "agi_callerid": ch.cid_num,
            "agi_calleridname": ch.cid_name,
            "agi_callingpres": "0",
            "agi_callingani2": "0",
            "agi_callington": "0",
            "agi_callingtns": "0",
            "agi_dnid": "unknown",
            "agi_rdnis": "unknown",
            "agi_context": ch.context,
            "agi_extension": ch.exten,
            "agi_priority": str(ch.priority),
            "agi_enhanced": "0.0",
            "agi_accountcode": "",
            "agi_threadid": str(random.randrange(10**14, 10**15)),
        }
        for index, arg in enumerate(args, start=1):
            headers[f"agi_arg_{index}"] = arg
        self.writer.write("".join(f"{k}: {v}\n" for k, v in headers.items()).encode() + b"\n")
        while True:
            line = await self.next_command()
            if line is None:
                return
            await self.execute(line.strip())

    async def next_command(self) -> str | None:
        """The next command line; a hangup meanwhile is announced with a `HANGUP` line."""
        with self.rt.clock.busy():
            return await self._next_command()

    async def _next_command(self) -> str | None:
        read = asyncio.ensure_future(self.reader.readline())
        try:
            while True:
                if self.dead is not None:
                    raw = await read
                    return raw.decode(errors="replace") if raw else None
                watch = asyncio.ensure_future(self.ch.block(self.rt.clock, None))
                done, _ = await asyncio.wait({read, watch}, return_when=asyncio.FIRST_COMPLETED)
                if watch in done:
                    item = watch.result()
                    if item is not None and item.kind is Signal.HANGUP:
                        self.dead = item
                        self.announce_hangup()
                    elif item is not None and item.kind in (Signal.REDIRECT, Signal.BRIDGE):
                        self.dead = item
                    continue
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch
                raw = read.result()
                self.rt.clock.touch()
                return raw.decode(errors="replace") if raw else None
        finally:
            if not read.done():
                read.cancel()

    async def execute(self, line: str) -> None:
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        if not words:
            return
        name = " ".join(words[:3]).upper()
        verb = next(
            (
                v
                for v in (
                    "GET FULL VARIABLE",
                    "GET VARIABLE",
                    "SET VARIABLE",
                    "STREAM FILE",
                    "GET DATA",
                    "SAY DIGITS",
                    "EXEC",
                    "VERBOSE",
                    "ANSWER",
                    "HANGUP",
                    "NOOP",
                )
                if name.startswith(v)
            ),
            None,
        )
        command_id = str(random.randrange(10**8, 2 * 10**9))
        w = self.rt.world
        w.chan_event("AGIExecStart", self.ch, ("CommandId", command_id), ("Command", line))
        if verb is None:
            reply = "510 Invalid or unknown command"
        elif self.dead is not None and verb not in DEAD_OK:
            reply = "511 Command Not Permitted on a dead channel or intercept routine"
        else:
            reply = await self.run(verb, words[len(verb.split()) :])
        code = reply[:3]
        result = {"200": "Success", "520": "Usage"}.get(code, reply[4:])
        w.chan_event(
            "AGIExecEnd",
            self.ch,
            ("CommandId", command_id),
            ("Command", line),
            ("ResultCode", code),
            ("Result", result),
        )
        self.send(reply)
        if verb == "HANGUP" and reply.startswith("200"):
            self.dead = Interrupt(Signal.HANGUP, cause=16)
            self.hung_up_by_command = True
        self.announce_hangup()

    def announce_hangup(self) -> None:
        """Asterisk writes an unsolicited `HANGUP` line once the channel is gone."""
        if self.dead is not None and self.dead.kind is Signal.HANGUP and not self.announced:
            self.announced = True
            self.send("HANGUP")

    async def run(self, verb: str, args: list[str]) -> str:
        ch, w = self.ch, self.rt.world
        if verb == "ANSWER":
            if ch.state != ChannelState.UP:
                self.rt.answer(ch)
            return "200 result=0"
        if verb == "VERBOSE" or verb == "NOOP":
            return "200 result=1" if verb == "VERBOSE" else "200 result=0"
        if verb == "SET VARIABLE":
            if len(args) < 2:
                return "520 Invalid command syntax.  Proper usage not available."
            w.set_var(ch, args[0], args[1])
            return "200 result=1"
        if verb in ("GET VARIABLE", "GET FULL VARIABLE"):
            if not args:
                return "520 Invalid command syntax.  Proper usage not available."
            value = self.lookup(args[0]) if verb == "GET VARIABLE" else substitute(args[0], ch)
            return f"200 result=1 ({value})" if value else "200 result=0"
        if verb == "STREAM FILE":
            if not args:
                return USAGE_STREAM_FILE
            started = self.rt.clock.now()
            digit = await self.prompt(args[0], args[1] if len(args) > 1 else "", 0.0, 1)
            if digit is None:
                return "200 result=-1"
            played = min(self.rt.clock.now() - started, prompt_seconds(args[0]))
            endpos = round(played * 8000)  # the sample where playback stopped (8 kHz)
            return f"200 result={ord(digit[0]) if digit else 0} endpos={endpos}"
        if verb == "GET DATA":
            if not args:
                return "520 Invalid command syntax.  Proper usage not available."
            timeout = float(args[1]) / 1000 if len(args) > 1 and args[1].isdigit() else 6.0
            max_digits = int(args[2]) if len(args) > 2 and args[2].isdigit() else 1024
            digits = await self.prompt(args[0], "0123456789*#", timeout, max_digits)
            if digits is None:
                return "200 result=-1"
            return f"200 result={digits}" if digits else "200 result= (timeout)"
        if verb == "SAY DIGITS":
            digit = await self.prompt(
                "digits",
                args[1] if len(args) > 1 else "",
                0.0,
                1,
                seconds=0.6 * len(args[0] if args else ""),
            )
            return "200 result=-1" if digit is None else f"200 result={ord(digit) if digit else 0}"
        if verb == "EXEC":
            app = self.rt.apps.get(args[0]) if args else None
            if app is None:
                return "200 result=-2"
            try:
                await app(self.rt, ch, " ".join(args[1:]))
            except Diverted as diverted:
                self.dead = diverted.interrupt
                return "200 result=-1"
            return "200 result=0"
        if verb == "HANGUP":
            w.chan_event("SoftHangupRequest", ch, ("Cause", "32"))
            return "200 result=1"
        return "510 Invalid or unknown command"

    def press(self, handset: Channel, key: str) -> None:
        if not handset.hungup:
            self.rt.send_dtmf(handset, key, 120)

    def lookup(self, name: str) -> str:
        ch = self.ch
        special = {
            "CHANNEL(linkedid)": ch.linkedid,
            "CHANNEL(uniqueid)": ch.uniqueid,
            "CHANNEL": ch.name,
            "UNIQUEID": ch.uniqueid,
            "CALLERID(num)": ch.cid_num,
            "CALLERID(name)": ch.cid_name,
            "EXTEN": ch.exten,
            "CONTEXT": ch.context,
        }
        return special.get(name, ch.variables.get(name, ""))

    async def prompt(
        self,
        file: str,
        escape: str,
        digit_wait: float,
        max_digits: int,
        seconds: float | None = None,
    ) -> str | None:
        """Play a prompt, collecting digits; None if the caller hung up.

        A scripted caller keys in `digits[n]` during the n-th prompt and hangs up during prompt
        number `hangup_after_prompts` (both count every prompt, from 0)."""
        caller, handset = self.caller()
        index = self.prompts
        self.prompts += 1
        length = prompt_seconds(file) if seconds is None else seconds
        if caller is None or handset is None:
            pass
        elif caller.hangup_after_prompts is not None and index >= caller.hangup_after_prompts:
            leave = Interrupt(Signal.LEAVE)
            self.rt.clock.call_later(length / 2, lambda: handset.interrupt(leave))
        elif index < len(caller.digits):
            for n, key in enumerate(caller.digits[index]):
                self.rt.clock.call_later(0.8 + 0.4 * n, functools.partial(self.press, handset, key))
        collected = ""
        wait_for = length + digit_wait
        while True:
            try:
                digit = await self.rt.wait(self.ch, wait_for, digits="0123456789*#")
            except Diverted as diverted:
                self.dead = diverted.interrupt
                return None
            if digit is None:
                return collected
            if max_digits == 1 and digit_wait == 0.0:
                return digit if digit in escape else collected
            if digit == "#":
                return collected
            collected += digit
            if len(collected) >= max_digits:
                return collected
            wait_for = digit_wait if digit_wait > 0 else 0.0


class AgiClient:
    """Runs AGI(agi://...) for the dialplan; `url_override` points every AGI at one server."""

    def __init__(self, url_override: str | None = None) -> None:
        self.url_override = url_override

    async def run(self, rt: Runtime, ch: Channel, url: str, args: list[str]) -> None:
        url = self.url_override or url
        parts = urlsplit(url)
        try:
            with rt.clock.busy():
                reader, writer = await asyncio.open_connection(
                    parts.hostname or "127.0.0.1", parts.port or 4573
                )
        except OSError as exc:
            log.warning("FastAGI %s unreachable for %s: %s", url, ch.name, exc)
            rt.world.set_var(ch, "AGISTATUS", "FAILURE")
            return
        session = AgiSession(rt, ch, reader, writer)
        try:
            await session.serve(url, args)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("FastAGI session for %s ended: %s", ch.name, exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        if session.hung_up_by_command:
            rt.end_channel(ch, 16)
            return
        if session.dead is not None:
            rt.world.set_var(ch, "AGISTATUS", "HANGUP")
            raise Diverted(session.dead)
        rt.world.set_var(ch, "AGISTATUS", "SUCCESS")
