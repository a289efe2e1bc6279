"""Helpers for the routing tests: an ACD on a manual clock, and a driver for offers."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from crm_core.clock import ManualClock
from routing.acd import Acd, Offer
from routing.queues import QueueConfig


class Desk:
    """Drives an Acd the way the service does, with time moved by hand."""

    def __init__(self, clock: ManualClock, queues: Iterable[QueueConfig]) -> None:
        self.clock = clock
        self.acd = Acd(clock, queues)

    def login(
        self, agent_id: str, skills: dict[str, int] | None = None, paused: str | None = None
    ) -> None:
        self.acd.login(agent_id, f"Local/{agent_id}@cb-agents", skills or {}, paused_reason=paused)

    def enqueue(
        self,
        linkedid: str,
        queue: str = "main",
        *,
        priority: int = 0,
        skills: dict[str, int] | None = None,
        sticky_agent: str | None = None,
    ) -> None:
        self.acd.enqueue(
            linkedid,
            queue,
            caller_channel=f"Local/100@cb-hold-{linkedid};2",
            caller_number="5551234",
            priority=priority,
            skills=skills,
            sticky_agent=sticky_agent,
        )

    def wait(self, seconds: float) -> None:
        """Let time pass, firing every timer on the way in order."""
        end = self.clock.monotonic() + seconds
        while (due := self.acd.next_deadline()) is not None and due <= end:
            self.clock.advance(max(0.0, due - self.clock.monotonic()))
            self.acd.advance()
        self.clock.advance(end - self.clock.monotonic())
        self.acd.advance()

    def offers(self) -> list[tuple[str, str]]:
        return [(o.agent_id, o.linkedid) for o in self.acd.take_offers()]

    def take_offers(self) -> list[Offer]:
        return self.acd.take_offers()

    def connect(self, linkedid: str) -> None:
        self.acd.ringing(linkedid)
        self.acd.answered(linkedid)

    def state(self, agent_id: str) -> str:
        return self.acd.agent(agent_id).state.value


@pytest.fixture
def desk_factory(clock: ManualClock):
    def make(*queues: QueueConfig) -> Desk:
        return Desk(clock, queues or (QueueConfig(name="main"),))

    return make
