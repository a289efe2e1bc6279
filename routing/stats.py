"""Per-queue service-level counters, for today and for a sliding recent window.

Service level = calls answered within the target / (answered + abandoned after the short-abandon
threshold); quick hang-ups are usually misdials and would punish the queue unfairly.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo

WINDOW_S = 30 * 60.0
_KINDS = ("offered", "answered", "abandoned")  # a code is kind index * 2 + within
_COMPACT_AFTER = 1024  # expired entries dropped from the arrays' front in one go


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
        # The recent window's entries, oldest first from `_head`: times, waits and codes in
        # flat arrays (17 bytes an entry, not a ~130-byte tuple in a deque), because a window
        # holds every call of the last 30 minutes, thousands on a busy queue.
        self._times = array("d")
        self._waits = array("d")
        self._codes = bytearray()
        self._head = 0

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
        self._times.append(mono)
        self._waits.append(wait)
        self._codes.append(_KINDS.index(kind) * 2 + within)
        self._expire(mono)

    def window_entries(self) -> int:
        """Calls' entries held for the recent window (bounded by its length in time)."""
        return len(self._codes) - self._head

    def _expire(self, mono: float) -> None:
        horizon = mono - self._window_s
        times, head, end = self._times, self._head, len(self._times)
        while head < end and times[head] <= horizon:
            code = self._codes[head]
            self._recent.add(_KINDS[code >> 1], self._waits[head], bool(code & 1), sign=-1)
            head += 1
        if head == end:
            del self._times[:], self._waits[:], self._codes[:]
            self._head = 0
            self._recent = Tally()  # also resets longest_wait, which cannot be subtracted
            return
        if head >= _COMPACT_AFTER and head * 2 >= end:
            del self._times[:head], self._waits[:head], self._codes[:head]
            head = 0
        self._head = head

    def today(self, wall: datetime) -> Tally:
        if wall.astimezone(self._tz).date() != self._day:
            return Tally()
        return replace(self._today)

    def recent(self, mono: float) -> Tally:
        self._expire(mono)
        # longest wait is a maximum: recompute it over the window rather than subtract
        codes, waits = self._codes, self._waits
        longest = max(
            (waits[i] for i in range(self._head, len(codes)) if codes[i] >> 1), default=0.0
        )
        return replace(self._recent, longest_wait=longest)
