"""The queue hand-off filled by routing: the IVR's QueuedCall becomes an AcdService enqueue."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from ivr.ports import HandoffRefused, QueuedCall
from routing.errors import RoutingError


class Enqueues(Protocol):
    """What the IVR needs of routing: routing.service.AcdService.enqueue (never waits)."""

    def enqueue(
        self,
        *,
        linkedid: str,
        queue: str,
        caller_channel: str,
        caller_number: str | None = ...,
        contact_id: int | None = ...,
        priority: int = ...,
        skills: Mapping[str, int] | None = ...,
        preferred_agent: str | None = ...,
        ivr_path: Iterable[str] = ...,
    ) -> None: ...


class AcdHandoff:
    """Hands calls to routing's ACD service; a refusal (unknown queue, bad skill, duplicate
    call, ACD not running) becomes HandoffRefused, so the IVR falls back to the default queue."""

    def __init__(self, acd: Enqueues) -> None:
        self._acd = acd

    async def enqueue(self, call: QueuedCall) -> None:
        try:
            self._acd.enqueue(
                linkedid=call.linkedid,
                queue=call.queue,
                caller_channel=call.channel,
                caller_number=call.caller_number or None,
                contact_id=call.contact_id,
                priority=call.priority,
                skills=call.skills,
                preferred_agent=call.preferred_agent or None,
                ivr_path=call.ivr_path,
            )
        except RoutingError as exc:
            raise HandoffRefused(f"{exc.code}: {exc}") from exc
