"""A private Asterisk 22 for the live suite, configured from deploy/asterisk/ exactly as
deploy/asterisk/README.md tells an administrator, plus the harness's own AMI user.

`LivePbx` owns one instance folder (made by `run-asterisk init`), installs the deploy kit into
it, starts and stops it. `HarnessAmi` is a deliberately small AMI client of the test harness
(not the product's link): it places test calls and watches the raw event stream, so a test can
tell what Asterisk did independently of what Callboard concluded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
KIT = REPO / "deploy" / "asterisk"

HARNESS_USER = "cbharness"
HARNESS_SECRET = "harness-secret-for-tests"
CALLBOARD_USER = "callboard"
CALLBOARD_SECRET = "live-test-secret-0123456789abcdef"

Message = dict[str, str]


def _insert_after_section(text: str, section: str, lines: Iterable[str]) -> str:
    """Put `lines` right after the `[section]` header (the stock files have that section)."""
    header = re.compile(rf"^\[{re.escape(section)}\][^\n]*$", re.MULTILINE)
    match = header.search(text)
    if match is None:
        raise AssertionError(f"the stock file has no [{section}] section")
    insert = "".join(f"\n{line}" for line in lines)
    return text[: match.end()] + insert + text[match.end() :]


def _set_general_option(text: str, key: str, value: str) -> str:
    """Set `key = value` in manager.conf [general]: uncomment/replace the stock line if there is
    one before the next section, else add it right after the header."""
    start = re.search(r"^\[general\][^\n]*$", text, re.MULTILINE)
    assert start is not None, "manager.conf has no [general]"
    nxt = re.search(r"^\[", text[start.end() :], re.MULTILINE)
    end = start.end() + (nxt.start() if nxt else len(text) - start.end())
    general = text[start.end() : end]
    pattern = re.compile(rf"^;?[ \t]*{re.escape(key)}[ \t]*=.*$", re.MULTILINE)
    if pattern.search(general):
        general = pattern.sub(f"{key} = {value}", general, count=1)
    else:
        general = f"\n{key} = {value}" + general
    return text[: start.end()] + general + text[end:]


@dataclass
class LivePbx:
    """One private Asterisk: `run-asterisk` script, instance folder, ports."""

    script: Path
    root: Path
    ami_port: int = field(default_factory=free_port)
    agi_port: int = field(default_factory=free_port)
    started: bool = False

    @property
    def etc(self) -> Path:
        return self.root / "etc" / "asterisk"

    @property
    def monitor_dir(self) -> Path:
        return self.root / "var" / "spool" / "asterisk" / "monitor"

    @property
    def messages_log(self) -> Path:
        return self.root / "var" / "log" / "asterisk" / "messages.log"

    def run(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [str(self.script), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"run-asterisk {' '.join(args)} failed ({done.returncode}):"
                f" {done.stdout}{done.stderr}"
            )
        return done.stdout

    def init(self) -> None:
        self.run("init", str(self.root), "--ami-port", str(self.ami_port))

    def install_kit(self) -> None:
        """deploy/asterisk/README.md, sections 1, 2 and 6, as an administrator follows them."""
        etc = self.etc
        dest = etc / "callboard"
        dest.mkdir(parents=True, exist_ok=True)
        # sudo cp deploy/asterisk/*_callboard*.conf /etc/asterisk/callboard/
        for conf in sorted(KIT.glob("*_callboard*.conf")):
            shutil.copy(conf, dest / conf.name)
        # sudo cp -n deploy/asterisk/amd.conf /etc/asterisk/amd.conf
        if not (etc / "amd.conf").exists():
            shutil.copy(KIT / "amd.conf", etc / "amd.conf")
        # shipped prompts, if the kit has them (deploy/asterisk/sounds/)
        self._install_sounds()

        # extensions.conf: the #includes (Local variant: a test PBX) and CALLBOARD_AGI
        ext = (etc / "extensions.conf").read_text()
        ext = _insert_after_section(
            ext, "globals", [f"CALLBOARD_AGI = agi://127.0.0.1:{self.agi_port}"]
        )
        ext += (
            '\n#include "callboard/extensions_callboard.conf"\n'
            '#include "callboard/extensions_callboard_local.conf"\n'
        )
        (etc / "extensions.conf").write_text(ext)

        # manager.conf: [general] settings, the kit's user with a test secret, the harness user
        man = (etc / "manager.conf").read_text()
        man = _set_general_option(man, "enabled", "yes")
        man = _set_general_option(man, "port", str(self.ami_port))
        man = _set_general_option(man, "bindaddr", "127.0.0.1")
        man = _set_general_option(man, "timestampevents", "yes")
        man += (
            '\n#include "callboard/manager_callboard.conf"\n'
            f"\n[{HARNESS_USER}]\n"
            f"secret = {HARNESS_SECRET}\n"
            "deny = 0.0.0.0/0.0.0.0\n"
            "permit = 127.0.0.1/255.255.255.255\n"
            "read = all\n"
            "write = all\n"
        )
        (etc / "manager.conf").write_text(man)
        kit_user = dest / "manager_callboard.conf"
        text = kit_user.read_text()
        text, n = re.subn(r"^secret\s*=.*$", f"secret = {CALLBOARD_SECRET}", text, flags=re.M)
        assert n == 1, "manager_callboard.conf has no secret line"
        kit_user.write_text(text)

        # asterisk.conf: transmit_silence in [options]
        options = etc / "asterisk.conf"
        options.write_text(
            _insert_after_section(options.read_text(), "options", ["transmit_silence = yes"])
        )

        # confbridge.conf: the #include
        conf = etc / "confbridge.conf"
        conf.write_text(conf.read_text() + '\n#include "callboard/confbridge_callboard.conf"\n')

        # features.conf: the atxfer line copied into the existing [featuremap]
        feats = [
            line.strip()
            for line in (KIT / "features_callboard.conf").read_text().splitlines()
            if line.strip().startswith("atxfer")
        ]
        assert feats, "features_callboard.conf has no atxfer line"
        features = etc / "features.conf"
        features.write_text(_insert_after_section(features.read_text(), "featuremap", feats))

    def _install_sounds(self) -> None:
        """README section 7: `sounds/en/*.wav` and `sounds/ru/*.wav` into <astdatadir>/sounds/en
        and .../ru (only the prompts: not prompts.tsv nor the make-prompts script)."""
        sounds = KIT / "sounds"
        if not sounds.is_dir():
            return
        # The instance's sounds folder is a link to the system's; shipped prompts go in a
        # folder of our own that holds both (links to every stock entry + the kit's files).
        link = self.root / "var" / "lib" / "asterisk" / "sounds"
        system = link.resolve()
        link.unlink()
        link.mkdir()
        for entry in system.iterdir():
            (link / entry.name).symlink_to(entry)
        for src in sorted(sounds.glob("*/*.wav")):
            rel = src.relative_to(sounds)
            target = link / rel
            parent = target.parent
            if parent.is_symlink():  # e.g. sounds/en: make it a real folder of links
                real = parent.resolve()
                parent.unlink()
                parent.mkdir()
                for entry in real.iterdir():
                    (parent / entry.name).symlink_to(entry)
            parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, target)

    def start(self) -> None:
        self.run("start", str(self.root), timeout=60)
        self.started = True

    def stop(self) -> None:
        if self.started:
            self.run("stop", str(self.root), timeout=60)
            self.started = False

    def rx(self, command: str) -> str:
        return self.run("rx", str(self.root), command)

    def uptime_s(self) -> int | None:
        """The system uptime the CLI reports, None while the CLI does not answer."""
        done = subprocess.run(
            [str(self.script), "rx", str(self.root), "core show uptime seconds"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        found = re.search(r"System uptime:\s*(\d+)", done.stdout)
        return int(found.group(1)) if done.returncode == 0 and found else None

    def restart_now(self, deadline_s: float = 60) -> None:
        """`core restart now` (the CLI drops the console while it runs), then wait until the
        new process answers with a smaller uptime and is fully booted."""
        before = self.uptime_s() or 0
        subprocess.run(
            [str(self.script), "rx", str(self.root), "core restart now"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        end = time.monotonic() + deadline_s
        while True:
            now = self.uptime_s()
            if now is not None and now < before:
                self.run("rx", str(self.root), "core waitfullybooted")
                return
            if time.monotonic() > end:
                raise AssertionError(f"Asterisk did not come back:\n{self.log_tail()}")
            time.sleep(0.2)


class HarnessAmi:
    """The test harness's AMI session (write=all): places calls, watches raw events."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.events: list[Message] = []
        self._ids = itertools.count(1)
        self._replies: dict[str, asyncio.Future[Message]] = {}
        self._lists: dict[str, list[Message]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def connect(self, deadline_s: float = 30) -> None:
        end = time.monotonic() + deadline_s
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                await asyncio.sleep(0.2)
        await reader.readline()  # banner
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read(reader))
        reply = await self.action("Login", Username=HARNESS_USER, Secret=HARNESS_SECRET)
        assert reply.get("Response") == "Success", reply

    async def reconnect(self, deadline_s: float = 30) -> None:
        """A new session (after the PBX restarted); the events seen so far are kept."""
        await self.close()
        self._writer, self._reader_task = None, None
        await self.connect(deadline_s)

    @property
    def alive(self) -> bool:
        return self._reader_task is not None and not self._reader_task.done()

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.action("Logoff"), 2)
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task

    async def _read(self, reader: asyncio.StreamReader) -> None:
        msg: Message = {}
        while True:
            raw = await reader.readline()
            if not raw:
                for fut in self._replies.values():
                    if not fut.done():
                        fut.set_exception(ConnectionError("AMI closed"))
                return
            line = raw.decode(errors="replace").rstrip("\r\n")
            if line:
                key, _, value = line.partition(":")
                msg[key.strip()] = (
                    f"{msg[key.strip()]}\n{value.strip()}" if key.strip() in msg else value.strip()
                )
                continue
            if not msg:
                continue
            self._dispatch(msg)
            msg = {}

    def _dispatch(self, msg: Message) -> None:
        aid = msg.get("ActionID", "")
        if "Response" in msg and aid in self._replies:
            fut = self._replies[aid]
            if msg.get("EventList") == "start":
                self._lists[aid] = []
            if not fut.done() and aid not in self._lists:
                fut.set_result(msg)
            elif aid in self._lists:
                self._lists[aid].append(msg)
            return
        if "Event" in msg and aid in self._lists:
            self._lists[aid].append(msg)
            if msg.get("EventList") == "Complete":
                fut = self._replies[aid]
                if not fut.done():
                    fut.set_result(msg)
            return
        if "Event" in msg:
            self.events.append(msg)
            self._changed.set()

    async def action(self, name: str, *headers: tuple[str, str], **kw: str) -> Message:
        assert self._writer is not None
        aid = f"h-{next(self._ids)}"
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._replies[aid] = fut
        lines = [f"Action: {name}", f"ActionID: {aid}"]
        lines += [f"{k}: {v}" for k, v in kw.items()]
        lines += [f"{k}: {v}" for k, v in headers]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()
        try:
            return await asyncio.wait_for(fut, 15)
        finally:
            self._replies.pop(aid, None)

    async def list_action(self, name: str, **kw: str) -> list[Message]:
        aid = f"h-{next(self._ids)}"
        assert self._writer is not None
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._replies[aid] = fut
        self._lists[aid] = []
        lines = [f"Action: {name}", f"ActionID: {aid}", *(f"{k}: {v}" for k, v in kw.items())]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._writer.drain()
        try:
            await asyncio.wait_for(fut, 15)
            return [m for m in self._lists[aid] if "Event" in m and m.get("EventList") is None]
        finally:
            self._replies.pop(aid, None)
            self._lists.pop(aid, None)

    async def channels(self) -> list[Message]:
        return await self.list_action("CoreShowChannels")

    async def wait_event(
        self, test: Callable[[Message], bool], within_s: float = 30, since: int = 0
    ) -> Message:
        """The first raw event (from index `since`) that passes `test`, waiting for it."""
        end = time.monotonic() + within_s
        checked = since
        while True:
            while checked < len(self.events):
                event = self.events[checked]
                checked += 1
                if test(event):
                    return event
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no such AMI event")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def place_caller(
        self,
        *,
        did: str = "100",
        number: str,
        name: str = "",
        hold_secs: int = 60,
        dtmf: str = "",
        dtmf_delay: int | None = None,
    ) -> str:
        """A test caller (kit README section 6); returns the handset's Uniqueid (`;1`), whose
        Linkedid the whole call keeps."""
        uid = f"caller-{next(self._ids)}-{int(time.time() * 1000) % 10**8}"
        variables = [("Variable", f"HOLD_SECS={hold_secs}")]
        if dtmf:
            variables.append(("Variable", f"DTMF={dtmf}"))
        if dtmf_delay is not None:
            variables.append(("Variable", f"DTMF_DELAY={dtmf_delay}"))
        callerid = f'"{name}" <{number}>' if name else number
        reply = await self.action(
            "Originate",
            *variables,
            Channel=f"Local/{did}@cb-inbound",
            Context="caller-sim",
            Exten="s",
            Priority="1",
            CallerID=callerid,
            Timeout="30000",
            Async="true",
            ChannelId=uid,
            OtherChannelId=f"{uid}-2",
        )
        assert reply.get("Response") == "Success", reply
        return uid

    async def set_global(self, name: str, value: str) -> None:
        """A dialplan global (Setvar without Channel): the kit's knobs such as AGENT_TALK_SECS
        are read as globals when the channel has none."""
        reply = await self.action("Setvar", Variable=name, Value=value)
        assert reply.get("Response") == "Success", reply

    async def hangup_all(self, deadline_s: float = 20) -> None:
        """Leave the PBX without any channel, for the next test."""
        end = time.monotonic() + deadline_s
        while True:
            chans = await self.channels()
            if not chans:
                return
            for c in chans:
                with contextlib.suppress(Exception):
                    await self.action("Hangup", Channel=c["Channel"])
            if time.monotonic() > end:
                raise AssertionError(f"channels left on the PBX: {[c['Channel'] for c in chans]}")
            await asyncio.sleep(0.3)
