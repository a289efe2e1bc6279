"""CallTracker: AMI events in, domain call events out.

Pure and synchronous: `feed(message)` updates the channels (by Uniqueid) and calls (by
Linkedid) and returns the call events that message caused; the same code runs live and over
recorded traces. It never raises on odd input: a tracker started mid-call adopts the channels
it meets, and events for channels it never saw are ignored.

Behaviours follow asterisk/traces/README.md: CallStarted waits for the channel-creation burst
(Newchannel, Newexten, VarSet, NewCallerid) to end so it carries the caller ID; a channel whose
Linkedid changes (the agent leg at BridgeEnter) moves to the other call; a call ends when its
last channel hangs up. Reconnect resync lives in `ami_bridge.snapshot`.

Only a Linkedid with an outside party is a call (see `PartyRole`): Callboard's own legs (the
agent leg it originates, a supervisor's spy leg, a nailed operator line) and dial attempts that
never answer produce LegStarted/LegEnded only, never CallStarted/CallEnded; an agent leg shows
up in the caller's call when its Linkedid switches (ChannelJoined).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ami_bridge import snapshot
from ami_bridge.causes import parse_cause
from ami_bridge.channels import (
    STATE_RINGING,
    STATE_UP,
    Call,
    Channel,
    DirectionRules,
    PartyRole,
    to_utc,
)
from ami_bridge.events import (
    AmdResult,
    CallAnswered,
    CallerIdChanged,
    CallEvent,
    CallHeld,
    CallResumed,
    CallRinging,
    CallTransferred,
    DtmfReceived,
    HoldKind,
    RecordingStarted,
    RecordingStopped,
    SpyStarted,
    SpyStopped,
    TransferKind,
)
from ami_bridge.registry import CallRegistry, Message, Out, parse_caller_id, parse_state
from crm_core.clock import Clock

# Applications after which a jump to another context is the dialplan's own doing, not a
# Redirect: gotos, subroutines, AGI (SET CONTEXT), and the first app of an originated leg.
_JUMP_APPS = frozenset(
    {"", "AppDial", "AppDial2", "AGI", "EAGI", "DeadAGI", "Stasis", "DISA"}
    | set("Goto GotoIf GotoIfTime Gosub GosubIf Return StackPop Macro MacroIf MacroExit".split())
    | set("ExecIf ExecIfTime Exec TryExec".split())
)
_SOFTHANGUP_ASYNCGOTO = "2"  # AST_SOFTHANGUP_ASYNCGOTO: SoftHangupRequest causes are flags
_TRACKED_VARIABLES = frozenset({"MIXMONITOR_FILENAME", "AMDSTATUS", "AMDCAUSE"})
UNKNOWN_PARTY = "unknown"  # a transfer party the events do not name (never a wrong one)
_MAX_HOPS = 8  # Local pairs followed to find the party beyond


def _caller_id(number: str | None, name: str | None) -> tuple[str | None, str | None]:
    """A caller ID as compared for a change: a name that only repeats the number is no name
    (Asterisk fills the name with the number when it copies a connected line)."""
    return number, (None if name in (None, "", number) else name)


class CallTracker(CallRegistry):
    """Channels and calls of one Asterisk, rebuilt from its AMI event stream."""

    def __init__(self, clock: Clock, *, rules: DirectionRules | None = None) -> None:
        super().__init__(clock, rules=rules)
        self._snapshot: snapshot.Snapshot | None = None
        self._handlers: dict[str, Callable[[Message, Out], None]] = {
            "Newchannel": self._on_newchannel,
            "Newexten": self._on_newexten,
            "VarSet": self._on_varset,
            "NewCallerid": self._on_newcallerid,
            "Newstate": self._on_newstate,
            "HangupRequest": self._on_hangup_request,
            "SoftHangupRequest": self._on_hangup_request,
            "Hangup": self._on_hangup,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "BridgeDestroy": self._on_bridge_destroy,
            "MusicOnHoldStart": self._on_moh_start,
            "MusicOnHoldStop": self._on_moh_stop,
            "Hold": self._on_hold,
            "Unhold": self._on_unhold,
            "MixMonitorStart": self._on_mixmonitor_start,
            "MixMonitorStop": self._on_mixmonitor_stop,
            "DTMFEnd": self._on_dtmf_end,
            "UserEvent": self._on_user_event,
            "BlindTransfer": self._on_blind_transfer,
            "AttendedTransfer": self._on_attended_transfer,
            "ChanSpyStart": self._on_spy,
            "ChanSpyStop": self._on_spy,
            "Rename": self._on_rename,
            "DialBegin": self._on_dial_begin,
            "DialEnd": self._on_dial_end,
        }

    # ---- the one entry point ----------------------------------------------------------

    def feed(self, message: Message) -> list[CallEvent]:
        """Apply one AMI message; returns the call events it caused (often none)."""
        out: Out = []
        handler = self._handlers.get(message.get("Event", ""))
        if handler is not None:
            handler(message, out)
        return self.visible(out)

    # ---- resync after a reconnect (see ami_bridge.snapshot) --------------------------------

    def snapshot_started(self) -> None:
        """The link sent CoreShowChannels/Status; live events keep flowing through feed()."""
        self._snapshot = snapshot.Snapshot.begin(self)

    def apply_snapshot(self, items: Iterable[Message]) -> None:
        """CoreShowChannel / Status list items (other messages are ignored)."""
        if self._snapshot is None:
            raise RuntimeError("apply_snapshot() expected snapshot_started() first")
        self._snapshot.add(items)

    def snapshot_complete(self) -> list[CallEvent]:
        """Rebuild from the snapshot: adopt new channels, close calls that vanished."""
        if self._snapshot is None:
            raise RuntimeError("snapshot_complete() expected snapshot_started() first")
        pending, self._snapshot = self._snapshot, None
        return self.visible(pending.apply(self))

    def resync(self, items: Iterable[Message]) -> list[CallEvent]:
        """snapshot_started + apply_snapshot + snapshot_complete in one call."""
        self.snapshot_started()
        self.apply_snapshot(items)
        return self.snapshot_complete()

    # ---- channel life ---------------------------------------------------------------------

    def _on_newchannel(self, m: Message, out: Out) -> None:
        self.adopt(m, out)

    def _on_newcallerid(self, m: Message, out: Out) -> None:
        ch = self._channels.get(m.get("Uniqueid", ""))
        if ch is None:
            return
        ch.caller_number = parse_caller_id(m.get("CallerIDNum"))
        ch.caller_name = parse_caller_id(m.get("CallerIDName"))
        call = self._calls.get(ch.linkedid)
        if (
            call is None
            or not call.announced  # still in the creation burst: CallStarted will carry it
            or ch.uniqueid not in call.party
            or self._beyond_the_party(ch, call)
            or ch.caller_number is None
            or _caller_id(ch.caller_number, ch.caller_name)
            == _caller_id(call.caller_number, call.caller_name)
        ):
            return
        previous, call.caller_number, call.caller_name = (
            call.caller_number,
            ch.caller_number,
            ch.caller_name,
        )
        out.append(
            CallerIdChanged(
                linkedid=call.linkedid,
                at=to_utc(self._ts(m)),
                channel=ch.name,
                caller_number=ch.caller_number,
                caller_name=ch.caller_name,
                previous_number=previous,
            )
        )

    def _beyond_the_party(self, ch: Channel, call: Call) -> bool:
        """The half of the party's Local pair that is not the party as the PBX sees it: the
        handset `;1` of an inbound Local caller (its `;2` runs the dialplan, like a trunk
        channel), the simulated far end `;2` of a dialed Local leg (its `;1` is the customer
        leg). Asterisk copies the connected line of one half onto the other half's caller ID
        once bridged: that is no change of the caller's number."""
        sibling = self.sibling(ch)
        if sibling is None or sibling.uniqueid not in call.party:
            return False
        beyond = ";2" if PartyRole.DIALED in (ch.role, sibling.role) else ";1"
        return ch.name.endswith(beyond)

    def _on_newexten(self, m: Message, out: Out) -> None:
        ch = self._channels.get(m.get("Uniqueid", ""))
        if ch is None:
            ch = self.adopt(m, out)
            if ch is None:
                return
        elif m.get("Linkedid", ch.linkedid) != ch.linkedid:
            self._channel(m, out)
        app = m.get("Application", "")
        context = m.get("Context", "")
        if not ch.application:
            if app == "AppDial2" or app == "AppDial":
                ch.originated = True
        elif m.get("Priority") == "1":
            if ch.transfer_pending:
                ch.transfer_pending = False
            elif (
                context != ch.context
                and ch.application not in _JUMP_APPS
                and not ch.hangup_requested
            ):
                self._transferred(
                    ch, TransferKind.REDIRECT, f"{context},{m.get('Exten', '')},1", None, m, out
                )
        ch.context = context
        ch.exten = m.get("Exten", "")
        ch.application = app

    def _on_varset(self, m: Message, out: Out) -> None:
        variable = m.get("Variable")
        if variable not in _TRACKED_VARIABLES:
            return
        ch = self._channel(m, out, adopt=False)
        if ch is None:
            return
        value = m.get("Value", "")
        if variable == "MIXMONITOR_FILENAME":
            ch.record_file = value or None
        elif variable == "AMDSTATUS":
            ch.amd_status = value
            ch.amd_reported = False
        elif ch.amd_status is not None and not ch.amd_reported:  # AMDCAUSE follows AMDSTATUS
            ch.amd_reported = True
            out.append(
                AmdResult(
                    linkedid=ch.linkedid,
                    at=to_utc(self._ts(m)),
                    channel=ch.name,
                    status=ch.amd_status,
                    cause=value,
                )
            )

    def _on_newstate(self, m: Message, out: Out) -> None:
        ch = self._channel(m, out)
        if ch is None:
            return
        state = parse_state(m.get("ChannelState"))
        previous, ch.state = ch.state, state
        if state == previous:
            return
        if state == STATE_RINGING:
            out.append(
                CallRinging(
                    linkedid=ch.linkedid,
                    at=to_utc(self._ts(m)),
                    channel=ch.name,
                    uniqueid=ch.uniqueid,
                )
            )
        elif state == STATE_UP:
            call = self._calls[ch.linkedid]
            self.maybe_announce(call, out)  # a dial attempt becomes a call when it answers
            if not call.answered:
                call.answered = True
                out.append(
                    CallAnswered(
                        linkedid=ch.linkedid,
                        at=to_utc(self._ts(m)),
                        channel=ch.name,
                        uniqueid=ch.uniqueid,
                    )
                )

    def _on_hangup_request(self, m: Message, out: Out) -> None:
        if m.get("Event") == "SoftHangupRequest" and m.get("Cause") == _SOFTHANGUP_ASYNCGOTO:
            return  # a Redirect interrupting the app, not a hangup
        ch = self._channels.get(m.get("Uniqueid", ""))
        if ch is not None:
            ch.hangup_requested = True

    def _on_hangup(self, m: Message, out: Out) -> None:
        ch = self._channel(m, out, adopt=False)
        if ch is not None:
            self.remove_channel(ch, self._ts(m), parse_cause(m.get("Cause")), out)

    def _on_dial_begin(self, m: Message, out: Out) -> None:
        """Who a channel is dialing: the party beyond it while the target still rings. An
        Originate's DialBegin has only Dest* headers (no caller), so it is skipped."""
        caller = self._channels.get(m.get("Uniqueid", ""))
        dest = m.get("DestUniqueid", "")
        if caller is not None and dest and dest not in caller.dialing:
            caller.dialing.append(dest)

    def _on_dial_end(self, m: Message, out: Out) -> None:
        """The answered target stays: it is the party reached until the dial's bridge forms
        (a transfer completed in between still names it)."""
        caller = self._channels.get(m.get("Uniqueid", ""))
        dest = m.get("DestUniqueid", "")
        if caller is None or dest not in caller.dialing:
            return
        if m.get("DialStatus") == "ANSWER":
            caller.dialing = [dest]
        else:
            caller.dialing.remove(dest)

    def _on_rename(self, m: Message, out: Out) -> None:
        ch = self._channels.get(m.get("Uniqueid", ""))
        new_name = m.get("Newname")
        if ch is None or not new_name:
            return
        if self._by_name.get(ch.name) is ch:
            del self._by_name[ch.name]
        ch.name = new_name
        self._by_name[new_name] = ch

    # ---- bridges --------------------------------------------------------------------------

    def _on_bridge_enter(self, m: Message, out: Out) -> None:
        ch = self._channel(m, out)
        bridge_id = m.get("BridgeUniqueid")
        if ch is None or not bridge_id or ch.bridge_id == bridge_id:
            return
        ts = self._ts(m)
        if ch.bridge_id is not None:
            self.leave(ch, ts, out)
        self.enter(ch, bridge_id, ts, out)

    def _on_bridge_leave(self, m: Message, out: Out) -> None:
        ch = self._channel(m, out, adopt=False)
        if ch is not None and ch.bridge_id is not None and ch.bridge_id == m.get("BridgeUniqueid"):
            self.leave(ch, self._ts(m), out)

    def _on_bridge_destroy(self, m: Message, out: Out) -> None:
        for member in self._bridges.pop(m.get("BridgeUniqueid", ""), ()):
            member.bridge_id = None

    # ---- hold, recording, DTMF, AMD -------------------------------------------------------

    def _on_moh_start(self, m: Message, out: Out) -> None:
        self._hold_change(m, out, "on_moh", True, HoldKind.MUSIC_ON_HOLD)

    def _on_moh_stop(self, m: Message, out: Out) -> None:
        self._hold_change(m, out, "on_moh", False, HoldKind.MUSIC_ON_HOLD)

    def _on_hold(self, m: Message, out: Out) -> None:
        self._hold_change(m, out, "on_hold", True, HoldKind.HOLD)

    def _on_unhold(self, m: Message, out: Out) -> None:
        self._hold_change(m, out, "on_hold", False, HoldKind.HOLD)

    def _hold_change(self, m: Message, out: Out, flag: str, held: bool, how: HoldKind) -> None:
        """Music on hold and Hold are two flags; only a change of either is an event."""
        ch = self._channel(m, out)
        if ch is None or getattr(ch, flag) == held:
            return
        setattr(ch, flag, held)
        out.append(self._held(CallHeld if held else CallResumed, ch, how, m))

    def _held(
        self, kind: type[CallHeld] | type[CallResumed], ch: Channel, how: HoldKind, m: Message
    ) -> CallEvent:
        return kind(linkedid=ch.linkedid, at=to_utc(self._ts(m)), channel=ch.name, kind=how)

    def _on_mixmonitor_start(self, m: Message, out: Out) -> None:
        ch = self._channel(m, out)
        if ch is None:
            return
        ch.recording = True
        out.append(
            RecordingStarted(
                linkedid=ch.linkedid, at=to_utc(self._ts(m)), channel=ch.name, file=ch.record_file
            )
        )

    def _on_mixmonitor_stop(self, m: Message, out: Out) -> None:
        ch = self._channel(m, out)
        if ch is None or not ch.recording:
            return
        ch.recording = False
        out.append(
            RecordingStopped(
                linkedid=ch.linkedid,
                at=to_utc(self._ts(m)),
                channel=ch.name,
                file=ch.record_file,
                reason="stopped",
            )
        )

    def _on_dtmf_end(self, m: Message, out: Out) -> None:
        if m.get("Direction") != "Received":
            return
        ch = self._channel(m, out)
        if ch is not None:
            out.append(
                DtmfReceived(
                    linkedid=ch.linkedid,
                    at=to_utc(self._ts(m)),
                    channel=ch.name,
                    digit=m.get("Digit", ""),
                )
            )

    def _on_user_event(self, m: Message, out: Out) -> None:
        if m.get("UserEvent") != "AMDResult":
            return
        ch = self._channel(m, out, adopt=False)
        if ch is None or ch.amd_reported:
            return
        ch.amd_reported = True
        ch.amd_status = m.get("AMDStatus", "")
        out.append(
            AmdResult(
                linkedid=ch.linkedid,
                at=to_utc(self._ts(m)),
                channel=ch.name,
                status=ch.amd_status,
                cause=m.get("AMDCause", ""),
            )
        )

    # ---- transfers and spying -------------------------------------------------------------

    def _transferred(
        self,
        ch: Channel,
        kind: TransferKind,
        target: str,
        transferer: str | None,
        m: Message,
        out: Out,
        *,
        transferee: str | None = None,
    ) -> None:
        """`ch` is a channel of the call (the transferee when known); `transferee` is the name
        reported, when not `ch`'s (the party beyond it, or "unknown")."""
        call = self._calls[ch.linkedid]
        self.maybe_announce(call, out)
        out.append(
            CallTransferred(
                linkedid=ch.linkedid,
                at=to_utc(self._ts(m)),
                kind=kind,
                channel=ch.name if transferee is None else transferee,
                target=target,
                transferer=transferer,
            )
        )

    def _known(self, m: Message, prefix: str) -> Channel | None:
        """The channel a transfer event names with `<prefix>Uniqueid` / `<prefix>Channel`."""
        ch = self._channels.get(m.get(f"{prefix}Uniqueid", ""))
        if ch is None:
            name = m.get(f"{prefix}Channel")
            ch = self._by_name.get(name) if name else None
        return ch

    def party_beyond(self, ch: Channel) -> Channel:
        """The real party behind a Local half: follow each ;1/;2 pair to whoever its other half
        is bridged with (or is dialing, while the target rings). A channel that is no Local
        half, or whose other half runs dialplan (a handset, an agent's phone), is the party."""
        seen = {ch.uniqueid}
        for _ in range(_MAX_HOPS):
            sibling = self.sibling(ch)
            if sibling is None:
                break
            beyond: Channel | None = None
            if sibling.bridge_id is not None:
                others = [c for c in self._bridges.get(sibling.bridge_id, []) if c is not sibling]
                if len(others) == 1:
                    beyond = others[0]
            elif len(sibling.dialing) == 1:
                beyond = self._channels.get(sibling.dialing[0])
            if beyond is None or beyond.uniqueid in seen:
                break
            seen.add(beyond.uniqueid)
            ch = beyond
        return ch

    def _party_name(self, ch: Channel | None) -> str:
        return UNKNOWN_PARTY if ch is None else self.party_beyond(ch).name

    def _sole_other(self, bridge_id: str, exclude: set[str]) -> Channel | None:
        others = [c for c in self._bridges.get(bridge_id, []) if c.uniqueid not in exclude]
        return others[0] if len(others) == 1 else None

    def _on_blind_transfer(self, m: Message, out: Out) -> None:
        if m.get("Result") != "Success":
            return
        transferer = self._known(m, "Transferer")
        transferee = self._known(m, "Transferee")
        if transferee is None and transferer is not None:
            transferee = self._sole_other(m.get("BridgeUniqueid", ""), {transferer.uniqueid})
        anchor = transferee or transferer
        if anchor is None:
            return
        if transferee is not None:
            transferee.transfer_pending = True  # its coming jump to the target is this transfer
        target = f"{m.get('Context', '')},{m.get('Extension', '')}"
        self._transferred(
            anchor,
            TransferKind.BLIND,
            target,
            m.get("TransfererChannel"),
            m,
            out,
            transferee=self._party_name(transferee),
        )

    def _on_attended_transfer(self, m: Message, out: Out) -> None:
        if m.get("Result") != "Success":
            return
        transferer = self._known(m, "OrigTransferer")
        second = self._known(m, "SecondTransferer")
        target_ch = self._known(m, "TransferTarget")
        transferee = self._known(m, "Transferee")
        ours = {c.uniqueid for c in (transferer, second, target_ch) if c is not None}
        if transferee is None:  # no Transferee headers: the transferer's peer, if only one
            transferee = self._sole_other(m.get("OrigBridgeUniqueid", ""), ours)
        anchor = transferee or transferer or second or target_ch
        if anchor is None:
            return
        if transferee is not None:
            ours.add(transferee.uniqueid)
        party: Channel | None = None
        if m.get("DestType") == "App" and second is not None and len(second.dialing) == 1:
            party = self._channels.get(second.dialing[0])  # blonde: the target still rings
        if party is None:
            party = target_ch
        if party is None and m.get("DestType") == "Bridge":
            party = self._sole_other(m.get("DestBridgeUniqueid", ""), ours)
        target = UNKNOWN_PARTY if party is None else self.party_beyond(party).name
        self._transferred(
            anchor,
            TransferKind.ATTENDED,
            target,
            m.get("OrigTransfererChannel"),
            m,
            out,
            transferee=self._party_name(transferee),
        )

    def _on_spy(self, m: Message, out: Out) -> None:
        spyee = self._channels.get(m.get("SpyeeUniqueid", ""))
        if spyee is None:
            return
        self.maybe_announce(self._calls[spyee.linkedid], out)
        kind = SpyStarted if m.get("Event") == "ChanSpyStart" else SpyStopped
        out.append(
            kind(
                linkedid=spyee.linkedid,
                at=to_utc(self._ts(m)),
                spyer=m.get("SpyerChannel", ""),
                spyee=spyee.name,
            )
        )
