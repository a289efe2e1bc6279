"""Recording files on disk: where they go, whether they are sound, and joining paused parts.

Plain synchronous file work; the index runs it in a thread so the event loop never reads audio.
"""

from __future__ import annotations

import hashlib
import re
import wave
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import numpy as np

from recordings.audio import AudioError, Pcm, read_wav, write_wav
from recordings.events import Problem

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_FIELDS = ("date", "year", "month", "day", "queue", "campaign", "linkedid", "agent")


class LayoutError(ValueError):
    """The configured file layout template is unusable; the message names the template."""


def check_layout(layout: str) -> str:
    """Validate a layout such as "{date}/{queue}/{linkedid}.wav" once, at start-up."""
    if not layout.endswith(".wav"):
        raise LayoutError(f"recording layout {layout!r} must end in .wav")
    if "{linkedid}" not in layout:
        raise LayoutError(f"recording layout {layout!r} must contain {{linkedid}} to be unique")
    try:
        layout.format(**dict.fromkeys(_FIELDS, "x"))
    except (KeyError, IndexError, ValueError) as exc:
        raise LayoutError(
            f"recording layout {layout!r}: unknown or malformed field {exc}; "
            f"known fields: {', '.join(_FIELDS)}"
        ) from exc
    if layout.startswith("/") or ".." in PurePosixPath(layout).parts:
        raise LayoutError(f"recording layout {layout!r} must stay inside the recordings directory")
    return layout


def _safe(value: str) -> str:
    cleaned = _UNSAFE.sub("_", value).strip("._")
    return cleaned or "none"


def recording_path(
    layout: str,
    *,
    started_at: datetime,
    linkedid: str,
    queue: str = "",
    campaign: str = "",
    agent: str = "",
) -> str:
    """The file's path relative to the recordings directory (values made filesystem-safe)."""
    return check_layout(layout).format(
        date=started_at.strftime("%Y-%m-%d"),
        year=started_at.strftime("%Y"),
        month=started_at.strftime("%m"),
        day=started_at.strftime("%d"),
        queue=_safe(queue),
        campaign=_safe(campaign),
        linkedid=_safe(linkedid),
        agent=_safe(agent),
    )


def part_path(path: str, index: int) -> str:
    """The file of the index-th stretch between pauses: call.wav -> call.part2.wav."""
    if index == 1:
        return path
    stem = path.removesuffix(".wav")
    return f"{stem}.part{index}.wav"


def leg_path(part: str, side: str) -> str:
    """One side's file of a stereo recording part: call.wav -> call.rx.wav / call.tx.wav."""
    return f"{part.removesuffix('.wav')}.{side}.wav"


def is_stereo(path: Path) -> bool:
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnchannels() == 2
    except (OSError, wave.Error, EOFError):
        return False


def interleave_legs(rx: Path, tx: Path, target: Path) -> None:
    """Make a stereo part from MixMonitor's two leg files (the shorter one padded with
    silence), replacing the mixed file; the legs are removed once it is written."""
    legs = [read_wav(rx), read_wav(tx)]
    for leg, piece in zip((rx, tx), legs, strict=True):
        if piece.channel_count != 1 or piece.rate != legs[0].rate:
            raise AudioError(
                f"{leg}: {piece.rate} Hz x{piece.channel_count}, expected mono at {legs[0].rate} Hz"
            )
    length = max(piece.channels.shape[1] for piece in legs)
    stereo = np.zeros((2, length), dtype=np.int16)
    for side, piece in enumerate(legs):
        stereo[side, : piece.channels.shape[1]] = piece.channels[0]
    temporary = target.with_suffix(".stereo.wav")
    write_wav(temporary, Pcm(channels=stereo, rate=legs[0].rate))
    temporary.replace(target)
    rx.unlink()
    tx.unlink()


@dataclass(frozen=True, slots=True)
class FileCheck:
    problem: Problem | None
    detail: str
    size_bytes: int = 0
    duration_s: float = 0.0
    sha256: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_file(
    path: Path, expected_s: float | None, *, tolerance_s: float = 2.0, tolerance_ratio: float = 0.05
) -> FileCheck:
    """Is this a sound recording of about `expected_s` seconds? Hash it if so."""
    if not path.exists():
        return FileCheck(Problem.MISSING, f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        return FileCheck(Problem.EMPTY, f"{path}: file is empty (0 bytes)")
    try:
        with wave.open(str(path), "rb") as wav:
            frames, rate, width = wav.getnframes(), wav.getframerate(), wav.getsampwidth()
            channels = wav.getnchannels()
    except (wave.Error, EOFError) as exc:
        return FileCheck(Problem.BAD_HEADER, f"{path}: not a valid WAV file ({exc})", size)
    if width != 2 or rate <= 0:
        return FileCheck(
            Problem.BAD_HEADER, f"{path}: {8 * width}-bit at {rate} Hz, not 16-bit PCM", size
        )
    if frames == 0:
        return FileCheck(Problem.EMPTY, f"{path}: WAV header with no audio ({size} bytes)", size)
    duration = frames / rate
    if expected_s is not None:
        allowed = max(tolerance_s, tolerance_ratio * expected_s)
        if abs(duration - expected_s) > allowed:
            return FileCheck(
                Problem.TRUNCATED,
                f"{path}: {duration:.1f} s of audio for {expected_s:.1f} s of call "
                f"(allowed difference {allowed:.1f} s)",
                size,
                duration,
            )
    if channels not in (1, 2):
        return FileCheck(Problem.BAD_HEADER, f"{path}: {channels} channels", size, duration)
    return FileCheck(None, "ok", size, duration, sha256_of(path))


def join_parts(parts: list[Path], gaps_s: list[float], target: Path) -> None:
    """Join the parts recorded between pauses, with the paused time as silence, so word times
    in the transcript stay call times and the player's timeline matches the call.

    `gaps_s[i]` is the silence put after `parts[i]`. The parts are removed once the joined file
    is written."""
    if len(gaps_s) != len(parts) - 1:
        raise ValueError(f"{len(parts)} parts need {len(parts) - 1} gaps, got {len(gaps_s)}")
    pieces = [read_wav(part) for part in parts]
    rate, channels = pieces[0].rate, pieces[0].channel_count
    for part, piece in zip(parts, pieces, strict=True):
        if piece.rate != rate or piece.channel_count != channels:
            raise AudioError(
                f"{part}: {piece.rate} Hz x{piece.channel_count}, expected "
                f"{rate} Hz x{channels} like the first part"
            )
    arrays: list[np.ndarray] = []
    for index, piece in enumerate(pieces):
        arrays.append(piece.channels)
        if index < len(gaps_s):
            arrays.append(np.zeros((channels, round(gaps_s[index] * rate)), dtype=np.int16))
    temporary = target.with_suffix(".joining.wav")
    write_wav(temporary, Pcm(channels=np.concatenate(arrays, axis=1), rate=rate))
    temporary.replace(target)
    for part in parts:
        if part != target:
            part.unlink(missing_ok=True)
