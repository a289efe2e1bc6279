"""After an attempt: when to try again, on which number, and when to give up.

A pure function of the campaign's attempts on one debt, so it needs no state of its own: the
ledger is the memory. Each outcome has a delay before the same number is tried again and a
number of such outcomes after which that number is given up; when every number of the debtor is
given up, the debt is finished for the campaign with a final status.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dialer.attempts import Attempt, AttemptOutcome

ANY_TIME = datetime(1970, 1, 1, tzinfo=UTC)  # "usable now", whatever now is


class MachineAction(enum.StrEnum):
    LEAVE_MESSAGE = "leave_message"
    HANG_UP = "hang_up"


class FinalStatus(enum.StrEnum):
    CONTACTED = "contacted"  # the operator spoke with the debtor: this campaign is done with it
    UNREACHABLE = "unreachable"  # every number given up after its retries
    INVALID_NUMBERS = "invalid_numbers"  # every number is invalid
    NO_NUMBER = "no_number"


@dataclass(frozen=True, slots=True)
class RetryRule:
    delay: timedelta  # before the same number is tried again
    max_count: int  # this many such outcomes on a number and the number is given up


def _rules() -> dict[AttemptOutcome, RetryRule]:
    def minutes(n: int) -> timedelta:
        return timedelta(minutes=n)

    return {
        AttemptOutcome.HUMAN: RetryRule(timedelta(days=1), 3),  # a person, not a conversation
        AttemptOutcome.MACHINE: RetryRule(timedelta(hours=4), 5),
        AttemptOutcome.NO_ANSWER: RetryRule(timedelta(hours=2), 6),
        AttemptOutcome.BUSY: RetryRule(minutes(15), 5),
        AttemptOutcome.CONGESTION: RetryRule(minutes(5), 3),
        AttemptOutcome.REJECTED: RetryRule(timedelta(hours=1), 4),
        AttemptOutcome.HUNG_UP: RetryRule(timedelta(hours=1), 4),
        AttemptOutcome.INVALID_NUMBER: RetryRule(timedelta(0), 1),
        AttemptOutcome.FAILED: RetryRule(minutes(1), 3),
        # not a call on the debtor: a short wait, and a number the PBX refuses this often is
        # left alone until the breaker is reset (the dialer forgives earlier ones then)
        AttemptOutcome.NOT_DIALLED: RetryRule(minutes(10), 3),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    rules: dict[AttemptOutcome, RetryRule] = field(default_factory=_rules)
    machine_action: MachineAction = MachineAction.LEAVE_MESSAGE

    def __post_init__(self) -> None:
        missing = [o.value for o in AttemptOutcome if o not in self.rules]
        if missing:
            raise ValueError(f"retry policy has no rule for outcome(s): {', '.join(missing)}")
        for outcome, rule in self.rules.items():
            if rule.max_count < 1 or rule.delay < timedelta(0):
                raise ValueError(f"retry rule for {outcome}: max_count >= 1 and delay >= 0 needed")


@dataclass(frozen=True, slots=True)
class PhonePlan:
    phone: str
    usable_at: datetime | None  # None: given up
    why: str


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """Numbers to try, soonest first; or a final status when the debt is done."""

    phones: tuple[PhonePlan, ...]
    final: FinalStatus | None = None

    @property
    def next_at(self) -> datetime | None:
        times = [p.usable_at for p in self.phones if p.usable_at is not None]
        return min(times, default=None)


def plan(
    policy: RetryPolicy,
    phones: Sequence[str],
    attempts: Sequence[Attempt],
) -> RetryPlan:
    """The retry plan for one debt in one campaign. `phones` are the debtor's usable numbers in
    preference order (primary first); `attempts` are this campaign's attempts on the debt."""
    if not phones:
        return RetryPlan((), FinalStatus.NO_NUMBER)
    finished = [a for a in attempts if a.outcome is not None]
    if any(a.right_party_contact for a in finished):
        return RetryPlan((), FinalStatus.CONTACTED)
    plans = [
        _phone_plan(policy, phone, [a for a in finished if a.phone == phone]) for phone in phones
    ]
    live = [p for p in plans if p.usable_at is not None]
    if not live:
        invalid = all(p.why == AttemptOutcome.INVALID_NUMBER.value for p in plans)
        return RetryPlan(
            tuple(plans), FinalStatus.INVALID_NUMBERS if invalid else FinalStatus.UNREACHABLE
        )
    # soonest first; among numbers usable at the same moment, the one tried least recently
    order = {phone: i for i, phone in enumerate(phones)}
    last_try = {
        p: max((a.started_at for a in finished if a.phone == p), default=ANY_TIME) for p in phones
    }
    live.sort(key=lambda p: (p.usable_at, last_try[p.phone], order[p.phone]))
    return RetryPlan(tuple(live))


def _phone_plan(policy: RetryPolicy, phone: str, attempts: list[Attempt]) -> PhonePlan:
    """Calls that reached the network decide as ever; dials that never left the PBX only add
    their own short wait (and give the number up when the PBX keeps refusing it)."""
    counted = [a for a in attempts if a.outcome is not None and a.outcome.counts_as_attempt]
    base = _counted_plan(policy, phone, counted)
    refused = [a for a in attempts if a.outcome is AttemptOutcome.NOT_DIALLED]
    if not refused or base.usable_at is None:
        return base
    rule = policy.rules[AttemptOutcome.NOT_DIALLED]
    if len(refused) >= rule.max_count:
        return PhonePlan(phone, None, AttemptOutcome.NOT_DIALLED.value)
    last = max(refused, key=lambda a: a.started_at)
    at = last.settled_at + rule.delay
    if at <= base.usable_at:
        return base
    return PhonePlan(phone, at, f"after {AttemptOutcome.NOT_DIALLED.value}")


def _counted_plan(policy: RetryPolicy, phone: str, attempts: list[Attempt]) -> PhonePlan:
    outcomes = [(a.started_at, a.settled_at, a.outcome) for a in attempts if a.outcome is not None]
    if not outcomes:
        return PhonePlan(phone, ANY_TIME, "never tried")
    _, settled, outcome = max(outcomes, key=lambda t: t[0])
    rule = policy.rules[outcome]
    if sum(o is outcome for _, _, o in outcomes) >= rule.max_count:
        return PhonePlan(phone, None, outcome.value)
    return PhonePlan(phone, settled + rule.delay, f"after {outcome.value}")
