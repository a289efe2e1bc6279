"""The CallTracker's state: channels (by Uniqueid) grouped into calls (by Linkedid).

The mutable `Channel`/`Call` records live inside the tracker; other packages get frozen
`ChannelInfo`/`CallInfo` copies, so nothing outside can corrupt the tracker's view.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ami_bridge.events import Direction


class ChannelState(enum.IntEnum):
    """Asterisk's AST_STATE_* as sent in `ChannelState`."""

    DOWN = 0
    RESERVED = 1
    OFFHOOK = 2
    DIALING = 3
    RING = 4
    RINGING = 5
    UP = 6
    BUSY = 7
    DIALING_OFFHOOK = 8
    PRERING = 9


STATE_RINGING = 5
STATE_UP = 6


@dataclass(slots=True, eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    state: int
    context: str
    exten: str
    caller_number: str | None
    caller_name: str | None
    created: float  # epoch seconds at the PBX
    first_context: str = ""  # context at creation: decides the call's direction
    first_exten: str = ""
    application: str = ""  # the dialplan application it runs now (from Newexten)
    originated: bool = False  # an Originate/Dial outgoing leg (first app AppDial/AppDial2)
    bridge_id: str | None = None
    on_moh: bool = False
    on_hold: bool = False
    recording: bool = False
    record_file: str | None = None
    amd_status: str | None = None
    amd_reported: bool = False
    transfer_pending: bool = False  # a BlindTransfer moves it next: that jump is not a Redirect
    hangup_requested: bool = False
    seen_in_snapshot: bool = True


@dataclass(slots=True, eq=False)
class Call:
    linkedid: str
    started: float
    channels: dict[str, Channel] = field(default_factory=dict)  # uniqueid -> channel, in order
    announced: bool = False
    answered: bool = False
    direction: Direction = Direction.UNKNOWN
    talk_started: float | None = None
    cause: int = 0  # first non-zero Q.850 hangup cause among its channels


@dataclass(frozen=True, slots=True)
class DirectionRules:
    """How a call's direction is read from its first channel. Defaults follow the contexts of
    the shared Callboard dialplan (CONTRACTS.md); ChannelIds starting with `dial-` mark dialer
    calls whatever context the trunk gives their first channel."""

    inbound_contexts: frozenset[str] = frozenset(
        {"cb-inbound", "cb-hold", "cb-ivr", "cb-agi", "incoming", "incoming-direct"}
    )
    outbound_contexts: frozenset[str] = frozenset({"cb-dialer", "pstn-sim", "outbound"})
    internal_contexts: frozenset[str] = frozenset(
        {
            "cb-agents",
            "cb-agent-phone",
            "cb-supervisor",
            "cb-conf",
            "cb-xfer",
            "cb-wrapup",
            "agents",
            "agent-phone",
        }
    )
    outbound_uniqueid_prefixes: tuple[str, ...] = ("dial-",)

    def classify(self, origin: Channel) -> Direction:
        if origin.uniqueid.startswith(self.outbound_uniqueid_prefixes):
            return Direction.OUTBOUND
        context = origin.first_context
        if context in self.internal_contexts:
            return Direction.INTERNAL
        if context in self.outbound_contexts:
            return Direction.OUTBOUND
        if context in self.inbound_contexts:
            return Direction.INBOUND
        return Direction.OUTBOUND if origin.originated else Direction.INBOUND


def to_utc(ts: float) -> datetime:
    """Epoch seconds (an AMI `Timestamp`) as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    name: str
    uniqueid: str
    linkedid: str
    state: ChannelState | int
    context: str
    exten: str
    application: str
    caller_number: str | None
    caller_name: str | None
    created: datetime
    originated: bool
    bridge_id: str | None
    music_on_hold: bool
    held: bool  # a Hold indication from the phone
    recording: bool

    @classmethod
    def of(cls, ch: Channel) -> ChannelInfo:
        try:
            state: ChannelState | int = ChannelState(ch.state)
        except ValueError:
            state = ch.state
        return cls(
            name=ch.name,
            uniqueid=ch.uniqueid,
            linkedid=ch.linkedid,
            state=state,
            context=ch.context,
            exten=ch.exten,
            application=ch.application,
            caller_number=ch.caller_number,
            caller_name=ch.caller_name,
            created=to_utc(ch.created),
            originated=ch.originated,
            bridge_id=ch.bridge_id,
            music_on_hold=ch.on_moh,
            held=ch.on_hold,
            recording=ch.recording,
        )


@dataclass(frozen=True, slots=True)
class CallInfo:
    linkedid: str
    started: datetime
    direction: Direction
    answered: bool
    channels: tuple[ChannelInfo, ...]

    @classmethod
    def of(cls, call: Call) -> CallInfo:
        return cls(
            linkedid=call.linkedid,
            started=to_utc(call.started),
            direction=call.direction,
            answered=call.answered,
            channels=tuple(ChannelInfo.of(ch) for ch in call.channels.values()),
        )

    @property
    def caller_channel(self) -> ChannelInfo | None:
        """The channel to connect an agent to: the one waiting on music on hold, else the first
        channel the PBX did not originate (the inbound leg), else the first channel."""
        for ch in self.channels:
            if ch.music_on_hold and ch.bridge_id is None:
                return ch
        for ch in self.channels:
            if not ch.originated:
                return ch
        return self.channels[0] if self.channels else None
