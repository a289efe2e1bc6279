"""The simulator's own time source and scheduler (pbx_sim imports nothing of ours).

Everything in the simulated PBX waits through a `SimClock`, so the same world runs in real time
for the demo and in virtual time for tests and benchmarks (a shift in seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class SimClock(Protocol):
    def now(self) -> float:
        """Epoch seconds (used for Timestamp, Uniqueid, Cdr times)."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...

    async def sleep(self, delay: float) -> None: ...

    def touch(self) -> None:
        """Note outside activity (an AMI action arrived); a virtual clock then waits a little."""
        ...

    def busy(self) -> contextlib.AbstractContextManager[None]:
        """While inside, a peer is working for us (a FastAGI server choosing its next
        command): a virtual clock does not jump meanwhile."""
        ...


class RealClock:
    """Wall-clock time on the running event loop."""

    def now(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(delay, 0.0))

    def touch(self) -> None:
        return None

    def busy(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class _VirtualTimer:
    __slots__ = ("callback", "cancelled", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Virtual time: moves only by `advance()` or, once `start()`ed, jumps to the next timer
    whenever the loop has been idle for `idle_grace` real seconds.

    The grace lets a client on the other end of a TCP socket react to what it just received
    before time jumps on; `touch()` (called on every AMI action) restarts the grace period.
    """

    def __init__(self, start: float | None = None, idle_grace: float = 0.01) -> None:
        self._now = time.time() if start is None else start
        self._heap: list[tuple[float, int, _VirtualTimer]] = []
        self._seq = itertools.count()
        self._activity = 0
        self.idle_grace = idle_grace
        self.busy_limit = 2.0  # real seconds a busy peer may hold time still
        self._busy = 0
        self._driver: asyncio.Task[None] | None = None

    def now(self) -> float:
        return self._now

    def touch(self) -> None:
        self._activity += 1

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            self._activity += 1

    def call_later(self, delay: float, callback: Callable[[], None]) -> _VirtualTimer:
        timer = _VirtualTimer(self._now + max(delay, 0.0), callback)
        heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer))
        return timer

    async def sleep(self, delay: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        timer = self.call_later(delay, wake)
        try:
            await fut
        finally:
            timer.cancel()

    def next_deadline(self) -> float | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    async def _settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Run every timer due in the next `seconds`, in order, letting the loop settle after
        each one (so a timer's consequences happen before the next timer)."""
        target = self._now + seconds
        await self._settle()
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > target:
                break
            self._fire_next()
            await self._settle()
        self._now = max(self._now, target)
        await self._settle()

    def _fire_next(self) -> None:
        """Fire every timer due at the earliest deadline."""
        deadline = self.next_deadline()
        while self._heap and self._heap[0][0] <= (deadline or 0.0):
            _, _, timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                self._now = max(self._now, timer.deadline)
                timer.callback()

    async def run_until_idle(self, limit: float = 86400.0) -> None:
        """Fire timers until none is left (or `limit` virtual seconds have passed)."""
        end = self._now + limit
        while (deadline := self.next_deadline()) is not None and deadline <= end:
            await self.advance(deadline - self._now)

    def start(self) -> None:
        """Let time jump on by itself whenever nothing has happened for `idle_grace`."""
        if self._driver is None:
            self._driver = asyncio.get_running_loop().create_task(self._drive())

    async def stop(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            try:
                await self._driver
            except asyncio.CancelledError:
                pass
            self._driver = None

    async def _drive(self) -> None:
        busy_since: float | None = None
        while True:
            seen = self._activity
            await asyncio.sleep(self.idle_grace)
            if seen != self._activity:
                continue
            if self._busy:
                busy_since = busy_since or time.monotonic()
                if time.monotonic() - busy_since < self.busy_limit:
                    continue
            busy_since = None
            deadline = self.next_deadline()
            if deadline is None:
                continue
            self._fire_next()
            await self._settle()
