"""What the desktop needs from the ACD, as a port: the routing package's Acd fills it.

Agents are known to the ACD by a string id; the desktop uses the user's database id
(`agent_id_for`), so an operator's tabs, the ACD and the interaction log agree on who is who.
"""

from __future__ import annotations

from typing import Protocol


def agent_id_for(user_id: int) -> str:
    return str(user_id)


class AgentControl(Protocol):
    """Agent state operations the desktop and supervisors trigger."""

    async def login(self, agent_id: str) -> None: ...

    async def logout(self, agent_id: str) -> None: ...

    async def ready(self, agent_id: str) -> None:
        """Become ready; from wrap-up this ends after-call work."""
        ...

    async def pause(self, agent_id: str, reason: str) -> None: ...

    async def extend_wrap_up(self, agent_id: str, seconds: float) -> None: ...
