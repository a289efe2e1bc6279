"""Waiting on a condition instead of sleeping a fixed time: tests run on busy CI machines, where
a fixed sleep is sometimes too short. The deadline is generous because only a failure waits it
out; a passing test returns as soon as the condition holds."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

from crm_core.bus import InProcessBus

T = TypeVar("T")

DEADLINE_S = 20.0


async def eventually(
    condition: Callable[[], T | Awaitable[T]], within: float = DEADLINE_S, *, what: str = ""
) -> T:
    """Poll `condition` (a plain or an async function) until it returns something truthy, and
    return that. Fails with an AssertionError (naming `what`) if it never does within `within`
    seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if loop.time() >= deadline:
            raise AssertionError(f"not within {within:g} s: {what or condition}")
        await asyncio.sleep(0.01)


async def drained(bus: InProcessBus, subscriber: str, within: float = DEADLINE_S) -> None:
    """Wait until `subscriber` (e.g. the desktop hub, which applies bus events on its own task)
    has subscribed and taken every event published so far. A subscriber handles what it takes
    without awaiting in between, so when nothing is queued it has applied everything."""
    await eventually(lambda: bus.backlog().get(subscriber) == 0, within, what=f"{subscriber} idle")
