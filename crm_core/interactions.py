"""The interaction log: one row per call (Asterisk Linkedid), however often an event repeats.

The AMI stream can replay events after a reconnect and a resync can report a call twice, so every
write here is idempotent: the row is created on first sight, first-time facts (answered, connected,
ended) are kept from their first report, and transitions are de-duplicated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db import Database
from crm_core.models import Direction, Interaction

UPDATABLE = frozenset(
    {
        "queue",
        "contact_id",
        "debt_id",
        "agent_id",
        "campaign",
        "recording_ref",
        "ivr_path",
        "ivr_digits",
        "caller_number",
        "caller_name",
        "direction",
    }
)
MAX_TRANSITIONS = 200  # a runaway call (a loop in the dialplan) must not grow a row forever


class InteractionLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def call_started(
        self,
        linkedid: str,
        *,
        started_at: datetime,
        direction: Direction | str = Direction.INBOUND,
        caller_number: str = "",
        caller_name: str = "",
        queue: str = "",
        campaign: str = "",
        contact_id: int | None = None,
    ) -> int:
        async with self._db.session() as session:
            interaction_id = await _ensure(
                session,
                linkedid,
                started_at=started_at,
                direction=Direction(direction),
                caller_number=caller_number,
                caller_name=caller_name,
                queue=queue,
                campaign=campaign,
                contact_id=contact_id,
            )
            await session.commit()
            return interaction_id

    async def call_updated(self, linkedid: str, *, at: datetime, **fields: Any) -> None:
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"interaction fields not updatable: {', '.join(sorted(unknown))}")
        if "direction" in fields:
            fields["direction"] = Direction(fields["direction"])
        async with self._db.session() as session:
            await _ensure(session, linkedid, started_at=at)
            if fields:
                await session.execute(
                    update(Interaction).where(Interaction.linkedid == linkedid).values(**fields)
                )
            await session.commit()

    async def recording_seen(self, linkedid: str, *, at: datetime, ref: str) -> None:
        """A recording the PBX reports (MixMonitor's file) is noted only while the call has no
        reference yet: the path the recordings index stores (`call_updated`) wins, whichever of
        the two is written first (a paused recording's later parts never replace it)."""
        async with self._db.session() as session:
            await _ensure(session, linkedid, started_at=at)
            await session.execute(
                update(Interaction)
                .where(Interaction.linkedid == linkedid, Interaction.recording_ref == "")
                .values(recording_ref=ref)
            )
            await session.commit()

    async def call_answered(self, linkedid: str, *, at: datetime) -> None:
        await self._set_once(linkedid, at, answered_at=at)

    async def call_connected(self, linkedid: str, *, at: datetime, agent_id: int | None) -> None:
        await self._set_once(linkedid, at, connected_at=at)
        if agent_id is not None:
            await self.call_updated(linkedid, at=at, agent_id=agent_id)

    async def call_ended(
        self,
        linkedid: str,
        *,
        at: datetime,
        cause: int | None,
        cause_text: str = "",
        reason: str = "hangup",
    ) -> None:
        await self._set_once(
            linkedid,
            at,
            ended_at=at,
            hangup_cause=cause,
            hangup_cause_text=cause_text,
            end_reason=reason,
        )

    async def add_transition(
        self, linkedid: str, *, at: datetime, what: str, **detail: str
    ) -> None:
        entry = {"at": at.isoformat(), "what": what, **detail}
        async with self._db.session() as session:
            await _ensure(session, linkedid, started_at=at)
            row = await session.execute(
                select(Interaction).where(Interaction.linkedid == linkedid).with_for_update()
            )
            interaction = row.scalar_one()
            transitions = list(interaction.transitions or [])
            if entry not in transitions and len(transitions) < MAX_TRANSITIONS:
                transitions.append(entry)
                interaction.transitions = transitions
            await session.commit()

    async def set_disposition(
        self, interaction_id: int, *, disposition: str, notes: str, agent_id: int | None
    ) -> None:
        async with self._db.session() as session:
            values: dict[str, Any] = {"disposition": disposition, "notes": notes}
            if agent_id is not None:
                values["agent_id"] = agent_id
            result = await session.execute(
                update(Interaction).where(Interaction.id == interaction_id).values(**values)
            )
            if cast(CursorResult[Any], result).rowcount == 0:  # an UPDATE's result
                raise LookupError(f"no interaction with id {interaction_id}")
            await session.commit()

    async def get(self, linkedid: str) -> Interaction | None:
        async with self._db.session() as session:
            row = await session.execute(select(Interaction).where(Interaction.linkedid == linkedid))
            return row.scalar_one_or_none()

    async def _set_once(self, linkedid: str, at: datetime, **values: Any) -> None:
        """Set first-time facts only while unset: the first report of an answer or end wins."""
        guard = next(iter(values))
        async with self._db.session() as session:
            await _ensure(session, linkedid, started_at=at)
            await session.execute(
                update(Interaction)
                .where(Interaction.linkedid == linkedid, getattr(Interaction, guard).is_(None))
                .values(**values)
            )
            await session.commit()


async def _ensure(
    session: AsyncSession, linkedid: str, *, started_at: datetime, **values: Any
) -> int:
    if not linkedid:
        raise ValueError("a call needs its Linkedid")
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = {
        "linkedid": linkedid,
        "started_at": started_at,
        "ivr_path": [],
        "transitions": [],
        **values,
    }
    await session.execute(
        insert(Interaction).values(**row).on_conflict_do_nothing(index_elements=["linkedid"])
    )
    found = await session.execute(select(Interaction.id).where(Interaction.linkedid == linkedid))
    return found.scalar_one()
