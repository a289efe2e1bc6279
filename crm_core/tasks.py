"""Callbacks due: what an operator (or their queue) must call back, soonest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Task, TaskStatus


async def due_tasks(
    session: AsyncSession,
    *,
    until: datetime,
    agent_id: int | None = None,
    queues: Sequence[str] = (),
    limit: int = 200,
) -> list[Task]:
    """Open tasks due by `until` for this agent or their queues (all, if neither is given)."""
    query = select(Task).where(Task.status == TaskStatus.OPEN, Task.due_at <= until)
    owners = []
    if agent_id is not None:
        owners.append(Task.owner_agent_id == agent_id)
    if queues:
        owners.append(Task.owner_queue.in_(list(queues)) & Task.owner_agent_id.is_(None))
    if owners:
        query = query.where(or_(*owners))
    rows = await session.execute(query.order_by(Task.due_at).limit(limit))
    return list(rows.scalars())


async def complete_task(session: AsyncSession, task_id: int, *, at: datetime) -> Task:
    task = await session.get(Task, task_id)
    if task is None:
        raise LookupError(f"no task with id {task_id}")
    if task.status is TaskStatus.OPEN:
        task.status = TaskStatus.DONE
        task.completed_at = at
    return task
