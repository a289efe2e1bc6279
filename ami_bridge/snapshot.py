"""Resync after a reconnect: rebuild the registry from CoreShowChannels / Status list items.

While the AMI link was down, calls started, moved, bridged and ended unseen. The link lists the
live channels again (trace 02) and the tracker reconciles: channels it did not know are adopted
(their calls announced with the start time the PBX reports), known ones are updated (Linkedid,
state, bridge, music on hold), and channels missing from the list are closed; a call left
without channels ends with reason "ended while AMI link was down".

Header spellings differ between the two lists (`BridgeId` vs `BridgeID`, `Duration` H:M:S vs
`Seconds`, `ApplicationData` vs `Data`); both are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ami_bridge.causes import UNKNOWN
from ami_bridge.channels import STATE_UP, Channel, to_utc
from ami_bridge.events import CallAnswered, CallEvent, CallHeld, CallResumed, EndReason, HoldKind
from ami_bridge.registry import CallRegistry, parse_caller_id, parse_state

Message = Mapping[str, str]
LIST_ITEMS = frozenset({"CoreShowChannel", "Status"})
# Applications that play music on hold themselves; outside them a channel cannot be on MOH.
_MOH_APPS = frozenset({"MusicOnHold", "Queue"})


def _age_seconds(item: Message) -> float:
    """How long the channel has existed: `Seconds: 6` (Status) or `Duration: 00:00:06`."""
    seconds = item.get("Seconds")
    if seconds and seconds.isdigit():
        return float(seconds)
    duration = item.get("Duration", "")
    parts = duration.split(":")
    if len(parts) == 3 and all(part.isdigit() for part in parts):
        hours, minutes, secs = (int(part) for part in parts)
        return float(hours * 3600 + minutes * 60 + secs)
    return 0.0


def _bridge(item: Message) -> str | None:
    return item.get("BridgeId") or item.get("BridgeID") or None


@dataclass(slots=True)
class Snapshot:
    """A resync in progress: list items gathered by Uniqueid, merged across both lists."""

    known_before: frozenset[str]
    items: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def begin(cls, registry: CallRegistry) -> Snapshot:
        return cls(known_before=frozenset(ch.uniqueid for ch in registry.iter_live_channels()))

    def add(self, items: Iterable[Message]) -> None:
        for item in items:
            uniqueid = item.get("Uniqueid")
            if item.get("Event") in LIST_ITEMS and uniqueid and item.get("Channel"):
                self.items.setdefault(uniqueid, {}).update(item)

    def apply(self, registry: CallRegistry) -> list[CallEvent]:
        out: list[CallEvent] = []
        now = registry.now_ts()
        adopted: list[Channel] = []
        for uniqueid, item in self.items.items():
            ch = registry.live_channel(uniqueid)
            if ch is None:
                adopted.append(_adopt(registry, item, now))
            else:
                _update(registry, ch, item, now, out)
        for ch in adopted:
            call = registry.live_call(ch.linkedid)
            if call is None:
                continue
            if not call.announced and registry.maybe_announce(call, out):
                if any(member.state == STATE_UP for member in call.channels.values()):
                    call.answered = True
                    origin = call.channels.get(call.linkedid, ch)
                    out.append(
                        CallAnswered(
                            linkedid=call.linkedid,
                            at=to_utc(now),
                            channel=origin.name,
                            uniqueid=origin.uniqueid,
                        )
                    )
            if ch.on_moh:  # a caller waiting on hold: routing must see it
                out.append(
                    CallHeld(
                        linkedid=ch.linkedid,
                        at=to_utc(now),
                        channel=ch.name,
                        kind=HoldKind.MUSIC_ON_HOLD,
                    )
                )
        _rebridge(registry, self.items, now, out)
        # Gone while the link was down: known before the snapshot began, absent from it.
        # (Channels created after it began are not in the lists, and are alive.)
        for ch in registry.iter_live_channels():
            if ch.uniqueid in self.known_before and ch.uniqueid not in self.items:
                registry.remove_channel(ch, now, UNKNOWN, out, EndReason.LINK_DOWN)
        return out


def _adopt(registry: CallRegistry, item: Message, now: float) -> Channel:
    created = now - _age_seconds(item)
    context = item.get("Context", "")
    exten = item.get("Exten", "")
    application = item.get("Application", "")
    ch = Channel(
        name=item["Channel"],
        uniqueid=item["Uniqueid"],
        linkedid=item.get("Linkedid") or item["Uniqueid"],
        state=parse_state(item.get("ChannelState")),
        context=context,
        exten=exten,
        caller_number=parse_caller_id(item.get("CallerIDNum")),
        caller_name=parse_caller_id(item.get("CallerIDName")),
        created=created,
        first_context=context,
        first_exten=exten,
        application="" if application == "(null)" else application,
        on_moh=application == "MusicOnHold",
    )
    registry.add_channel(ch, created)
    call = registry.live_call(ch.linkedid)
    if call is not None and created < call.started:
        call.started = created
    return ch


def _update(
    registry: CallRegistry, ch: Channel, item: Message, now: float, out: list[CallEvent]
) -> None:
    linkedid = item.get("Linkedid")
    if linkedid and linkedid != ch.linkedid:
        registry.relink(ch, linkedid, now, out)
    ch.state = parse_state(item.get("ChannelState"))
    ch.context = item.get("Context", ch.context)
    ch.exten = item.get("Exten", ch.exten)
    ch.caller_number = parse_caller_id(item.get("CallerIDNum")) or ch.caller_number
    ch.caller_name = parse_caller_id(item.get("CallerIDName")) or ch.caller_name
    application = item.get("Application", "")
    call = registry.live_call(ch.linkedid)
    if call is None:
        return
    # caught in its creation burst (or a dial attempt that answered meanwhile): report it now
    # (not a call: Callboard's own leg, a dial attempt still ringing; its events are dropped)
    registry.maybe_announce(call, out)
    if ch.state == STATE_UP and not call.answered:
        call.answered = True
        out.append(
            CallAnswered(
                linkedid=ch.linkedid, at=to_utc(now), channel=ch.name, uniqueid=ch.uniqueid
            )
        )
    if application == "MusicOnHold" and not ch.on_moh:
        ch.on_moh = True
        out.append(
            CallHeld(
                linkedid=ch.linkedid, at=to_utc(now), channel=ch.name, kind=HoldKind.MUSIC_ON_HOLD
            )
        )
    elif ch.on_moh and application not in _MOH_APPS:
        ch.on_moh = False
        out.append(
            CallResumed(
                linkedid=ch.linkedid, at=to_utc(now), channel=ch.name, kind=HoldKind.MUSIC_ON_HOLD
            )
        )


def _rebridge(
    registry: CallRegistry, items: dict[str, dict[str, str]], now: float, out: list[CallEvent]
) -> None:
    """Apply bridge changes: every leave first, then every enter, so parties are complete."""
    moves: list[tuple[Channel, str]] = []
    for uniqueid, item in items.items():
        ch = registry.live_channel(uniqueid)
        if ch is None:
            continue
        bridge_id = _bridge(item)
        if bridge_id == ch.bridge_id:
            continue
        if ch.bridge_id is not None:
            registry.leave(ch, now, out)
        if bridge_id is not None:
            moves.append((ch, bridge_id))
    for ch, bridge_id in moves:
        registry.enter(ch, bridge_id, now, out)
