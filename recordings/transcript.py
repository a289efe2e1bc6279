"""What a recogniser hands back: words with times (seconds from the start of the file).

Plain data that crosses process boundaries (pickled from the workers) and is stored as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float
    end: float
    confidence: float
    channel: int = 0  # 0 for mixed recordings; in stereo ones, which side of the call spoke

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "confidence": round(self.confidence, 4),
            "channel": self.channel,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Word:
        return cls(
            text=str(data["text"]),
            start=float(data["start"]),
            end=float(data["end"]),
            confidence=float(data["confidence"]),
            channel=int(data.get("channel", 0)),
        )


@dataclass(frozen=True, slots=True)
class Pause:
    """An interval where the operator paused recording (e.g. while the debtor gave card data)."""

    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Transcript:
    engine: str
    language: str
    duration: float
    words: tuple[Word, ...]
    pauses: tuple[Pause, ...] = field(default=())

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)

    def with_pauses(self, pauses: tuple[Pause, ...]) -> Transcript:
        return Transcript(self.engine, self.language, self.duration, self.words, pauses)

    def lines(self) -> list[str]:
        """Readable lines, a `[recording paused m:ss-m:ss]` marker where the pause fell."""
        items: list[tuple[float, str]] = [(w.start, w.text) for w in self.words]
        items += [
            (p.start, f"[recording paused {_clock(p.start)}-{_clock(p.end)}]") for p in self.pauses
        ]
        out: list[str] = []
        current: list[str] = []
        for _, text in sorted(items, key=lambda item: item[0]):
            if text.startswith("[recording paused"):
                if current:
                    out.append(" ".join(current))
                    current = []
                out.append(text)
            else:
                current.append(text)
        if current:
            out.append(" ".join(current))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "language": self.language,
            "duration": round(self.duration, 3),
            "words": [w.to_dict() for w in self.words],
            "pauses": [[round(p.start, 3), round(p.end, 3)] for p in self.pauses],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        return cls(
            engine=str(data["engine"]),
            language=str(data["language"]),
            duration=float(data["duration"]),
            words=tuple(Word.from_dict(w) for w in data["words"]),
            pauses=tuple(Pause(float(a), float(b)) for a, b in data.get("pauses", [])),
        )


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"
