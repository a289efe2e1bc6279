"""The attempt ledger on a real SQLite database: idempotent writes, refused rewrites, history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from crm_core.db import Database
from crm_core.models import Contact, Debt
from dialer.attempts import Attempt, AttemptOutcome
from dialer.ledger import AttemptLedger, LedgerConflict, UnknownAttempt
from dialer.tables import CampaignRow

T = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


async def seed(db: Database) -> None:
    async with db.session() as s:
        s.add(Contact(id=1, first_name="Ann", created_at=T, updated_at=T))
        for debt_id in (1, 2):
            s.add(
                Debt(
                    id=debt_id,
                    contact_id=1,
                    creditor="bank",
                    reference=f"R{debt_id}",
                    principal=Decimal(100),
                    balance=Decimal(100),
                    due_date=date(2026, 1, 1),
                    created_at=T,
                )
            )
        s.add(CampaignRow(id=1, name="spring", created_at=T, updated_at=T))
        await s.commit()


def dial(n: int, debt: int = 1, phone: str = "+12125550123", at: datetime = T) -> Attempt:
    return Attempt(attempt_id=f"dial-{n}", campaign_id=1, debt_id=debt, phone=phone, started_at=at)


async def test_writes_are_idempotent_and_rewrites_refused(sqlite_db: Database) -> None:
    await seed(sqlite_db)
    ledger = AttemptLedger(sqlite_db)
    await ledger.started(dial(1))
    await ledger.started(dial(1))  # a retried write changes nothing
    await ledger.answered("dial-1", T + timedelta(seconds=3))
    await ledger.classified("dial-1", AttemptOutcome.HUMAN, abandoned=True)
    await ledger.classified("dial-1", AttemptOutcome.HUMAN, abandoned=True)
    await ledger.ended("dial-1", T + timedelta(seconds=9), hangup_cause=16)
    await ledger.ended("dial-1", T + timedelta(seconds=9), hangup_cause=16)
    got = await ledger.get("dial-1")
    assert got is not None
    assert (got.outcome, got.abandoned, got.answered_at) == (
        AttemptOutcome.HUMAN,
        True,
        T + timedelta(seconds=3),
    )
    with pytest.raises(LedgerConflict, match="outcome is already"):
        await ledger.classified("dial-1", AttemptOutcome.HUMAN, agent_id="agent1")
    with pytest.raises(LedgerConflict, match="ended_at"):
        await ledger.ended("dial-1", T + timedelta(seconds=20))
    with pytest.raises(UnknownAttempt):
        await ledger.classified("dial-404", AttemptOutcome.BUSY)
    with pytest.raises(ValueError, match="only a person can be abandoned"):
        await ledger.classified("dial-1", AttemptOutcome.MACHINE, abandoned=True)


async def test_history_feeds_the_rules(sqlite_db: Database) -> None:
    await seed(sqlite_db)
    ledger = AttemptLedger(sqlite_db)
    await ledger.started(dial(1, debt=1, at=T - timedelta(days=9)))
    await ledger.started(dial(2, debt=1, at=T - timedelta(days=2)))
    await ledger.started(dial(3, debt=2, phone="+13125550123", at=T - timedelta(days=1)))
    await ledger.classified("dial-2", AttemptOutcome.HUMAN, agent_id="agent1")
    await ledger.ended("dial-2", T - timedelta(days=2) + timedelta(minutes=4))
    await ledger.conversation("dial-2")
    history = await ledger.history(since=T - timedelta(days=8), debt_ids=[1])
    assert [a.attempt_id for a in history.for_debt(1)] == ["dial-2"]
    assert history.last_conversation(1, T) == T - timedelta(days=2) + timedelta(minutes=4)
    by_phone = await ledger.history(since=T - timedelta(days=8), phones=["+13125550123"])
    assert [a.attempt_id for a in by_phone.for_phone("+13125550123")] == ["dial-3"]
    everything = await ledger.campaign_attempts(1, T - timedelta(days=30))
    assert [a.attempt_id for a in everything] == ["dial-1", "dial-2", "dial-3"]
