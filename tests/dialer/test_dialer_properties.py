"""Property tests: whatever the debtors, zones, ledgers and clocks, the dialer's choices obey
the law. The checks below recompute every rule independently from the final ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as phone_timezone

from dialer.attempts import Attempt, AttemptHistory, AttemptOutcome
from dialer.campaign import Lead, LeadPhone
from dialer.compliance import Compliance, CompliancePolicy, DialTarget, DoNotCall
from dialer.retry import RetryPolicy
from dialer.selection import select

PHONES = [
    "+12125550123",  # New York
    "+13125550123",  # Chicago
    "+13105550123",  # Los Angeles
    "+18085550123",  # Honolulu
    "+442079460123",  # London
    "+61212345678",  # Sydney
    "+79161234567",  # Russia: 16 zones
    "+18005550123",  # toll free: 42 zones
    "+882130000000",  # no zone
]
ZONES = ["America/New_York", "America/Denver", "Europe/Berlin", "Asia/Tokyo", "Pacific/Auckland"]
CAMPAIGN = 1
OUTCOMES = list(AttemptOutcome)
T0 = datetime(2026, 3, 1, tzinfo=UTC)  # spans the US and EU daylight-saving changes below


@dataclass
class World:
    leads: list[Lead]
    policy: CompliancePolicy
    dnc: DoNotCall
    prior: list[Attempt]
    start: datetime
    steps: list[tuple[int, int, list[tuple[AttemptOutcome, bool, bool, int]]]]


@st.composite
def worlds(draw: st.DrawFn, with_steps: bool = True) -> World:
    leads = []
    for debt_id in range(1, draw(st.integers(1, 6)) + 1):
        numbers = draw(st.lists(st.sampled_from(PHONES), min_size=1, max_size=3, unique=True))
        leads.append(
            Lead(
                debt_id=debt_id,
                contact_id=debt_id,
                creditor="bank",
                balance=Decimal(draw(st.integers(10, 5000))),
                days_past_due=draw(st.integers(0, 400)),
                status=draw(st.sampled_from(["active", "active", "active", "disputed"])),
                address_zone=draw(st.none() | st.sampled_from(ZONES)),
                phones=tuple(
                    LeadPhone(n, draw(st.booleans()) and draw(st.booleans())) for n in numbers
                ),
                broken_promise=draw(st.booleans()),
            )
        )
    start = T0 + timedelta(minutes=draw(st.integers(0, 60 * 24 * 60)))
    holidays = draw(st.sets(st.integers(0, 20), max_size=3))
    policy = CompliancePolicy(
        allow_unknown_zone=draw(st.booleans()),
        center_zone=draw(st.sampled_from(ZONES)),
        max_attempts_per_debt=draw(st.integers(1, 7)),
        max_attempts_per_phone_per_day=draw(st.integers(1, 3)),
        holidays=frozenset(start.date() + timedelta(days=d) for d in holidays),
    )
    dnc = DoNotCall(
        frozenset(draw(st.sets(st.sampled_from(PHONES), max_size=2))),
        frozenset(draw(st.sets(st.sampled_from(PHONES), max_size=2))),
    )
    prior = []
    for i in range(draw(st.integers(0, 12))):
        lead = draw(st.sampled_from(leads))
        outcome = draw(st.sampled_from(OUTCOMES))
        began = start - timedelta(minutes=draw(st.integers(10, 60 * 24 * 10)))
        prior.append(
            Attempt(
                attempt_id=f"prior-{i}",
                campaign_id=draw(st.sampled_from([CAMPAIGN, 2])),
                debt_id=lead.debt_id,
                phone=draw(st.sampled_from(lead.phones)).e164,
                started_at=began,
                ended_at=began + timedelta(seconds=draw(st.integers(1, 500))),
                outcome=outcome,
                abandoned=outcome is AttemptOutcome.HUMAN and draw(st.booleans()),
                right_party_contact=outcome is AttemptOutcome.HUMAN and draw(st.booleans()),
            )
        )
    prior = [a for a in prior if a.settled_at < start]
    if not with_steps:
        return World(leads, policy, dnc, prior, start, [])
    steps = draw(
        st.lists(
            st.tuples(
                st.integers(10, 60 * 9),  # minutes to the next decision
                st.integers(1, 4),  # lines the pacer asks for
                st.lists(
                    st.tuples(
                        st.sampled_from(OUTCOMES),
                        st.booleans(),  # abandoned (if human)
                        st.booleans(),  # conversation (if human and not abandoned)
                        st.integers(5, 540),  # call length, s (< 10 min: calls never overlap)
                    ),
                    min_size=4,
                    max_size=4,
                ),
            ),
            min_size=1,
            max_size=40,
        )
    )
    return World(leads, policy, dnc, prior, start, steps)


def run(world: World) -> list[Attempt]:
    """The dialer's pick loop against a ledger, in virtual time; returns the new attempts."""
    compliance = Compliance(world.policy, world.dnc)
    ledger = list(world.prior)
    made: list[Attempt] = []
    now = world.start
    for minutes, lines, results in world.steps:
        history = AttemptHistory(ledger)
        chosen = select(
            world.leads,
            count=lines,
            now=now,
            campaign_id=CAMPAIGN,
            compliance=compliance,
            retry=RetryPolicy(),
            history=history,
        )
        for pick, (outcome, dropped, talked, seconds) in zip(chosen.picks, results, strict=False):
            human = outcome is AttemptOutcome.HUMAN
            attempt = Attempt(
                attempt_id=f"new-{len(made)}",
                campaign_id=CAMPAIGN,
                debt_id=pick.lead.debt_id,
                phone=pick.phone,
                started_at=now,
                ended_at=now + timedelta(seconds=seconds),
                outcome=outcome,
                abandoned=human and dropped,
                right_party_contact=human and not dropped and talked,
            )
            made.append(attempt)
            ledger.append(attempt)
        now += timedelta(minutes=minutes)
    return made


def local_zones(lead: Lead, phone: str, policy: CompliancePolicy) -> list[ZoneInfo] | None:
    if lead.address_zone:
        return [ZoneInfo(lead.address_zone)]
    zones = phone_timezone.time_zones_for_number(phonenumbers.parse(phone))
    if zones and zones != (phone_timezone.UNKNOWN_TIMEZONE,):
        return [ZoneInfo(z) for z in zones]
    return [ZoneInfo(policy.center_zone)] if policy.allow_unknown_zone else None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_every_dial_the_dialer_makes_is_lawful(world: World) -> None:
    made = run(world)
    everything = world.prior + made
    leads = {lead.debt_id: lead for lead in world.leads}
    policy = world.policy
    for a in made:
        lead = leads[a.debt_id]
        # the debtor's local time, in every zone the debtor may be in
        zones = local_zones(lead, a.phone, policy)
        assert zones is not None, f"{a}: dialled with no known local time"
        for zone in zones:
            local = a.started_at.astimezone(zone)
            assert time(8) <= local.time() < time(21), f"{a}: {local} in {zone}"
            assert local.date() not in policy.holidays
        # the attempt cap in the 7 days up to and including this one; a dial that never left
        # the PBX is on record but is no call attempt on the debtor
        counted = [b for b in everything if b.outcome is not AttemptOutcome.NOT_DIALLED]
        week = [
            b
            for b in counted
            if b.debt_id == a.debt_id
            and a.started_at - timedelta(days=7) < b.started_at <= a.started_at
        ]
        assert len(week) <= policy.max_attempts_per_debt
        day = [
            b
            for b in counted
            if b.phone == a.phone
            and a.started_at - timedelta(days=1) < b.started_at <= a.started_at
        ]
        assert len(day) <= policy.max_attempts_per_phone_per_day
        for b in everything:
            if b.started_at >= a.started_at:
                continue
            if b.debt_id == a.debt_id and b.right_party_contact:
                assert a.started_at >= b.settled_at + timedelta(days=7), f"{a} after talk {b}"
            if b.phone == a.phone and b.abandoned:
                assert a.started_at >= b.settled_at + timedelta(hours=72), f"{a} after drop {b}"
        assert a.phone not in world.dnc.global_numbers | world.dnc.campaign_numbers
        assert not any(p.do_not_call for p in lead.phones if p.e164 == a.phone)
        assert not lead.disputed


@st.composite
def targets(draw: st.DrawFn) -> tuple[Compliance, DialTarget, AttemptHistory, datetime]:
    world = draw(worlds(with_steps=False))
    lead = draw(st.sampled_from(world.leads))
    phone = draw(st.sampled_from(lead.phones)).e164
    target = DialTarget(
        debt_id=lead.debt_id,
        phone=phone,
        address_zone=lead.address_zone,
        debt_disputed=lead.disputed,
    )
    return Compliance(world.policy, world.dnc), target, AttemptHistory(world.prior), world.start


@settings(max_examples=100, deadline=None)
@given(targets(), st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5))
def test_next_eligible_is_allowed_and_nothing_earlier_is(
    case: tuple[Compliance, DialTarget, AttemptHistory, datetime], fractions: list[float]
) -> None:
    rules, target, history, now = case
    nxt = rules.next_eligible(target, history, now)
    if nxt is None:
        horizon = now + timedelta(days=31)
        probes = [now + (horizon - now) * f for f in fractions]
    else:
        assert rules.check(target, history, nxt).allowed
        probes = [now + (nxt - now) * f for f in fractions if now + (nxt - now) * f < nxt]
    for probe in probes:
        assert not rules.check(target, history, probe).allowed, f"{probe} allowed before {nxt}"


def test_the_world_generator_does_produce_dials() -> None:
    """Guard against a vacuous property: an ordinary world yields dials on a working day."""
    lead = Lead(
        debt_id=1,
        contact_id=1,
        creditor="bank",
        balance=Decimal(100),
        days_past_due=30,
        status="active",
        phones=(LeadPhone("+12125550123"),),
    )
    world = World(
        [lead],
        CompliancePolicy(),
        DoNotCall(),
        [],
        datetime(2026, 3, 2, 15, tzinfo=UTC),
        [(60, 1, [(AttemptOutcome.NO_ANSWER, False, False, 30)] * 4)] * 10,
    )
    made = run(world)
    assert len(made) >= 3
    assert made[0].started_at.date() == date(2026, 3, 2)
