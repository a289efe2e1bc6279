"""The agent state machine: allowed moves, timestamps, pauses, wrap-up, errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from routing.agent_state import AgentState
from routing.errors import InvalidTransition, UnknownAgent
from routing.events import AgentStateChanged
from routing.queues import QueueConfig

S = AgentState


def changes(desk) -> list[tuple[str, str, str, str | None]]:
    return [
        (e.agent_id, e.previous.value, e.state.value, e.reason)
        for e in desk.acd.take_events()
        if isinstance(e, AgentStateChanged)
    ]


def test_login_pause_ready_logout_are_reported_with_time(desk_factory, clock):
    desk = desk_factory()
    desk.login("a1", paused="training")
    clock.advance(60)
    desk.acd.pause("a1", "lunch")  # a new reason while paused
    clock.advance(30)
    desk.acd.make_ready("a1")
    clock.advance(10)
    desk.acd.logout("a1")
    events = [e for e in desk.acd.take_events() if isinstance(e, AgentStateChanged)]
    assert [(e.previous.value, e.state.value, e.reason) for e in events] == [
        ("logged_out", "paused", "training"),
        ("paused", "paused", "lunch"),
        ("paused", "ready", None),
        ("ready", "logged_out", None),
    ]
    start = events[0].at
    assert [e.at - start for e in events] == [
        timedelta(0),
        timedelta(seconds=60),
        timedelta(seconds=90),
        timedelta(seconds=100),
    ]
    agent = desk.acd.agent("a1")
    assert desk.acd.agents.seconds_in(agent, S.PAUSED) == 90
    assert desk.acd.agents.seconds_in(agent, S.READY) == 10


def test_wrong_transitions_say_what_was_expected(desk_factory):
    desk = desk_factory()
    desk.login("a1")
    with pytest.raises(InvalidTransition, match="expected logged_out but got ready"):
        desk.login("a1")
    with pytest.raises(
        InvalidTransition, match="cannot become ready: expected paused or wrap_up but got ready"
    ):
        desk.acd.make_ready("a1")
    desk.acd.logout("a1")
    with pytest.raises(
        InvalidTransition, match=r"cannot go logged_out: expected .* but got logged_out"
    ):
        desk.acd.logout("a1")
    with pytest.raises(
        InvalidTransition, match="expected ready or paused or wrap_up but got logged_out"
    ):
        desk.acd.pause("a1", "break")
    with pytest.raises(UnknownAgent, match="'nobody'"):
        desk.acd.pause("nobody", "break")


def test_cannot_log_out_during_a_call(desk_factory):
    desk = desk_factory()
    desk.login("a1")
    desk.enqueue("L1")
    desk.connect("L1")
    with pytest.raises(InvalidTransition, match="but got on_call"):
        desk.acd.logout("a1")


def test_login_needs_an_endpoint_and_valid_levels(desk_factory):
    desk = desk_factory()
    with pytest.raises(ValueError, match="endpoint"):
        desk.acd.login("a1", "", {})
    with pytest.raises(ValueError, match=r"skill .ru.*1..100, got 0"):
        desk.acd.login("a2", "Local/a2@cb-agents", {"ru": 0})


def test_full_call_cycle_and_timed_extendable_wrap_up(desk_factory):
    desk = desk_factory(QueueConfig(name="main", wrap_up_s=15))
    desk.login("a1")
    desk.enqueue("L1")
    assert desk.offers() == [("a1", "L1")]
    assert desk.state("a1") == "reserved"
    desk.acd.ringing("L1")
    assert desk.state("a1") == "ringing"
    desk.acd.answered("L1")
    assert desk.state("a1") == "on_call"
    desk.wait(120)
    desk.acd.call_ended("L1")
    assert desk.state("a1") == "wrap_up"
    desk.wait(10)
    desk.acd.extend_wrap_up("a1", 20)  # ends at 10 + 5 left + 20
    desk.wait(24)
    assert desk.state("a1") == "wrap_up"
    desk.wait(1)
    assert desk.state("a1") == "ready"
    assert desk.acd.agent("a1").calls_today == 1
    assert [c[1:3] for c in changes(desk)] == [
        ("logged_out", "ready"),
        ("ready", "reserved"),
        ("reserved", "ringing"),
        ("ringing", "on_call"),
        ("on_call", "wrap_up"),
        ("wrap_up", "ready"),
    ]


def test_agent_can_end_wrap_up_early_and_take_the_next_call(desk_factory):
    desk = desk_factory(QueueConfig(name="main", wrap_up_s=60))
    desk.login("a1")
    desk.enqueue("L1")
    desk.connect("L1")
    desk.enqueue("L2")
    desk.acd.call_ended("L1")
    assert desk.offers() == [("a1", "L1")]
    desk.acd.make_ready("a1")
    assert desk.offers() == [("a1", "L2")]


def test_pause_asked_during_a_call_applies_after_wrap_up(desk_factory):
    desk = desk_factory(QueueConfig(name="main", wrap_up_s=5))
    desk.login("a1")
    desk.enqueue("L1")
    desk.connect("L1")
    desk.acd.pause("a1", "lunch")
    assert desk.state("a1") == "on_call"
    desk.enqueue("L2")
    desk.acd.call_ended("L1")
    desk.wait(5)
    agent = desk.acd.agent("a1")
    assert (agent.state, agent.reason) == (S.PAUSED, "lunch")
    assert desk.acd.call("L2").agent_id is None  # still waiting: nobody ready


def test_wrap_up_of_zero_goes_straight_back_to_ready(desk_factory):
    desk = desk_factory(QueueConfig(name="main", wrap_up_s=0))
    desk.login("a1")
    desk.enqueue("L1")
    desk.connect("L1")
    desk.acd.call_ended("L1")
    assert desk.state("a1") == "ready"


def test_agent_leaving_a_transferred_call_starts_wrap_up_at_once(desk_factory):
    desk = desk_factory(QueueConfig(name="main", wrap_up_s=5))
    desk.login("a1")
    desk.enqueue("L1")
    desk.acd.ringing("L1")
    desk.acd.answered("L1", agent_channel="Local/a1@cb-agents-00000001;1")
    desk.wait(30)
    desk.acd.agent_left("L1")  # the caller was transferred; the call itself goes on
    assert desk.state("a1") == "wrap_up"
    desk.wait(5)
    assert desk.state("a1") == "ready"
    assert desk.acd.call_ended("L1").value == "connected"
    assert desk.state("a1") == "ready"
    assert desk.acd.snapshot("main").answered == 1
