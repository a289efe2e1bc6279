"""A log line written deep inside the handling of a call event carries the call's Linkedid
without anyone passing `extra`: the ACD binds the event's call while it handles it, and the
ringer's tasks started then inherit it."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ami_bridge.errors import AmiError
from ami_bridge.events import CallEnded, EndReason, LegStarted
from ami_bridge.switch import OriginateRequest, OriginateResult
from crm_core.bus import InProcessBus
from crm_core.clock import ManualClock
from crm_core.logcontext import contextual
from routing.acd import Acd
from routing.queues import QueueConfig
from routing.service import AcdService

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class RingingSwitch:
    """The agent's phone rings forever; hanging the leg up fails (it went by itself)."""

    def __init__(self) -> None:
        self.originated: asyncio.Queue[OriginateRequest] = asyncio.Queue()
        self.hangup_tried = asyncio.Event()

    async def originate(self, request: OriginateRequest) -> OriginateResult:
        await self.originated.put(request)
        await asyncio.Event().wait()
        raise AssertionError("never answered")

    async def hangup(self, channel: str) -> None:
        self.hangup_tried.set()  # the ringer logs the failure before this test's task resumes
        raise AmiError(f"no such channel {channel}")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = contextual(logging.StreamHandler(out), "json")
    logger = logging.getLogger("routing")
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.DEBUG
    yield out
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_the_ringers_log_line_carries_the_call_it_handles(json_log: io.StringIO) -> None:
    clock = ManualClock(T0)
    bus = InProcessBus()
    switch = RingingSwitch()
    service = AcdService(
        Acd(clock, [QueueConfig(name="main")]),
        bus=bus,
        switch=switch,  # type: ignore[arg-type]
        clock=clock,
    )
    await service.start()
    try:
        service.acd.login("7", "Local/agent1@cb-agents", {})
        service.enqueue(linkedid="L1", queue="main", caller_channel="Local/100@cb-hold;2")
        request = await asyncio.wait_for(switch.originated.get(), 5)
        assert request.channel_id is not None
        leg = "Local/agent1@cb-agents-00000001;1"
        started = LegStarted(
            linkedid="L-leg", at=T0, channel=leg, uniqueid=request.channel_id, role="leg"
        )
        bus.publish(started)
        bus.publish(  # the caller hangs up while the agent's phone rings
            CallEnded(
                linkedid="L1",
                at=T0,
                cause=16,
                cause_text="Normal Clearing",
                duration_s=5.0,
                talk_s=0.0,
                reason=EndReason.HANGUP,
            )
        )
        await asyncio.wait_for(switch.hangup_tried.wait(), 5)
    finally:
        await service.stop()
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    (hangup,) = (line for line in lines if line["message"].startswith("agent leg hangup"))
    assert hangup["logger"] == "routing.ringing"
    assert hangup["linkedid"] == "L1"
