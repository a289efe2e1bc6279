"""Who takes which call: skills and levels, strategies, priority, longest wait."""

from __future__ import annotations

import pytest

from routing.queues import QueueConfig, Strategy


def test_freed_agent_takes_highest_priority_then_longest_waiting_call(desk_factory):
    desk = desk_factory(QueueConfig(name="main", wrap_up_s=0))
    desk.login("a1")
    desk.enqueue("busy")
    desk.connect("busy")
    desk.enqueue("old")
    desk.wait(10)
    desk.enqueue("newer")
    desk.wait(10)
    desk.enqueue("vip", priority=5)
    desk.acd.call_ended("busy")
    assert desk.offers() == [("a1", "busy"), ("a1", "vip")]
    desk.connect("vip")
    desk.acd.call_ended("vip")
    assert desk.offers() == [("a1", "old")]


def test_queue_priority_adds_to_call_priority(desk_factory):
    desk = desk_factory(
        QueueConfig(name="low", wrap_up_s=0), QueueConfig(name="high", priority=10, wrap_up_s=0)
    )
    desk.login("a1", paused="break")
    desk.enqueue("low-vip", "low", priority=9)
    desk.wait(30)
    desk.enqueue("high-plain", "high")
    desk.acd.make_ready("a1")
    assert desk.offers() == [("a1", "high-plain")]


def test_only_agents_meeting_every_minimum_level_are_offered(desk_factory):
    desk = desk_factory(QueueConfig(name="legal", skills=(("legal", 60), ("ru", 30))))
    desk.login("weak", {"legal": 59, "ru": 90})
    desk.login("no-ru", {"legal": 90})
    desk.enqueue("L1", "legal")
    assert desk.offers() == []
    desk.login("good", {"legal": 60, "ru": 30})
    assert desk.offers() == [("good", "L1")]


def test_call_skills_add_to_the_queue_skills(desk_factory):
    desk = desk_factory(QueueConfig(name="main", skills=(("collections", 10),)))
    desk.login("en", {"collections": 50, "en": 80})
    desk.login("ru", {"collections": 50, "ru": 80})
    desk.enqueue("L1", skills={"ru": 50})
    assert desk.offers() == [("ru", "L1")]


def test_freed_agent_does_not_take_a_call_it_cannot_serve(desk_factory):
    desk = desk_factory(QueueConfig(name="fr", skills=(("fr", 50),)), QueueConfig(name="main"))
    desk.login("a1", {"en": 50}, paused="break")
    desk.enqueue("french", "fr")
    desk.wait(5)
    desk.enqueue("any", "main")
    desk.acd.make_ready("a1")
    assert desk.offers() == [("a1", "any")]


def ready_agents(desk, *agents: tuple[str, dict[str, int]], gap: float = 10) -> None:
    for agent_id, skills in agents:
        desk.login(agent_id, skills)
        desk.wait(gap)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (Strategy.LONGEST_IDLE, "first"),
        (Strategy.HIGHEST_LEVEL, "expert"),
    ],
)
def test_strategy_chooses_among_ready_agents(desk_factory, strategy, expected):
    desk = desk_factory(QueueConfig(name="main", skills=(("debt", 10),), strategy=strategy))
    ready_agents(desk, ("first", {"debt": 20}), ("expert", {"debt": 95}), ("third", {"debt": 50}))
    desk.enqueue("L1")
    assert desk.offers() == [(expected, "L1")]


def test_least_calls_today_prefers_the_agent_with_fewest_answered(desk_factory):
    desk = desk_factory(QueueConfig(name="main", strategy=Strategy.LEAST_CALLS, wrap_up_s=0))
    desk.login("busy-bee")
    for n in range(3):
        desk.enqueue(f"warm{n}")
        desk.connect(f"warm{n}")
        desk.acd.call_ended(f"warm{n}")
    desk.take_offers()
    desk.wait(60)
    desk.login("fresh")  # idle for less time, but no calls yet
    desk.enqueue("L1")
    assert desk.offers() == [("fresh", "L1")]


def test_round_robin_rotates_through_agents(desk_factory):
    desk = desk_factory(QueueConfig(name="main", strategy=Strategy.ROUND_ROBIN, wrap_up_s=0))
    ready_agents(desk, ("a", {}), ("b", {}), ("c", {}), gap=0)
    picked = []
    for n in range(6):
        desk.enqueue(f"L{n}")
        ((agent_id, linkedid),) = desk.offers()
        picked.append(agent_id)
        desk.connect(linkedid)
        desk.acd.call_ended(linkedid)
    assert picked == ["a", "b", "c", "a", "b", "c"]


def test_agent_ready_from_pause_goes_to_the_end_of_the_idle_line(desk_factory):
    desk = desk_factory()
    ready_agents(desk, ("a", {}), ("b", {}))
    desk.acd.pause("a", "break")
    desk.acd.make_ready("a")
    desk.enqueue("L1")
    assert desk.offers() == [("b", "L1")]


def test_skill_change_of_a_ready_agent_is_routed_at_once(desk_factory):
    desk = desk_factory(QueueConfig(name="fr", skills=(("fr", 50),)))
    desk.login("a1", {"en": 80})
    desk.enqueue("L1", "fr")
    assert desk.offers() == []
    desk.acd.set_skills("a1", {"en": 80, "fr": 70})
    assert desk.offers() == [("a1", "L1")]
    assert desk.acd.board.members("fr") == {"a1"}
