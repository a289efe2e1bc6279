"""The node evaluates promises and plan instalments by itself once a day (crm_core.daily): an
owned background task on the node's clock; a restart the same day does not run it again."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy import select

from callboard.node import start_node
from crm_core.clock import ManualClock
from crm_core.config import load_settings
from crm_core.db import Database
from crm_core.models import PromiseStatus, PromiseToPay, ScheduledRun, Task
from pbx_sim import PbxSim, SimConfig, kit_user
from tests.callboard.test_node_e2e import DEMO_FLOWS, NOW, free_port, seed
from tests.waiting import eventually


async def _runs(url: str) -> list[ScheduledRun]:
    db = await Database.open(url)
    try:
        async with db.session() as s:
            return list(await s.scalars(select(ScheduledRun)))
    finally:
        await db.close()


async def test_the_node_runs_the_days_evaluation_once_across_a_restart(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cb.db'}"
    await seed(url)
    db = await Database.open(url)
    async with db.session() as s:
        s.add(PromiseToPay(debt_id=1, amount=50, due_on=date(2026, 11, 1), created_at=NOW))
        await s.commit()
    await db.close()
    sim = PbxSim(SimConfig(users={"callboard": kit_user("s3cret")}))
    await sim.start()
    base = load_settings(None, environ={})
    clock = ManualClock(datetime(2026, 11, 24, 7, 0, tzinfo=UTC))  # past 06:00 in London

    def settings():
        return replace(
            base,
            database=replace(base.database, url=url),
            ami=replace(base.ami, port=sim.ami_port, username="callboard", secret="s3cret"),
            agi=replace(base.agi, port=free_port(), flows_dir=str(DEMO_FLOWS)),
            web=replace(base.web, port=free_port()),
            recordings=replace(base.recordings, directory=str(tmp_path / "recordings")),
        )

    try:
        async with AsyncExitStack() as stack:
            node = await start_node(settings(), stack, clock=clock)
            assert node.daily is not None
            await eventually(lambda: _runs(url), 20, what="the day's evaluation")
            assert node.daily.runs == 1
        async with AsyncExitStack() as stack:  # restarted the same day
            node = await start_node(settings(), stack, clock=clock)
            assert node.daily is not None
            # its first check (at start, not a sleep) is done: the day would have run by now
            await eventually(lambda: node.daily.checks >= 1, 20, what="the first daily check")
            assert node.daily.runs == 0
        runs = await _runs(url)
        assert [r.day for r in runs] == [date(2026, 11, 24)]
        assert runs[0].result["promises"]["broken"] == 1
        db = await Database.open(url)
        async with db.session() as s:
            assert (await s.scalar(select(PromiseToPay.status))) is PromiseStatus.BROKEN
            assert len(list(await s.scalars(select(Task)))) == 1
        await db.close()
    finally:
        await sim.stop()
