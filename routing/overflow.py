"""What a call's wait makes due: overflow rules, the maximum wait, the end of a sticky hold, the
callback offer; and when to look at the call next.

Plain functions over a WaitingCall and the queue definitions; the ACD re-routes the call and
publishes the events returned here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from crm_core.bus import Event
from routing.events import CallbackOffered, CallOverflowed
from routing.queues import QueueConfig
from routing.skills import Alternative, Requirement
from routing.waiting import WaitingCall


def merged(queue_skills: Alternative, own_skills: Alternative) -> Requirement:
    """The queue's skills plus the call's own (e.g. a language the IVR chose); the call's level
    wins where both name a skill."""
    levels = dict(queue_skills)
    levels.update(own_skills)
    return Requirement((tuple(levels.items()),))


@dataclass(slots=True)
class Due:
    events: list[Event] = field(default_factory=list)
    max_wait_reached: bool = False


def apply_wait_rules(
    call: WaitingCall, queues: Mapping[str, QueueConfig], now: float, wall: datetime
) -> Due:
    """Apply, in order, every rule the call's wait has reached. Overflow rules accumulate; one
    that moves the call starts the next queue's rules (and maximum wait) from zero. The call
    must not be in the waiting index while this runs: its queue and requirement may change."""
    due = Due()
    while True:
        q = queues[call.queue]
        if call.stage >= len(q.overflow):
            break
        rule = q.overflow[call.stage]
        if rule.after_s > now - call.queue_entered_at:
            break
        call.stage += 1
        if rule.move_to is not None:
            target = queues[rule.move_to]
            call.queue, call.queue_entered_at, call.stage = target.name, now, 0
            call.requirement = merged(target.skills, call.own_skills)
            call.priority = target.priority + call.base_priority
        call.requirement = rule.apply(call.requirement)
        due.events.append(
            CallOverflowed(
                linkedid=call.linkedid,
                queue=call.queue,
                from_queue=q.name,
                rule=rule.describe(),
                alternatives=call.requirement.as_dicts(),
                waited_s=now - call.enqueued_at,
                at=wall,
            )
        )
    q = queues[call.queue]
    in_queue = now - call.queue_entered_at
    if q.max_wait_s is not None and in_queue >= q.max_wait_s:
        due.max_wait_reached = True
        return due
    if call.sticky_agent is not None and now >= call.sticky_until:
        call.sticky_agent = None
    if q.callback_after_s is not None and not call.callback_offered:
        if in_queue >= q.callback_after_s:
            call.callback_offered = True
            due.events.append(
                CallbackOffered(
                    linkedid=call.linkedid,
                    queue=call.queue,
                    caller_number=call.caller_number,
                    contact_id=call.contact_id,
                    waited_s=now - call.enqueued_at,
                    at=wall,
                )
            )
    return due


def next_due(call: WaitingCall, q: QueueConfig) -> float | None:
    """When something next happens to this waiting call (monotonic), if ever."""
    base = call.queue_entered_at
    dues: list[float] = []
    if q.max_wait_s is not None:
        dues.append(base + q.max_wait_s)
    if call.stage < len(q.overflow):
        dues.append(base + q.overflow[call.stage].after_s)
    if q.callback_after_s is not None and not call.callback_offered:
        dues.append(base + q.callback_after_s)
    if call.sticky_agent is not None:
        dues.append(call.sticky_until)
    return min(dues) if dues else None
