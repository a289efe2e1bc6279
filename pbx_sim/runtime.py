"""Runs channels: the dialplan interpreter, interrupts (hangup, redirect, bridge) and hangups.

Every channel's life is one task owned by `Runtime` (cancelled on stop). The sequences
(Newchannel pair, LocalBridge, DialBegin/DialEnd, HangupRequest/SoftHangupRequest/Hangup with
their causes) follow the Asterisk 22 traces; Local pairs and Originate are in `local`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pbx_sim.channel import Channel, ChannelState, Interrupt, Signal
from pbx_sim.dialplan import Dialplan
from pbx_sim.parties import AgentPhone, FarEndProfile
from pbx_sim.world import World

if TYPE_CHECKING:
    from pbx_sim.local import OriginateRequest, OriginateResult

log = logging.getLogger(__name__)


class Diverted(Exception):
    """An application was interrupted (hangup, redirect, bridge); the runner takes over."""

    def __init__(self, interrupt: Interrupt) -> None:
        super().__init__(interrupt.kind)
        self.interrupt = interrupt


@dataclass(frozen=True, slots=True)
class Goto:
    context: str
    exten: str
    priority: int = 1


@dataclass(frozen=True, slots=True)
class HangupNow:
    cause: int = 16


AppResult = Goto | HangupNow | None
App = Callable[["Runtime", Channel, str], Awaitable[AppResult]]


class AgiRunner(Protocol):
    async def run(self, rt: Runtime, ch: Channel, url: str, args: list[str]) -> None: ...


class Runtime:
    def __init__(
        self,
        world: World,
        apps: dict[str, App],
        dialplan: Dialplan | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.world = world
        self.clock = world.clock
        self.apps = apps
        self.dialplan = dialplan or Dialplan()
        self.rng = rng or random.Random(7)
        self.agent_phones: dict[str, AgentPhone] = {}
        self.far_ends = FarEndProfile()
        self.tasks: set[asyncio.Task[None]] = set()
        self.on_originate: list[Callable[[OriginateRequest, OriginateResult], None]] = []
        # transferers with an attended transfer under way -> completes it when they hang up
        self.pending_transfers: dict[Channel, Callable[[int], None]] = {}
        self.agi: AgiRunner | None = None  # runs AGI(agi://...), see agi_client.AgiClient

    # -- task ownership ---------------------------------------------------------------------
    def spawn(self, coro: Awaitable[None], owner: Channel | str) -> asyncio.Task[None]:
        """Run `coro` as a task owned by the runtime; `owner` is the channel it drives (or a
        name), hung up if the task fails so no channel is left behind."""
        name = owner.name if isinstance(owner, Channel) else owner
        task = asyncio.get_running_loop().create_task(self._guard(coro, owner), name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _guard(self, coro: Awaitable[None], owner: Channel | str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            if isinstance(owner, Channel):
                log.exception("pbx_sim channel %s (linkedid %s) failed", owner.name, owner.linkedid)
                self.world.finish_hangup(owner, 0)
            else:
                log.exception("pbx_sim task %s failed", owner)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    # -- waiting ----------------------------------------------------------------------------
    async def wait(self, ch: Channel, seconds: float | None, digits: str = "") -> str | None:
        """Block `ch` for `seconds`; a DTMF digit in `digits` ends the wait early and is
        returned. Hangup/redirect/bridge raise `Diverted`."""
        deadline = None if seconds is None else self.clock.now() + seconds
        while True:
            remaining = None if deadline is None else max(deadline - self.clock.now(), 0.0)
            item = await ch.block(self.clock, remaining)
            if item is None:
                return None
            if item.kind is Signal.DTMF:
                if item.digit in digits:
                    return item.digit
                continue
            if item.kind in (Signal.HANGUP, Signal.REDIRECT, Signal.BRIDGE):
                raise Diverted(item)
            # control signals (ringing/answer) or a stale unbridge: keep waiting

    # -- the dialplan interpreter -----------------------------------------------------------
    async def run_dialplan(self, ch: Channel) -> None:
        while not ch.hungup:
            steps = self.dialplan.steps(ch)
            if steps is None or ch.priority > len(steps):
                await self.hangup_self(ch, 16)
                return
            step = steps[ch.priority - 1]
            data = step.render(ch)
            ch.application, ch.app_data = step.app, data
            self.world.chan_event(
                "Newexten",
                ch,
                ("Extension", ch.exten),
                ("Application", step.app),
                ("AppData", data),
            )
            app = self.apps.get(step.app)
            try:
                result = await app(self, ch, data) if app is not None else None
            except Diverted as diverted:
                if not await self.handle_interrupt(ch, diverted.interrupt):
                    return
                continue
            if isinstance(result, HangupNow):
                await self.hangup_self(ch, result.cause)
                return
            if isinstance(result, Goto):
                ch.context, ch.exten, ch.priority = result.context, result.exten, result.priority
                continue
            ch.priority += 1

    async def handle_interrupt(self, ch: Channel, item: Interrupt) -> bool:
        """Apply a hangup/redirect/bridge to `ch`; False when the channel is gone."""
        while True:
            if ch.in_moh:
                self.stop_moh(ch)
            if item.kind is Signal.HANGUP:
                self.finish_interrupted(ch, item.cause)
                return False
            if item.kind is Signal.REDIRECT:
                ch.context, ch.exten, ch.priority = item.context, item.exten, item.priority
                if not ch.originated_app:  # BridgeLeave already shows the new location
                    if ch.bridge is not None:
                        self.world.leave_bridge(ch)
                    return True
                # An Application leg has no dialplan to run: it leaves and hangs up (README 11)
                if ch.bridge is not None:
                    self.world.leave_bridge(ch, redirected=True)
                    self.world.set_var(ch, "BRIDGERESULT", "SUCCESS")
                if ch.peer is not None:
                    self.world.hangup_request(ch.peer, 16)
                self.world.finish_hangup(ch, 16)
                return False
            if item.kind is Signal.BRIDGE:
                next_item = await self.sit_in_bridge(ch)
                if next_item is None:
                    return True
                item = next_item
                continue
            return True

    async def sit_in_bridge(self, ch: Channel) -> Interrupt | None:
        """Stay bridged until the bridge breaks (None) or something else happens."""
        while True:
            item = await ch.block(self.clock, None)
            if item is None or item.kind in (
                Signal.DTMF,
                Signal.BRIDGE,
                Signal.ANSWER,
                Signal.RINGING,
            ):
                continue
            if item.kind is Signal.UNBRIDGE:
                if ch.bridge is not None and ch.bridge is item.bridge:
                    self.world.leave_bridge(ch)
                    return None
                continue
            return item

    def stop_moh(self, ch: Channel) -> None:
        ch.in_moh = False
        self.world.chan_event("MusicOnHoldStop", ch)

    def finish_interrupted(self, ch: Channel, cause: int) -> None:
        """Hang up a channel woken by a hangup request (its peer's or an AMI Hangup)."""
        complete_transfer = self.pending_transfers.pop(ch, None)
        if complete_transfer is not None:  # the transferer hangs up: the transfer completes
            complete_transfer(cause)
            return
        if ch.bridge is not None:
            self.world.leave_bridge(ch)
        elif not ch.originated_app:
            self.world.chan_event("SoftHangupRequest", ch, ("Cause", "16"))
        if ch.peer is not None:
            # an AMI Hangup without a cause leaves this half at 0 "Unknown"; a ConfBridge on the
            # other half then clears normally (16, trace 08) where ChanSpy keeps 0 (trace 10)
            peer_cause = cause or (16 if ch.peer.application == "ConfBridge" else 0)
            self.world.hangup_request(ch.peer, peer_cause)
        self.world.finish_hangup(ch, ch.own_cause if ch.own_cause is not None else cause)

    def end_channel(self, ch: Channel, cause: int) -> None:
        """Hang up a channel already soft-hung-up (AGI HANGUP): no second SoftHangupRequest."""
        if ch.hungup:
            return
        if ch.bridge is not None:
            self.world.leave_bridge(ch)
        if ch.peer is not None:
            self.world.hangup_request(ch.peer, cause)
        self.world.finish_hangup(ch, cause)

    async def hangup_self(self, ch: Channel, cause: int) -> None:
        """The channel's own dialplan hangs it up (Hangup(), end of dialplan)."""
        if ch.hungup:
            return
        if ch.in_moh:
            self.stop_moh(ch)
        self.world.chan_event("SoftHangupRequest", ch, ("Cause", "16"))
        if ch.bridge is not None:
            self.world.leave_bridge(ch)
        if ch.peer is not None:
            self.world.hangup_request(ch.peer, cause)
        self.world.finish_hangup(ch, cause)

    async def run_application(self, ch: Channel, app_name: str, data: str) -> None:
        """A ;1 originated with Application=: run it, then hang up (no dialplan to go on)."""
        ch.application, ch.app_data = app_name, data
        app = self.apps.get(app_name)
        try:
            if app is not None:
                await app(self, ch, data)
            else:
                await self.wait(ch, None)
        except Diverted as diverted:
            if not await self.handle_interrupt(ch, diverted.interrupt):
                return
        if not ch.hungup:
            if ch.peer is not None:
                self.world.hangup_request(ch.peer, 16)
            self.world.finish_hangup(ch, 16)

    def send_dtmf(self, source: Channel, digit: str, duration_ms: int) -> None:
        """A key press on `source` (a handset ;1) is received by its ;2, as PlayDTMF shows."""
        target = source.peer if source.peer is not None and not source.peer.hungup else source
        self.world.chan_event("DTMFBegin", target, ("Digit", digit), ("Direction", "Received"))
        self.world.chan_event(
            "DTMFEnd",
            target,
            ("Digit", digit),
            ("DurationMs", str(duration_ms)),
            ("Direction", "Received"),
        )
        target.interrupt(Interrupt(Signal.DTMF, digit=digit))

    # -- signals from a ;2 half to its waiting ;1 -------------------------------------------
    def answer(self, ch: Channel) -> None:
        w = self.world
        w.set_state(ch, ChannelState.UP)
        peer = ch.peer
        if peer is not None and peer.state != ChannelState.UP and not peer.hungup:
            w.set_state(peer, ChannelState.UP)
            if peer.dialed_by is None:  # Dial() reports its own DialEnd, after its variables
                w.dial_event("DialEnd", peer, ("DialStatus", "ANSWER"))
            peer.interrupt(Interrupt(Signal.ANSWER))

    def ringing(self, ch: Channel) -> None:
        peer = ch.peer
        if peer is not None and peer.state not in (ChannelState.UP, ChannelState.RINGING):
            self.world.set_state(peer, ChannelState.RINGING)
            if peer.dialed_by is None:
                self.world.dial_event("DialState", peer, ("DialStatus", "RINGING"))
            else:
                peer.interrupt(Interrupt(Signal.RINGING))
