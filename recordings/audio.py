"""Telephone audio as the recognisers need it: 16-bit PCM, one channel, the model's rate.

Asterisk writes 8 kHz WAV; the models were trained at 16 kHz. The resampler is a polyphase
windowed-sinc filter on numpy (audioop is gone from Python 3.13, and linear interpolation
leaves aliasing that costs recognition accuracy).
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]


class AudioError(ValueError):
    """A recording cannot be read as 16-bit PCM WAV; the message names the file and why."""


@dataclass(frozen=True, slots=True)
class Pcm:
    """Mono or multichannel 16-bit PCM. `channels` is a (channels, frames) int16 array."""

    channels: Samples
    rate: int

    @property
    def duration(self) -> float:
        frames: int = self.channels.shape[1]
        return frames / self.rate

    @property
    def channel_count(self) -> int:
        return int(self.channels.shape[0])

    @classmethod
    def mono(cls, samples: bytes | Samples, rate: int) -> Pcm:
        array = np.frombuffer(samples, dtype="<i2") if isinstance(samples, bytes) else samples
        return cls(channels=array.astype(np.int16, copy=False).reshape(1, -1), rate=rate)

    def channel(self, index: int) -> Pcm:
        return Pcm(channels=self.channels[index : index + 1], rate=self.rate)

    def mixed(self) -> Pcm:
        """All channels summed into one (what a mixed MixMonitor file would have held)."""
        if self.channel_count == 1:
            return self
        total = self.channels.astype(np.int32).sum(axis=0)
        return Pcm.mono(np.clip(total, -32768, 32767).astype(np.int16), self.rate)

    def pcm_bytes(self) -> bytes:
        """Little-endian samples of a mono signal, as recogniser APIs take them."""
        if self.channel_count != 1:
            raise ValueError(f"expected mono audio but got {self.channel_count} channels")
        pcm: bytes = self.channels[0].astype("<i2", copy=False).tobytes()
        return pcm


def read_wav(path: Path) -> Pcm:
    """Read a 16-bit PCM WAV file; anything else raises AudioError naming the file."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, count, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"{path}: not a valid WAV file ({exc})") from exc
    if width != 2:
        raise AudioError(f"{path}: expected 16-bit samples but got {8 * width}-bit")
    usable = len(frames) - len(frames) % (2 * count)
    interleaved = np.frombuffer(frames[:usable], dtype="<i2").astype(np.int16)
    return Pcm(channels=interleaved.reshape(-1, count).T.copy(), rate=rate)


def write_wav(path: Path, pcm: Pcm) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(pcm.channel_count)
        wav.setsampwidth(2)
        wav.setframerate(pcm.rate)
        wav.writeframes(pcm.channels.T.astype("<i2").tobytes())


@lru_cache(maxsize=16)
def _lowpass(
    up: int, down: int, half_width: int = 12, beta: float = 6.0
) -> npt.NDArray[np.float64]:
    """Kaiser-windowed sinc at the narrower of the two Nyquist limits, in the upsampled domain."""
    step = max(up, down)
    taps = 2 * half_width * step + 1
    n = np.arange(taps) - (taps - 1) / 2
    cutoff = 1.0 / step  # fraction of the upsampled Nyquist frequency
    kernel: npt.NDArray[np.float64] = cutoff * np.sinc(cutoff * n) * np.kaiser(taps, beta)
    return kernel


def resample(pcm: Pcm, rate: int) -> Pcm:
    """Polyphase rational resampling of every channel to `rate`."""
    if rate <= 0:
        raise ValueError(f"target rate must be positive, got {rate}")
    if pcm.rate == rate:
        return pcm
    common = math.gcd(pcm.rate, rate)
    up, down = rate // common, pcm.rate // common
    h = _lowpass(up, down) * up
    delay = (len(h) - 1) // 2
    frames = pcm.channels.shape[1]
    out_len = -(-frames * up // down)
    # Output k sits at upsampled index t = k*down + delay; only taps h[t % up + j*up] meet
    # non-zero input, so each phase is one short convolution over the original samples.
    t = np.arange(out_len) * down + delay
    phase, base = t % up, t // up
    result = np.zeros((pcm.channel_count, out_len))
    for p in range(up):
        picks = phase == p
        if not picks.any():
            continue
        for c in range(pcm.channel_count):
            convolved = np.convolve(pcm.channels[c].astype(np.float64), h[p::up])
            idx = base[picks]
            valid = idx < len(convolved)
            column = np.zeros(idx.shape)
            column[valid] = convolved[idx[valid]]
            result[c, picks] = column
    clipped = np.clip(np.rint(result), -32768, 32767).astype(np.int16)
    return Pcm(channels=clipped, rate=rate)
