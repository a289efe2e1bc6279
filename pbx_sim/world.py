"""The simulated PBX state: channels, bridges, naming, and the AMI event stream they produce.

Events are emitted synchronously, in the order the world changes, to every listener (the AMI
sessions and the call log). Templates and field orders are copied from the Asterisk 22 traces.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict, Unpack

from pbx_sim.bridge import Bridge
from pbx_sim.channel import Channel, ChannelState, Interrupt, Signal
from pbx_sim.clock import SimClock


class BridgeKind(TypedDict, total=False):
    """What `World.new_bridge` may set on a new Bridge besides its identity."""

    bridge_type: str
    technology: str
    creator: str
    bridge_name: str


EventListener = Callable[[str, list[tuple[str, str]]], None]

CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}


def device_of(channel_name: str) -> str:
    """`Local/100@cb-hold-00000000;2` -> `Local/100@cb-hold`, the device whose state AMI shows."""
    return channel_name.rsplit("-", 1)[0] if ";" in channel_name else channel_name


def cdr_time(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


@dataclass
class QueueMember:
    queue: str
    interface: str
    member_name: str
    state_interface: str
    penalty: int = 0
    paused: bool = False
    paused_reason: str = ""
    calls_taken: int = 0
    login_time: int = 0
    last_pause: int = 0


@dataclass
class World:
    clock: SimClock
    listeners: list[EventListener] = field(default_factory=list)
    channels: dict[str, Channel] = field(default_factory=dict)
    bridges: dict[str, Bridge] = field(default_factory=dict)
    conferences: dict[str, Bridge] = field(default_factory=dict)
    queues: dict[str, list[QueueMember]] = field(default_factory=dict)
    global_vars: dict[str, str] = field(default_factory=dict)
    devices_in_use: set[str] = field(default_factory=set)
    _chan_seq: itertools.count[int] = field(default_factory=itertools.count)
    _uid_seq: itertools.count[int] = field(default_factory=itertools.count)

    # -- identity ---------------------------------------------------------------------------
    def next_sequence(self) -> str:
        return f"{next(self._chan_seq):08x}"

    def next_uniqueid(self) -> str:
        return f"{int(self.clock.now())}.{next(self._uid_seq)}"

    def new_bridge(self, **kwargs: Unpack[BridgeKind]) -> Bridge:
        bridge = Bridge(uniqueid=str(uuid.uuid4()), created_at=self.clock.now(), **kwargs)
        self.bridges[bridge.uniqueid] = bridge
        return bridge

    def find(self, name: str) -> Channel | None:
        return self.channels.get(name)

    # -- events -----------------------------------------------------------------------------
    def emit(self, event: str, privilege: str, fields: list[tuple[str, str]]) -> None:
        headers = [
            ("Event", event),
            ("Privilege", privilege),
            ("Timestamp", f"{self.clock.now():.6f}"),
            *fields,
        ]
        for listener in list(self.listeners):
            listener(event, headers)

    def chan_event(self, event: str, ch: Channel, *extra: tuple[str, str]) -> None:
        privilege = "dialplan,all" if event in ("Newexten", "VarSet") else "call,all"
        if event.startswith("DTMF"):
            privilege = "dtmf,all"
        elif event.startswith("AGIExec"):
            privilege = "agi,all"
        elif event == "UserEvent":
            privilege = "user,all"
        self.emit(event, privilege, [*ch.fields(), *extra])

    def device_state(self, device: str, state: str) -> None:
        self.emit("DeviceStateChange", "call,all", [("Device", device), ("State", state)])

    def set_var(self, ch: Channel, name: str, value: str) -> None:
        if name.upper().startswith("CALLERID("):
            self.set_callerid(ch, name[9:].rstrip(")").lower(), value)
            return
        ch.variables[name] = value
        self.chan_event("VarSet", ch, ("Variable", name), ("Value", value))

    def set_callerid(self, ch: Channel, part: str, value: str) -> None:
        """`Set(CALLERID(num)=...)`, AGI SET VARIABLE or AMI Setvar on CALLERID(...): a dialplan
        function, not a variable, so Asterisk sends NewCallerid (no VarSet)."""
        value = value or ""
        if part in ("num", "number"):
            ch.cid_num = value or "<unknown>"
        elif part == "name":
            ch.cid_name = value or "<unknown>"
        elif part == "all":
            name, _, rest = value.partition("<")
            if rest:
                ch.cid_name = name.strip().strip('"') or "<unknown>"
                ch.cid_num = rest.rstrip(">").strip() or "<unknown>"
            else:
                ch.cid_num = value.strip() or "<unknown>"
        else:
            return  # other CALLERID() parts (ani, pres, ...) are not simulated
        self.chan_event(
            "NewCallerid", ch, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")
        )

    def set_state(self, ch: Channel, state: ChannelState) -> None:
        if ch.state == state:
            return
        ch.state = state
        if state == ChannelState.UP and ch.answered_at is None:
            ch.answered_at = self.clock.now()
        self.chan_event("Newstate", ch)
        device = device_of(ch.name)
        if state != ChannelState.RING and device not in self.devices_in_use:
            self.devices_in_use.add(device)
            self.device_state(device, "INUSE")

    def dial_event(self, event: str, dest: Channel, *extra: tuple[str, str]) -> None:
        """DialBegin/DialState/DialEnd: only `Dest*` fields for an Originate (README 10), the
        dialling channel's fields first for a Dial() leg."""
        caller = dest.dialed_by
        fields = [*(caller.fields() if caller is not None else []), *dest.fields("Dest"), *extra]
        self.emit(event, "call,all", fields)

    # -- channel lifecycle ------------------------------------------------------------------
    def register(self, ch: Channel) -> None:
        ch.created_at = self.clock.now()
        self.channels[ch.name] = ch
        self.chan_event("Newchannel", ch)

    def hangup_request(self, ch: Channel, cause: int) -> None:
        """Someone else asks `ch` to hang up (Q.850 cause); its own task finishes the job."""
        if ch.hungup:
            return
        self.chan_event("HangupRequest", ch, ("Cause", str(cause)))
        ch.interrupt(Interrupt(Signal.HANGUP, cause=cause))

    def finish_hangup(self, ch: Channel, cause: int, report_device: bool = True) -> None:
        """The last events of a channel: Hangup then Cdr; it leaves the registry."""
        if ch.hungup:
            return
        ch.hungup = True
        ch.hangup_cause = cause
        self.chan_event(
            "Hangup", ch, ("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))
        )
        if ch.dialed_by is not None:
            pass  # a Dial() leg's record is the dialling channel's Cdr (DestinationChannel)
        elif ch.cdr_segments:
            # README 23: the dial segment, then one segment per bridge with its peer
            self.cdr(ch, end=ch.cdr_segments[0][0])
            for index, (start, peer) in enumerate(ch.cdr_segments):
                later = ch.cdr_segments[index + 1 :]
                end = later[0][0] if later else None
                self.cdr(ch, dest_channel=peer, start=start, end=end)
        else:
            self.cdr(ch)
        self.channels.pop(ch.name, None)
        device = device_of(ch.name)
        if report_device and not any(device_of(name) == device for name in self.channels):
            # the device is free again (reported even if it never showed INUSE)
            self.devices_in_use.discard(device)
            self.device_state(device, "NOT_INUSE")

    def cdr(
        self,
        ch: Channel,
        dest_channel: str = "",
        start: float | None = None,
        end: float | None = None,
    ) -> None:
        end = self.clock.now() if end is None else end
        begin = ch.created_at if start is None else start
        answered = ch.answered_at if start is None else start
        billable = int(end - answered) if answered is not None else 0
        if answered is not None:
            disposition = "ANSWERED"
        else:
            disposition = ch.disposition or "NO ANSWER"
        self.emit(
            "Cdr",
            "cdr,all",
            [
                ("AccountCode", ch.accountcode),
                ("Source", "" if ch.cid_num == "<unknown>" else ch.cid_num),
                ("Destination", ch.exten),
                ("DestinationContext", ch.context),
                ("CallerID", ch.callerid_all()),
                ("Channel", ch.name),
                ("DestinationChannel", dest_channel),
                ("LastApplication", ch.application),
                ("LastData", ch.app_data),
                ("StartTime", cdr_time(begin)),
                ("AnswerTime", cdr_time(answered)),
                ("EndTime", cdr_time(end)),
                ("Duration", str(int(end - begin))),
                ("BillableSeconds", str(billable)),
                ("Disposition", disposition),
                ("AMAFlags", "DOCUMENTATION"),
                ("UniqueID", ch.uniqueid),
                ("UserField", ch.variables.get("CDR(userfield)", "")),
            ],
        )

    # -- bridges ----------------------------------------------------------------------------
    def bridge_peer_value(self, ch: Channel) -> str:
        if ch.bridge is None:
            return ""
        names = [m.name for m in ch.bridge.others(ch)]
        if ch.bridge.conference:
            names.insert(0, ch.bridge.announcer)
        return ",".join(names)

    def enter_bridge(self, ch: Channel, bridge: Bridge) -> None:
        if ch.originated_app:
            others = bridge.members
            peer = others[0].name if others and not bridge.conference else ""
            ch.cdr_segments.append((self.clock.now(), peer))
        bridge.members.append(ch)
        ch.bridge = bridge
        self.emit("BridgeEnter", "call,all", [*bridge.fields(), *ch.fields()])

    def quiet_leave(self, ch: Channel) -> None:
        """Leave without breaking the bridge for the others (transfers, Local optimisation)."""
        bridge = ch.bridge
        if bridge is None:
            return
        bridge.members.remove(ch)
        ch.bridge = None
        self.emit("BridgeLeave", "call,all", [*bridge.fields(), *ch.fields()])
        self.maybe_destroy(bridge)

    def connect_lines(self, ch: Channel, target: Channel) -> None:
        """Two parties just bridged learn each other as their connected line, as Asterisk's
        bridge tells them; a Local half passes its new connected line on to its other half as
        that half's caller ID. Asterisk reports only what changed: nothing when the two caller
        IDs are the same (trace 03), four events when a number-only caller is bridged to an
        agent leg originated with CallerID "<number>" <number> (the live suite): a
        NewConnectedLine on each party, a NewCallerid on the agent's phone `;2` and on the
        caller's handset `;1`."""
        changed = []
        for party, other in ((ch, target), (target, ch)):
            if (party.conn_num, party.conn_name) != (other.cid_num, other.cid_name):
                party.conn_num, party.conn_name = other.cid_num, other.cid_name
                self.chan_event("NewConnectedLine", party)
                changed.append(party)
        for party in changed:
            half = party.peer
            if half is None or half.hungup:
                continue
            if (half.cid_num, half.cid_name) != (party.conn_num, party.conn_name):
                half.cid_num, half.cid_name = party.conn_num, party.conn_name
                self.chan_event(
                    "NewCallerid",
                    half,
                    ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"),
                )

    def refresh_bridgepeer(self, bridge: Bridge) -> None:
        for member in bridge.members:
            self.set_var(member, "BRIDGEPEER", self.bridge_peer_value(member))

    def leave_bridge(self, ch: Channel, redirected: bool = False) -> Bridge | None:
        """`ch` leaves its bridge; a basic bridge's other party is told to leave too.
        A redirected Application leg shows its application again at the new location."""
        bridge = ch.bridge
        if bridge is None:
            return None
        if ch.originated_app or not bridge.conference:
            self.set_var(ch, "BRIDGEPEER", "")
        if redirected:
            self.chan_event(
                "Newexten",
                ch,
                ("Extension", ch.exten),
                ("Application", ch.application),
                ("AppData", ch.app_data),
            )
        if bridge.conference:
            admin = "Yes" if ch.originated_app == "ConfBridge" else "No"
            self.emit(
                "ConfbridgeLeave",
                "call,all",
                [
                    ("Conference", bridge.conference),
                    *bridge.fields(),
                    *ch.fields(),
                    ("Admin", admin),
                ],
            )
            if not ch.originated_app:
                self.set_var(ch, "BRIDGEPEER", "")
        bridge.members.remove(ch)
        ch.bridge = None
        self.emit("BridgeLeave", "call,all", [*bridge.fields(), *ch.fields()])
        if bridge.conference:
            for other in bridge.members:
                self.set_var(other, "BRIDGEPEER", self.bridge_peer_value(other))
        else:
            for other in list(bridge.members):
                other.interrupt(Interrupt(Signal.UNBRIDGE, bridge=bridge))
        self.maybe_destroy(bridge)
        return bridge

    def maybe_destroy(self, bridge: Bridge) -> None:
        if bridge.members or bridge.uniqueid not in self.bridges:
            return
        del self.bridges[bridge.uniqueid]
        if bridge.conference:
            self.device_state(f"confbridge:{bridge.conference}", "NOT_INUSE")
            self.emit(
                "ConfbridgeEnd", "call,all", [("Conference", bridge.conference), *bridge.fields()]
            )
            self.conferences.pop(bridge.conference, None)
        self.emit("BridgeDestroy", "call,all", bridge.fields())
