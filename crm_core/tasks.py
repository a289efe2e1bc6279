"""Callbacks due: what an operator (or their queue) must call back, soonest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import QueueDefinition, Role, Skill, Task, TaskStatus, User, UserSkill


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


# -- whose tasks a user may see and close ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskScope:
    """The tasks a user may list and close: their own; the unassigned tasks of their queues
    (an operator's: the queues whose skills they have); a supervisor also their team's tasks
    and their team's queues; an administrator everything (`everything`)."""

    agents: frozenset[int]
    queues: frozenset[str]
    everything: bool = False

    def allows(self, task: Task) -> bool:
        if self.everything:
            return True
        if task.owner_agent_id is not None:
            return task.owner_agent_id in self.agents
        return task.owner_queue in self.queues


async def queues_of(session: AsyncSession, user_ids: Sequence[int]) -> frozenset[str]:
    """The queues any of these users serves: every required skill at its minimum level."""
    if not user_ids:
        return frozenset()
    levels: dict[int, dict[str, int]] = {uid: {} for uid in user_ids}
    rows = await session.execute(
        select(UserSkill.user_id, Skill.name, UserSkill.level)
        .join(Skill, Skill.id == UserSkill.skill_id)
        .where(UserSkill.user_id.in_(list(user_ids)))
    )
    for uid, name, level in rows:
        levels[uid][name] = level
    served = set()
    for queue in (await session.execute(select(QueueDefinition))).scalars():
        needs = [
            (str(r.get("skill")), int(r.get("min_level", 1) or 1))
            for r in queue.required_skills or []
            if isinstance(r, dict)
        ]
        if any(all(have.get(s, 0) >= lvl for s, lvl in needs) for have in levels.values()):
            served.add(queue.name)
    return frozenset(served)


async def task_scope(session: AsyncSession, user_id: int) -> TaskScope:
    user = await session.get(User, user_id)
    if user is None or not user.active:
        return TaskScope(frozenset(), frozenset())
    if Role(user.role) is Role.ADMIN:
        return TaskScope(frozenset(), frozenset(), everything=True)
    agents = {user_id}
    if Role(user.role) is Role.SUPERVISOR:
        team = await session.scalars(select(User.id).where(User.team_id == user_id))
        agents.update(team)
    return TaskScope(frozenset(agents), await queues_of(session, sorted(agents)))
