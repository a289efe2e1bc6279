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


class PartyRole(enum.StrEnum):
    """What a channel is to Callboard. Only a call with an outside party is a call (an
    interaction); Callboard's own legs belong to the call they serve."""

    OUTSIDE = "outside"  # the customer: a trunk caller, an inbound Local caller
    DIALED = "dialed"  # a dial attempt's customer leg: an outside party once it answers
    LEG = "leg"  # Callboard's own leg: an agent or supervisor endpoint it rang, a nailed line
    INTERNAL = "internal"  # dialplan plumbing: transfer Locals (cb-xfer), conference, wrap-up


def local_sibling(name: str) -> str | None:
    """`Local/x@ctx-00000001;1` <-> `...;2`; None for channels that are not a Local half."""
    if name.startswith("Local/") and name[-2:] in (";1", ";2"):
        return name[:-1] + ("2" if name[-1] == "1" else "1")
    return None


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
    role: PartyRole = PartyRole.OUTSIDE  # set by the registry when the channel is added
    dialing: list[str] = field(default_factory=list)  # Uniqueids it dials (or reached)


@dataclass(slots=True, eq=False)
class Call:
    linkedid: str
    started: float
    channels: dict[str, Channel] = field(default_factory=dict)  # uniqueid -> channel, in order
    announced: bool = False
    answered: bool = False
    direction: Direction = Direction.UNKNOWN
    talk_started: float | None = None
    party_cause: int = 0  # the reported party's Q.850 hangup cause (0 until it hangs up)
    cause: int = 0  # the first cause of any other outside channel
    last_cause: int = 0  # the cause of the latest hangup of any of its channels
    caller_number: str | None = None  # as last reported (CallStarted / CallerIdChanged)
    caller_name: str | None = None
    leg: bool = False  # it began as Callboard's own leg (LegStarted was reported)
    party: tuple[str, ...] = ()  # Uniqueids of the reported party (origin and Local sibling)


@dataclass(frozen=True, slots=True)
class DirectionRules:
    """How a call's direction is read from its first channel, and which channels are
    Callboard's own legs rather than parties. Defaults follow the contexts of the shared
    Callboard dialplan (CONTRACTS.md); ChannelIds starting with `dial-` mark dialer calls
    whatever context the trunk gives their first channel.

    Callboard's own legs are recognised, whatever the endpoint technology (PJSIP or Local), by
    the Originate ChannelId it gave them (`leg_uniqueid_prefixes`, e.g. the ACD's `cb-acd-`),
    by an agent endpoint (`agent_endpoints`: dial strings such as `PJSIP/agent1` or
    `Local/agent1@cb-agents`, matched against the channel name without its `-<seq>` suffix),
    or by the context it starts in (`leg_contexts`). The other half of a Local leg is a leg
    too. The composition root passes the prefixes and endpoints it uses."""

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
    leg_contexts: frozenset[str] = frozenset(
        {"cb-agents", "cb-agent-phone", "cb-supervisor", "agents", "agent-phone"}
    )
    leg_uniqueid_prefixes: tuple[str, ...] = ("cb-acd-", "manual-")
    agent_endpoints: frozenset[str] = frozenset()

    def role(self, ch: Channel) -> PartyRole:
        """The channel's role from its own headers (the registry adds the Local-pair rule)."""
        if (
            ch.uniqueid.startswith(self.leg_uniqueid_prefixes)
            or ch.first_context in self.leg_contexts
            or (self.agent_endpoints and _endpoint_of(ch.name) in self.agent_endpoints)
        ):
            return PartyRole.LEG
        if (
            ch.uniqueid.startswith(self.outbound_uniqueid_prefixes)
            or ch.first_context in self.outbound_contexts
        ):
            return PartyRole.DIALED
        if ch.first_context in self.internal_contexts:
            return PartyRole.INTERNAL
        return PartyRole.OUTSIDE

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


def _endpoint_of(name: str) -> str:
    """`PJSIP/agent1-0000002a` -> `PJSIP/agent1`; `Local/agent1@cb-agents-00000001;1` ->
    `Local/agent1@cb-agents`."""
    base = name[:-2] if name[-2:] in (";1", ";2") else name
    head, sep, _ = base.rpartition("-")
    return head if sep else base


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
    role: PartyRole = PartyRole.OUTSIDE  # what the channel is to Callboard (see PartyRole)

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
            role=ch.role,
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
        """The debtor's own channel (to connect an agent to, to record): the outside party's
        channel waiting on music on hold; else a dialed customer leg (the Originate's own
        channel: `PJSIP/trunk-…`, or the `;1` of `Local/<number>@pstn-sim`, never the `;2`
        that only simulates the far end); else the outside channel the PBX did not originate
        (the inbound leg: `PJSIP/trunk-…`, the `;2` of an inbound Local pair, not the handset
        `;1` beyond it); else any outside channel; else the first channel."""
        outside = [ch for ch in self.channels if ch.role is PartyRole.OUTSIDE]
        dialed = self._customer_legs()
        for ch in (*dialed, *outside):
            if ch.music_on_hold and ch.bridge_id is None:
                return ch
        for ch in dialed:
            if ch.originated:
                return ch
        if dialed:
            return dialed[0]
        for ch in outside:
            if not ch.originated:
                return ch
        if outside:
            return outside[0]
        return self.channels[0] if self.channels else None

    def _customer_legs(self) -> list[ChannelInfo]:
        """The dialed channels, without the `;2` halves whose `;1` is a dialed leg of the call
        too: that half runs the far end's dialplan (a simulated party), it is no debtor."""
        dialed = [ch for ch in self.channels if ch.role is PartyRole.DIALED]
        names = {ch.name for ch in dialed}
        return [
            ch for ch in dialed if not (ch.name.endswith(";2") and local_sibling(ch.name) in names)
        ]
