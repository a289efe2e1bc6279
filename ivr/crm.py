"""The IVR's ports filled by crm_core: debtor lookup, callback tasks, the interaction log."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from crm_core.card import Card
from crm_core.clock import Clock
from crm_core.db import Database
from crm_core.interactions import InteractionLog
from crm_core.lookup import lookup_by_account, lookup_by_phone
from crm_core.models import Debt, Direction, Task, TaskKind, TaskStatus, User
from crm_core.phones import try_normalise
from ivr.ports import CallbackFailed, IvrRecord, LookupFailed
from ivr.runtime import Profile

log = logging.getLogger(__name__)

DIGITS_COLUMN = 100  # Interaction.ivr_digits length


class CrmDirectory:
    """Finds the debtor by calling number or account (debt reference) in crm_core."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def find(self, by: str, value: str, region: str) -> Profile | None:
        if by not in ("account", "caller"):
            raise ValueError(f"unknown lookup {by!r} (expected 'account' or 'caller')")
        today = self._clock.now().date()
        try:
            # the Database, not a session: the card is read in one worker-thread hop
            if by == "account":
                card = await lookup_by_account(self._db, value, today=today)
            else:
                card = await lookup_by_phone(self._db, value, region, today=today)
            if card is None:
                return None
            async with self._db.session() as session:
                agent = await session.scalar(
                    select(User.id)
                    .join(Debt, Debt.assigned_agent_id == User.id)
                    .where(Debt.contact_id == card.contact_id, User.active.is_(True))
                    .order_by(Debt.balance.desc())
                    .limit(1)
                )
        except (SQLAlchemyError, OSError) as exc:
            raise LookupFailed(f"lookup by {by}: {exc}") from exc
        # routing knows agents by the user's id as text (agent_desktop.ports.agent_id_for)
        return profile_of(card, "" if agent is None else str(agent))


def profile_of(card: Card, assigned_agent: str) -> Profile:
    ended = [i.ended_at for i in card.interactions if i.kind == "call" and i.ended_at]
    return Profile(
        contact_id=card.contact_id,
        language=card.language,
        segment=card.segment,
        vip=card.vip,
        balance=card.total_balance,
        assigned_agent=assigned_agent,
        last_call_ended_at=max(ended, default=None),
    )


class CrmCallbackDesk:
    """A callback request becomes an open crm_core Task owned by the queue, due at once."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def request_callback(
        self, *, caller_number: str, contact_id: int | None, queue: str, note: str, region: str
    ) -> int:
        now = self._clock.now()
        task = Task(
            kind=TaskKind.CALLBACK,
            status=TaskStatus.OPEN,
            contact_id=contact_id,
            phone_e164=try_normalise(caller_number, region) or "",
            due_at=now,
            owner_queue=queue,
            note=note,
            created_at=now,
        )
        try:
            async with self._db.session() as session:
                session.add(task)
                await session.commit()
                return task.id
        except (SQLAlchemyError, OSError) as exc:
            raise CallbackFailed(f"callback task for {caller_number}: {exc}") from exc


class CrmJournal:
    """Writes what the IVR did onto the call's interaction row (keyed by Linkedid)."""

    def __init__(self, log_: InteractionLog) -> None:
        self._log = log_

    async def call_entered(
        self, linkedid: str, *, at: datetime, caller_number: str, caller_name: str
    ) -> None:
        try:
            await self._log.call_started(
                linkedid,
                started_at=at,
                direction=Direction.INBOUND,
                caller_number=caller_number,
                caller_name=caller_name,
            )
        except (SQLAlchemyError, OSError) as exc:
            log.error("call %s: interaction not started: %s", linkedid, exc)

    async def record(self, record: IvrRecord, *, at: datetime) -> None:
        fields: dict[str, object] = {
            "ivr_path": list(record.path),
            "ivr_digits": record.digits[:DIGITS_COLUMN],
        }
        if record.contact_id is not None:
            fields["contact_id"] = record.contact_id
        if record.queue:
            fields["queue"] = record.queue
        try:
            await self._log.call_updated(record.linkedid, at=at, **fields)
            await self._log.add_transition(
                record.linkedid, at=at, what=f"ivr_{record.outcome}", flow=record.flow or "none"
            )
        except (SQLAlchemyError, OSError) as exc:  # the call goes on; keep the path in the log
            log.error(
                "call %s: IVR path not stored (%s): %s %s",
                record.linkedid,
                exc,
                record.outcome,
                record.path,
            )
