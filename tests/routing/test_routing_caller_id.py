"""The caller's number can change while the call waits (the IVR or the dialplan sets CALLERID:
the tracker reports CallerIdChanged): the ACD offers the call, rings the agent's phone and looks
up the card with the new number, not the one the IVR handed over when it queued the call."""

from __future__ import annotations

from datetime import UTC, datetime

from ami_bridge.events import CallerIdChanged
from crm_core.bus import InProcessBus
from crm_core.clock import ManualClock
from routing.acd import Acd
from routing.queues import QueueConfig
from routing.service import AcdService

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _changed(linkedid: str, number: str, previous: str) -> CallerIdChanged:
    return CallerIdChanged(
        linkedid=linkedid,
        at=T0,
        channel="Local/100@cb-inbound-00000000;2",
        caller_number=number,
        caller_name=None,
        previous_number=previous,
    )


def _service(clock: ManualClock) -> AcdService:
    acd = Acd(clock, [QueueConfig(name="main")])
    return AcdService(acd, bus=InProcessBus(), switch=None, clock=clock)  # type: ignore[arg-type]


def test_a_waiting_call_takes_the_new_number_and_is_offered_with_it() -> None:
    clock = ManualClock(T0)
    service = _service(clock)
    acd = service.acd
    acd.enqueue("L1", "main", caller_channel="Local/100@cb-hold-L1;2", caller_number="5551234")
    service.on_call_event(_changed("L1", "+15551234", "5551234"))
    call = acd.call("L1")
    assert call is not None and call.caller_number == "+15551234"
    acd.login("7", "Local/agent1@cb-agents", {})
    (offer,) = acd.take_offers()
    assert (offer.linkedid, offer.caller_number) == ("L1", "+15551234")


def test_an_offered_call_keeps_the_number_it_was_offered_with() -> None:
    clock = ManualClock(T0)
    service = _service(clock)
    acd = service.acd
    acd.login("7", "Local/agent1@cb-agents", {})
    acd.enqueue("L1", "main", caller_channel="Local/100@cb-hold-L1;2", caller_number="5551234")
    (offer,) = acd.take_offers()
    service.on_call_event(_changed("L1", "+15551234", "5551234"))
    call = acd.call("L1")
    assert call is not None and call.caller_number == offer.caller_number == "5551234"
    assert acd.caller_id_changed("nope", "+1") is False  # a call the ACD does not have
