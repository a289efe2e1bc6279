"""The event bus: typed events from one publisher to many subscribers.

The publisher is usually the AMI reader, which must never wait for a slow consumer. So
`publish` never blocks: every subscriber has its own bounded queue, and when that queue is full
the subscriber's overflow policy decides what is lost; every loss is counted on the subscription.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every domain event. Subclasses are frozen dataclasses with plain-data fields."""


class Overflow(enum.Enum):
    DROP_OLDEST = "drop_oldest"  # live views: the newest state matters most
    DROP_NEWEST = "drop_newest"  # keep history already queued, refuse what comes on top
    FAIL = "fail"  # the subscriber is closed with an error: it must resync from storage


class SubscriberOverflow(RuntimeError):
    """A FAIL-policy subscriber fell too far behind; it must rebuild its state from storage."""


@dataclass(slots=True)
class SubscriptionStats:
    delivered: int = 0
    dropped: int = 0


@dataclass(eq=False)
class Subscription:
    name: str
    types: tuple[type[Event], ...]
    maxsize: int
    overflow: Overflow
    stats: SubscriptionStats = field(default_factory=SubscriptionStats)
    _items: deque[Event] = field(default_factory=deque)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: bool = False
    _failed: bool = False

    def wants(self, event: Event) -> bool:
        return not self.types or isinstance(event, self.types)

    def offer(self, event: Event) -> None:
        if self._closed:
            return
        if len(self._items) >= self.maxsize:
            self.stats.dropped += 1
            if self.overflow is Overflow.DROP_NEWEST:
                return
            if self.overflow is Overflow.FAIL:
                log.error(
                    "subscriber %s overflowed (%d queued); closing it", self.name, len(self._items)
                )
                self._failed = True
                self.close()
                return
            self._items.popleft()
        self._items.append(event)
        self._wakeup.set()

    def get_nowait(self) -> Event | None:
        if not self._items:
            return None
        self.stats.delivered += 1
        return self._items.popleft()

    async def get(self) -> Event:
        """The next event; raises StopAsyncIteration once closed and drained."""
        while not self._items:
            if self._failed:
                raise SubscriberOverflow(f"subscriber {self.name} overflowed")
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        self.stats.delivered += 1
        return self._items.popleft()

    def pending(self) -> int:
        return len(self._items)

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.get()


class Bus(Protocol):
    """The port every bus implementation (in-process now, Redis Streams for scale-out) fills."""

    def publish(self, event: Event) -> None: ...

    def subscribe(
        self,
        name: str,
        *types: type[Event],
        maxsize: int = 10_000,
        overflow: Overflow = Overflow.DROP_OLDEST,
    ) -> Subscription: ...

    def unsubscribe(self, subscription: Subscription) -> None: ...


class InProcessBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self.published = 0

    def publish(self, event: Event) -> None:
        self.published += 1
        for subscription in self._subscriptions:
            if subscription.wants(event):
                subscription.offer(event)

    def subscribe(
        self,
        name: str,
        *types: type[Event],
        maxsize: int = 10_000,
        overflow: Overflow = Overflow.DROP_OLDEST,
    ) -> Subscription:
        if maxsize < 1:
            raise ValueError(f"subscriber {name}: maxsize must be at least 1, got {maxsize}")
        subscription = Subscription(name=name, types=types, maxsize=maxsize, overflow=overflow)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def stats(self) -> dict[str, SubscriptionStats]:
        return {s.name: s.stats for s in self._subscriptions}

    def backlog(self) -> dict[str, int]:
        """Events queued and not yet taken, per subscriber name."""
        queued: dict[str, int] = {}
        for s in self._subscriptions:
            queued[s.name] = queued.get(s.name, 0) + s.pending()
        return queued

    def close(self) -> None:
        for subscription in list(self._subscriptions):
            self.unsubscribe(subscription)
