"""The recogniser port: one call from audio to a word-timed transcript.

Every engine decodes one mono channel at its own rate; `transcribe` does what is common to all
of them (read the file, resample, decode each side of a stereo recording, merge by time).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from recordings.audio import Pcm, read_wav, resample
from recordings.transcript import Transcript, Word


class EngineError(RuntimeError):
    """The recogniser cannot run: missing model, unsupported language."""


class Engine(Protocol):
    name: str

    def transcribe(self, audio: Path | Pcm, language: str) -> Transcript: ...


class ChannelDecoder(Protocol):
    """What an engine implements: decode mono PCM at `rate` Hz into words."""

    name: str

    def rate(self, language: str) -> int: ...

    def decode(self, pcm: Pcm, language: str) -> list[Word]: ...


class DecoderEngine:
    """An Engine around a ChannelDecoder."""

    def __init__(self, decoder: ChannelDecoder) -> None:
        self._decoder = decoder
        self.name = decoder.name

    def transcribe(self, audio: Path | Pcm, language: str) -> Transcript:
        pcm = read_wav(audio) if isinstance(audio, Path) else audio
        target = resample(pcm, self._decoder.rate(language))
        words: list[Word] = []
        for index in range(target.channel_count):
            for word in self._decoder.decode(target.channel(index), language):
                words.append(_on_channel(word, index, pcm.duration))
        words.sort(key=lambda w: (w.start, w.channel))
        return Transcript(
            engine=self.name, language=language, duration=pcm.duration, words=tuple(words)
        )


def _on_channel(word: Word, channel: int, duration: float) -> Word:
    """Tag the side of the call and keep times and confidence inside their ranges."""
    start = min(max(word.start, 0.0), duration)
    end = min(max(word.end, start), duration)
    confidence = min(max(word.confidence, 0.0), 1.0)
    return Word(text=word.text, start=start, end=end, confidence=confidence, channel=channel)
