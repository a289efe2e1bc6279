"""The registry of live channels (by Uniqueid) and calls (by Linkedid), and its transitions.

The CallTracker (AMI event handlers) and the reconnect resync (ami_bridge.snapshot) both change
state only through these steps, so a call is announced, moved, bridged and closed the same way
whichever path saw it. Read-only views hand out frozen copies.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ami_bridge.causes import cause_text
from ami_bridge.channels import (
    STATE_UP,
    Call,
    CallInfo,
    Channel,
    ChannelInfo,
    DirectionRules,
    PartyRole,
    local_sibling,
    to_utc,
)
from ami_bridge.events import (
    CallBridged,
    CallEnded,
    CallEvent,
    CallStarted,
    CallUnbridged,
    ChannelHungUp,
    ChannelJoined,
    Direction,
    EndReason,
    LegEnded,
    LegEvent,
    LegStarted,
    RecordingStopped,
)
from crm_core.clock import Clock

Message = Mapping[str, str]
Out = list[CallEvent]


def parse_caller_id(raw: str | None) -> str | None:
    if not raw or raw == "<unknown>":
        return None
    return raw


def parse_state(raw: str | None) -> int:
    if raw and raw.isdigit():
        return int(raw)
    return 0


class CallRegistry:
    """State of one Asterisk's calls; subclassed by CallTracker, which feeds it AMI events."""

    def __init__(self, clock: Clock, *, rules: DirectionRules | None = None) -> None:
        self._clock = clock
        self._rules = rules or DirectionRules()
        self._channels: dict[str, Channel] = {}
        self._by_name: dict[str, Channel] = {}
        self._calls: dict[str, Call] = {}
        self._bridges: dict[str, list[Channel]] = {}
        self._closing: set[str] = set()  # calls ended during this step: their events pass

    def visible(self, out: Out) -> Out:
        """The events of one step that consumers may see: those of calls announced (calls with
        an outside party), and the leg events. Events of Callboard's own legs and of dial
        attempts that never answered are dropped: they are not calls of their own."""
        closing, self._closing = self._closing, set()
        kept: Out = []
        for event in out:
            if isinstance(event, LegEvent) or event.linkedid in closing:
                kept.append(event)
                continue
            call = self._calls.get(event.linkedid)
            if call is not None and call.announced:
                kept.append(event)
        return kept

    # ---- read-only views ----------------------------------------------------------------

    @property
    def calls(self) -> dict[str, CallInfo]:
        """Live calls by Linkedid (a fresh copy: cheap for routing, not for the hot path): only
        calls with an outside party, not a Linkedid that is only Callboard's own leg or a dial
        attempt still ringing (see `linkedids` for every Linkedid the PBX has)."""
        return {lid: CallInfo.of(call) for lid, call in self._calls.items() if call.announced}

    @property
    def linkedids(self) -> tuple[str, ...]:
        """Every Linkedid with a live channel: calls, legs and dial attempts alike."""
        return tuple(self._calls)

    def call(self, linkedid: str) -> CallInfo | None:
        call = self._calls.get(linkedid)
        return None if call is None else CallInfo.of(call)

    def channel(self, name: str) -> ChannelInfo | None:
        ch = self._by_name.get(name)
        return None if ch is None else ChannelInfo.of(ch)

    def channel_by_uniqueid(self, uniqueid: str) -> ChannelInfo | None:
        ch = self._channels.get(uniqueid)
        return None if ch is None else ChannelInfo.of(ch)

    def caller_channel(self, linkedid: str) -> str | None:
        """Name of the call's channel an agent should be bridged to (see CallInfo)."""
        info = self.call(linkedid)
        if info is None:
            return None
        caller = info.caller_channel
        return None if caller is None else caller.name

    @property
    def channel_count(self) -> int:
        return len(self._channels)

    @property
    def call_count(self) -> int:
        """Live calls (with an outside party); legs and ringing dial attempts are not calls."""
        return sum(1 for call in self._calls.values() if call.announced)

    def live_channel(self, uniqueid: str) -> Channel | None:
        """The mutable record itself: for the tracker's own modules (snapshot), not consumers."""
        return self._channels.get(uniqueid)

    def live_call(self, linkedid: str) -> Call | None:
        return self._calls.get(linkedid)

    def iter_live_channels(self) -> Iterator[Channel]:
        """A copy of the channel records, safe to iterate while channels are removed."""
        return iter(list(self._channels.values()))

    # ---- shared steps ---------------------------------------------------------------------

    def _ts(self, m: Message) -> float:
        raw = m.get("Timestamp")
        if raw:
            try:
                ts = float(raw)
            except ValueError:
                pass
            else:
                if 0.0 < ts < 1e11:  # also refuses nan and inf
                    return ts
        return self._clock.now().timestamp()

    def now_ts(self) -> float:
        return self._clock.now().timestamp()

    def _channel(self, m: Message, out: Out, *, adopt: bool = True) -> Channel | None:
        """The channel the message is about: relinked if its Linkedid changed, adopted if new
        (tracker started mid-call), and its call announced."""
        ch = self._channels.get(m.get("Uniqueid", ""))
        if ch is None:
            if not adopt:
                return None
            ch = self.adopt(m, out)
            if ch is None:
                return None
        else:
            linkedid = m.get("Linkedid")
            if linkedid and linkedid != ch.linkedid:
                self.relink(ch, linkedid, self._ts(m), out)
        self.maybe_announce(self._calls[ch.linkedid], out)
        return ch

    def adopt(self, m: Message, out: Out | None = None) -> Channel | None:
        """Start tracking a channel from any message with the standard channel headers."""
        uniqueid = m.get("Uniqueid")
        name = m.get("Channel")
        if not uniqueid or not name or uniqueid in self._channels:
            return self._channels.get(uniqueid) if uniqueid else None
        ts = self._ts(m)
        context = m.get("Context", "")
        exten = m.get("Exten", "")
        ch = Channel(
            name=name,
            uniqueid=uniqueid,
            linkedid=m.get("Linkedid") or uniqueid,
            state=parse_state(m.get("ChannelState")),
            context=context,
            exten=exten,
            caller_number=parse_caller_id(m.get("CallerIDNum")),
            caller_name=parse_caller_id(m.get("CallerIDName")),
            created=ts,
            first_context=context,
            first_exten=exten,
        )
        self.add_channel(ch, ts, out)
        return ch

    def add_channel(self, ch: Channel, ts: float, out: Out | None = None) -> None:
        ch.role = self._rules.role(ch)
        sibling_name = local_sibling(ch.name)
        sibling = self._by_name.get(sibling_name) if sibling_name else None
        if sibling is not None and PartyRole.LEG in (ch.role, sibling.role):
            ch.role = sibling.role = PartyRole.LEG  # one Local pair, one leg
        self._channels[ch.uniqueid] = ch
        self._by_name[ch.name] = ch
        call = self._calls.get(ch.linkedid)
        if call is None:
            call = self._calls[ch.linkedid] = Call(linkedid=ch.linkedid, started=ts)
            if out is not None and ch.role is not PartyRole.OUTSIDE:
                call.leg = True
                out.append(
                    LegStarted(
                        linkedid=ch.linkedid,
                        at=to_utc(ts),
                        channel=ch.name,
                        uniqueid=ch.uniqueid,
                        role=ch.role.value,
                    )
                )
        call.channels[ch.uniqueid] = ch

    def sibling(self, ch: Channel) -> Channel | None:
        name = local_sibling(ch.name)
        return self._by_name.get(name) if name else None

    @staticmethod
    def has_party(call: Call) -> bool:
        """A call is a call once it has an outside party: a caller, or a dialed customer leg
        that answered. Callboard's own legs and dialplan plumbing alone are not."""
        return any(
            ch.role is PartyRole.OUTSIDE or (ch.role is PartyRole.DIALED and ch.state == STATE_UP)
            for ch in call.channels.values()
        )

    def maybe_announce(self, call: Call, out: Out) -> bool:
        """Announce the call if it is not yet and now has an outside party."""
        if not call.announced and self.has_party(call):
            self.announce(call, out)
        return call.announced

    def announce(self, call: Call, out: Out) -> None:
        call.announced = True
        if not call.channels:
            return
        origin = call.channels.get(call.linkedid) or next(iter(call.channels.values()))
        by_agent = origin.role is PartyRole.LEG
        if origin.role in (PartyRole.LEG, PartyRole.INTERNAL):
            # started by an agent's own phone: the party is the first outside channel
            origin = next(
                (
                    ch
                    for ch in call.channels.values()
                    if ch.role in (PartyRole.OUTSIDE, PartyRole.DIALED)
                ),
                origin,
            )
        call.direction = Direction.OUTBOUND if by_agent else self._rules.classify(origin)
        call.caller_number, call.caller_name = origin.caller_number, origin.caller_name
        sibling = self.sibling(origin)
        call.party = (origin.uniqueid,) + (() if sibling is None else (sibling.uniqueid,))
        out.append(
            CallStarted(
                linkedid=call.linkedid,
                at=to_utc(call.started),
                channel=origin.name,
                uniqueid=origin.uniqueid,
                caller_number=origin.caller_number,
                caller_name=origin.caller_name,
                context=origin.first_context,
                exten=origin.first_exten,
                direction=call.direction,
            )
        )

    def relink(self, ch: Channel, linkedid: str, ts: float, out: Out) -> None:
        """Move a channel to another call (Linkedid switch); a call left empty ends, merged."""
        previous = ch.linkedid
        old = self._calls.get(previous)
        if old is not None:
            old.channels.pop(ch.uniqueid, None)
        ch.linkedid = linkedid
        new = self._calls.get(linkedid)
        if new is None:
            new = self._calls[linkedid] = Call(linkedid=linkedid, started=ts)
        new.channels[ch.uniqueid] = ch
        self.maybe_announce(new, out)
        out.append(
            ChannelJoined(
                linkedid=linkedid,
                at=to_utc(ts),
                channel=ch.name,
                uniqueid=ch.uniqueid,
                previous_linkedid=previous,
            )
        )
        if old is not None and not old.channels:
            self.end_call(old, ts, EndReason.MERGED, out)

    def remove_channel(
        self, ch: Channel, ts: float, cause: int, out: Out, reason: EndReason | None = None
    ) -> None:
        """The channel is gone (Hangup, or missing from a resync snapshot)."""
        self._channels.pop(ch.uniqueid, None)
        if self._by_name.get(ch.name) is ch:
            del self._by_name[ch.name]
        if ch.bridge_id is not None:
            self._drop_member(ch, ch.bridge_id)
        call = self._calls.get(ch.linkedid)
        if call is None:
            return
        call.channels.pop(ch.uniqueid, None)
        call.last_cause = cause
        if cause and ch.uniqueid in call.party and not call.party_cause:
            call.party_cause = cause  # the party the call was reported with (CallStarted)
        elif cause and not call.cause and ch.role in (PartyRole.OUTSIDE, PartyRole.DIALED):
            call.cause = cause  # another outside channel (e.g. before the call was announced)
        if call.announced:
            at = to_utc(ts)
            if ch.recording:
                out.append(
                    RecordingStopped(
                        linkedid=ch.linkedid,
                        at=at,
                        channel=ch.name,
                        file=ch.record_file,
                        reason="hangup",
                    )
                )
            out.append(
                ChannelHungUp(
                    linkedid=call.linkedid,
                    at=at,
                    channel=ch.name,
                    uniqueid=ch.uniqueid,
                    cause=cause,
                    cause_text=cause_text(cause),
                )
            )
        ch.recording = False
        if not call.channels:
            self.end_call(call, ts, reason, out)

    def end_call(self, call: Call, ts: float, reason: EndReason | None, out: Out) -> None:
        self._calls.pop(call.linkedid, None)
        # the outside party's hangup cause, else the last leg's (Callboard's legs and dialplan
        # Locals clear 16 whatever happened to the caller)
        cause = call.party_cause or call.cause or call.last_cause
        if not call.announced:
            # never a call: Callboard's own leg, or a dial attempt that never answered
            if not call.leg:
                return  # merged during its creation burst: nothing was reported
            out.append(
                LegEnded(
                    linkedid=call.linkedid,
                    at=to_utc(ts),
                    cause=cause,
                    cause_text=cause_text(cause),
                    reason=reason or EndReason.HANGUP,
                )
            )
            return
        self._closing.add(call.linkedid)
        talk = ts - call.talk_started if call.talk_started is not None else 0.0
        out.append(
            CallEnded(
                linkedid=call.linkedid,
                at=to_utc(ts),
                cause=cause,
                cause_text=cause_text(cause),
                duration_s=round(max(0.0, ts - call.started), 6),
                talk_s=round(max(0.0, talk), 6),
                reason=reason or EndReason.HANGUP,
            )
        )

    # ---- bridges ---------------------------------------------------------------------------

    def enter(self, ch: Channel, bridge_id: str, ts: float, out: Out) -> None:
        members = self._bridges.get(bridge_id)
        if members is None:
            members = self._bridges[bridge_id] = []
        members.append(ch)
        ch.bridge_id = bridge_id
        if len(members) > 1:
            for member in members:
                call = self._calls.get(member.linkedid)
                if call is not None and call.talk_started is None:
                    call.talk_started = ts
        out.append(
            CallBridged(
                linkedid=ch.linkedid,
                at=to_utc(ts),
                bridge_id=bridge_id,
                channel=ch.name,
                parties=tuple(member.name for member in members),
            )
        )

    def leave(self, ch: Channel, ts: float, out: Out) -> None:
        bridge_id = ch.bridge_id
        if bridge_id is None:
            return
        members = self._drop_member(ch, bridge_id)
        out.append(
            CallUnbridged(
                linkedid=ch.linkedid,
                at=to_utc(ts),
                bridge_id=bridge_id,
                channel=ch.name,
                parties=tuple(member.name for member in members),
            )
        )

    def _drop_member(self, ch: Channel, bridge_id: str) -> list[Channel]:
        """Take the channel out of the bridge; forget a bridge left empty (BridgeDestroy may
        never come, e.g. across a reconnect). Returns the members left."""
        ch.bridge_id = None
        members = self._bridges.get(bridge_id, [])
        if ch in members:
            members.remove(ch)
        if not members:
            self._bridges.pop(bridge_id, None)
        return members
