"""AmiBridge end to end on real Asterisk bytes and a real SQLite database: every call reaches
the interaction log once, with its end, including calls that ended while the link was down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import select

from ami_bridge.events import CallEnded, CallStarted, Direction, EndReason, LegEnded
from ami_bridge.link import LinkState
from ami_bridge.resync import PbxResynced
from ami_bridge.service import ORPHAN_REASON, AmiBridge, InteractionWriter, LinkStatusChanged
from ami_bridge.switch import DialplanTarget, OriginateRequest
from ami_bridge.traces import Connection
from crm_core.bus import Event, InProcessBus
from crm_core.clock import ManualClock
from crm_core.db import Database
from crm_core.interactions import InteractionLog
from crm_core.models import Interaction
from tests.ami_bridge.trace_server import TraceServer, test_config, trace
from tests.waiting import eventually

CALLER = OriginateRequest(
    endpoint="Local/100@cb-hold",
    target=DialplanTarget("caller-sim", "s", 1),
    caller_id='"Alice Customer" <5551234>',
    variables={"HOLD_SECS": "16"},
)


class Run:
    def __init__(self, bridge: AmiBridge, server: TraceServer, bus: InProcessBus) -> None:
        self.bridge = bridge
        self.server = server
        self.seen = bus.subscribe("test-observer", maxsize=100_000)

    async def until(self, kind: type[Event], count: int = 1, within: float = 20.0) -> list[Event]:
        found: list[Event] = []
        async with asyncio.timeout(within):
            while len(found) < count:
                event = await self.seen.get()
                if isinstance(event, kind):
                    found.append(event)
        return found


@asynccontextmanager
async def bridged(db: Database, *scripts: Connection) -> AsyncIterator[Run]:
    server = TraceServer.of(scripts)
    port = await server.start()
    bus = InProcessBus()
    clock = ManualClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    bridge = AmiBridge(test_config(port), bus=bus, clock=clock, db=db)
    run = Run(bridge, server, bus)
    await bridge.start()
    try:
        await bridge.link.wait_up(10)
        yield run
    finally:
        await bridge.stop()
        await server.close()


async def rows(db: Database) -> list[Interaction]:
    async with db.session() as session:
        result = await session.execute(select(Interaction).order_by(Interaction.started_at))
        return list(result.scalars())


async def test_a_whole_traced_call_is_logged_once_with_its_end(sqlite_db: Database) -> None:
    """Trace 03. The agent leg Callboard originated (its own Linkedid until BridgeEnter, and
    the agent phone's half keeps it) is part of the caller's call, never an interaction."""
    async with bridged(sqlite_db, trace("03").connection("A")) as run:
        await run.until(PbxResynced)
        await run.bridge.switch.originate(CALLER)
        await run.bridge.switch.connect(
            "Local/100@cb-hold-00000000;2", "Local/agent1@cb-agents", caller_id=CALLER.caller_id
        )
        await run.until(CallEnded)
        await run.until(LegEnded)  # the agent phone's half, last to hang up
        status = run.bridge.status()
        assert status.link is LinkState.UP and status.last_error is None
        assert status.live_calls == 0 and status.events_failed == 0
    assert run.bridge.status().log_written > 10 and run.bridge.status().log_failed == 0
    logged = await rows(sqlite_db)
    assert [row.linkedid for row in logged] == ["1795444938.0"]  # no ghost for the agent leg
    caller = logged[0]
    assert caller.direction.value == "inbound" and caller.caller_number == "5551234"
    assert caller.answered_at and caller.connected_at and caller.ended_at
    assert caller.hangup_cause == 16 and caller.end_reason == "hangup"
    assert (caller.ended_at - caller.started_at).total_seconds() > 10
    steps = [t["what"] for t in caller.transitions]
    assert steps[:3] == ["started", "answered", "held"]
    assert "bridged" in steps and "joined" in steps
    assert all(row.ended_at is not None for row in logged)


async def test_call_that_ends_while_the_link_is_down_is_closed_on_resync(
    sqlite_db: Database,
) -> None:
    idle = trace("01").connection("A")  # the PBX after a restart: nothing live
    async with bridged(sqlite_db, trace("03").connection("A"), idle) as run:
        await run.until(PbxResynced)
        await run.bridge.switch.originate(CALLER)  # the caller is on hold now...
        assert list(run.bridge.tracker.calls) == ["1795444938.0"]
        run.server.drop()  # ...and the link drops
        (ended,) = await run.until(CallEnded)
        assert ended.reason is EndReason.LINK_DOWN and ended.linkedid == "1795444938.0"
        (summary,) = await run.until(PbxResynced)
        assert summary.session == 2 and summary.closed_calls == ("1795444938.0",)
        assert summary.live_calls == ()
    (row,) = await rows(sqlite_db)
    assert row.ended_at is not None and row.end_reason == "ended while AMI link was down"


async def test_resync_keeps_calls_the_pbx_still_has_trace_02(sqlite_db: Database) -> None:
    resync = trace("02")
    async with bridged(sqlite_db, resync.connection("A"), resync.connection("B")) as run:
        await run.until(PbxResynced)
        link = run.bridge.link
        await link.send("QueueAdd", [("Queue", "support")])
        for _ in range(3):
            await link.originate([("Channel", "x")], result_timeout=1)
        before = set(run.bridge.tracker.calls)
        run.server.drop()
        (summary,) = await run.until(PbxResynced)
        assert summary.closed_calls == ()
        # calls only (trace 02: 6 channels = 2 calls); agent1's phone keeps a Linkedid of its
        # own, a leg: not a live call, nor an orphan
        assert set(summary.live_calls) == before and len(before) == 2
        assert summary.live_legs == ("1795444923.2",)
        assert run.bridge.status().live_calls == 2
        assert summary.channels == 6
        assert [(m.queue, m.interface, m.paused) for m in summary.queue_members] == [
            ("support", "Local/agent1@agents", True)
        ]
        assert [(c.queue, c.caller_number) for c in summary.queue_callers] == [("sales", "5559876")]
    assert all(row.ended_at is None for row in await rows(sqlite_db))


async def test_calls_left_open_by_a_previous_run_are_closed(sqlite_db: Database) -> None:
    log = InteractionLog(sqlite_db)
    await log.call_started("1700000000.7", started_at=datetime(2026, 11, 22, tzinfo=UTC))
    async with bridged(sqlite_db, trace("01").connection("A")) as run:
        await run.until(PbxResynced)
    (row,) = await rows(sqlite_db)
    assert row.end_reason == ORPHAN_REASON and row.ended_at is not None


async def test_link_states_are_published_and_stop_leaves_no_task(sqlite_db: Database) -> None:
    before = asyncio.all_tasks()
    async with bridged(sqlite_db, trace("01").connection("A")) as run:
        (status,) = await run.until(LinkStatusChanged)
        assert status.state is LinkState.CONNECTING
        (status,) = await run.until(LinkStatusChanged)
        assert status.state is LinkState.UP
    assert asyncio.all_tasks() == before


async def test_writer_that_falls_behind_starts_again_from_live_events(sqlite_db: Database) -> None:
    bus = InProcessBus()
    writer = InteractionWriter(
        InteractionLog(sqlite_db), sqlite_db, close_orphans=False, queue_limit=3
    )
    ready = asyncio.Event()
    task = asyncio.create_task(writer.run(bus, ready))
    await ready.wait()
    at = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    first = writer.subscription
    for n in range(10):  # a burst the writer cannot take: its subscription overflows
        bus.publish(started(f"burst.{n}", at))
    await eventually(lambda: writer.subscription is not first, what="subscribed again")
    bus.publish(started("after.1", at))

    async def logged_after() -> bool:
        return "after.1" in {row.linkedid for row in await rows(sqlite_db)}

    await eventually(logged_after, what="the live event after the overflow written")
    assert writer.subscription is not None
    bus.unsubscribe(writer.subscription)
    await asyncio.wait_for(task, 10)
    logged = {row.linkedid for row in await rows(sqlite_db)}
    assert "after.1" in logged, "the writer went on after the overflow"
    assert len(logged) < 11, "what overflowed was dropped, not written"


def started(linkedid: str, at: datetime) -> CallStarted:
    return CallStarted(
        linkedid=linkedid,
        at=at,
        channel=f"PJSIP/trunk-{linkedid}",
        uniqueid=linkedid,
        caller_number="5551234",
        caller_name=None,
        context="cb-inbound",
        exten="100",
        direction=Direction.INBOUND,
    )
