"""Campaign settings, state, filters, priority; retry plans; and the selection that joins them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dialer.attempts import Attempt, AttemptHistory, AttemptOutcome
from dialer.campaign import (
    Campaign,
    CampaignState,
    CampaignStateError,
    DebtFilter,
    Lead,
    LeadPhone,
    priority_key,
)
from dialer.compliance import Compliance, CompliancePolicy, Rule
from dialer.retry import FinalStatus, RetryPolicy, plan
from dialer.selection import select
from dialer.settings import CampaignSettings, CampaignSettingsError, Schedule

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 11:00 in New York
NY, NY2 = "+12125550123", "+12125550124"


def lead(debt_id: int, **kw: object) -> Lead:
    values: dict[str, object] = {
        "debt_id": debt_id,
        "contact_id": debt_id,
        "creditor": "bank",
        "balance": Decimal(100),
        "days_past_due": 10,
        "status": "active",
        "phones": (LeadPhone(NY), LeadPhone(NY2)),
    }
    values.update(kw)
    return Lead(**values)  # type: ignore[arg-type]


def tried(
    n: int, phone: str, outcome: AttemptOutcome, minutes_ago: float, debt: int = 1
) -> Attempt:
    began = NOW - timedelta(minutes=minutes_ago)
    return Attempt(
        attempt_id=f"t{n}",
        campaign_id=1,
        debt_id=debt,
        phone=phone,
        started_at=began,
        ended_at=began + timedelta(seconds=30),
        outcome=outcome,
    )


def test_retry_waits_per_outcome_and_moves_to_the_next_number() -> None:
    policy = RetryPolicy()
    busy = plan(policy, [NY, NY2], [tried(1, NY, AttemptOutcome.BUSY, 5)])
    # NY is busy until 15 min after the call; NY2 was never tried, so it comes first
    assert [p.phone for p in busy.phones] == [NY2, NY]
    assert busy.phones[1].usable_at == NOW - timedelta(minutes=5) + timedelta(
        seconds=30, minutes=15
    )


def test_invalid_numbers_are_given_up_and_the_debt_finishes() -> None:
    attempts = [
        tried(1, NY, AttemptOutcome.INVALID_NUMBER, 50),
        tried(2, NY2, AttemptOutcome.INVALID_NUMBER, 40),
    ]
    result = plan(RetryPolicy(), [NY, NY2], attempts)
    assert result.final is FinalStatus.INVALID_NUMBERS
    no_answers = [tried(i, NY, AttemptOutcome.NO_ANSWER, 1000 - i) for i in range(6)]
    assert plan(RetryPolicy(), [NY], no_answers).final is FinalStatus.UNREACHABLE


def test_a_conversation_finishes_the_debt_for_the_campaign() -> None:
    talk = Attempt(
        attempt_id="x",
        campaign_id=1,
        debt_id=1,
        phone=NY,
        started_at=NOW,
        ended_at=NOW,
        outcome=AttemptOutcome.HUMAN,
        right_party_contact=True,
    )
    assert plan(RetryPolicy(), [NY], [talk]).final is FinalStatus.CONTACTED
    assert plan(RetryPolicy(), [], []).final is FinalStatus.NO_NUMBER


def test_priority_callbacks_due_then_broken_promises_then_score() -> None:
    leads = [
        lead(1, balance=Decimal(1000), days_past_due=100),
        lead(2, broken_promise=True),
        lead(3, callback_due_at=NOW - timedelta(minutes=1)),
        lead(4, callback_due_at=NOW + timedelta(hours=1), balance=Decimal(5000), days_past_due=100),
        lead(5, balance=Decimal(10), days_past_due=1),
    ]
    ordered = [x.debt_id for x in sorted(leads, key=lambda x: priority_key(x, NOW))]
    assert ordered == [3, 2, 4, 1, 5]


def test_filter() -> None:
    f = DebtFilter(creditors=frozenset({"bank"}), min_balance=Decimal(50), max_days_past_due=30)
    assert f.matches(lead(1))
    assert not f.matches(lead(1, balance=Decimal(10)))
    assert not f.matches(lead(1, creditor="telco"))
    assert not f.matches(lead(1, status="disputed"))
    assert DebtFilter(debt_ids=frozenset({7})).matches(lead(7))


def test_settings_round_trip_and_name_the_bad_key() -> None:
    settings = CampaignSettings.from_dict(
        {
            "name": "spring",
            "dial_mode": "progressive",
            "filter": {"creditors": ["bank"], "min_balance": "50.00"},
            "schedule": {"zone": "America/New_York", "start": "09:30"},
            "compliance": {"max_attempts_per_debt": 5, "holidays": ["2026-12-25"]},
        }
    )
    assert settings.compliance.max_attempts_per_debt == 5
    assert settings.compliance.center_zone == "America/New_York"
    assert CampaignSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(CampaignSettingsError, match=r"'filter\.colour' is not a known setting"):
        CampaignSettings.from_dict({"name": "x", "filter": {"colour": "red"}})
    with pytest.raises(CampaignSettingsError, match=r"schedule\.zone"):
        CampaignSettings.from_dict({"name": "x", "schedule": {"zone": "Nowhere/Land"}})
    with pytest.raises(CampaignSettingsError, match=r"compliance\.holidays"):
        CampaignSettings.from_dict({"name": "x", "compliance": {"holidays": ["25/12"]}})


def test_campaign_state_moves_carry_a_reason() -> None:
    campaign = Campaign(1, CampaignSettings(name="spring"))
    campaign.start()
    campaign.pause("lunch")
    assert (campaign.state, campaign.reason) == (CampaignState.PAUSED, "lunch")
    with pytest.raises(CampaignStateError, match="expected a move to one of running, stopped"):
        campaign.move(CampaignState.FINISHED, "no")


def test_schedule_in_the_center_zone() -> None:
    schedule = Schedule(zone="Europe/Berlin", days=frozenset(range(5)))
    saturday = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert not schedule.is_open(saturday)
    assert schedule.next_open(saturday) == datetime(2026, 11, 30, 8, tzinfo=UTC)


def test_selection_skips_busy_and_refused_and_says_when_to_wake() -> None:
    rules = Compliance(CompliancePolicy())
    history = AttemptHistory([tried(1, NY2, AttemptOutcome.BUSY, 5, debt=2)])
    leads = [
        lead(1, phones=(LeadPhone(NY),)),
        lead(2, phones=(LeadPhone(NY2),)),
        lead(3, phones=(LeadPhone(NY),)),  # shares debt 1's number: not twice at once
        lead(4, phones=(LeadPhone("+13125550123"),), status="disputed"),
    ]
    picked = select(
        leads,
        count=5,
        now=NOW,
        campaign_id=1,
        compliance=rules,
        retry=RetryPolicy(),
        history=history,
    )
    # debt 1 takes NY; debt 2 waits for its busy retry; 3's number is taken; 4 is disputed
    assert [(p.lead.debt_id, p.phone) for p in picked.picks] == [(1, NY)]
    assert picked.refused == {Rule.DISPUTED: 1}
    assert picked.wake_at == NOW - timedelta(minutes=5) + timedelta(seconds=30, minutes=15)
