"""MixMonitor: real 8 kHz 16-bit mono WAV files whose length is the recorded call time.

The audio is a quiet 440 Hz tone: enough for a player, a duration check or a transcriber smoke
test. Files are written off the event loop when the recording stops or the channel hangs up
(Asterisk closes the file silently on hangup: no MixMonitorStop then).
"""

from __future__ import annotations

import asyncio
import math
import random
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

from pbx_sim.ami.framing import Action
from pbx_sim.ami.server import AmiServer, Session
from pbx_sim.channel import Channel
from pbx_sim.runtime import Runtime

RATE = 8000
_SECOND = b"".join(
    struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * n / RATE))) for n in range(RATE)
)


def write_wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = max(int(seconds * RATE), 0)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        whole, rest = divmod(frames, RATE)
        for _ in range(whole):
            wav.writeframes(_SECOND)
        wav.writeframes(_SECOND[: rest * 2])


@dataclass
class Recording:
    id: str
    channel: Channel
    path: Path
    started: float


class Recorder:
    def __init__(self, server: AmiServer, runtime: Runtime) -> None:
        self.rt = runtime
        self.active: dict[str, Recording] = {}
        self.finished: list[tuple[Path, float]] = []
        self.writes: set[asyncio.Task[None]] = set()
        server.handlers["mixmonitor"] = self.mixmonitor
        server.handlers["stopmixmonitor"] = self.stopmixmonitor
        runtime.world.listeners.append(self._on_event)

    async def mixmonitor(self, s: Session, a: Action) -> None:
        w = self.rt.world
        if not a.get("Channel"):
            s.error(a, "No channel specified")
            return
        ch = w.find(a.get("Channel"))
        if ch is None:
            s.error(a, "No such channel")
            return
        if not a.get("File"):
            s.error(a, "Could not start monitoring channel")
            return
        rec_id = f"0x{random.getrandbits(44):012x}"
        self.active[rec_id] = Recording(rec_id, ch, Path(a.get("File")), w.clock.now())
        options = a.get("Options")
        var = ""
        if "i(" in options:
            var = options.split("i(", 1)[1].split(")", 1)[0]
        if var:
            s.respond(a, "Success", None, ("MixMonitorID", rec_id))
        else:
            s.respond(a, "Success")
        w.set_var(ch, "MIXMONITOR_FILENAME", a.get("File"))
        if var:
            w.set_var(ch, var, rec_id)
        w.chan_event("MixMonitorStart", ch)
        if ch.bridge is not None:
            w.refresh_bridgepeer(ch.bridge)

    async def stopmixmonitor(self, s: Session, a: Action) -> None:
        w = self.rt.world
        if not a.get("Channel"):
            s.error(a, "No channel specified")
            return
        ch = w.find(a.get("Channel"))
        if ch is None:
            s.error(a, "No such channel")
            return
        wanted = a.get("MixMonitorID")
        recs = [
            r for r in self.active.values() if r.channel is ch and (not wanted or r.id == wanted)
        ]
        if not recs:
            s.error(a, "Could not stop monitoring channel")
            return
        s.respond(a, "Success")
        for rec in recs:
            self._close(rec)
        w.chan_event("MixMonitorStop", ch)
        if ch.bridge is not None:
            w.refresh_bridgepeer(ch.bridge)

    def _on_event(self, event: str, headers: list[tuple[str, str]]) -> None:
        if event != "Hangup":
            return
        name = next((v for k, v in headers if k == "Channel"), "")
        for rec in [r for r in self.active.values() if r.channel.name == name]:
            self._close(rec)

    def _close(self, rec: Recording) -> None:
        self.active.pop(rec.id, None)
        seconds = self.rt.world.clock.now() - rec.started
        self.finished.append((rec.path, seconds))
        task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(write_wav, rec.path, seconds)
        )
        self.writes.add(task)
        task.add_done_callback(self.writes.discard)

    async def flush(self) -> None:
        """Wait for every WAV being written (tests, shutdown)."""
        if self.writes:
            await asyncio.gather(*self.writes, return_exceptions=True)
