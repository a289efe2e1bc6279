"""Queue definitions are validated when configured, naming the queue and the bad field."""

from __future__ import annotations

import pytest

from crm_core.clock import ManualClock
from routing.acd import Acd
from routing.errors import DuplicateCall, InvalidQueueConfig, RoutingError
from routing.queues import OverflowRule, QueueConfig


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: QueueConfig(name="q", skills=(("ru", 101),)), "queue 'q', skill 'ru'"),
        (lambda: QueueConfig(name="q", skills=(("ru", 5), ("ru", 9))), "given twice"),
        (lambda: QueueConfig(name="q", sl_target_pct=120), "sl_target_pct"),
        (lambda: QueueConfig(name="q", ring_timeout_s=0), "ring_timeout_s must be > 0"),
        (
            lambda: QueueConfig(
                name="q",
                overflow=(
                    OverflowRule(after_s=90, relax_to_level=10),
                    OverflowRule(after_s=30, relax_to_level=20),
                ),
            ),
            "in order of after_s",
        ),
        (lambda: OverflowRule(after_s=10), "does nothing"),
        (
            lambda: QueueConfig(name="q", overflow=(OverflowRule(after_s=1, move_to="q"),)),
            "moves calls to itself",
        ),
    ],
)
def test_bad_definitions_are_refused(build, message):
    with pytest.raises(InvalidQueueConfig, match=message):
        build()


def test_overflow_target_must_be_configured(clock: ManualClock):
    moving = QueueConfig(name="vip", overflow=(OverflowRule(after_s=60, move_to="general"),))
    with pytest.raises(InvalidQueueConfig, match="unknown queue 'general'"):
        Acd(clock, [moving])
    acd = Acd(clock, [moving, QueueConfig(name="general")])
    assert set(acd.board.configs) == {"vip", "general"}


def test_reconfiguring_a_queue_keeps_its_statistics(clock: ManualClock):
    acd = Acd(clock, [QueueConfig(name="main")])
    acd.enqueue("L1", "main", caller_channel="c")
    acd.configure([QueueConfig(name="main", sl_target_s=30)])
    snap = acd.snapshot("main")
    assert (snap.offered, snap.target_s) == (1, 30)


def test_enqueue_refuses_duplicates_and_bad_skills(clock: ManualClock):
    acd = Acd(clock, [QueueConfig(name="main")])
    acd.enqueue("L1", "main", caller_channel="c")
    with pytest.raises(DuplicateCall, match="L1"):
        acd.enqueue("L1", "main", caller_channel="c")
    with pytest.raises(RoutingError, match="call L2, skill 'ru'"):
        acd.enqueue("L2", "main", caller_channel="c", skills={"ru": 0})
