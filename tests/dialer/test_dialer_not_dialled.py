"""A dial that never left the PBX (`not_dialled`) is on record but is not a call attempt on the
debtor: the compliance caps and the retry plan leave it out, and after the breaker's reset the
debt is back in the eligible pool. The rules read only the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from crm_core.db import Database
from crm_core.models import Contact, Debt
from dialer.attempts import Attempt, AttemptHistory, AttemptOutcome
from dialer.campaign import Lead, LeadPhone
from dialer.compliance import Compliance, CompliancePolicy, DialTarget, Rule
from dialer.ledger import AttemptLedger
from dialer.retry import FinalStatus, RetryPolicy, plan
from dialer.selection import select
from dialer.tables import CampaignRow

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 11:00 in New York
NY, NY2 = "+12125550123", "+12125550124"
TARGET = DialTarget(debt_id=1, phone=NY, address_zone="America/New_York")


def tried(n: int, outcome: AttemptOutcome | None, minutes_ago: float, phone: str = NY) -> Attempt:
    began = NOW - timedelta(minutes=minutes_ago)
    return Attempt(
        attempt_id=f"t{n}",
        campaign_id=1,
        debt_id=1,
        phone=phone,
        started_at=began,
        ended_at=None if outcome is None else began + timedelta(seconds=2),
        outcome=outcome,
    )


def test_not_dialled_is_outside_the_attempt_caps() -> None:
    rules = Compliance(CompliancePolicy())
    refused = AttemptHistory(tried(i, AttemptOutcome.NOT_DIALLED, 60 + i) for i in range(50))
    assert rules.check(TARGET, refused, NOW).allowed
    assert refused.debt_starts_since(1, NOW - timedelta(days=7), NOW) == []
    assert refused.phone_starts_since(NY, NOW - timedelta(days=1), NOW) == []
    # the same number of real attempts hits the caps; one in progress still counts
    real = AttemptHistory(tried(i, AttemptOutcome.NO_ANSWER, 60 + i) for i in range(7))
    assert rules.check(TARGET, real, NOW).rule in (Rule.ATTEMPT_CAP, Rule.PHONE_DAILY_CAP)
    live = AttemptHistory([tried(1, None, 1)])
    assert len(live.debt_starts_since(1, NOW - timedelta(days=7), NOW)) == 1
    assert AttemptOutcome.CONGESTION.counts_as_attempt  # it reached the trunk
    assert not AttemptOutcome.NOT_DIALLED.counts_as_attempt


async def seed_one_debt(db: Database) -> None:
    async with db.session() as s:
        contact = Contact(
            first_name="D1", timezone="America/New_York", created_at=NOW, updated_at=NOW
        )
        s.add(contact)
        await s.flush()
        s.add(
            Debt(
                id=1,
                contact_id=contact.id,
                creditor="bank",
                reference="R1",
                principal=Decimal(500),
                balance=Decimal(100),
                due_date=date(2026, 6, 1),
                created_at=NOW,
            )
        )
        s.add(CampaignRow(id=1, name="c", created_at=NOW, updated_at=NOW))
        await s.commit()


async def test_the_rules_read_not_dialled_from_the_ledger(sqlite_db: Database) -> None:
    await seed_one_debt(sqlite_db)
    start = NOW - timedelta(hours=1)
    ledger = AttemptLedger(sqlite_db)
    for n in range(9):
        attempt = Attempt(
            attempt_id=f"dial-1-{n}",
            campaign_id=1,
            debt_id=1,
            phone="+12125550001",
            started_at=start + timedelta(minutes=n),
        )
        await ledger.started(attempt)
        await ledger.classified(attempt.attempt_id, AttemptOutcome.NOT_DIALLED)
        await ledger.ended(attempt.attempt_id, start + timedelta(minutes=n, seconds=1))
    now = NOW
    history = await ledger.history(since=now - timedelta(days=8), debt_ids=[1])
    assert len(history) == 9  # recorded for the report
    assert history.debt_starts_since(1, now - timedelta(days=7), now) == []  # not counted
    target = DialTarget(debt_id=1, phone="+12125550001", address_zone="America/New_York")
    assert Compliance(CompliancePolicy()).check(target, history, now).allowed


def test_retry_plan_does_not_give_up_or_wait_long_on_not_dialled() -> None:
    policy = RetryPolicy()
    # not dialled twice after a no-answer: the no-answer's 2 h wait still rules
    attempts = [
        tried(1, AttemptOutcome.NO_ANSWER, 30),
        tried(2, AttemptOutcome.NOT_DIALLED, 5),
        tried(3, AttemptOutcome.NOT_DIALLED, 3),
    ]
    result = plan(policy, [NY], attempts)
    assert result.final is None
    assert result.phones[0].usable_at == attempts[0].settled_at + timedelta(hours=2)
    # not dialled alone: a short wait, no given-up count of real attempts consumed
    result = plan(policy, [NY], [tried(1, AttemptOutcome.NOT_DIALLED, 1)])
    assert result.final is None and result.phones[0].why == "after not_dialled"
    assert result.phones[0].usable_at == NOW - timedelta(minutes=1, seconds=-2) + timedelta(
        minutes=10
    )
    # a number the PBX keeps refusing is left alone (until the breaker's reset forgives it)
    refused = [tried(i, AttemptOutcome.NOT_DIALLED, i) for i in range(1, 4)]
    assert plan(policy, [NY], refused).final is FinalStatus.UNREACHABLE
    assert plan(policy, [NY, NY2], refused).phones[0].phone == NY2


def test_after_the_breakers_reset_the_debt_is_eligible_again() -> None:
    rules = Compliance(CompliancePolicy())
    history = AttemptHistory(tried(i, AttemptOutcome.NOT_DIALLED, i) for i in range(1, 4))
    leads = [
        Lead(
            debt_id=1,
            contact_id=1,
            creditor="bank",
            balance=Decimal(100),
            days_past_due=10,
            status="active",
            phones=(LeadPhone(NY),),
        )
    ]
    kwargs = {
        "count": 1,
        "now": NOW,
        "campaign_id": 1,
        "compliance": rules,
        "retry": RetryPolicy(),
        "history": history,
    }
    held = select(leads, **kwargs)  # type: ignore[arg-type]
    assert held.picks == [] and held.finished == 1
    # the supervisor resumed the campaign a minute ago: those dials no longer hold it back
    resumed = NOW - timedelta(seconds=30)
    back = select(leads, not_dialled_since=resumed, **kwargs)  # type: ignore[arg-type]
    assert [(p.lead.debt_id, p.phone) for p in back.picks] == [(1, NY)]
