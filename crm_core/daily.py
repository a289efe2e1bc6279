"""A job run once a day at a set hour of the center's time zone, inside the node.

The day's run is claimed by a row in `scheduled_runs` (job, day) written in the same transaction
as the job's work: a restart on the same day, or a second node, finds the row and does not run
it again; a node started after the hour runs the day's job at once if it has not run yet. Time
comes from the injected clock; the loop only polls it, so tests drive it in virtual time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.arrangements import CollectionRules, evaluate
from crm_core.clock import Clock
from crm_core.db import Database
from crm_core.models import ScheduledRun
from crm_core.payments import lock_for_write

log = logging.getLogger(__name__)

Work = Callable[[AsyncSession, date, datetime], Awaitable[dict[str, Any]]]
EVALUATE_PROMISES = "evaluate-promises"


def due_day(now: datetime, hour: int, zone: ZoneInfo) -> date | None:
    """The day whose run is due at `now`: today (center time) once the hour has come."""
    local = now.astimezone(zone)
    return local.date() if local.hour >= hour else None


class DailyJob:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        job: str,
        work: Work,
        hour: int,
        zone: ZoneInfo,
        poll_s: float = 30.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._job = job
        self._work = work
        self._hour = hour
        self._zone = zone
        self._poll_s = poll_s
        self.runs = 0  # runs done by this process
        self.checks = 0  # times run() looked whether the day's run was due

    async def run_due(self) -> bool:
        """Runs the day's job if it is due and nobody ran it; True when this call ran it."""
        now = self._clock.now()
        day = due_day(now, self._hour, self._zone)
        if day is None:
            return False
        async with self._db.session() as session:
            done = await session.scalar(
                select(ScheduledRun.day).where(
                    ScheduledRun.job == self._job, ScheduledRun.day == day
                )
            )
            if done is not None:
                return False
        try:
            async with self._db.session() as session:
                await lock_for_write(session)
                if await session.get(ScheduledRun, (self._job, day)) is not None:
                    return False
                result = await self._work(session, day, now)
                session.add(ScheduledRun(job=self._job, day=day, ran_at=now, result=result))
                await session.commit()
        except IntegrityError:  # another node claimed the day first; its work stands
            return False
        self.runs += 1
        log.info("%s for %s: %s", self._job, day, result)
        return True

    async def run(self) -> None:
        """Until cancelled: checks every `poll_s` seconds; a failed run is logged and retried
        at the next check."""
        while True:
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; retrying at the next check", self._job)
            self.checks += 1
            await asyncio.sleep(self._poll_s)


def promise_evaluation(rules: CollectionRules) -> Work:
    async def work(session: AsyncSession, day: date, now: datetime) -> dict[str, Any]:
        return (await evaluate(session, today=day, now=now, rules=rules)).to_dict()

    return work


def evaluation_job(db: Database, clock: Clock, settings: Any, *, poll_s: float = 30.0) -> DailyJob:
    """The node's daily evaluation of promises and instalments (`[payments]`)."""
    return DailyJob(
        db,
        clock,
        job=EVALUATE_PROMISES,
        work=promise_evaluation(CollectionRules.from_settings(settings)),
        hour=settings.payments.evaluate_at_hour,
        zone=ZoneInfo(settings.center.timezone),
        poll_s=poll_s,
    )
