"""Today's figures for one operator, from the interaction log and promises (those a correction
cancelled do not count)."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Interaction, PromiseStatus, PromiseToPay


def start_of_day(now: datetime, tz: str) -> datetime:
    local = now.astimezone(ZoneInfo(tz))
    return datetime.combine(local.date(), time(0), tzinfo=ZoneInfo(tz))


async def today(session: AsyncSession, user_id: int, now: datetime, tz: str) -> dict[str, Any]:
    since = start_of_day(now, tz)
    calls = await session.execute(
        select(Interaction.connected_at, Interaction.ended_at).where(
            Interaction.agent_id == user_id, Interaction.started_at >= since
        )
    )
    count = 0
    talk = 0.0
    for connected_at, ended_at in calls:
        count += 1
        if connected_at is not None and ended_at is not None:
            talk += max(0.0, (ended_at - connected_at).total_seconds())
    promised = await session.execute(
        select(func.count(PromiseToPay.id), func.coalesce(func.sum(PromiseToPay.amount), 0)).where(
            PromiseToPay.created_by == user_id,
            PromiseToPay.created_at >= since,
            PromiseToPay.status != PromiseStatus.CANCELLED,  # replaced by a correction
        )
    )
    promises, amount = promised.one()  # the sum keeps the Money type: exact on every backend
    total = Decimal(amount or 0)
    return {
        "calls": count,
        "talk_s": round(talk),
        "promises": promises,
        "promised": str(total.quantize(Decimal("0.01"))),
    }
