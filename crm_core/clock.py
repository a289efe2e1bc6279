"""Time as an injected dependency, so decision logic can run in virtual time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC wall-clock time."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences are meaningful."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to: tests and virtual-time simulations."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        if self._start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._elapsed = 0.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back (advance by {seconds})")
        self._elapsed += seconds

    def set(self, when: datetime) -> None:
        self.advance((when - self.now()).total_seconds())
