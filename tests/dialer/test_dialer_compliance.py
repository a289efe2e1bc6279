"""The compliance rules one by one, with the reasons and reopening times they give."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from dialer.attempts import Attempt, AttemptHistory, AttemptOutcome
from dialer.compliance import Compliance, CompliancePolicy, DialTarget, DoNotCall, Rule

NY = "+12125550123"  # America/New_York
CHICAGO = "+13125550123"
TOLL_FREE = "+18005550123"  # 42 zones from Adak (UTC-10) to Guam (UTC+10)
UNKNOWN = "+882130000000"  # international network: no zone at all


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def attempt(n: int, started: datetime, *, debt: int = 1, phone: str = NY, **kw: object) -> Attempt:
    return Attempt(
        attempt_id=f"a{n}",
        campaign_id=1,
        debt_id=debt,
        phone=phone,
        started_at=started,
        ended_at=started + timedelta(minutes=2),
        outcome=kw.pop("outcome", AttemptOutcome.NO_ANSWER),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


RULES = Compliance(CompliancePolicy())


def test_calling_hours_follow_the_number_zone_and_say_when_they_open() -> None:
    target = DialTarget(debt_id=1, phone=NY)
    # 11:30 UTC on a November Monday is 06:30 in New York (EST, UTC-5)
    verdict = RULES.check(target, AttemptHistory(), at("2026-11-23T11:30:00"))
    assert not verdict.allowed and verdict.rule is Rule.CALLING_HOURS
    assert "06:30 in America/New_York (phone)" in verdict.reason
    assert verdict.not_before == at("2026-11-23T13:00:00")
    assert RULES.check(target, AttemptHistory(), at("2026-11-23T13:00:00")).allowed
    # 21:00 local is already closed; 20:59 is the last open minute
    assert RULES.check(target, AttemptHistory(), at("2026-11-24T01:59:00")).allowed
    assert not RULES.check(target, AttemptHistory(), at("2026-11-24T02:00:00")).allowed


def test_address_zone_wins_over_the_number() -> None:
    # a New York number whose owner lives in Honolulu (UTC-10): 18:00 UTC is 08:00 there
    target = DialTarget(debt_id=1, phone=NY, address_zone="Pacific/Honolulu")
    assert not RULES.check(target, AttemptHistory(), at("2026-11-23T17:59:00")).allowed
    assert RULES.check(target, AttemptHistory(), at("2026-11-23T18:00:00")).allowed


def test_unknown_zone_is_refused_unless_the_campaign_allows_it() -> None:
    target = DialTarget(debt_id=1, phone=UNKNOWN)
    noon = at("2026-11-23T12:00:00")
    verdict = RULES.check(target, AttemptHistory(), noon)
    assert verdict.rule is Rule.UNKNOWN_TIME_ZONE and verdict.permanent
    lenient = Compliance(CompliancePolicy(allow_unknown_zone=True, center_zone="Europe/Berlin"))
    assert lenient.check(target, AttemptHistory(), noon).allowed
    assert not lenient.check(target, AttemptHistory(), at("2026-11-23T20:30:00")).allowed


def test_a_number_spanning_zones_is_dialled_only_when_it_is_daytime_in_all_of_them() -> None:
    target = DialTarget(debt_id=1, phone=TOLL_FREE)
    now = at("2026-11-23T12:00:00")  # 02:00 in Adak
    assert RULES.check(target, AttemptHistory(), now).rule is Rule.CALLING_HOURS
    # 22:00 UTC: 12:00 in Adak, 18:30 in St John's, 08:00 next day in Guam
    assert RULES.next_eligible(target, AttemptHistory(), now) == at("2026-11-23T22:00:00")
    short = Compliance(CompliancePolicy(calling_from=time(9, 0), calling_until=time(17, 0)))
    assert short.next_eligible(target, AttemptHistory(), now) is None


def test_attempt_cap_over_a_rolling_week() -> None:
    start = at("2026-11-16T15:00:00")
    history = AttemptHistory(attempt(i, start + timedelta(days=i)) for i in range(7))
    now = at("2026-11-23T14:00:00")  # the first attempt is 6 days 23 hours old
    verdict = RULES.check(DialTarget(debt_id=1, phone=CHICAGO), history, now)
    assert verdict.rule is Rule.ATTEMPT_CAP
    assert verdict.not_before == start + timedelta(days=7)
    # a different debt of the same debtor is not capped by this one's attempts
    assert RULES.check(DialTarget(debt_id=2, phone=CHICAGO), history, now).allowed


def test_seven_quiet_days_after_a_conversation() -> None:
    talk = attempt(
        1, at("2026-11-20T15:00:00"), outcome=AttemptOutcome.HUMAN, right_party_contact=True
    )
    history = AttemptHistory([talk])
    verdict = RULES.check(DialTarget(debt_id=1, phone=CHICAGO), history, at("2026-11-23T15:00:00"))
    assert verdict.rule is Rule.AFTER_CONVERSATION
    assert verdict.not_before == talk.settled_at + timedelta(days=7)


def test_no_redial_for_72_hours_after_an_abandoned_call_on_any_debt() -> None:
    dropped = attempt(1, at("2026-11-22T15:00:00"), outcome=AttemptOutcome.HUMAN, abandoned=True)
    history = AttemptHistory([dropped])
    verdict = RULES.check(DialTarget(debt_id=9, phone=NY), history, at("2026-11-23T15:00:00"))
    assert verdict.rule is Rule.ABANDONED_REDIAL
    assert verdict.not_before == dropped.settled_at + timedelta(hours=72)


def test_phone_daily_cap() -> None:
    start = at("2026-11-23T14:00:00")
    history = AttemptHistory(
        attempt(i, start + timedelta(hours=i), debt=i, phone=NY) for i in range(3)
    )
    verdict = RULES.check(DialTarget(debt_id=7, phone=NY), history, at("2026-11-23T18:00:00"))
    assert verdict.rule is Rule.PHONE_DAILY_CAP
    assert verdict.not_before == start + timedelta(days=1)


@pytest.mark.parametrize(
    ("target", "dnc", "rule"),
    [
        (DialTarget(debt_id=1, phone=NY, debt_disputed=True), DoNotCall(), Rule.DISPUTED),
        (DialTarget(debt_id=1, phone=NY), DoNotCall(frozenset({NY})), Rule.DO_NOT_CALL),
        (
            DialTarget(debt_id=1, phone=NY),
            DoNotCall(campaign_numbers=frozenset({NY})),
            Rule.CAMPAIGN_DO_NOT_CALL,
        ),
        (DialTarget(debt_id=1, phone=NY, phone_do_not_call=True), DoNotCall(), Rule.PHONE_FLAGGED),
    ],
)
def test_permanent_refusals_come_first(target: DialTarget, dnc: DoNotCall, rule: Rule) -> None:
    night = at("2026-11-23T06:00:00")  # also outside calling hours
    rules = Compliance(CompliancePolicy(), dnc)
    verdict = rules.check(target, AttemptHistory(), night)
    assert verdict.rule is rule and verdict.permanent
    assert rules.next_eligible(target, AttemptHistory(), night) is None


def test_holidays_and_no_call_days_move_the_next_opening() -> None:
    policy = CompliancePolicy(
        holidays=frozenset({date(2026, 11, 26)}), no_call_weekdays=frozenset({6})
    )
    rules = Compliance(policy)
    target = DialTarget(debt_id=1, phone=NY)
    # Wednesday 25th 21:30 New York -> Thursday 26th is a holiday -> Friday 08:00
    nxt = rules.next_eligible(target, AttemptHistory(), at("2026-11-26T02:30:00"))
    assert nxt == at("2026-11-27T13:00:00")
    # Saturday 28th 22:00 -> Sunday is a no-call day -> Monday 08:00
    nxt = rules.next_eligible(target, AttemptHistory(), at("2026-11-29T03:00:00"))
    assert nxt == at("2026-11-30T13:00:00")


def test_next_eligible_combines_rules() -> None:
    # capped until Thursday 15:00 UTC... which is 10:00 in New York: open, so exactly then
    start = at("2026-11-19T15:00:00")
    history = AttemptHistory(attempt(i, start + timedelta(minutes=i)) for i in range(7))
    nxt = RULES.next_eligible(DialTarget(debt_id=1, phone=NY), history, at("2026-11-23T15:00:00"))
    assert nxt == start + timedelta(days=7)
    # the same cap ending at 03:00 UTC (22:00 New York) waits for the next morning
    late = at("2026-11-20T03:00:00")
    history = AttemptHistory(attempt(i, late + timedelta(minutes=i)) for i in range(7))
    nxt = RULES.next_eligible(DialTarget(debt_id=1, phone=NY), history, at("2026-11-23T15:00:00"))
    assert nxt == at("2026-11-27T13:00:00")


def test_policy_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match="calling hours must start before they end"):
        CompliancePolicy(calling_from=time(21, 0), calling_until=time(8, 0))
    with pytest.raises(ValueError, match="not an IANA time zone"):
        CompliancePolicy(center_zone="Mars/Olympus")
    with pytest.raises(ValueError, match="naive"):
        RULES.check(DialTarget(debt_id=1, phone=NY), AttemptHistory(), datetime(2026, 11, 23))
