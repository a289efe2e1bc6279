"""The dialer's circuit breaker and how a dial that was not answered is read (dialer/breaker.py):
plain decisions with a manual clock, the Reason/cause pairs taken from trace 11."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ami_bridge.errors import ActionFailed, ActionTimeout, InvalidRequest, LinkDown, OriginateLost
from crm_core.clock import ManualClock
from dialer.attempts import AttemptOutcome
from dialer.breaker import (
    ANSWERED,
    CircuitBreaker,
    Side,
    classify_ami_error,
    classify_failed_originate,
)

# (OriginateResponse Reason, the channels' hangup cause or None for no channel) -> outcome, side
TRACE_11 = [
    ((5, 17), AttemptOutcome.BUSY, Side.DEBTOR),  # 11.4 busy
    ((3, 19), AttemptOutcome.NO_ANSWER, Side.DEBTOR),  # 11.5 rang out
    ((8, 34), AttemptOutcome.CONGESTION, Side.PBX),  # 11.6 congestion
    ((0, 21), AttemptOutcome.REJECTED, Side.DEBTOR),  # 11.7 far end hangs up before answer
    ((0, 21), AttemptOutcome.REJECTED, Side.DEBTOR),  # 11.8 rings, then rejects
    ((0, 0), AttemptOutcome.NOT_DIALLED, Side.PBX),  # 11.9 context that does not exist
    ((0, None), AttemptOutcome.NOT_DIALLED, Side.PBX),  # no such extension: no channel at all
]


@pytest.mark.parametrize(("given", "outcome", "side"), TRACE_11)
def test_trace_11_failures_are_read_by_reason_and_cause(
    given: tuple[int, int | None], outcome: AttemptOutcome, side: Side
) -> None:
    verdict = classify_failed_originate(*given)
    assert (verdict.outcome, verdict.side) == (outcome, side)
    assert verdict.feeds_pacing == (side is Side.DEBTOR)


@pytest.mark.parametrize("cause", [34, 38, 41, 42, 44, 47])
def test_no_channel_available_causes_are_the_trunks_side(cause: int) -> None:
    verdict = classify_failed_originate(0, cause)
    assert verdict.side is Side.PBX and verdict.outcome is AttemptOutcome.CONGESTION
    assert str(cause) in verdict.detail


def test_a_sip_like_reject_and_far_end_causes_are_the_debtors_side() -> None:
    assert classify_failed_originate(1, None).outcome is AttemptOutcome.REJECTED
    assert classify_failed_originate(0, 17).outcome is AttemptOutcome.BUSY
    assert classify_failed_originate(0, 19).outcome is AttemptOutcome.NO_ANSWER
    assert classify_failed_originate(-1, 16).side is Side.DEBTOR
    assert classify_failed_originate(-1, None).outcome is AttemptOutcome.NOT_DIALLED


def test_ami_errors_on_originate() -> None:
    refused = classify_ami_error(ActionFailed("Originate", "Permission denied"))
    assert (refused.outcome, refused.side) == (AttemptOutcome.NOT_DIALLED, Side.PBX)
    assert "Permission denied" in refused.detail
    assert classify_ami_error(LinkDown("no session")).outcome is AttemptOutcome.NOT_DIALLED
    # sent, outcome unknown: the call may exist, so it stays an attempt on the debtor
    lost = classify_ami_error(OriginateLost("dropped"))
    assert (lost.outcome, lost.side) == (AttemptOutcome.FAILED, Side.PBX)
    late = classify_ami_error(ActionTimeout("Originate", 35.0, "OriginateResponse"))
    assert (late.outcome, late.side) == (AttemptOutcome.FAILED, Side.PBX)
    bad = classify_ami_error(InvalidRequest("number 'x' is not a dialable number"))
    assert bad.side is Side.NEUTRAL


NOT_DIALLED = classify_failed_originate(0, None)
CONGESTION = classify_failed_originate(8, 34)
BUSY = classify_failed_originate(5, 17)
NO_ANSWER = classify_failed_originate(3, 19)
REJECTED = classify_failed_originate(0, 21)


def test_the_threshold_in_a_row_trips_it_with_a_reason(clock: ManualClock) -> None:
    breaker = CircuitBreaker(clock, threshold=5)
    for _ in range(4):
        assert breaker.record(NOT_DIALLED) is None
        clock.advance(1)
    assert not breaker.tripped and breaker.failures_in_a_row == 4
    trip = breaker.record(NOT_DIALLED)
    assert trip is not None and breaker.tripped
    assert trip.failures == 5 and trip.at - trip.first_at == timedelta(seconds=4)
    assert "5 dials in a row failed at the PBX" in trip.reason
    assert "no such extension" in trip.reason and len(trip.reason) <= 200
    # once tripped, nothing more is reported (one pause, one alert)
    assert breaker.record(NOT_DIALLED) is None
    assert breaker.to_dict()["tripped"] == trip.reason


@pytest.mark.parametrize("debtor", [BUSY, NO_ANSWER, REJECTED, ANSWERED])
def test_an_ordinary_debtor_outcome_resets_the_run(clock: ManualClock, debtor) -> None:
    breaker = CircuitBreaker(clock, threshold=3)
    for _ in range(10):
        assert breaker.record(CONGESTION) is None
        assert breaker.record(NOT_DIALLED) is None
        assert breaker.record(debtor) is None
        assert breaker.failures_in_a_row == 0
    assert not breaker.tripped


def test_debtor_outcomes_alone_never_trip_it(clock: ManualClock) -> None:
    breaker = CircuitBreaker(clock, threshold=2)
    for verdict in [BUSY, NO_ANSWER, REJECTED] * 100:
        assert breaker.record(verdict) is None
    assert breaker.failures_in_a_row == 0


def test_a_single_failure_never_trips_it(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        CircuitBreaker(clock, threshold=1)
    breaker = CircuitBreaker(clock, threshold=2)
    assert breaker.record(CONGESTION) is None
    assert breaker.record(BUSY) is None
    assert breaker.record(CONGESTION) is None
    assert not breaker.tripped


def test_neutral_verdicts_neither_count_nor_reset(clock: ManualClock) -> None:
    breaker = CircuitBreaker(clock, threshold=3)
    neutral = classify_ami_error(InvalidRequest("bad number"))
    breaker.record(NOT_DIALLED)
    breaker.record(neutral)
    breaker.record(NOT_DIALLED)
    assert breaker.failures_in_a_row == 2
    assert breaker.record(NOT_DIALLED) is not None


def test_reset_starts_afresh_and_ignores_dials_placed_before_it(clock: ManualClock) -> None:
    breaker = CircuitBreaker(clock, threshold=2)
    placed_before = clock.now()
    breaker.record(NOT_DIALLED, placed_before)
    assert breaker.record(NOT_DIALLED, placed_before) is not None
    clock.advance(60)
    breaker.reset()
    assert not breaker.tripped and breaker.failures_in_a_row == 0
    # dials still in flight when the supervisor resumed belong to the old run
    assert breaker.record(NOT_DIALLED, placed_before) is None
    assert breaker.record(NOT_DIALLED, placed_before) is None
    assert breaker.failures_in_a_row == 0
    assert breaker.record(NOT_DIALLED, clock.now()) is None
    assert breaker.record(NOT_DIALLED, clock.now()) is not None
