"""The attempt ledger: every dial attempt and how it ended, the only memory the rules read.

Every write is keyed by the attempt id (the Originate ChannelId) and is idempotent: replaying
the same AMI events, or retrying after a lost reply, leaves the same rows. A write that would
change an outcome already recorded is refused (LedgerConflict): the ledger is a legal record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.db import Database
from dialer.attempts import Attempt, AttemptHistory, AttemptOutcome
from dialer.tables import DialAttemptRow


class LedgerError(Exception):
    pass


class UnknownAttempt(LedgerError):
    def __init__(self, attempt_id: str) -> None:
        super().__init__(f"no dial attempt {attempt_id!r} in the ledger")
        self.attempt_id = attempt_id


class LedgerConflict(LedgerError):
    def __init__(self, attempt_id: str, field: str, recorded: object, given: object) -> None:
        super().__init__(
            f"dial attempt {attempt_id!r}: {field} is already {recorded!r}, refusing {given!r}"
        )
        self.attempt_id = attempt_id


def to_attempt(row: DialAttemptRow) -> Attempt:
    return Attempt(
        attempt_id=row.attempt_id,
        campaign_id=row.campaign_id,
        debt_id=row.debt_id,
        phone=row.phone,
        started_at=row.started_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        outcome=AttemptOutcome(row.outcome) if row.outcome else None,
        abandoned=row.abandoned,
        right_party_contact=row.right_party_contact,
        agent_id=row.agent_id,
        call_id=row.call_id,
        inbound=bool(row.inbound),
    )


class AttemptLedger:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def started(self, attempt: Attempt) -> None:
        """Record a dial as it is placed (before the Originate is sent)."""
        async with self._db.session() as session:
            await self.start_in(session, attempt)
            await session.commit()

    async def start_in(self, session: AsyncSession, attempt: Attempt) -> None:
        """`started` inside the caller's transaction (a check-and-record under one lock)."""
        values = {
            "attempt_id": attempt.attempt_id,
            "campaign_id": attempt.campaign_id,
            "debt_id": attempt.debt_id,
            "phone": attempt.phone,
            "started_at": attempt.started_at,
            "ended_at": attempt.ended_at,
            "abandoned": False,
            "right_party_contact": attempt.right_party_contact,
            "call_id": attempt.call_id or attempt.attempt_id,
            "inbound": attempt.inbound,
            "agent_id": attempt.agent_id,
        }
        insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        statement = insert(DialAttemptRow).values(**values).on_conflict_do_nothing()
        await session.execute(statement)

    async def for_call(self, call_id: str) -> list[Attempt]:
        """The attempts placed as one call (by its Linkedid), oldest first."""
        query = (
            select(DialAttemptRow)
            .where(or_(DialAttemptRow.call_id == call_id, DialAttemptRow.attempt_id == call_id))
            .order_by(DialAttemptRow.attempt_id)
        )
        async with self._db.session() as session:
            return [to_attempt(r) for r in (await session.scalars(query)).all()]

    async def answered(self, attempt_id: str, at: datetime) -> None:
        await self._set_once(attempt_id, "answered_at", at)

    async def classified(
        self,
        attempt_id: str,
        outcome: AttemptOutcome,
        *,
        abandoned: bool = False,
        agent_id: str | None = None,
    ) -> None:
        """The attempt's outcome, as soon as it is known (abandoned: the moment it is)."""
        if abandoned and outcome is not AttemptOutcome.HUMAN:
            raise ValueError(f"attempt {attempt_id}: only a person can be abandoned, not {outcome}")
        async with self._db.session() as session:
            result = await session.execute(
                update(DialAttemptRow)
                .where(DialAttemptRow.attempt_id == attempt_id, DialAttemptRow.outcome.is_(None))
                .values(outcome=outcome.value, abandoned=abandoned, agent_id=agent_id)
            )
            await session.commit()
            if cast(CursorResult[Any], result).rowcount:  # an UPDATE's result
                return
            row = await session.get(DialAttemptRow, attempt_id)
        if row is None:
            raise UnknownAttempt(attempt_id)
        recorded = (row.outcome, row.abandoned, row.agent_id)
        if recorded != (outcome.value, abandoned, agent_id):
            raise LedgerConflict(
                attempt_id, "outcome", recorded, (outcome.value, abandoned, agent_id)
            )

    async def ended(self, attempt_id: str, at: datetime, hangup_cause: int | None = None) -> None:
        await self._set_once(attempt_id, "ended_at", at, hangup_cause=hangup_cause)

    async def conversation(self, attempt_id: str) -> None:
        """The operator's disposition says they spoke with the debtor about the debt."""
        async with self._db.session() as session:
            result = await session.execute(
                update(DialAttemptRow)
                .where(DialAttemptRow.attempt_id == attempt_id)
                .values(right_party_contact=True)
            )
            await session.commit()
        if not cast(CursorResult[Any], result).rowcount:  # an UPDATE's result
            raise UnknownAttempt(attempt_id)

    async def get(self, attempt_id: str) -> Attempt | None:
        async with self._db.session() as session:
            row = await session.get(DialAttemptRow, attempt_id)
        return to_attempt(row) if row else None

    async def history(
        self, *, since: datetime, debt_ids: Iterable[int] = (), phones: Iterable[str] = ()
    ) -> AttemptHistory:
        """Attempts started after `since` on any of the debts or numbers (all, when both empty)."""
        async with self._db.session() as session:
            return await self.history_in(session, since=since, debt_ids=debt_ids, phones=phones)

    async def history_in(
        self,
        session: AsyncSession,
        *,
        since: datetime,
        debt_ids: Iterable[int] = (),
        phones: Iterable[str] = (),
    ) -> AttemptHistory:
        """`history` inside the caller's transaction."""
        debts, numbers = list(debt_ids), list(phones)
        query = select(DialAttemptRow).where(DialAttemptRow.started_at > since)
        if debts or numbers:
            query = query.where(
                or_(DialAttemptRow.debt_id.in_(debts), DialAttemptRow.phone.in_(numbers))
            )
        rows = (await session.scalars(query)).all()
        return AttemptHistory(to_attempt(r) for r in rows)

    async def campaign_attempts(self, campaign_id: int, since: datetime) -> list[Attempt]:
        query = (
            select(DialAttemptRow)
            .where(DialAttemptRow.campaign_id == campaign_id, DialAttemptRow.started_at > since)
            .order_by(DialAttemptRow.started_at)
        )
        async with self._db.session() as session:
            return [to_attempt(r) for r in (await session.scalars(query)).all()]

    async def _set_once(
        self, attempt_id: str, column: str, value: datetime, **extra: object
    ) -> None:
        field = getattr(DialAttemptRow, column)
        async with self._db.session() as session:
            result = await session.execute(
                update(DialAttemptRow)
                .where(DialAttemptRow.attempt_id == attempt_id, field.is_(None))
                .values({column: value, **extra})
            )
            await session.commit()
            if cast(CursorResult[Any], result).rowcount:  # an UPDATE's result
                return
            row = await session.get(DialAttemptRow, attempt_id)
        if row is None:
            raise UnknownAttempt(attempt_id)
        recorded = getattr(row, column)
        if recorded != value:
            raise LedgerConflict(attempt_id, column, recorded, value)
