"""Waiting on a condition instead of sleeping a fixed time: tests run on busy CI machines, where
a fixed sleep is sometimes too short. The deadline is generous because only a failure waits it
out; a passing test returns as soon as the condition holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE_S = 20.0


async def eventually(
    condition: Callable[[], T], within: float = DEADLINE_S, *, what: str = ""
) -> T:
    """Poll `condition` until it returns something truthy, and return that. Fails with an
    AssertionError (naming `what`) if it never does within `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = condition()
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"not within {within:g} s: {what or condition}")
        await asyncio.sleep(0.01)
