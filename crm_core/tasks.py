"""Callbacks due: what an operator (or their queue) must call back, soonest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import (
    Interaction,
    QueueDefinition,
    Role,
    Skill,
    Task,
    TaskKind,
    TaskStatus,
    User,
    UserSkill,
)


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


# -- review tasks: a supervisor must look, nothing was changed -----------------------------------

REVIEW_QUEUE = "supervisors"  # a review task nobody's supervisor owns waits here (admins see it)

# a transcript's keyword -> the disposition a supervisor should consider (never applied silently)
REVIEW_KEYWORDS: dict[str, str] = {
    "bankrupt": "bankrupt",
    "lawyer": "attorney",
    "attorney": "attorney",
    "stop calling": "cease",
}


async def create_review(
    session: AsyncSession,
    *,
    note: str,
    now: datetime,
    contact_id: int | None = None,
    debt_id: int | None = None,
    phone: str = "",
    about_user_id: int | None = None,
    created_by: int | None = None,
) -> Task:
    """A review task in the caller's transaction, owned by the supervisor of `about_user_id`
    (the operator of the call) when they have one, else by the supervisors' queue."""
    owner = None
    if about_user_id is not None:
        user = await session.get(User, about_user_id)
        owner = user.team_id if user is not None else None
    task = Task(
        kind=TaskKind.REVIEW,
        contact_id=contact_id,
        debt_id=debt_id,
        phone_e164=phone[:20],
        due_at=now,
        owner_agent_id=owner,
        owner_queue="" if owner is not None else REVIEW_QUEUE,
        note=note[:2000],
        created_at=now,
        created_by=created_by,
    )
    session.add(task)
    await session.flush()
    return task


async def review_keywords(
    session: AsyncSession,
    *,
    linkedid: str,
    keywords: Sequence[str],
    now: datetime,
) -> Task | None:
    """A transcript flagged bankruptcy, a lawyer or a cease request: one review task for a
    supervisor naming the disposition to consider. Nothing about the debt or the numbers
    changes until a person decides (a correction of the call's disposition, or the DNC page)."""
    relevant = [k for k in keywords if k.casefold() in REVIEW_KEYWORDS]
    if not relevant:
        return None
    interaction = (
        await session.execute(select(Interaction).where(Interaction.linkedid == linkedid))
    ).scalar_one_or_none()
    if interaction is None:
        return None
    suggest = sorted({REVIEW_KEYWORDS[k.casefold()] for k in relevant})
    note = (
        f"The transcript of call {linkedid} mentions {', '.join(repr(k) for k in relevant)}. "
        f"Listen to the recording; if it is so, correct the call's disposition to "
        f"{' or '.join(suggest)} (nothing was changed automatically)."
    )
    return await create_review(
        session,
        note=note,
        now=now,
        contact_id=interaction.contact_id,
        debt_id=interaction.debt_id,
        phone=interaction.caller_number or "",
        about_user_id=interaction.agent_id,
    )
