"""Domain call events that the CallTracker derives from the AMI stream.

Plain, frozen data keyed by the call's Asterisk `Linkedid`, so every consumer (routing, dialer,
recordings, the interaction log) can follow one call without knowing AMI. `at` is when it
happened at the PBX: the event's AMI `Timestamp`, else the tracker's clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from crm_core.bus import Event


class Direction(enum.StrEnum):
    """Who started the call, as far as the dialplan contexts tell."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"
    UNKNOWN = "unknown"


class TransferKind(enum.StrEnum):
    BLIND = "blind"  # BlindTransfer: the transferee goes straight to the target
    ATTENDED = "attended"  # AttendedTransfer: the transferer talked to the target first
    REDIRECT = "redirect"  # Redirect action: the channel jumped to another dialplan location


class HoldKind(enum.StrEnum):
    MUSIC_ON_HOLD = "music_on_hold"  # MusicOnHold app or MOH class started on the channel
    HOLD = "hold"  # a Hold indication from the far end (Hold/Unhold events)


class EndReason(enum.StrEnum):
    HANGUP = "hangup"
    LINK_DOWN = "ended while AMI link was down"
    MERGED = "merged into another call"  # its last channel moved to another Linkedid


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEvent(Event):
    """Base of every call event: which call (Linkedid) and when (aware UTC)."""

    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStarted(CallEvent):
    """The first channel of a new Linkedid appeared. `at` is its creation time."""

    channel: str
    uniqueid: str
    caller_number: str | None
    caller_name: str | None
    context: str
    exten: str
    direction: Direction


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRinging(CallEvent):
    channel: str
    uniqueid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered(CallEvent):
    channel: str
    uniqueid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelJoined(CallEvent):
    """A channel of another call switched to this call's Linkedid (e.g. the agent leg at Bridge)."""

    channel: str
    uniqueid: str
    previous_linkedid: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallBridged(CallEvent):
    """`channel` entered bridge `bridge_id`; `parties` are all channels now in that bridge."""

    bridge_id: str
    channel: str
    parties: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallUnbridged(CallEvent):
    """`channel` left bridge `bridge_id`; `parties` are the channels still in it."""

    bridge_id: str
    channel: str
    parties: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallTransferred(CallEvent):
    """`channel` (the transferee) was sent to `target` (dialplan location or channel)."""

    kind: TransferKind
    channel: str
    target: str
    transferer: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallHeld(CallEvent):
    channel: str
    kind: HoldKind


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResumed(CallEvent):
    channel: str
    kind: HoldKind


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStarted(CallEvent):
    """MixMonitor began on `channel`; `file` comes from VarSet MIXMONITOR_FILENAME if seen."""

    channel: str
    file: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStopped(CallEvent):
    """MixMonitor stopped, or the channel hung up (Asterisk then closes the file silently)."""

    channel: str
    file: str | None
    reason: str  # "stopped" | "hangup"


@dataclass(frozen=True, slots=True, kw_only=True)
class AmdResult(CallEvent):
    """Answering-machine detection outcome: status HUMAN/MACHINE/NOTSURE/HANGUP and its cause."""

    channel: str
    status: str
    cause: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfReceived(CallEvent):
    channel: str
    digit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelHungUp(CallEvent):
    """One channel of the call hung up; the call goes on while it has other channels."""

    channel: str
    uniqueid: str
    cause: int
    cause_text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerIdChanged(CallEvent):
    """The outside party's caller ID changed after CallStarted (`NewCallerid`: a trunk or the
    dialplan set it). `previous_number` is the number reported before."""

    channel: str
    caller_number: str | None
    caller_name: str | None
    previous_number: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded(CallEvent):
    """The call's last channel is gone. `cause` is the Q.850 cause of the outside party's
    hangup (the first one that carried a cause), else that of the last channel to hang up."""

    cause: int
    cause_text: str
    duration_s: float
    talk_s: float  # from the first two-party bridge to the end; 0 if never bridged
    reason: EndReason


@dataclass(frozen=True, slots=True, kw_only=True)
class SpyStarted(CallEvent):
    """A supervisor's ChanSpy began on a channel of this call. Listen, whisper and barge look
    the same on AMI; the mode is only in the Originate `Data`."""

    spyer: str
    spyee: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SpyStopped(CallEvent):
    spyer: str
    spyee: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LegEvent(CallEvent):
    """Base of the events about a Linkedid that is not (yet) a call: Callboard's own legs (an
    agent or supervisor endpoint it rang, a nailed operator line) and dial attempts before the
    customer answers. Not interactions: the interaction log ignores them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LegStarted(LegEvent):
    """The first channel of such a Linkedid appeared (Newchannel). `uniqueid` is the Originate's
    ChannelId when one was given. If it later gets an outside party (a dial attempt answers),
    CallStarted follows with the same Linkedid."""

    channel: str
    uniqueid: str
    role: str  # PartyRole value: "leg" | "dialed" | "internal"


@dataclass(frozen=True, slots=True, kw_only=True)
class LegEnded(LegEvent):
    """Such a Linkedid's last channel is gone and it never became a call (an agent leg, or a
    dial attempt that was busy, not answered or failed). `cause` as in CallEnded."""

    cause: int
    cause_text: str
    reason: EndReason
