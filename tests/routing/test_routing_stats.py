"""Service level, ASA and abandons, for today and for the last 30 minutes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from routing.errors import UnknownQueue
from routing.queues import QueueConfig


def answer_after(desk, linkedid: str, wait: float) -> None:
    desk.enqueue(linkedid)
    desk.wait(wait)
    desk.login(f"agent-{linkedid}")
    desk.connect(linkedid)


def test_service_level_asa_and_abandons(desk_factory):
    desk = desk_factory(QueueConfig(name="main", sl_target_s=20, short_abandon_s=5))
    answer_after(desk, "fast", 10)
    answer_after(desk, "slow", 50)
    desk.enqueue("misdial")
    desk.wait(2)
    desk.acd.call_ended("misdial")  # short abandon: not held against the queue
    desk.enqueue("gave-up")
    desk.wait(30)
    desk.acd.call_ended("gave-up")
    desk.enqueue("waiting")
    desk.wait(7)
    snap = desk.acd.snapshot("main")
    assert (snap.offered, snap.answered, snap.answered_within_target, snap.abandoned) == (
        5,
        2,
        1,
        2,
    )
    assert snap.service_level == pytest.approx(100 / 3)  # 1 of (2 answered + 1 real abandon)
    assert snap.asa_s == 30
    assert (snap.waiting, snap.longest_wait_s) == (1, 7)
    assert (snap.agents_ready, snap.agents_busy) == (0, 2)


def test_recent_window_forgets_calls_older_than_30_minutes(desk_factory):
    desk = desk_factory()
    answer_after(desk, "early", 40)
    desk.wait(25 * 60)
    answer_after(desk, "later", 4)
    recent = desk.acd.snapshot("main", "30m")
    assert (recent.offered, recent.answered, recent.asa_s) == (2, 2, 22)
    desk.wait(6 * 60)
    recent = desk.acd.snapshot("main", "30m")
    assert (recent.offered, recent.answered, recent.asa_s, recent.service_level) == (1, 1, 4, 100)
    today = desk.acd.snapshot("main", "today")
    assert (today.answered, today.asa_s, today.service_level) == (2, 22, 50)


def test_today_starts_again_at_midnight(desk_factory, clock):
    desk = desk_factory()
    clock.set(datetime(2026, 11, 23, 23, 59, tzinfo=UTC))
    answer_after(desk, "late", 10)
    desk.wait(120)
    assert desk.acd.snapshot("main").answered == 0
    answer_after(desk, "early", 10)
    assert desk.acd.snapshot("main").answered == 1


def test_snapshot_refuses_unknown_windows_and_queues(desk_factory):
    desk = desk_factory()
    with pytest.raises(ValueError, match="window must be one of today, 30m"):
        desk.acd.snapshot("main", "week")
    with pytest.raises(UnknownQueue, match=r"queue .nope. is not configured"):
        desk.acd.snapshot("nope")
