"""A simulated channel: the fields Asterisk reports for it, its variables and its mailbox.

A channel's dialplan runs as one task; other parts of the PBX (AMI actions, the far half of a
Local pair, a bridge) reach it only through `interrupt()`, which wakes whatever the channel is
blocked in. That keeps the order of events within one channel as Asterisk has it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pbx_sim.bridge import Bridge
    from pbx_sim.clock import SimClock


class ChannelState(IntEnum):
    DOWN = 0
    RING = 4
    RINGING = 5
    UP = 6
    BUSY = 7

    @property
    def desc(self) -> str:
        return {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}[int(self)]


class Signal(StrEnum):
    """Why a blocked channel is woken."""

    HANGUP = "hangup"  # hang up with `cause` (a peer's HangupRequest, the AMI Hangup action)
    REDIRECT = "redirect"  # go to context/exten/priority (AMI Redirect, BlindTransfer)
    BRIDGE = "bridge"  # pulled into `bridge` by someone else's Bridge()
    UNBRIDGE = "unbridge"  # `bridge` broke: the other party left
    DTMF = "dtmf"  # `digit` was received
    # dial phase, from a ;2 (or a Dial() leg) to whoever waits on the ;1
    RINGING = "ringing"
    ANSWER = "answer"
    BUSY = "busy"
    CONGESTION = "congestion"
    CANCEL = "cancel"  # the dialling channel went away: abandon the dial
    DIALED = "dialed"  # a Dial() leg has its outcome
    # to a simulated caller's handset
    LEAVE = "leave"  # put the phone down now
    PEER_MOH = "peer_moh"  # the PBX side started music on hold (patience starts)
    PEER_BRIDGED = "peer_bridged"  # the PBX side is connected


@dataclass(frozen=True, slots=True)
class Interrupt:
    """A signal to a blocked channel, with its details."""

    kind: Signal
    cause: int = 16
    context: str = ""
    exten: str = ""
    priority: int = 1
    digit: str = ""
    bridge: Bridge | None = None


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: ChannelState = ChannelState.DOWN
    cid_num: str = "<unknown>"
    cid_name: str = "<unknown>"
    conn_num: str = "<unknown>"
    conn_name: str = "<unknown>"
    language: str = "en"
    accountcode: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    answered_at: float | None = None
    peer: Channel | None = None  # the other half of a Local pair
    bridge: Bridge | None = None
    in_moh: bool = False
    application: str = ""
    app_data: str = ""
    hungup: bool = False
    hangup_cause: int = 0
    own_cause: int | None = None  # set by Busy()/Congestion(): the cause this side reports
    originated_app: str = ""  # set on a ;1 that runs an Originate Application
    may_atxfer: bool = False  # Bridge option T: the atxfer feature code works on this channel
    party: object | None = None  # the simulated person behind this channel, if any
    dialed_by: Channel | None = None  # the channel whose Dial() created this ;1
    disposition: str = ""  # the Cdr Disposition of an unanswered call, set for both halves
    # an Application leg's bridges (start, peer): its Cdr has a segment per bridge (README 23)
    cdr_segments: list[tuple[float, str]] = field(default_factory=list)
    _mailbox: deque[Interrupt] = field(default_factory=deque)
    _waiter: asyncio.Future[Interrupt | None] | None = None

    def fields(self, prefix: str = "") -> list[tuple[str, str]]:
        """The standard channel header block, optionally prefixed (Dest, LocalOne, Spyer...)."""
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", str(int(self.state))),
            (f"{prefix}ChannelStateDesc", self.state.desc),
            (f"{prefix}CallerIDNum", self.cid_num),
            (f"{prefix}CallerIDName", self.cid_name),
            (f"{prefix}ConnectedLineNum", self.conn_num),
            (f"{prefix}ConnectedLineName", self.conn_name),
            (f"{prefix}Language", self.language),
            (f"{prefix}AccountCode", self.accountcode),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]

    def callerid_all(self) -> str:
        if self.cid_num in ("", "<unknown>"):
            return '"" <>' if self.cid_name in ("", "<unknown>") else f'"{self.cid_name}" <>'
        return f'"{self.cid_name}" <{self.cid_num}>'

    def var(self, name: str, default: str = "") -> str:
        return self.variables.get(name, default)

    # -- mailbox ----------------------------------------------------------------------------
    def interrupt(self, item: Interrupt) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(item)
        else:
            self._mailbox.append(item)

    async def block(self, clock: SimClock, limit: float | None) -> Interrupt | None:
        """Wait up to `limit` seconds (None: forever); return what woke us, or None."""
        if self._mailbox:
            return self._mailbox.popleft()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Interrupt | None] = loop.create_future()
        self._waiter = waiter
        timer = None
        if limit is not None:

            def expire() -> None:
                if not waiter.done():
                    waiter.set_result(None)

            timer = clock.call_later(limit, expire)
        try:
            return await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
