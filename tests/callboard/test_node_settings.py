"""Stored settings the node must obey, as `callboard serve` wires it against pbx_sim over TCP:
a queue's recording rule (read when each call connects, so an admin's change applies to the
next call), and the daily retention purge of old recordings, on an injected clock."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from agent_desktop.acd_adapter import RoutingAgentControl
from ami_bridge.events import CallEnded
from callboard.demo import DEMO_FLOWS
from callboard.node import start_node
from crm_core.clock import SystemClock
from crm_core.config import load_settings
from crm_core.db import Database
from crm_core.models import AuditEntry, QueueDefinition
from pbx_sim import AgentPhone, Caller, PbxSim, SimConfig, kit_user
from recordings.retention import FIRST_PURGE_AFTER_S, RetentionJob
from recordings.tables import Recording, RecordingStatus
from routing.events import AgentStateChanged, CallConnected
from tests.callboard.test_node_e2e import Observer, free_port, seed
from tests.waiting import eventually


class ShiftedClock:
    """The system's time, moved ahead when the test says so: the node runs in real time, and
    a jump makes its daily jobs due."""

    def __init__(self) -> None:
        self._real = SystemClock()
        self.offset = 0.0

    def now(self) -> datetime:
        return self._real.now() + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return self._real.monotonic() + self.offset


async def recording_of(node, linkedid: str) -> Recording | None:
    async with node.db.session() as s:
        return (
            await s.execute(select(Recording).where(Recording.linkedid == linkedid))
        ).scalar_one_or_none()


async def one_call(node, sim: PbxSim, seen: Observer, agent: str) -> str:
    """A debtor calls the collections queue, talks to the operator, hangs up; the operator is
    Ready again. Returns the call's linkedid."""
    call = sim.place_inbound_call(Caller(number="+12125550142", patience=60))
    await seen.until(CallConnected, lambda e: e.linkedid == call.linkedid)
    await seen.until(CallEnded, lambda e: e.linkedid == call.linkedid)
    seen.history.clear()  # the next call's waits must see the next call's states
    await seen.until(AgentStateChanged, lambda e: e.agent_id == agent and str(e.state) == "ready")
    return call.linkedid


async def checked(job: RetentionJob) -> None:
    """A few more checks of the node's retention loop (not a sleep): a due purge would have run."""
    checks = job.checks
    await eventually(lambda: job.checks >= checks + 3, what="retention checks")


async def test_the_queue_recording_rule_and_the_retention_purge(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cb.db'}"
    operator_id = await seed(url)
    agent = str(operator_id)
    agi_port = free_port()
    sim = PbxSim(
        SimConfig(
            users={"callboard": kit_user("s3cret")}, agi_url=f"agi://127.0.0.1:{agi_port}/inbound"
        )
    )
    sim.add_agent_phone("agent1", AgentPhone(ring_secs=0.3, talk_secs=1.5))
    await sim.start()
    settings = load_settings(None, environ={})
    settings = replace(
        settings,
        database=replace(settings.database, url=url),
        center=replace(settings.center, default_region="US", timezone="America/New_York"),
        ami=replace(settings.ami, port=sim.ami_port, username="callboard", secret="s3cret"),
        agi=replace(
            settings.agi, port=agi_port, flows_dir=str(DEMO_FLOWS), default_queue="collections"
        ),
        web=replace(settings.web, port=free_port()),
        routing=replace(settings.routing, wrap_up_s=1),
        recordings=replace(
            settings.recordings, directory=str(tmp_path / "recordings"), retention_days=30
        ),
    )
    async with AsyncExitStack() as stack:
        # stored by an admin before the start: this queue is never recorded
        db = await Database.open(url)
        async with db.session() as s:
            await s.execute(
                update(QueueDefinition)
                .where(QueueDefinition.name == "collections")
                .values(recording="never")
            )
            await s.commit()
        await db.close()

        stack.push_async_callback(sim.stop)
        clock = ShiftedClock()
        node = await start_node(settings, stack, clock=clock, retention_poll_s=0.05)
        seen = Observer(node.bus.subscribe("test", maxsize=100_000))
        await RoutingAgentControl(node.acd, node.db).login(agent)

        never = await one_call(node, sim, seen, agent)
        # Not the check (that is below, once the next call's recording is stored: calls are
        # handled in order, so that recording proves this call's connect was seen and not
        # recorded). Without this pause the next call, placed at once, never ends: to be found.
        await asyncio.sleep(1.0)

        # the admin changes the rule while the node runs: the next call is recorded
        async with node.db.session() as s:
            named = select(QueueDefinition).where(QueueDefinition.name == "collections")
            queue = (await s.execute(named)).scalar_one()
            queue.recording = "always"
            await s.commit()
        always = await one_call(node, sim, seen, agent)
        async with asyncio.timeout(30):
            while True:  # started on connect, checked and hashed after the hangup
                recording = await recording_of(node, always)
                if recording is not None and recording.sha256:
                    break
                await asyncio.sleep(0.2)
        assert recording.status is RecordingStatus.STORED
        stored = Path(settings.recordings.directory) / recording.path
        assert stored.exists()
        assert len(sim.recorder.finished) == 1  # one MixMonitor in all: none for the first call
        assert await recording_of(node, never) is None

        # the retention purge: nothing before its first run, a few minutes after the start
        assert node.retention is not None and node.retention.runs == 0
        async with node.db.session() as s:  # this recording is now 31 days old
            await s.execute(
                update(Recording)
                .where(Recording.id == recording.id)
                .values(started_at=recording.started_at - timedelta(days=31))
            )
            await s.commit()
        await checked(node.retention)
        assert node.retention.runs == 0  # not due yet
        clock.offset += FIRST_PURGE_AFTER_S
        async with asyncio.timeout(20):
            while True:
                if node.retention.runs:
                    break
                await asyncio.sleep(0.05)
        assert node.retention.purged == 1
        assert (await recording_of(node, always)).status is RecordingStatus.PURGED
        assert not stored.exists()
        async with node.db.session() as s:
            purge = (
                await s.execute(select(AuditEntry).where(AuditEntry.action == "purge"))
            ).scalar_one()
        assert purge.detail["retention_days"] == 30
        await checked(node.retention)
        assert node.retention.runs == 1  # the next one is a day later


def test_retention_days_from_the_environment():
    settings = load_settings(None, environ={"CALLBOARD_RECORDINGS__RETENTION_DAYS": "0"})
    assert settings.recordings.retention_days == 0
