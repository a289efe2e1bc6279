"""Resync after every (re)connect: ask Asterisk what is live and rebuild the tracker from it.

While the link was down calls started, moved and ended unseen, and AMI never replays events.
So after each login the bridge lists the live channels (`CoreShowChannels`, then `Status` for
the fields the first list lacks) and hands them to the tracker's snapshot API, which adopts new
channels and closes calls that vanished with reason "ended while AMI link was down". Live events
keep flowing into the tracker meanwhile; the snapshot only judges channels it knew before it
began. `QueueStatus` gives the app_queue members and waiting callers, for sites that use them.

The outcome is published as one `PbxResynced` event after the tracker's own events, so a
consumer that processes the bus in order (the interaction log) knows that every call not in
`live_calls` is over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ami_bridge.errors import ActionFailed
from ami_bridge.events import CallEnded
from ami_bridge.frames import Message
from ami_bridge.switch import Headers
from ami_bridge.tracker import CallTracker
from crm_core.bus import Event
from crm_core.clock import Clock

log = logging.getLogger(__name__)

LIST_TIMEOUT = 15.0  # a busy PBX lists hundreds of channels; still bounded


class ListPort(Protocol):
    async def send_list(
        self, action: str, headers: Headers = (), *, reply_timeout: float | None = None
    ) -> list[Message]: ...


@dataclass(frozen=True, slots=True)
class QueueMember:
    """An app_queue member as QueueStatus lists it (`Location` is the interface)."""

    queue: str
    interface: str
    name: str
    state_interface: str
    device_status: int  # AST_DEVICE_*: 1 not in use, 2 in use, 6 ringing, 5 unavailable...
    paused: bool
    paused_reason: str
    in_call: bool
    calls_taken: int


@dataclass(frozen=True, slots=True)
class QueueCaller:
    queue: str
    position: int
    channel: str
    uniqueid: str
    caller_number: str
    wait_s: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PbxResynced(Event):
    """The tracker was rebuilt from Asterisk's lists; calls not in `live_calls` are over."""

    at: datetime
    session: int  # the link's session number: 1 at start, +1 per reconnect
    live_calls: tuple[str, ...]  # Linkedids of calls (with an outside party)
    # Linkedids that are only Callboard's own legs or ringing dial attempts (not calls; a
    # manual call's interaction row is open while the debtor's phone rings)
    live_legs: tuple[str, ...] = ()
    channels: int
    closed_calls: tuple[str, ...]  # ended while the link was down (CallEnded published)
    queue_members: tuple[QueueMember, ...]
    queue_callers: tuple[QueueCaller, ...]


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


def parse_queue_status(items: list[Message]) -> tuple[list[QueueMember], list[QueueCaller]]:
    members: list[QueueMember] = []
    callers: list[QueueCaller] = []
    for item in items:
        kind = item.get("Event")
        if kind == "QueueMember":
            members.append(
                QueueMember(
                    queue=item.get("Queue", ""),
                    interface=item.get("Location", ""),
                    name=item.get("Name", ""),
                    state_interface=item.get("StateInterface", ""),
                    device_status=_int(item.get("Status")),
                    paused=item.get("Paused") == "1",
                    paused_reason=item.get("PausedReason", ""),
                    in_call=item.get("InCall") == "1",
                    calls_taken=_int(item.get("CallsTaken")),
                )
            )
        elif kind == "QueueEntry":
            callers.append(
                QueueCaller(
                    queue=item.get("Queue", ""),
                    position=_int(item.get("Position")),
                    channel=item.get("Channel", ""),
                    uniqueid=item.get("Uniqueid", ""),
                    caller_number=item.get("CallerIDNum", ""),
                    wait_s=_int(item.get("Wait")),
                )
            )
    return members, callers


async def resync(
    port: ListPort,
    tracker: CallTracker,
    publish: Callable[[Event], None],
    clock: Clock,
    *,
    session: int = 1,
    with_queues: bool = True,
) -> PbxResynced:
    """Rebuild `tracker` from the PBX's lists; publishes the tracker's events, then the summary.

    Raises the link's errors (ActionTimeout, LinkDown): the link then drops the session and a
    later reconnect resyncs again, so a half-done resync is never taken for a whole one."""
    tracker.snapshot_started()
    channels = await port.send_list("CoreShowChannels", reply_timeout=LIST_TIMEOUT)
    tracker.apply_snapshot(channels)
    statuses = await port.send_list("Status", reply_timeout=LIST_TIMEOUT)
    tracker.apply_snapshot(statuses)
    closed: list[str] = []
    for event in tracker.snapshot_complete():
        if isinstance(event, CallEnded):
            closed.append(event.linkedid)
        publish(event)
    members: list[QueueMember] = []
    callers: list[QueueCaller] = []
    if with_queues:
        try:
            items = await port.send_list("QueueStatus", reply_timeout=LIST_TIMEOUT)
        except ActionFailed as exc:  # app_queue not loaded: nothing to report
            log.info("QueueStatus unavailable, skipping queues: %s", exc.message)
        else:
            members, callers = parse_queue_status(items)
    calls = tuple(tracker.calls)
    summary = PbxResynced(
        at=clock.now(),
        session=session,
        live_calls=calls,
        live_legs=tuple(lid for lid in tracker.linkedids if lid not in calls),
        channels=len(channels),
        closed_calls=tuple(closed),
        queue_members=tuple(members),
        queue_callers=tuple(callers),
    )
    publish(summary)
    log.info(
        "AMI resync %d: %d channels, %d live calls, %d closed while the link was down",
        session,
        summary.channels,
        len(summary.live_calls),
        len(closed),
    )
    return summary
