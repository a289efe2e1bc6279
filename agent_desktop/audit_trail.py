"""One audit entry for what a signed-in user just did through a request, in its own commit."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_desktop.keys import DEPS
from agent_desktop.security import client_address
from crm_core import audit


async def audit_request(
    request: web.Request,
    *,
    user_id: int | None,
    action: str,
    object_type: str,
    object_id: int | str = "",
    **detail: Any,
) -> None:
    deps = request.app[DEPS]
    async with deps.db.session() as session:
        audit.record(
            session,
            at=deps.clock.now(),
            user_id=user_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            remote_addr=client_address(request),
            **detail,
        )
        await session.commit()
