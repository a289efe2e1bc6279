"""The recent window of a queue's statistics holds only the last 30 minutes of calls, however
many calls a node has taken in its weeks of running, and gives the same figures as counting
those calls afresh."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from routing.stats import WINDOW_S, QueueStatistics

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_the_window_is_bounded_and_its_figures_are_exact() -> None:
    stats = QueueStatistics(target_s=20, short_abandon_s=5, tz=UTC)
    rng = random.Random(3)
    log: list[tuple[float, str, float]] = []
    mono = 0.0
    for _ in range(40_000):  # 5 calls a second for over two hours
        mono += rng.expovariate(5.0)
        wall = T0 + timedelta(seconds=mono)
        wait = rng.uniform(0, 60)
        stats.record_offered(mono, wall)
        log.append((mono, "offered", 0.0))
        if rng.random() < 0.9:
            stats.record_answered(mono, wall, wait)
            log.append((mono, "answered", wait))
        else:
            stats.record_abandoned(mono, wall, wait)
            log.append((mono, "abandoned", wait))
        assert stats.window_entries() <= 2 * 5 * WINDOW_S * 1.2
    recent = stats.recent(mono)
    inside = [(k, w) for t, k, w in log if t > mono - WINDOW_S]
    assert stats.window_entries() == len(inside)
    answered = [w for k, w in inside if k == "answered"]
    abandoned = [w for k, w in inside if k == "abandoned"]
    assert recent.offered == sum(1 for k, _ in inside if k == "offered")
    assert recent.answered == len(answered)
    assert recent.answered_within_target == sum(1 for w in answered if w <= 20)
    assert recent.abandoned == len(abandoned)
    assert recent.short_abandoned == sum(1 for w in abandoned if w < 5)
    assert recent.answer_wait_total == pytest.approx(sum(answered))
    assert recent.longest_wait == max(answered + abandoned)


def test_a_quiet_hour_empties_the_window() -> None:
    stats = QueueStatistics(target_s=20, short_abandon_s=5, tz=UTC)
    for n in range(3000):
        stats.record_answered(float(n), T0 + timedelta(seconds=n), 3.0)
    later = 3000 + WINDOW_S + 1
    recent = stats.recent(later)
    assert stats.window_entries() == 0
    assert (recent.answered, recent.longest_wait, recent.answer_wait_total) == (0, 0.0, 0.0)
