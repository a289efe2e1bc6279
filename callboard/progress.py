"""A terminal progress bar for long commands (imports, demo data, backlogs, backups)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._interactive = self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        if not finished and now - self._last_draw < (0.1 if self._interactive else 5.0):
            return
        self._last_draw = now
        fraction = min(1.0, done / total) if total else 1.0
        filled = int(fraction * self.width)
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 and not finished else 0.0
        line = (
            f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
            f"{done:,}/{total:,} {fraction:6.1%} {rate:,.0f}/s eta {eta:4.0f}s"
        )
        end = "\n" if finished or not self._interactive else ""
        self.stream.write(("\r" if self._interactive else "") + line + end)
        self.stream.flush()
