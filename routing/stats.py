"""Per-queue service-level counters, for today and for a sliding recent window.

Service level = calls answered within the target / (answered + abandoned after the short-abandon
threshold); quick hang-ups are usually misdials and would punish the queue unfairly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo

WINDOW_S = 30 * 60.0


@dataclass(slots=True)
class Tally:
    offered: int = 0
    answered: int = 0
    answered_within_target: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answer_wait_total: float = 0.0
    longest_wait: float = 0.0  # of answered and abandoned calls

    def service_level(self) -> float | None:
        """In percent; None while no call counts."""
        counted = self.answered + self.abandoned - self.short_abandoned
        return 100.0 * self.answered_within_target / counted if counted else None

    def asa(self) -> float | None:
        return self.answer_wait_total / self.answered if self.answered else None

    def add(self, kind: str, wait: float, within: bool, sign: int = 1) -> None:
        if kind == "offered":
            self.offered += sign
            return
        if kind == "answered":
            self.answered += sign
            self.answer_wait_total += sign * wait
            self.answered_within_target += sign * within
        else:
            self.abandoned += sign
            self.short_abandoned += sign * within
        if sign > 0:
            self.longest_wait = max(self.longest_wait, wait)


class QueueStatistics:
    """`within` means 'answered within target' for answers and 'short' for abandons."""

    def __init__(
        self, target_s: float, short_abandon_s: float, tz: tzinfo, window_s: float = WINDOW_S
    ) -> None:
        self.target_s = target_s
        self.short_abandon_s = short_abandon_s
        self._tz = tz
        self._window_s = window_s
        self._day: date | None = None
        self._today = Tally()
        self._recent = Tally()
        self._log: deque[tuple[float, str, float, bool]] = deque()

    def record_offered(self, mono: float, wall: datetime) -> None:
        self._record(mono, wall, "offered", 0.0, False)

    def record_answered(self, mono: float, wall: datetime, wait: float) -> None:
        self._record(mono, wall, "answered", wait, wait <= self.target_s)

    def record_abandoned(self, mono: float, wall: datetime, wait: float) -> None:
        self._record(mono, wall, "abandoned", wait, wait < self.short_abandon_s)

    def _record(self, mono: float, wall: datetime, kind: str, wait: float, within: bool) -> None:
        day = wall.astimezone(self._tz).date()
        if day != self._day:
            self._day = day
            self._today = Tally()
        self._today.add(kind, wait, within)
        self._recent.add(kind, wait, within)
        self._log.append((mono, kind, wait, within))
        self._expire(mono)

    def _expire(self, mono: float) -> None:
        horizon = mono - self._window_s
        while self._log and self._log[0][0] <= horizon:
            _, kind, wait, within = self._log.popleft()
            self._recent.add(kind, wait, within, sign=-1)
        if not self._log:
            self._recent = Tally()  # also resets longest_wait, which cannot be subtracted

    def today(self, wall: datetime) -> Tally:
        if wall.astimezone(self._tz).date() != self._day:
            return Tally()
        return replace(self._today)

    def recent(self, mono: float) -> Tally:
        self._expire(mono)
        # longest wait is a maximum: recompute it over the window rather than subtract
        longest = max((w for _, k, w, _ in self._log if k != "offered"), default=0.0)
        return replace(self._recent, longest_wait=longest)
