"""The audit log: every look at personal debt data is accounted for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import AuditEntry


def record(
    session: AsyncSession,
    *,
    at: datetime,
    user_id: int | None,
    action: str,
    object_type: str,
    object_id: str | int = "",
    remote_addr: str = "",
    **detail: Any,
) -> AuditEntry:
    """Adds the entry to the caller's transaction, so it commits (or not) with what it audits."""
    entry = AuditEntry(
        at=at,
        user_id=user_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        remote_addr=remote_addr,
        detail=detail,
    )
    session.add(entry)
    return entry
