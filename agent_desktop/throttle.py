"""Sign-in throttling: a hard back-off per user name + address, a proportionate brake per address.

Per user name + client address: a few typos are free; after that each failure doubles the wait
(up to 15 minutes), and attempts are refused until it has passed. Counting per user+address
keeps one guesser from locking a colleague out from another desk.

Per client address: a whole contact center may sit behind one address (NAT, a proxy), so the
address is never locked out. After `address_failures` failures within 30 minutes, every further
attempt from it waits `address_delay_s` and attempts from it go one at a time: a machine
spraying many user names is slowed to one guess per delay, while a colleague typing the right
password still gets in (a little later). A success does not reset the address's count: an
insider with a valid account could otherwise reset it between rounds of guessing.

The client address is the peer's, unless the peer is one of `[web] trusted_proxies`: then it is
the right-most address in X-Forwarded-For that is not itself a trusted proxy.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from crm_core.clock import Clock

FREE_FAILURES = 5
BASE_DELAY_S = 2.0
MAX_DELAY_S = 15 * 60.0
FORGET_AFTER_S = 30 * 60.0
PER_ADDRESS_FAILURES = 50
ADDRESS_DELAY_S = 3.0
MAX_TRACKED = 100_000  # records kept at most; the stalest are forgotten first

K = TypeVar("K")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class _Record:
    failures: int = 0
    last: float = 0.0
    blocked_until: float = 0.0
    gate: asyncio.Lock = field(default_factory=asyncio.Lock)


class TrustedProxies:
    """Which peers' X-Forwarded-For is believed (none by default)."""

    def __init__(self, proxies: Iterable[str] = ()) -> None:
        self._networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(p, strict=False) for p in proxies
        )

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._networks)

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address: the peer, or behind trusted proxies the first untrusted hop
        from the right of X-Forwarded-For (the left part is whatever the client claimed)."""
        if not forwarded_for or not self.trusted(peer):
            return peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # a malformed chain: believe nothing of it
            if not self.trusted(hop):
                return hop
        return peer


class LoginThrottle:
    def __init__(
        self,
        clock: Clock,
        *,
        address_failures: int = PER_ADDRESS_FAILURES,
        address_delay_s: float = ADDRESS_DELAY_S,
    ) -> None:
        self._clock = clock
        self._address_failures = address_failures
        self.address_delay_s = address_delay_s
        self._by_key: dict[tuple[str, str], _Record] = {}
        self._by_addr: dict[str, _Record] = {}

    def retry_after(self, username: str, addr: str) -> float:
        """Seconds before this user may try again from this address; 0 when allowed now."""
        now = self._clock.monotonic()
        record = self._by_key.get((username.lower(), addr))
        if record is None or now - record.last > FORGET_AFTER_S:
            return 0.0
        return max(0.0, record.blocked_until - now)

    def address_braked(self, addr: str) -> bool:
        """Whether attempts from this address are past its limit (delayed, one at a time)."""
        record = self._by_addr.get(addr)
        if record is None or self._clock.monotonic() - record.last > FORGET_AFTER_S:
            return False
        return record.failures >= self._address_failures

    def gate(self, addr: str) -> asyncio.Lock:
        """Held around a braked address's attempt, so its attempts go one at a time."""
        return self._fresh(self._by_addr, addr, self._clock.monotonic(), keep=True).gate

    def failed(self, username: str, addr: str) -> None:
        now = self._clock.monotonic()
        record = self._fresh(self._by_key, (username.lower(), addr), now)
        record.failures += 1
        record.last = now
        if record.failures > FREE_FAILURES:
            extra = record.failures - FREE_FAILURES - 1
            record.blocked_until = now + min(MAX_DELAY_S, BASE_DELAY_S * 2**extra)
        per_addr = self._fresh(self._by_addr, addr, now)
        per_addr.failures += 1
        per_addr.last = now

    def succeeded(self, username: str, addr: str) -> None:
        self._by_key.pop((username.lower(), addr), None)

    def _fresh(self, table: dict[K, _Record], key: K, now: float, keep: bool = False) -> _Record:
        record = table.get(key)
        if record is None or (now - record.last > FORGET_AFTER_S and not record.gate.locked()):
            if keep and record is not None:
                record.failures, record.blocked_until = 0, 0.0
                return record
            if len(table) >= MAX_TRACKED:
                self._forget_stale(table, now)
            record = _Record(last=now)
            table[key] = record
        return record

    @staticmethod
    def _forget_stale(table: dict[K, _Record], now: float) -> None:
        for key in [k for k, r in table.items() if now - r.last > FORGET_AFTER_S]:
            del table[key]
        while len(table) >= MAX_TRACKED:  # still full: drop the oldest
            del table[next(iter(table))]
