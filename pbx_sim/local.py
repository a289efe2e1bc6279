"""Local channel pairs: creation, the dial phase (ringing, answer, busy, timeout), the AMI
Originate and the Dial() application.

`Local/<exten>@<context>` gives `;1` (runs what the Originate names, or is Dial's outbound
leg) and `;2` (runs <exten>@<context>). Sequences follow traces 03-07 and 11.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pbx_sim.channel import Channel, ChannelState, Interrupt, Signal
from pbx_sim.runtime import AppResult, Diverted, Runtime

DIAL_VARS = (
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
)


@dataclass
class OriginateRequest:
    channel: str
    context: str = ""
    exten: str = ""
    priority: int = 1
    application: str = ""
    data: str = ""
    callerid: tuple[str, str] | None = None  # (name, number)
    variables: list[tuple[str, str]] = field(default_factory=list)
    timeout: float = 30.0
    channel_id: str = ""
    other_channel_id: str = ""
    action_id: str | None = None


@dataclass
class OriginateResult:
    reason: int  # 4 answered, 5 busy, 8 congestion, 3 no answer, 0 other failure
    channel: Channel | None = None

    @property
    def success(self) -> bool:
        return self.reason == 4


def parse_local(dial: str) -> tuple[str, str] | None:
    """`Local/<exten>@<context>[/n]` -> (exten, context)."""
    if not dial.startswith("Local/") or "@" not in dial:
        return None
    exten, _, context = dial[len("Local/") :].partition("@")
    context = context.split("/", 1)[0]
    if not exten or not context:
        return None
    return exten, context


def make_pair(
    rt: Runtime, exten: str, context: str, one_id: str = "", two_id: str = "", linkedid: str = ""
) -> tuple[Channel, Channel]:
    """A new Local pair (not yet announced); the far half gets its simulated party."""
    w = rt.world
    base = f"Local/{exten}@{context}-{w.next_sequence()}"
    uid_one = one_id or w.next_uniqueid()
    # Asterisk names the ;2 "<ChannelId>;2" when only ChannelId is given
    uid_two = two_id or (f"{one_id};2" if one_id else w.next_uniqueid())
    one = Channel(f"{base};1", uid_one, linkedid or uid_one, context, exten)
    two = Channel(f"{base};2", uid_two, one.linkedid, context, exten, state=ChannelState.RING)
    one.peer, two.peer = two, one
    if context == "cb-agent-phone":
        phone = rt.agent_phones.get(exten)
        two.party = phone.draw(rt.rng) if phone is not None else None
    elif context == "cb-agents":
        phone = rt.agent_phones.get(exten)
        prefix = f"Local/{exten}@{context}-"
        in_call = any(n.startswith(prefix) and n.endswith(";2") for n in w.channels)
        two.party = phone.draw(rt.rng, in_call) if phone is not None else None
    elif context == "pstn-sim":
        two.party = rt.far_ends.draw(exten, rt.rng)
    return one, two


def apply_callerid(rt: Runtime, ch: Channel, callerid: tuple[str, str] | None) -> None:
    if callerid is None:
        return
    name, number = callerid
    ch.cid_name, ch.cid_num = name or "<unknown>", number or "<unknown>"
    ch.conn_name, ch.conn_num = ch.cid_name, ch.cid_num
    rt.world.chan_event(
        "NewCallerid", ch, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")
    )
    rt.world.chan_event("NewConnectedLine", ch)


def announce(
    rt: Runtime,
    one: Channel,
    two: Channel,
    dial_app: str,
    variables: list[tuple[str, str]],
    callerid: tuple[str, str] | None,
) -> None:
    """Newchannel x2, the ;1's first Newexten, variables and CallerID on both halves."""
    w = rt.world
    w.register(one)
    w.register(two)
    one.application, one.app_data = dial_app, "(Outgoing Line)"
    w.chan_event(
        "Newexten",
        one,
        ("Extension", one.exten),
        ("Application", dial_app),
        ("AppData", "(Outgoing Line)"),
    )
    for name, value in reversed(variables):
        w.set_var(one, name, value)
    apply_callerid(rt, one, callerid)
    for name, value in variables:
        w.set_var(two, name, value)
    apply_callerid(rt, two, callerid)


def local_bridge(rt: Runtime, one: Channel, two: Channel) -> None:
    rt.world.emit(
        "LocalBridge",
        "call,all",
        [
            *one.fields("LocalOne"),
            *two.fields("LocalTwo"),
            ("Context", two.context),
            ("Exten", two.exten),
            ("LocalOptimization", "Yes"),
        ],
    )


async def await_answer(rt: Runtime, one: Channel, two: Channel, limit: float) -> int:
    """Wait on the ;1 half for what its ;2 does; the OriginateResponse reason (-1: cancelled
    because the dialling channel went away)."""
    w = rt.world
    deadline = rt.clock.now() + limit
    while True:
        item = await one.block(rt.clock, max(deadline - rt.clock.now(), 0.0))
        if item is None:  # the Timeout expired while ringing
            one.disposition = two.disposition = "NO ANSWER"
            w.hangup_request(two, 19)
            w.finish_hangup(one, 19)
            return 3
        if item.kind is Signal.ANSWER:
            return 4
        if item.kind is Signal.RINGING and one.dialed_by is not None:
            one.dialed_by.interrupt(Interrupt(Signal.RINGING))
        elif item.kind is Signal.CANCEL:
            w.hangup_request(two, 16)
            w.finish_hangup(one, 16)
            return -1
        elif item.kind in (Signal.BUSY, Signal.CONGESTION):
            one.disposition = two.disposition = "BUSY" if item.kind is Signal.BUSY else "FAILED"
            rt.world.dial_event("DialEnd", one, ("DialStatus", item.kind.upper()))
            w.hangup_request(two, 0)
            w.finish_hangup(one, 0)
            return 5 if item.kind is Signal.BUSY else 8
        elif item.kind is Signal.HANGUP:  # the far end gave up, or an AMI Hangup of this ;1
            one.disposition = two.disposition = "NO ANSWER"
            rt.world.dial_event("DialEnd", one, ("DialStatus", "NOANSWER"))
            w.hangup_request(two, item.cause)
            w.finish_hangup(one, item.cause)
            return 0


async def originate(rt: Runtime, req: OriginateRequest) -> OriginateResult:
    result = await _originate(rt, req)
    for hook in list(rt.on_originate):
        hook(req, result)
    return result


async def _originate(rt: Runtime, req: OriginateRequest) -> OriginateResult:
    w = rt.world
    target = parse_local(req.channel)
    if target is None:
        return OriginateResult(0)
    exten, context = target
    one, two = make_pair(rt, exten, context, req.channel_id, req.other_channel_id)
    announce(rt, one, two, "AppDial2", req.variables, req.callerid)
    if not rt.dialplan.has_extension(context, exten):  # no context, or no such extension in it
        one.disposition = two.disposition = "FAILED"
        w.finish_hangup(two, 0, report_device=False)
        w.finish_hangup(one, 0, report_device=False)
        w.device_state(f"Local/{exten}@{context}", "INVALID")
        return OriginateResult(0)
    local_bridge(rt, one, two)
    rt.world.dial_event("DialBegin", one, ("DialString", f"{exten}@{context}"))
    rt.spawn(rt.run_dialplan(two), two)
    reason = await await_answer(rt, one, two, req.timeout)
    if reason != 4:
        return OriginateResult(max(reason, 0))
    if req.application:
        one.originated_app = req.application
        rt.spawn(rt.run_application(one, req.application, req.data), one)
    else:
        one.context, one.exten, one.priority = req.context, req.exten, req.priority
        rt.spawn(rt.run_dialplan(one), one)
    return OriginateResult(4, one)


async def app_dial(rt: Runtime, ch: Channel, data: str) -> AppResult:
    """Dial(Local/<exten>@<context>[,timeout]): ring, bridge on answer, set DIALSTATUS."""
    w = rt.world
    target_text, _, rest = data.partition(",")
    timeout_text = rest.split(",", 1)[0]
    limit = float(timeout_text) if timeout_text.replace(".", "", 1).isdigit() else 3600.0
    for name in DIAL_VARS:
        w.set_var(ch, name, "")
    target = parse_local(target_text)
    if target is None or not rt.dialplan.has_extension(target[1], target[0]):
        w.set_var(ch, "DIALSTATUS", "CHANUNAVAIL")
        return None
    exten, context = target
    one, two = make_pair(rt, exten, context, linkedid=ch.linkedid)
    one.dialed_by, one.originated_app = ch, "AppDial"
    w.register(one)
    w.register(two)
    w.set_var(one, "DIALEDPEERNUMBER", f"{exten}@{context}")
    one.exten, one.application, one.app_data = ch.exten, "AppDial", "(Outgoing Line)"
    w.chan_event(
        "Newexten",
        one,
        ("Extension", one.exten),
        ("Application", "AppDial"),
        ("AppData", "(Outgoing Line)"),
    )
    w.set_var(two, "DIALEDPEERNUMBER", f"{exten}@{context}")
    callerid = (ch.cid_name, ch.cid_num) if ch.cid_num != "<unknown>" else None
    apply_callerid(rt, one, callerid)
    apply_callerid(rt, two, callerid)
    local_bridge(rt, one, two)
    rt.world.dial_event("DialBegin", one, ("DialString", f"{exten}@{context}"))
    started = rt.clock.now()
    was_up = ch.state == ChannelState.UP
    rt.spawn(rt.run_dialplan(two), two)
    outcome: list[int] = []
    leg = rt.spawn(_dial_leg(rt, ch, one, two, limit, outcome), one)
    while not outcome:
        item = await ch.block(rt.clock, None)
        if item is None or item.kind is Signal.DIALED:
            continue
        if item.kind is Signal.RINGING:
            rt.ringing(ch)  # Dial() indicates ringing to its caller
            w.set_var(ch, "RINGTIME", "0")
            w.set_var(ch, "RINGTIME_MS", "0")
            rt.world.dial_event("DialState", one, ("DialStatus", "RINGING"))
        elif item.kind in (Signal.HANGUP, Signal.REDIRECT):
            one.interrupt(Interrupt(Signal.CANCEL))
            await leg
            raise Diverted(item)
    reason = outcome[0]
    if reason != 4:
        status = {5: "BUSY", 8: "CONGESTION", 3: "NOANSWER"}.get(reason, "NOANSWER")
        w.set_var(ch, "DIALSTATUS", status)
        return None
    answered = rt.clock.now()
    if was_up:  # Dial() from an answered channel opens a new Cdr segment
        ch.cdr_segments.append((started, one.name))
    w.set_var(ch, "DIALSTATUS", "ANSWER")
    w.set_var(ch, "DIALEDPEERNAME", one.name)
    w.set_var(ch, "DIALEDPEERNUMBER", f"{exten}@{context}")
    rt.world.dial_event("DialEnd", one, ("DialStatus", "ANSWER"))
    if ch.state != ChannelState.UP:  # Dial() answers its caller when the callee answers
        rt.answer(ch)
    bridge = w.new_bridge()
    w.emit("BridgeCreate", "call,all", bridge.fields())
    one.exten = ""
    w.chan_event(
        "Newexten",
        one,
        ("Extension", ""),
        ("Application", "AppDial"),
        ("AppData", "(Outgoing Line)"),
    )
    w.enter_bridge(one, bridge)
    one.interrupt(Interrupt(Signal.BRIDGE, bridge=bridge))
    w.enter_bridge(ch, bridge)
    for name in ("BLINDTRANSFER", "ATTENDEDTRANSFER"):  # a transferred caller: done now
        if name in ch.variables:
            w.set_var(ch, name, "")
    w.refresh_bridgepeer(bridge)
    item = await rt.sit_in_bridge(ch)
    if item is not None and item.kind is Signal.HANGUP and ch.bridge is not None:
        w.leave_bridge(ch)
    end = rt.clock.now()
    w.set_var(ch, "ANSWEREDTIME", str(int(end - answered)))
    w.set_var(ch, "ANSWEREDTIME_MS", str(int((end - answered) * 1000)))
    w.set_var(ch, "DIALEDTIME", str(int(end - started)))
    w.set_var(ch, "DIALEDTIME_MS", str(int((end - started) * 1000)))
    w.set_var(ch, "DIALSTATUS", "ANSWER")
    if item is not None:
        raise Diverted(item)
    return None


async def _dial_leg(
    rt: Runtime, ch: Channel, one: Channel, two: Channel, limit: float, outcome: list[int]
) -> None:
    """The outbound ;1 of a Dial(): the dial phase, then bridged until the bridge breaks."""
    reason = await await_answer(rt, one, two, limit)
    outcome.append(reason)
    ch.interrupt(Interrupt(Signal.DIALED))
    if reason != 4:
        return
    while not one.hungup:
        item = await one.block(rt.clock, None)
        if item is None:
            continue
        if item.kind is Signal.BRIDGE:
            item = await rt.sit_in_bridge(one)
            if item is None:  # the bridge broke: the outbound leg has nothing left to do
                rt.world.hangup_request(two, 16)
                rt.world.finish_hangup(one, 16)
                return
        if item.kind is Signal.HANGUP:
            rt.finish_interrupted(one, item.cause)
            return
