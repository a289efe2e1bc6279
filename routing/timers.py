"""Deadlines of the ACD (overflow steps, callback offers, sticky ends, wrap-up ends).

A heap of (due, kind, key, version); the owner decides on pop whether an entry is still current,
so rescheduling never has to find and remove the old entry.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator


class Timers:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, str, int]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, due: float, kind: str, key: str, version: int = 0) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), kind, key, version))

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> Iterator[tuple[float, str, str, int]]:
        """Entries due by `now`, earliest first; entries scheduled meanwhile are seen too."""
        while self._heap and self._heap[0][0] <= now:
            due, _, kind, key, version = heapq.heappop(self._heap)
            yield due, kind, key, version
