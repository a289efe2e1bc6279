"""Simulated inbound callers: the handset half (;1) of `Local/<did>@cb-inbound`, and a Poisson
stream of them for demos and benchmarks."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pbx_sim.channel import Channel, Signal
from pbx_sim.local import announce, local_bridge, make_pair
from pbx_sim.parties import Caller
from pbx_sim.runtime import Runtime


@dataclass(frozen=True, slots=True)
class InboundCall:
    """Handles of one placed inbound call."""

    linkedid: str
    caller_channel: str  # the ;2 the PBX sees (what Callboard bridges, records, redirects)
    handset_channel: str  # the ;1 (the caller's phone)


def place(rt: Runtime, caller: Caller) -> InboundCall:
    """Create the caller's Local pair; the PBX side runs cb-inbound, the handset runs `caller`."""
    one, two = make_pair(rt, caller.did, "cb-inbound")
    one.party = caller
    announce(rt, one, two, "AppDial2", [], (caller.name, caller.number))
    local_bridge(rt, one, two)
    rt.world.dial_event("DialBegin", one, ("DialString", f"{caller.did}@cb-inbound"))
    rt.spawn(run_handset(rt, one, two, caller), one)
    rt.spawn(rt.run_dialplan(two), two)
    return InboundCall(one.linkedid, two.name, one.name)


async def run_handset(rt: Runtime, one: Channel, two: Channel, caller: Caller) -> None:
    """The caller: waits for the PBX to answer, gives up after `patience` in holding,
    stays while connected, and hangs up on request (mid-IVR) or at `talk_limit`."""
    w = rt.world
    while True:  # ringing the PBX
        item = await one.block(rt.clock, None)
        if item is None or item.kind in (
            Signal.RINGING,
            Signal.DTMF,
            Signal.PEER_MOH,
            Signal.PEER_BRIDGED,
        ):
            continue
        if item.kind is Signal.ANSWER:
            break
        if item.kind is Signal.HANGUP:
            rt.world.dial_event("DialEnd", one, ("DialStatus", "NOANSWER"))
            w.finish_hangup(one, item.cause)
            return
        if item.kind is Signal.LEAVE:
            await rt.hangup_self(one, 16)
            return
    one.context, one.exten, one.priority = "caller-sim", "s", 1
    one.application, one.app_data = "Wait", "-1"
    w.chan_event("Newexten", one, ("Extension", "s"), ("Application", "Wait"), ("AppData", "-1"))
    deadline: float | None = None
    while True:
        timeout = None if deadline is None else max(deadline - rt.clock.now(), 0.0)
        item = await one.block(rt.clock, timeout)
        if item is None or item.kind is Signal.LEAVE:
            break  # patience or talk limit reached, or hung up on purpose
        if item.kind is Signal.PEER_MOH:
            deadline = rt.clock.now() + caller.patience
        elif item.kind is Signal.PEER_BRIDGED:
            deadline = None if caller.talk_limit is None else rt.clock.now() + caller.talk_limit
        elif item.kind is Signal.HANGUP:
            rt.finish_interrupted(one, item.cause)
            return
    if one.hungup:
        return
    one.priority = 2
    one.application, one.app_data = "Hangup", ""
    w.chan_event("Newexten", one, ("Extension", "s"), ("Application", "Hangup"), ("AppData", ""))
    await rt.hangup_self(one, 16)


class CallerStream:
    """Inbound callers arriving as a Poisson process (`rate` calls per second)."""

    def __init__(
        self,
        rt: Runtime,
        rate: float,
        numbers: Sequence[str],
        dids: Sequence[str],
        make_caller: Callable[[random.Random, str, str], Caller],
        on_call: Callable[[InboundCall], None] | None = None,
        limit: int | None = None,
    ) -> None:
        self.rt = rt
        self.rate = rate
        self.numbers = list(numbers)
        self.dids = list(dids)
        self.make_caller = make_caller
        self.on_call = on_call
        self.limit = limit
        self.placed = 0

    async def run(self) -> None:
        rng = self.rt.rng
        while self.rate > 0 and (self.limit is None or self.placed < self.limit):
            await self.rt.clock.sleep(rng.expovariate(self.rate))
            caller = self.make_caller(rng, rng.choice(self.numbers), rng.choice(self.dids))
            call = place(self.rt, caller)
            self.placed += 1
            if self.on_call is not None:
                self.on_call(call)
