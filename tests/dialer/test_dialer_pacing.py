"""Pacing decisions from plain snapshots: no clock, no I/O."""

from __future__ import annotations

import pytest

from dialer.pacing import (
    Activity,
    AgentLoad,
    CallStage,
    DialMode,
    LiveCall,
    Pacer,
    PacingPolicy,
    PacingSnapshot,
)
from dialer.traffic import DAY, AbandonMeter, Durations, TrafficPrior, TrafficStats

PREDICT = PacingPolicy(warm_up_dials=0)  # decide from the priors at once


def agents(ready: int = 0, talking: tuple[float, ...] = (), wrapping: tuple[float, ...] = ()):
    return (
        tuple(AgentLoad(Activity.READY, 5.0) for _ in range(ready))
        + tuple(AgentLoad(Activity.TALKING, e) for e in talking)
        + tuple(AgentLoad(Activity.WRAP_UP, e) for e in wrapping)
    )


def ringing(n: int, elapsed: float = 1.0) -> tuple[LiveCall, ...]:
    return tuple(LiveCall(CallStage.RINGING, elapsed) for _ in range(n))


@pytest.mark.parametrize("mode", [DialMode.PROGRESSIVE, DialMode.PREVIEW])
def test_one_line_per_ready_operator_without_a_call(mode: DialMode) -> None:
    pacer = Pacer(PacingPolicy(mode=mode))
    snap = PacingSnapshot(agents(ready=5, talking=(30.0,) * 4), ringing(2))
    assert pacer.decide(snap, 0.0).dials == 3
    busy = PacingSnapshot(agents(ready=2, talking=(30.0,)), ringing(3))
    assert pacer.decide(busy, 0.0).dials == 0


def test_predictive_dials_ahead_when_operators_wait() -> None:
    pacer = Pacer(PREDICT)
    snap = PacingSnapshot(agents(ready=10), ())
    decision = pacer.decide(snap, 0.0)
    # 10 ready operators, 0.3 x 0.8 = 0.24 people per dial: well over 10 lines, under the cap
    assert 10 < decision.dials <= 30
    assert "10.0 operators free" in decision.reason


def test_predictive_counts_operators_about_to_finish() -> None:
    stats = TrafficStats()
    for _ in range(200):
        stats.talk.add(100.0)  # every talk lasts 100 s, then 5 s of wrap-up
        stats.wrap.add(5.0)
    pacer = Pacer(PREDICT, stats)
    fresh = pacer.decide(PacingSnapshot(agents(talking=(5.0,) * 10), ()), 0.0)
    ending = pacer.decide(PacingSnapshot(agents(talking=(99.0,) * 10), ()), 0.0)
    assert fresh.dials == 0
    assert ending.dials > 10  # all ten are expected free within the connect delay


def test_predictive_holds_back_when_calls_in_flight_cover_the_operators() -> None:
    pacer = Pacer(PREDICT)
    waiting = tuple(LiveCall(CallStage.WAITING, 0.5) for _ in range(3))
    decision = pacer.decide(PacingSnapshot(agents(ready=3), waiting + ringing(40)), 0.0)
    assert decision.dials == 0


def test_line_cap_per_operator() -> None:
    pacer = Pacer(PacingPolicy(max_lines_per_agent=1.5, warm_up_dials=0))
    decision = pacer.decide(PacingSnapshot(agents(ready=10), ringing(10)), 0.0)
    assert decision.dials == 5


def test_abandon_rate_at_target_falls_back_to_progressive() -> None:
    meter = AbandonMeter()
    for i in range(200):
        meter.record(float(i), abandoned=i % 25 == 0)  # 8 of 200 = 4 %
    pacer = Pacer(PREDICT, meter=meter)
    decision = pacer.decide(PacingSnapshot(agents(ready=10), ringing(4)), 300.0)
    assert decision.dials == 6
    assert "progressive" in decision.reason
    # 24 h later the 30-day window still holds the 4 %; after 30 days prediction resumes
    assert pacer.decide(PacingSnapshot(agents(ready=10), ringing(4)), 300.0 + DAY).dials == 6
    assert pacer.decide(PacingSnapshot(agents(ready=10), ringing(4)), 300.0 + 31 * DAY).dials > 6


def test_progressive_until_the_list_has_shown_its_answer_rate() -> None:
    pacer = Pacer(PacingPolicy(warm_up_dials=3))
    snap = PacingSnapshot(agents(ready=10), ())
    assert pacer.decide(snap, 0.0).dials == 10
    for _ in range(3):
        pacer.stats.dial_resolved(False, 20.0)
    assert pacer.decide(snap, 0.0).dials > 10


def test_feedback_lowers_the_risk_limit_after_abandons_and_raises_it_after_answers() -> None:
    pacer = Pacer(PacingPolicy())
    start = pacer.risk_limit
    pacer.live_answer(0.0, abandoned=True)
    assert pacer.risk_limit < start
    lowered = pacer.risk_limit
    for i in range(100):
        pacer.live_answer(float(i), abandoned=False)
    assert pacer.risk_limit > lowered


def test_abandon_meter_windows() -> None:
    meter = AbandonMeter((3600.0, DAY))
    meter.record(0.0, True)
    meter.record(10.0, False)
    meter.record(7200.0, False)
    assert meter.counts(3600.0, 7200.0) == (1, 0)
    assert meter.counts(DAY, 7200.0) == (3, 1)
    assert meter.rate(DAY, 7200.0) == pytest.approx(1 / 3)
    assert meter.rate(DAY, 7200.0, min_answers=100) == pytest.approx(0.01)


def test_durations_condition_on_elapsed_time() -> None:
    d = Durations(prior_mean=10.0, min_samples=4)
    for s in (10.0, 20.0, 30.0, 40.0):
        d.add(s)
    assert d.mean == 25.0
    assert d.ends_within(0.0, 15.0) == pytest.approx(0.25)
    assert d.ends_within(25.0, 10.0) == pytest.approx(0.5)  # of {30, 40}, 30 ends by 35
    assert d.ends_within(50.0, 10.0) == pytest.approx(10.0 / 25.0)  # beyond every sample


def test_traffic_stats_learn_what_ringing_calls_become() -> None:
    stats = TrafficStats(TrafficPrior(answer_rate=0.5, human_share=1.0))
    for _ in range(100):
        stats.dial_resolved(True, 5.0)
        stats.dial_resolved(False, 30.0)
        stats.screened(True, 2.0)
    assert stats.ringing_turns_human(1.0) == pytest.approx(0.5, abs=0.01)
    # still ringing after 10 s: every answered call answers within 5 s, so this one will not
    assert stats.ringing_turns_human(10.0) == 0.0


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="target_abandon_rate"):
        PacingPolicy(target_abandon_rate=0.0)
    with pytest.raises(ValueError, match="safety_margin"):
        PacingPolicy(target_abandon_rate=0.01, safety_margin=0.02)
