"""Who is making a request: the signed-in user as the desktop needs them on every request."""

from __future__ import annotations

from dataclasses import dataclass

from agent_desktop.ports import agent_id_for
from crm_core.models import Role, User


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    full_name: str
    role: Role
    language: str
    endpoint: str

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(
            user_id=user.id,
            username=user.username,
            full_name=user.full_name or user.username,
            role=Role(user.role),
            language=user.language if user.language in ("en", "ru") else "en",
            endpoint=user.endpoint,
        )

    @property
    def agent_id(self) -> str:
        return agent_id_for(self.user_id)

    @property
    def is_supervisor(self) -> bool:
        """Supervisors and admins see the live panels."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
