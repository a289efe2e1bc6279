"""Ring no answer, busy phones, and callers who hang up while waiting or while the agent rings."""

from __future__ import annotations

import pytest

from routing.errors import UnknownCall
from routing.events import AgentRona, CallAbandoned, OfferFailure
from routing.queues import QueueConfig
from routing.waiting import CallStatus


def test_rona_pauses_the_agent_and_the_call_goes_back_to_the_head(desk_factory):
    desk = desk_factory(QueueConfig(name="main", ring_timeout_s=15))
    desk.login("sleepy")
    desk.enqueue("first")
    (offer,) = desk.take_offers()
    assert offer.ring_timeout_s == 15
    desk.acd.ringing("first")
    desk.wait(5)
    desk.enqueue("second")
    desk.wait(10)
    desk.acd.offer_failed("first", OfferFailure.NO_ANSWER)
    agent = desk.acd.agent("sleepy")
    assert (agent.state.value, agent.reason) == ("paused", "rona")
    (rona,) = [e for e in desk.acd.take_events() if isinstance(e, AgentRona)]
    assert (rona.agent_id, rona.linkedid, rona.cause, rona.rang_s) == (
        "sleepy",
        "first",
        OfferFailure.NO_ANSWER,
        15,
    )
    desk.login("awake")
    assert desk.offers() == [("awake", "first")]  # ahead of the call that came later


def test_rona_call_is_offered_at_once_to_another_ready_agent(desk_factory):
    desk = desk_factory()
    desk.login("a1")
    desk.login("a2")
    desk.enqueue("L1")
    assert desk.offers() == [("a1", "L1")]
    desk.acd.ringing("L1")
    desk.acd.offer_failed("L1", OfferFailure.BUSY)
    assert desk.acd.agent("a1").reason == "phone_busy"
    assert desk.offers() == [("a2", "L1")]
    desk.connect("L1")
    assert desk.acd.call("L1").status is CallStatus.CONNECTED


def test_caller_hangs_up_while_waiting_is_an_abandon(desk_factory):
    desk = desk_factory()
    desk.enqueue("L1")
    desk.wait(42)
    assert desk.acd.call_ended("L1") is CallStatus.WAITING
    (abandoned,) = [e for e in desk.acd.take_events() if isinstance(e, CallAbandoned)]
    assert (abandoned.linkedid, abandoned.waited_s) == ("L1", 42)
    desk.login("a1")
    assert desk.offers() == []
    assert desk.acd.call_ended("L1") is None  # the tracker's late or repeated end is harmless


def test_caller_hangs_up_while_the_agent_rings(desk_factory):
    desk = desk_factory()
    desk.login("a1")
    desk.wait(30)
    desk.login("a2")
    desk.enqueue("L1")
    assert desk.offers() == [("a1", "L1")]
    desk.acd.ringing("L1")
    desk.wait(3)
    # the service hangs up the agent leg when it sees OFFERED here
    assert desk.acd.call_ended("L1") is CallStatus.OFFERED
    assert desk.state("a1") == "ready"
    desk.enqueue("L2")
    assert desk.offers() == [("a1", "L2")]  # it kept its place as the longest idle


def test_outcomes_for_a_call_not_offered_are_refused(desk_factory):
    desk = desk_factory()
    desk.enqueue("L1")
    with pytest.raises(
        UnknownCall, match="call L1: cannot connect: expected offered but got waiting"
    ):
        desk.acd.answered("L1")
    with pytest.raises(UnknownCall, match="expected offered but got unknown"):
        desk.acd.offer_failed("nope", OfferFailure.NO_ANSWER)
