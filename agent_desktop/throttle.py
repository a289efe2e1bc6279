"""Sign-in throttling per user name + address, and per address alone.

A few typos are free; after that each failure doubles the wait. Counting per user+address keeps
one guesser from locking a colleague out from another desk; the per-address limit stops one
machine spraying many user names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from crm_core.clock import Clock

FREE_FAILURES = 5
BASE_DELAY_S = 2.0
MAX_DELAY_S = 15 * 60.0
FORGET_AFTER_S = 30 * 60.0
PER_ADDRESS_FAILURES = 50

K = TypeVar("K")


@dataclass(slots=True)
class _Record:
    failures: int = 0
    last: float = 0.0
    blocked_until: float = 0.0


class LoginThrottle:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._by_key: dict[tuple[str, str], _Record] = {}
        self._by_addr: dict[str, _Record] = {}

    def retry_after(self, username: str, addr: str) -> float:
        """Seconds to wait before another attempt is accepted; 0 when allowed now."""
        now = self._clock.monotonic()
        waits = [0.0]
        for record in (self._by_key.get((username.lower(), addr)), self._by_addr.get(addr)):
            if record is not None:
                waits.append(record.blocked_until - now)
        return max(waits)

    def failed(self, username: str, addr: str) -> None:
        now = self._clock.monotonic()
        key = (username.lower(), addr)
        record = self._fresh(self._by_key, key, now)
        record.failures += 1
        record.last = now
        if record.failures > FREE_FAILURES:
            extra = record.failures - FREE_FAILURES - 1
            record.blocked_until = now + min(MAX_DELAY_S, BASE_DELAY_S * 2**extra)
        per_addr = self._fresh(self._by_addr, addr, now)
        per_addr.failures += 1
        per_addr.last = now
        if per_addr.failures > PER_ADDRESS_FAILURES:
            per_addr.blocked_until = now + MAX_DELAY_S

    def succeeded(self, username: str, addr: str) -> None:
        self._by_key.pop((username.lower(), addr), None)

    @staticmethod
    def _fresh(table: dict[K, _Record], key: K, now: float) -> _Record:
        record = table.get(key)
        if record is None or now - record.last > FORGET_AFTER_S:
            record = _Record()
            table[key] = record
        return record
