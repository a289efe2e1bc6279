"""Call detail records: every call of the range with its queue, operator, disposition,
recording (by id, the way `/api/recordings/{id}/audio` serves it; never a server path) and hangup
cause. Paged for the API; streamed whole for the CSV export.

A supervisor sees the calls their team took; an administrator every call (calls no operator
took, such as abandons, are in the administrator's list and the queue report).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Direction, Interaction, InteractionKind, User
from reports.common import Column, ReportError, ReportRange, Scope, stream_rows
from reports.tables import recordings as R

MAX_PAGE = 500

COLUMNS = [
    Column("id", "Call", "number"),
    Column("started_at", "Started", "text"),
    Column("direction", "Direction", "text"),
    Column("caller_number", "Number", "text"),
    Column("queue", "Queue", "text"),
    Column("campaign", "Campaign", "text"),
    Column("agent", "Operator", "text"),
    Column("wait_s", "Ring / wait", "seconds"),
    Column("talk_s", "Talk", "seconds"),
    Column("disposition", "Disposition", "text"),
    Column("recording_id", "Recording", "number"),
    Column("hangup_cause", "Hangup cause", "number"),
    Column("hangup_cause_text", "Cause", "text"),
    Column("end_reason", "End", "text"),
]


def _query(
    rng: ReportRange,
    scope: Scope,
    *,
    queue: str | None,
    agent_id: int | None,
    direction: str | None,
    campaign: str | None,
) -> Select[*tuple[Any, ...]]:
    query = (
        select(
            Interaction.id,
            Interaction.started_at,
            Interaction.connected_at,
            Interaction.ended_at,
            Interaction.direction,
            Interaction.caller_number,
            Interaction.queue,
            Interaction.campaign,
            Interaction.agent_id,
            User.full_name,
            User.username,
            Interaction.disposition,
            R.c.id.label("recording_id"),
            Interaction.hangup_cause,
            Interaction.hangup_cause_text,
            Interaction.end_reason,
        )
        .outerjoin(User, User.id == Interaction.agent_id)
        .outerjoin(R, R.c.linkedid == Interaction.linkedid)
        .where(
            Interaction.kind == InteractionKind.CALL,
            Interaction.started_at >= rng.start,
            Interaction.started_at < rng.end,
        )
    )
    if scope.agent_ids is not None:
        query = query.where(Interaction.agent_id.in_(sorted(scope.agent_ids)))
    if queue:
        query = query.where(Interaction.queue == queue)
    if agent_id is not None:
        query = query.where(Interaction.agent_id == agent_id)
    if direction:
        if direction not in {d.value for d in Direction}:
            raise ReportError("direction", "inbound, outbound or internal")
        query = query.where(Interaction.direction == Direction(direction))
    if campaign:
        query = query.where(Interaction.campaign == campaign)
    return query.order_by(Interaction.started_at, Interaction.id)


def _row(r: Any) -> dict[str, Any]:
    talk = (r.ended_at - r.connected_at).total_seconds() if r.connected_at and r.ended_at else None
    wait_end = r.connected_at or r.ended_at
    return {
        "id": r.id,
        "started_at": r.started_at.isoformat(),
        "direction": str(r.direction),
        "caller_number": r.caller_number,
        "queue": r.queue,
        "campaign": r.campaign,
        "agent_id": r.agent_id,
        "agent": (r.full_name or r.username or "") if r.agent_id else "",
        "wait_s": round((wait_end - r.started_at).total_seconds()) if wait_end else None,
        "talk_s": round(talk) if talk is not None else None,
        "disposition": r.disposition,
        "recording_id": r.recording_id,
        "hangup_cause": r.hangup_cause,
        "hangup_cause_text": r.hangup_cause_text,
        "end_reason": r.end_reason,
    }


async def call_page(
    session: AsyncSession,
    rng: ReportRange,
    scope: Scope,
    *,
    page: int = 1,
    per_page: int = 100,
    queue: str | None = None,
    agent_id: int | None = None,
    direction: str | None = None,
    campaign: str | None = None,
) -> dict[str, Any]:
    if page < 1:
        raise ReportError("page", "from 1")
    if not 1 <= per_page <= MAX_PAGE:
        raise ReportError("per_page", f"from 1 to {MAX_PAGE}")
    query = _query(
        rng, scope, queue=queue, agent_id=agent_id, direction=direction, campaign=campaign
    )
    rows = await session.execute(query.offset((page - 1) * per_page).limit(per_page + 1))
    items = [_row(r) for r in rows]
    return {
        "page": page,
        "per_page": per_page,
        "more": len(items) > per_page,
        "calls": items[:per_page],
    }


async def stream_calls(
    session: AsyncSession,
    rng: ReportRange,
    scope: Scope,
    *,
    queue: str | None = None,
    agent_id: int | None = None,
    direction: str | None = None,
    campaign: str | None = None,
) -> AsyncIterator[dict[str, Any]]:
    query = _query(
        rng, scope, queue=queue, agent_id=agent_id, direction=direction, campaign=campaign
    )
    async for r in stream_rows(session, query, 1000):
        yield _row(r)
