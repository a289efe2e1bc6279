"""Recording control against pbx_sim over TCP (the stand-in Asterisk that writes real WAV files
for MixMonitor), through the real AMI link, tracker and bus: start on connect, pause, resume,
hangup, file checked and indexed; the per-queue rule; MixMonitor refused."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ami_bridge.events import CallBridged, CallEnded
from ami_bridge.link import LinkConfig
from ami_bridge.service import AmiBridge
from ami_bridge.switch import DialplanTarget, OriginateRequest
from crm_core.bus import Event, InProcessBus, Subscription
from crm_core.clock import Clock, SystemClock
from crm_core.db import Database
from crm_core.models import Interaction
from pbx_sim import PbxSim, SimConfig, VirtualClock
from recordings.config import RecordingPolicy, RecordMode
from recordings.control import RecordingControl
from recordings.events import Problem, RecordingAlert, RecordingStored, TranscriptReady
from recordings.index import RecordingIndex
from recordings.service import Recordings
from recordings.tables import JobStatus, Recording, RecordingStatus, TranscriptionJob


@dataclass
class Rig:
    sim: PbxSim
    bridge: AmiBridge
    control: RecordingControl
    index: RecordingIndex
    seen: Subscription

    async def until(
        self, kind: type[Event] | tuple[type[Event], ...], within: float = 20.0
    ) -> Event:
        async with asyncio.timeout(within):
            while True:
                event = await self.seen.get()
                if isinstance(event, kind):
                    return event

    async def connected_call(self, hold_secs: int = 60) -> tuple[str, str]:
        """A caller on hold, then agent1 bridged to it (trace 03). (linkedid, caller channel)"""
        caller = await self.bridge.switch.originate(
            OriginateRequest(
                endpoint="Local/100@cb-hold",
                target=DialplanTarget("caller-sim", "s", 1),
                caller_id='"Alice Customer" <5551234>',
                variables={"HOLD_SECS": str(hold_secs)},
            )
        )
        assert caller.answered
        caller_leg = caller.channel.removesuffix(";1") + ";2"
        agent = await self.bridge.switch.connect(
            caller_leg, "Local/agent1@cb-agents", ring_timeout=10
        )
        assert agent.answered
        bridged = await self.until(CallBridged)
        assert isinstance(bridged, CallBridged)
        return bridged.linkedid, caller_leg


class SimTime:
    """Callboard's Clock reading the simulated PBX's virtual clock: the call's times, the
    recording's pauses and the WAV files Asterisk writes all follow the same virtual time."""

    def __init__(self, sim_clock: VirtualClock) -> None:
        self.sim_clock = sim_clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sim_clock.now(), UTC)

    def monotonic(self) -> float:
        return self.sim_clock.now()


@asynccontextmanager
async def time_flowing(sim_clock: VirtualClock, step_s: float = 0.05) -> AsyncIterator[None]:
    """Virtual time moves on in small steps meanwhile (for the parts whose timing the test does
    not measure: dialling, ringing, hanging up)."""

    async def drive() -> None:
        while True:
            await sim_clock.advance(step_s)
            await asyncio.sleep(0.005)

    driver = asyncio.create_task(drive())
    try:
        yield
    finally:
        driver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await driver


@asynccontextmanager
async def rig(
    db: Database, policy: RecordingPolicy, sim_clock: VirtualClock | None = None
) -> AsyncIterator[Rig]:
    sim = PbxSim(SimConfig(), sim_clock)
    await sim.start()
    bus = InProcessBus()
    seen = bus.subscribe("test-observer", maxsize=100_000)
    clock: Clock = SystemClock() if sim_clock is None else SimTime(sim_clock)
    config = LinkConfig(
        host="127.0.0.1",
        port=sim.ami_port,
        username="callboard",
        secret="cbsecret",
        action_timeout=2.0,
    )
    bridge = AmiBridge(config, bus=bus, clock=clock, db=db)
    index = RecordingIndex(db, policy, bus=bus)
    control = RecordingControl(bridge.switch, db, policy, index, clock, bus=bus)
    subscription = control.subscribe(bus)
    follower = asyncio.create_task(control.run(subscription))
    await bridge.start()
    try:
        await bridge.link.wait_up(10)
        yield Rig(sim, bridge, control, index, seen)
    finally:
        await bridge.stop()
        bus.unsubscribe(subscription)
        await follower
        await sim.recorder.flush()
        await sim.stop()


async def recording_of(db: Database, linkedid: str) -> Recording | None:
    async with db.session() as session:
        return await session.scalar(select(Recording).where(Recording.linkedid == linkedid))


async def test_recorded_call_with_a_pause_is_joined_checked_and_indexed(
    sqlite_db: Database, recordings_dir: Path
) -> None:
    policy = RecordingPolicy(directory=recordings_dir, layout="{date}/{queue}/{linkedid}.wav")
    sim_clock = VirtualClock()  # the timing under test is virtual: a busy machine cannot skew it
    async with rig(sqlite_db, policy, sim_clock) as r:
        async with time_flowing(sim_clock):
            linkedid, caller_leg = await r.connected_call(hold_secs=3600)
        started = await r.control.call_connected(
            linkedid=linkedid, channel=caller_leg, queue="collections", agent="agent1"
        )
        assert started is not None and started.mixmonitor_id.startswith("0x")
        assert started.path.endswith(f"/collections/{linkedid}.wav")
        [active] = r.sim.recorder.active.values()
        assert str(active.path) == policy.asterisk_path(started.path)
        await sim_clock.advance(1.0)
        await r.control.pause(linkedid)
        assert r.sim.recorder.active == {}
        await sim_clock.advance(0.8)
        await r.control.resume(linkedid)
        await sim_clock.advance(1.0)
        await r.bridge.switch.hangup(caller_leg)
        async with time_flowing(sim_clock):
            ended = await r.until(CallEnded)
        assert isinstance(ended, CallEnded) and ended.linkedid == linkedid
        # Asterisk closes the file after the hangup; the index may find it still missing and
        # keeps it on the retry list, then a later check finds it complete.
        outcome = await r.until((RecordingStored, RecordingAlert))
        assert outcome.linkedid == linkedid  # type: ignore[attr-defined]
        await r.sim.recorder.flush()
        recording = await recording_of(sqlite_db, linkedid)
        assert recording is not None
        if recording.status is not RecordingStatus.STORED:
            await r.index.recheck_due(recording.ended_at + timedelta(hours=1))
        recording = await recording_of(sqlite_db, linkedid)
    assert recording is not None
    assert recording.status is RecordingStatus.STORED, recording.problem
    [[pause_start, pause_end]] = recording.pauses
    assert pause_start == pytest.approx(1.0) and pause_end - pause_start == pytest.approx(0.8)
    # 1 s recorded, 0.8 s of silence for the pause, 1 s recorded (virtual time moves on in
    # small steps while the hangup goes through)
    assert 2.8 <= recording.duration_s < 2.8 + 0.5
    assert not (recordings_dir / recording.path.replace(".wav", ".part2.wav")).exists()
    async with sqlite_db.session() as session:
        interaction = (
            await session.scalars(select(Interaction).where(Interaction.linkedid == linkedid))
        ).one()
        job = (await session.scalars(select(TranscriptionJob))).one()
    assert interaction.recording_ref == recording.path
    assert recording.interaction_id == interaction.id and job.recording_id == recording.id


async def test_queue_rules_decide_whether_a_call_is_recorded(
    sqlite_db: Database, recordings_dir: Path
) -> None:
    policy = RecordingPolicy(
        directory=recordings_dir,
        queue_modes={"vip": RecordMode.NEVER, "sales": RecordMode.ON_DEMAND},
        campaign_modes={"legal-2026": RecordMode.ALWAYS},
    )
    async with rig(sqlite_db, policy) as r:
        linkedid, caller_leg = await r.connected_call()
        assert (
            await r.control.call_connected(linkedid=linkedid, channel=caller_leg, queue="vip")
            is None
        )
        assert (
            await r.control.call_connected(linkedid=linkedid, channel=caller_leg, queue="sales")
            is None
        )
        assert r.sim.recorder.active == {}
        assert await recording_of(sqlite_db, linkedid) is None
        # the operator presses record: on-demand starts
        started = await r.control.call_connected(
            linkedid=linkedid, channel=caller_leg, queue="sales", requested=True
        )
        assert started is not None and len(r.sim.recorder.active) == 1
        # a second connect of the same call (a transfer) keeps the running recording
        again = await r.control.call_connected(
            linkedid=linkedid, channel=caller_leg, queue="sales", requested=True
        )
        assert again is not None and again.id == started.id
        assert len(r.sim.recorder.active) == 1
        await r.bridge.switch.hangup(caller_leg)
        await r.until(CallEnded)
    assert policy.mode_for(queue="vip", campaign="legal-2026") is RecordMode.ALWAYS


async def test_mixmonitor_refused_is_kept_and_alerted_not_dropped(
    sqlite_db: Database, recordings_dir: Path
) -> None:
    policy = RecordingPolicy(directory=recordings_dir)
    async with rig(sqlite_db, policy) as r:
        recording = await r.control.call_connected(
            linkedid="1795445591.0", channel="Local/100@cb-hold-0000ffff;2", queue="collections"
        )
        alert = await r.until(RecordingAlert)
    assert isinstance(alert, RecordingAlert) and alert.problem is Problem.START_FAILED
    assert recording is not None and alert.recording_id == recording.id
    assert recording is not None and recording.status is RecordingStatus.MISSING
    assert "MixMonitor could not start" in recording.problem
    assert [x.linkedid for x in await r.index.retry_list()] == ["1795445591.0"]


async def test_the_whole_feature_records_checks_and_transcribes_a_call(
    sqlite_db: Database, recordings_dir: Path
) -> None:
    """Recordings as the composition root runs it: the file Asterisk closes after the hangup
    is found by the retry watcher, indexed, and transcribed by a worker process."""
    policy = RecordingPolicy(directory=recordings_dir, recheck_after_s=(0.2,))
    sim = PbxSim(SimConfig())
    await sim.start()
    bus = InProcessBus()
    seen = bus.subscribe("test-observer", maxsize=100_000)
    clock = SystemClock()
    config = LinkConfig(
        host="127.0.0.1",
        port=sim.ami_port,
        username="callboard",
        secret="cbsecret",
        action_timeout=2.0,
    )
    bridge = AmiBridge(config, bus=bus, clock=clock, db=sqlite_db)
    recordings = Recordings(sqlite_db, policy, bridge.switch, bus, clock, recheck_every_s=0.2)
    await recordings.start()
    await bridge.start()
    try:
        await bridge.link.wait_up(10)
        r = Rig(sim, bridge, recordings.control, recordings.index, seen)
        linkedid, caller_leg = await r.connected_call()
        await recordings.control.call_connected(
            linkedid=linkedid, channel=caller_leg, queue="collections"
        )
        await asyncio.sleep(1.5)  # the conversation being recorded (the scenario, not a wait)
        await bridge.switch.hangup(caller_leg)
        stored = await r.until(RecordingStored, within=15)
        ready = await r.until(TranscriptReady, within=60)
    finally:
        await bridge.stop()
        await recordings.stop()
        await sim.recorder.flush()
        await sim.stop()
    assert isinstance(stored, RecordingStored) and stored.linkedid == linkedid
    assert isinstance(ready, TranscriptReady) and ready.recording_id == stored.recording_id
    assert ready.engine == "pocketsphinx"
    async with sqlite_db.session() as session:
        job = (await session.scalars(select(TranscriptionJob))).one()
    assert job.status is JobStatus.DONE
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
