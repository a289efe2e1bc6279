"""Transfers (trace 07): the BlindTransfer action and the attended transfer (Atxfer).

Atxfer is Asterisk's DTMF feature: the `*2` code then the digits are queued on the
transferer's channel (DTMFEnd only), the transferee is put on hold, and a consultation call to
<exten>@<context> is bridged with the transferer. When the transferer hangs up the two bridges
merge (BridgeMerge, AttendedTransfer) and the Local pair of the consultation call is optimised
away, leaving the transferee bridged with the transfer target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pbx_sim.ami.framing import Action
from pbx_sim.ami.server import AmiServer, Session
from pbx_sim.bridge import Bridge
from pbx_sim.channel import Channel, Interrupt, Signal
from pbx_sim.local import local_bridge, make_pair
from pbx_sim.runtime import Runtime

ATXFER_CODE = "*2"  # features.conf [featuremap] atxfer => *2 (reference config)


@dataclass(eq=False)
class AttendedTransfer:
    rt: Runtime
    transferer: Channel
    transferee: Channel
    original: Bridge
    consult: Bridge
    target: Channel  # the consultation call's ;1, bridged with the transferer
    target_far: Channel  # its ;2, running <exten>@<context>
    optimisations: list[int] = field(default_factory=list)

    def start(self) -> None:
        rt, w = self.rt, self.rt.world
        ch, one, two = self.transferer, self.target, self.target_far
        w.register(one)
        w.register(two)
        w.set_var(one, "TRANSFERERNAME", ch.name)
        w.set_var(one, "ATTENDEDTRANSFER", ch.name)
        w.emit("BridgeCreate", "call,all", self.consult.fields())
        w.set_var(two, "ATTENDEDTRANSFER", ch.name)
        w.set_var(two, "TRANSFERERNAME", ch.name)
        two.cid_num, two.cid_name = ch.cid_num, ch.cid_name
        w.chan_event(
            "NewCallerid", two, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")
        )
        local_bridge(rt, one, two)
        rt.spawn(rt.run_dialplan(two), two)
        one.conn_num, one.conn_name = ch.cid_num, ch.cid_name
        w.chan_event("NewConnectedLine", one)
        w.enter_bridge(one, self.consult)
        w.set_var(one, "ATTENDEDTRANSFER", "")
        w.quiet_leave(ch)
        w.enter_bridge(ch, self.consult)
        w.refresh_bridgepeer(self.consult)
        w.chan_event("NewConnectedLine", ch)
        rt.pending_transfers[ch] = self.complete
        rt.spawn(self.run_target(), one)

    async def run_target(self) -> None:
        """The consultation call's ;1: bridged from the start, answered when its ;2 is."""
        one = self.target
        while not one.hungup:
            item = await one.block(self.rt.clock, None)
            if item is None or one.hungup:
                continue
            if item.kind is Signal.ANSWER and one.bridge is not None:
                self.rt.world.refresh_bridgepeer(one.bridge)
            elif item.kind is Signal.HANGUP:
                if self.rt.pending_transfers.pop(self.transferer, None) is not None:
                    self.abort()
                self.rt.finish_interrupted(one, item.cause)

    def abort(self) -> None:
        """The consultation call failed: the transferer goes back to the transferee."""
        w, ch = self.rt.world, self.transferer
        w.quiet_leave(ch)
        if not self.transferee.hungup and self.original.members:
            w.enter_bridge(ch, self.original)
            w.chan_event("Unhold", ch)
            if self.transferee.in_moh:
                self.rt.stop_moh(self.transferee)
            w.refresh_bridgepeer(self.original)

    def complete(self, cause: int) -> None:
        """The transferer hung up: merge the consultation bridge into the original one."""
        rt, w = self.rt, self.rt.world
        ch, one, two, transferee = self.transferer, self.target, self.target_far, self.transferee
        w.set_var(ch, "BRIDGEPEER", "")
        w.quiet_leave(ch)
        w.set_var(ch, "BRIDGERESULT", "SUCCESS")
        if transferee.hungup or one.hungup:
            w.finish_hangup(ch, 16)
            return
        w.emit(
            "BridgeMerge", "call,all", [*self.original.fields("To"), *self.consult.fields("From")]
        )
        w.quiet_leave(one)
        w.enter_bridge(one, self.original)
        if transferee.in_moh:
            rt.stop_moh(transferee)
        w.refresh_bridgepeer(self.original)
        w.emit(
            "AttendedTransfer",
            "call,all",
            [
                ("Result", "Success"),
                *ch.fields("OrigTransferer"),
                *self.original.fields("Orig"),
                *ch.fields("SecondTransferer"),
                *self.consult.fields("Second"),
                *transferee.fields("Transferee"),
                *one.fields("TransferTarget"),
                ("IsExternal", "No"),
                ("DestType", "Bridge"),
                ("DestBridgeUniqueid", self.original.uniqueid),
            ],
        )
        w.maybe_destroy(self.consult)
        w.finish_hangup(ch, 16)
        if two.bridge is not None:
            self.optimise()

    def optimise(self) -> None:
        """Both halves of the consultation Local pair are bridged: take the pair out and put
        the transferee straight into the far bridge (LocalOptimization*)."""
        w = self.rt.world
        one, two, transferee = self.target, self.target_far, self.transferee
        far = two.bridge
        if far is None:
            return
        w.chan_event("NewConnectedLine", transferee)
        ident = str(len(self.optimisations))
        self.optimisations.append(1)
        w.emit(
            "LocalOptimizationBegin",
            "call,all",
            [
                *one.fields("LocalOne"),
                *two.fields("LocalTwo"),
                *transferee.fields("Source"),
                ("DestUniqueId", two.uniqueid),
                ("Id", ident),
            ],
        )
        w.quiet_leave(transferee)
        w.set_var(two, "BRIDGEPEER", "")
        w.quiet_leave(two)
        w.enter_bridge(transferee, far)
        transferee.cdr_segments.append((w.clock.now(), far.others(transferee)[0].name))
        w.refresh_bridgepeer(far)
        w.set_var(one, "BRIDGEPEER", "")
        w.emit(
            "LocalOptimizationEnd",
            "call,all",
            [*one.fields("LocalOne"), *two.fields("LocalTwo"), ("Success", "No"), ("Id", ident)],
        )
        w.quiet_leave(one)
        w.hangup_request(two, 16)
        w.finish_hangup(one, 16)
        one.interrupt(Interrupt(Signal.HANGUP, cause=16))


class TransferActions:
    def __init__(self, server: AmiServer, runtime: Runtime) -> None:
        self.rt = runtime
        server.handlers["blindtransfer"] = self.blindtransfer
        server.handlers["atxfer"] = self.atxfer

    def _transferer(self, s: Session, a: Action) -> Channel | None:
        if not a.get("Channel"):
            s.error(a, "No channel specified")
            return None
        if not a.get("Exten"):
            s.error(a, "No extension specified")
            return None
        ch = self.rt.world.find(a.get("Channel"))
        if ch is None:
            s.error(a, "Channel specified does not exist")
            return None
        if ch.bridge is None or not ch.bridge.others(ch):
            s.error(a, "Transfer failed")
            return None
        return ch

    async def blindtransfer(self, s: Session, a: Action) -> None:
        ch = self._transferer(s, a)
        if ch is None or ch.bridge is None:
            return
        w = self.rt.world
        bridge = ch.bridge
        transferee = bridge.others(ch)[0]
        context = a.get("Context") or ch.context
        s.respond(a, "Success", "Transfer succeeded")
        w.chan_event("Unhold", ch)
        w.set_var(transferee, "BLINDTRANSFER", ch.name)
        w.set_var(ch, "BLINDTRANSFER", transferee.name)
        w.emit(
            "BlindTransfer",
            "call,all",
            [
                ("Result", "Success"),
                *ch.fields("Transferer"),
                *transferee.fields("Transferee"),
                *bridge.fields(),
                ("IsExternal", "Yes"),
                ("Context", context),
                ("Extension", a.get("Exten")),
            ],
        )
        # the transferee goes on at the new extension; the bridge breaks for the transferer
        transferee.interrupt(Interrupt(Signal.REDIRECT, context=context, exten=a.get("Exten")))

    async def atxfer(self, s: Session, a: Action) -> None:
        ch = self._transferer(s, a)
        if ch is None or ch.bridge is None:
            return
        if ch in self.rt.pending_transfers:
            s.error(a, "Transfer already in progress")
            return
        rt, w = self.rt, self.rt.world
        context = a.get("Context") or ch.variables.get("TRANSFER_CONTEXT") or ch.context
        exten = a.get("Exten")
        s.respond(a, "Success", "Atxfer successfully queued")
        if not ch.may_atxfer:
            # Asterisk queues the digits all the same; without Bridge option T no feature
            # hears them, and nothing else happens (seen on Asterisk 22.10.1).
            for digit in ATXFER_CODE + exten:
                self._feature_digit(ch, digit)
            return
        original = ch.bridge
        transferee = original.others(ch)[0]
        w.set_var(ch, "TRANSFER_CONTEXT", context)
        for digit in ATXFER_CODE:
            self._feature_digit(ch, digit)
        w.chan_event("Hold", ch)
        transferee.in_moh = True
        w.chan_event("MusicOnHoldStart", transferee, ("Class", "default"))
        for digit in exten:
            self._feature_digit(ch, digit)
        one, two = make_pair(rt, exten, context, linkedid=ch.linkedid)
        consult = w.new_bridge()
        AttendedTransfer(rt, ch, transferee, original, consult, one, two).start()

    def _feature_digit(self, ch: Channel, digit: str) -> None:
        self.rt.world.chan_event(
            "DTMFEnd", ch, ("Digit", digit), ("DurationMs", "0"), ("Direction", "Received")
        )
