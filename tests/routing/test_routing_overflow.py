"""Overflow as a call waits: relaxed levels, an added skill, another queue, max wait, callback,
and sticky assignment to the debtor's own operator."""

from __future__ import annotations

from routing.events import CallbackOffered, CallDequeued, CallOverflowed, DequeueReason
from routing.queues import OverflowRule, QueueConfig

COLLECTIONS = QueueConfig(
    name="collections",
    skills=(("collections", 70),),
    overflow=(
        OverflowRule(after_s=30, relax_to_level=30),
        OverflowRule(after_s=90, add_skills=(("general", 1),)),
    ),
)


def events_of(desk, kind):
    return [e for e in desk.acd.take_events() if isinstance(e, kind)]


def test_levels_relax_after_30_s_and_general_joins_after_90_s(desk_factory):
    desk = desk_factory(COLLECTIONS)
    desk.login("junior", {"collections": 35})
    desk.login("generalist", {"general": 50})
    desk.enqueue("L1", "collections")
    desk.enqueue("L2", "collections")
    desk.wait(29)
    assert desk.offers() == []
    desk.wait(1)
    assert desk.offers() == [("junior", "L1")]
    desk.wait(59)
    assert desk.offers() == []
    desk.wait(1)
    assert desk.offers() == [("generalist", "L2")]
    overflowed = events_of(desk, CallOverflowed)
    assert [(e.linkedid, e.rule, e.alternatives) for e in overflowed] == [
        ("L1", "after 30 s: accept level >= 30", ({"collections": 30},)),
        ("L2", "after 30 s: accept level >= 30", ({"collections": 30},)),
        ("L2", "after 90 s: add general>=1", ({"collections": 30}, {"general": 1})),
    ]


def test_overflow_moves_the_call_to_another_queue_keeping_its_wait(desk_factory):
    desk = desk_factory(
        QueueConfig(
            name="vip", skills=(("vip", 1),), overflow=(OverflowRule(after_s=60, move_to="main"),)
        ),
        QueueConfig(name="main", priority=2, max_wait_s=100),
    )
    desk.login("a1", paused="break")
    desk.enqueue("early", "main")
    desk.wait(10)
    desk.enqueue("L1", "vip", priority=1)
    desk.wait(60)
    moved = events_of(desk, CallOverflowed)
    assert [(e.from_queue, e.queue, e.waited_s) for e in moved] == [("vip", "main", 60)]
    call = desk.acd.call("L1")
    assert (call.queue, call.priority) == ("main", 3)  # main's priority + its own
    desk.acd.make_ready("a1")
    assert desk.offers() == [("a1", "L1")]  # priority 3 beats the earlier priority-2 call


def test_max_wait_takes_the_call_out_of_the_queue(desk_factory):
    desk = desk_factory(QueueConfig(name="main", max_wait_s=120))
    desk.enqueue("L1")
    desk.wait(119)
    assert desk.acd.call("L1") is not None
    desk.wait(1)
    assert desk.acd.call("L1") is None
    (dequeued,) = events_of(desk, CallDequeued)
    assert (dequeued.reason, dequeued.waited_s) == (DequeueReason.MAX_WAIT, 120)
    desk.login("a1")
    assert desk.offers() == []


def test_callback_is_offered_once_and_accepting_it_leaves_the_queue(desk_factory):
    desk = desk_factory(QueueConfig(name="main", callback_after_s=45))
    desk.enqueue("L1")
    desk.wait(44)
    assert events_of(desk, CallbackOffered) == []
    desk.wait(100)
    (offer,) = events_of(desk, CallbackOffered)
    assert (offer.linkedid, offer.waited_s, offer.caller_number) == ("L1", 45, "5551234")
    desk.acd.accept_callback("L1")
    (dequeued,) = events_of(desk, CallDequeued)
    assert dequeued.reason is DequeueReason.CALLBACK
    assert desk.acd.call("L1") is None


STICKY = QueueConfig(name="main", sticky_s=20, wrap_up_s=0)


def test_sticky_call_waits_for_its_own_operator_while_others_are_free(desk_factory):
    desk = desk_factory(STICKY)
    desk.login("owner")
    desk.enqueue("other")
    desk.connect("other")
    desk.login("stranger")
    desk.enqueue("debtor", sticky_agent="owner")
    desk.take_offers()
    assert desk.state("stranger") == "ready"
    desk.wait(5)
    desk.acd.call_ended("other")
    assert desk.offers() == [("owner", "debtor")]


def test_sticky_call_goes_to_anyone_after_the_sticky_time(desk_factory):
    desk = desk_factory(STICKY)
    desk.login("owner")
    desk.enqueue("other")
    desk.connect("other")
    desk.login("stranger")
    desk.take_offers()
    desk.enqueue("debtor", sticky_agent="owner")
    desk.wait(19)
    assert desk.offers() == []
    desk.wait(1)
    assert desk.offers() == [("stranger", "debtor")]


def test_sticky_is_skipped_when_the_operator_is_not_working(desk_factory):
    desk = desk_factory(STICKY)
    desk.login("stranger")
    desk.enqueue("logged-out-owner", sticky_agent="owner")
    desk.login("owner", paused="lunch")
    desk.enqueue("paused-owner", sticky_agent="owner")
    desk.login("second")
    assert desk.offers() == [("stranger", "logged-out-owner"), ("second", "paused-owner")]


def test_sticky_operator_takes_own_debtor_before_older_calls(desk_factory):
    desk = desk_factory(STICKY)
    desk.login("owner")
    desk.enqueue("busy")
    desk.connect("busy")
    desk.enqueue("older")
    desk.wait(5)
    desk.enqueue("debtor", sticky_agent="owner")
    desk.take_offers()
    desk.acd.call_ended("busy")
    assert desk.offers() == [("owner", "debtor")]


def test_pausing_the_sticky_operator_releases_its_calls(desk_factory):
    desk = desk_factory(STICKY)
    desk.login("owner")
    desk.enqueue("busy")
    desk.connect("busy")
    desk.login("stranger", paused="break")
    desk.enqueue("debtor", sticky_agent="owner")
    desk.acd.make_ready("stranger")
    assert desk.offers() == [("owner", "busy")]
    desk.acd.pause("owner", "lunch")  # applies after the call...
    desk.acd.call_ended("busy")  # ...which is now: the debtor must not wait for it
    assert desk.offers() == [("stranger", "debtor")]
