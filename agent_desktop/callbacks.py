"""Callbacks on the operator's desk, and reminders pushed when one comes due."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_desktop.hub import Hub
from crm_core.clock import Clock
from crm_core.db import Database
from crm_core.models import Contact, Task, TaskStatus
from crm_core.tasks import due_tasks

log = logging.getLogger(__name__)

REMIND_AHEAD = timedelta(minutes=5)
LIST_AHEAD = timedelta(days=7)
CHECK_EVERY_S = 20.0


async def callback_list(
    session: AsyncSession, *, user_id: int, queues: list[str], now: datetime
) -> list[dict[str, Any]]:
    tasks = await due_tasks(session, until=now + LIST_AHEAD, agent_id=user_id, queues=queues)
    return await _described(session, tasks, now)


async def _described(
    session: AsyncSession, tasks: list[Task], now: datetime
) -> list[dict[str, Any]]:
    ids = {t.contact_id for t in tasks if t.contact_id is not None}
    names: dict[int, str] = {}
    if ids:
        for contact in (
            await session.execute(select(Contact).where(Contact.id.in_(ids)))
        ).scalars():
            names[contact.id] = contact.display_name
    return [
        {
            "id": t.id,
            "kind": str(t.kind),
            "contact_id": t.contact_id,
            "name": names.get(t.contact_id, "") if t.contact_id is not None else "",
            "phone": t.phone_e164,
            "due_at": t.due_at.isoformat(),
            "overdue": t.due_at < now,
            "owner_queue": t.owner_queue,
            "note": t.note,
        }
        for t in tasks
    ]


class CallbackReminders:
    """Every few seconds, tells each operator online about their callbacks coming due."""

    def __init__(self, db: Database, hub: Hub, clock: Clock) -> None:
        self._db = db
        self._hub = hub
        self._clock = clock
        # task id -> its owner, for the callbacks already pushed. A task of an operator online
        # that the query no longer returns is done (or moved later): it is forgotten, so the
        # set holds only open, due tasks and does not grow with every callback of the weeks.
        self._reminded: dict[int, int] = {}

    async def check(self) -> int:
        """One round, one query for everyone online; returns how many reminders were pushed."""
        now = self._clock.now()
        online = {int(agent_id) for agent_id in self._hub.online_agents()}
        if not online:
            return 0
        async with self._db.session() as session:
            rows = await session.execute(
                select(Task)
                .where(
                    Task.status == TaskStatus.OPEN,
                    Task.due_at <= now + REMIND_AHEAD,
                    Task.owner_agent_id.in_(online),
                )
                .order_by(Task.due_at)
            )
            due = list(rows.scalars())
            fresh = [t for t in due if t.id not in self._reminded]
            described = await _described(session, fresh, now)
        still_due = {t.id for t in due}
        for task_id in [
            i for i, owner in self._reminded.items() if owner in online and i not in still_due
        ]:
            del self._reminded[task_id]
        for task, item in zip(fresh, described, strict=True):
            owner = task.owner_agent_id
            assert owner is not None  # the query asked for tasks owned by online agents
            self._hub.send_to_agent(str(owner), {"type": "callback_due", "task": item})
            self._reminded[task.id] = owner
        return len(fresh)

    async def run(self, every_s: float = CHECK_EVERY_S) -> None:
        while True:
            try:
                await self.check()
            except SQLAlchemyError:
                log.exception("callback reminders: database error; retrying")
            await asyncio.sleep(every_s)
