"""The routing package's AcdService as the desktop's AgentControl.

Logging in needs the operator's phone endpoint and skills, which live in the database; the
ACD's commands themselves never wait, so the rest is a thin, typed pass-through.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select

from crm_core.db import Database
from crm_core.models import Skill, User, UserSkill
from routing.agent_state import AgentState
from routing.errors import UnknownAgent
from routing.service import AcdService


class RoutingAgentControl:
    def __init__(self, service: AcdService, db: Database) -> None:
        self._service = service
        self._db = db

    async def login(self, agent_id: str) -> None:
        endpoint, skills = await self._profile(agent_id)
        self._service.login(agent_id, endpoint, skills)

    async def logout(self, agent_id: str) -> None:
        self._service.logout(agent_id)

    async def ready(self, agent_id: str) -> None:
        """Ready from logged out means "log me in, I take calls": the first thing an operator
        does at the start of a shift, in one key press."""
        try:
            state = self._service.acd.agent(agent_id).state
        except UnknownAgent:
            state = AgentState.LOGGED_OUT
        if state is AgentState.LOGGED_OUT:
            await self.login(agent_id)
        else:
            self._service.make_ready(agent_id)

    async def pause(self, agent_id: str, reason: str) -> None:
        self._service.pause(agent_id, reason)

    async def extend_wrap_up(self, agent_id: str, seconds: float) -> None:
        self._service.extend_wrap_up(agent_id, seconds)

    async def _profile(self, agent_id: str) -> tuple[str, Mapping[str, int]]:
        async with self._db.session() as session:
            user = await session.get(User, int(agent_id))
            if user is None or not user.active:
                raise UnknownAgent(f"no active user {agent_id} to log in")
            rows = await session.execute(
                select(Skill.name, UserSkill.level)
                .join(UserSkill, UserSkill.skill_id == Skill.id)
                .where(UserSkill.user_id == user.id)
            )
            return user.endpoint, {name: level for name, level in rows}
