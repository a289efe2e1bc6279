"""Dialplan applications of the simulated PBX, each emitting what Asterisk 22 emits."""

from __future__ import annotations

from pbx_sim.channel import Channel, ChannelState, Interrupt, Signal
from pbx_sim.local import app_dial
from pbx_sim.parties import Caller, FarEnd, Outcome
from pbx_sim.runtime import App, AppResult, Diverted, Goto, HangupNow, Runtime

# Lengths of the Debian prompts used by the reference dialplan (seconds).
PROMPT_SECONDS = {
    "demo-thanks": 5.5,
    "hello-world": 1.40425,  # endpos=11234 in trace 13
    "vm-intro": 5.7,
    "beep": 0.3,
    "vm-goodbye": 1.0,
    "vm-enter-num-to-call": 3.4,
}


def prompt_seconds(name: str) -> float:
    return PROMPT_SECONDS.get(name.split(",", 1)[0], 2.0)


def tell_handset(ch: Channel, kind: Signal) -> None:
    """Let a simulated caller's handset know what happens to its PBX side."""
    if ch.peer is not None and isinstance(ch.peer.party, Caller) and not ch.peer.hungup:
        ch.peer.interrupt(Interrupt(kind))


def _float(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


async def app_noop(rt: Runtime, ch: Channel, data: str) -> AppResult:
    return None


async def app_answer(rt: Runtime, ch: Channel, data: str) -> AppResult:
    if ch.state != ChannelState.UP:
        rt.answer(ch)
    return None


async def app_ringing(rt: Runtime, ch: Channel, data: str) -> AppResult:
    rt.ringing(ch)
    return None


async def app_wait(rt: Runtime, ch: Channel, data: str) -> AppResult:
    await rt.wait(ch, _float(data, 0.0))
    return None


async def _refuse(rt: Runtime, ch: Channel, data: str, signal: Signal, cause: int) -> AppResult:
    """Busy()/Congestion(): signal the caller, then wait to be hung up (or the timeout)."""
    ch.own_cause = cause
    rt.world.set_state(ch, ChannelState.BUSY)
    if ch.peer is not None and not ch.peer.hungup and ch.peer.state != ChannelState.UP:
        ch.peer.interrupt(Interrupt(signal))
    await rt.wait(ch, _float(data, 10.0))
    return HangupNow(cause)


async def app_busy(rt: Runtime, ch: Channel, data: str) -> AppResult:
    return await _refuse(rt, ch, data, Signal.BUSY, 17)


async def app_congestion(rt: Runtime, ch: Channel, data: str) -> AppResult:
    return await _refuse(rt, ch, data, Signal.CONGESTION, 34)


async def app_playback(rt: Runtime, ch: Channel, data: str) -> AppResult:
    try:
        await rt.wait(ch, prompt_seconds(data))
    finally:  # Asterisk reports the status even when a hangup cuts the prompt short
        rt.world.set_var(ch, "PLAYBACKSTATUS", "SUCCESS")
    return None


_SOUNDING = ("Playback", "BackGround")


async def app_waitforsilence(rt: Runtime, ch: Channel, data: str) -> AppResult:
    """WaitForSilence(ms[,iterations[,timeout]]): waits while the other half of a Local pair
    (the simulated far end) plays something (a machine's greeting), then for `ms` of silence;
    gives up after `timeout` seconds (WAITSTATUS SILENCE or TIMEOUT, as Asterisk)."""
    parts = data.split(",")
    silence_s = _float(parts[0], 0.0) / 1000
    timeout = _float(parts[2], 0.0) if len(parts) > 2 else 0.0
    deadline = rt.clock.now() + timeout if timeout > 0 else None
    far = ch.peer
    while far is not None and not far.hungup and far.application in _SOUNDING:
        if deadline is not None and rt.clock.now() >= deadline:
            rt.world.set_var(ch, "WAITSTATUS", "TIMEOUT")
            return None
        await rt.wait(ch, 0.1)
    await rt.wait(ch, silence_s)
    rt.world.set_var(ch, "WAITSTATUS", "SILENCE")
    return None


async def app_background(rt: Runtime, ch: Channel, data: str) -> AppResult:
    digit = await rt.wait(ch, prompt_seconds(data), digits="0123456789*#")
    rt.world.set_var(ch, "BACKGROUNDSTATUS", "SUCCESS")
    return Goto(ch.context, digit, 1) if digit else None


async def app_waitexten(rt: Runtime, ch: Channel, data: str) -> AppResult:
    digit = await rt.wait(ch, _float(data, 10.0), digits="0123456789*#")
    return Goto(ch.context, digit or "t", 1)


async def app_moh(rt: Runtime, ch: Channel, data: str) -> AppResult:
    ch.in_moh = True
    rt.world.chan_event("MusicOnHoldStart", ch, ("Class", data or "default"))
    tell_handset(ch, Signal.PEER_MOH)
    await rt.wait(ch, None)
    return None


async def app_hangup(rt: Runtime, ch: Channel, data: str) -> AppResult:
    return HangupNow(int(data) if data.isdigit() else 16)


def _split_cond(data: str) -> tuple[bool, str]:
    cond, _, rest = data.partition("?")
    return cond.strip() not in ("", "0"), rest


async def app_execif(rt: Runtime, ch: Channel, data: str) -> AppResult:
    true, inner = _split_cond(data)
    if true and inner.startswith("SendDTMF(") and inner.endswith(")"):
        await app_senddtmf(rt, ch, inner[len("SendDTMF(") : -1])
    return None


async def app_senddtmf(rt: Runtime, ch: Channel, data: str) -> AppResult:
    digits = data.split(",", 1)[0]
    for digit in digits:
        rt.send_dtmf(ch, digit, 250)
        await rt.wait(ch, 0.4)
    return None


async def app_set(rt: Runtime, ch: Channel, data: str) -> AppResult:
    name, _, value = data.partition("=")
    rt.world.set_var(ch, name.strip(), value)
    return None


async def app_userevent(rt: Runtime, ch: Channel, data: str) -> AppResult:
    name, *pairs = data.split(",")
    extra = [("UserEvent", name)]
    for pair in pairs:
        key, _, value = pair.partition(":")
        extra.append((key.strip(), value.strip()))
    rt.world.chan_event("UserEvent", ch, *extra)
    return None


async def app_goto(rt: Runtime, ch: Channel, data: str) -> AppResult:
    parts = data.split(",")
    if len(parts) == 3:
        return Goto(parts[0], parts[1], int(parts[2]))
    if len(parts) == 2:
        return Goto(ch.context, parts[0], int(parts[1]))
    steps = rt.dialplan.steps(ch) or []
    priority = rt.dialplan.label_priority(steps, parts[0])
    return Goto(ch.context, ch.exten, priority) if priority else None


async def app_gotoif(rt: Runtime, ch: Channel, data: str) -> AppResult:
    true, targets = _split_cond(data)
    when_true, _, when_false = targets.partition(":")
    target = when_true if true else when_false
    return await app_goto(rt, ch, target) if target else None


# AMD results as the sample amd.conf produced them (trace 11).
AMD_RESULTS = {
    Outcome.HUMAN: ("HUMAN", "HUMAN-801-800", 2.9),
    Outcome.MACHINE: ("MACHINE", "LONGGREETING-1500-1500", 2.7),
    Outcome.SILENT: ("MACHINE", "INITIALSILENCE-2500-2500", 2.7),
}


async def app_amd(rt: Runtime, ch: Channel, data: str) -> AppResult:
    far = ch.peer.party if ch.peer is not None else None
    outcome = far.outcome if isinstance(far, FarEnd) else Outcome.HUMAN
    status, cause, seconds = AMD_RESULTS.get(outcome, AMD_RESULTS[Outcome.HUMAN])
    await rt.wait(ch, seconds)
    rt.world.set_var(ch, "AMDSTATUS", status)
    rt.world.set_var(ch, "AMDCAUSE", cause)
    return None


async def app_agi(rt: Runtime, ch: Channel, data: str) -> AppResult:
    url, *args = data.split(",")
    if rt.agi is None:
        rt.world.set_var(ch, "AGISTATUS", "FAILURE")
        return None
    await rt.agi.run(rt, ch, url, args)
    return None


async def app_bridge(rt: Runtime, ch: Channel, data: str) -> AppResult:
    """Bridge(<channel>[,options]): pull the target (out of MusicOnHold) into a new bridge."""
    w = rt.world
    name, _, options = data.partition(",")
    target = w.find(name)
    if target is None or target.hungup or target is ch:
        w.set_var(ch, "BRIDGERESULT", "NONEXISTENT")
        return None
    if target.bridge is not None:
        w.leave_bridge(target)
    bridge = w.new_bridge()
    w.emit("BridgeCreate", "call,all", bridge.fields())
    if target.in_moh:
        rt.stop_moh(target)
    target.priority += 1  # Bridge() sets an after-bridge "go on" at the next priority
    w.enter_bridge(target, bridge)
    target.interrupt(Interrupt(Signal.BRIDGE, bridge=bridge))
    tell_handset(target, Signal.PEER_BRIDGED)
    ch.linkedid = target.linkedid
    ch.may_atxfer = "T" in options
    w.enter_bridge(ch, bridge)
    w.refresh_bridgepeer(bridge)
    w.connect_lines(ch, target)
    left = await rt.sit_in_bridge(ch)
    if left is not None:
        raise Diverted(left)
    w.set_var(ch, "BRIDGERESULT", "SUCCESS")
    return None


async def app_confbridge(rt: Runtime, ch: Channel, data: str) -> AppResult:
    name = data.split(",", 1)[0]
    w = rt.world
    bridge = w.conferences.get(name)
    first = bridge is None
    if bridge is None:
        bridge = w.new_bridge(
            bridge_type="base", technology="softmix", creator="ConfBridge", bridge_name=name
        )
        bridge.conference = name
        bridge.announcer = f"CBAnn/{name}-{w.next_sequence()};2"
        w.conferences[name] = bridge
        w.emit("BridgeCreate", "call,all", bridge.fields())
        w.device_state(f"confbridge:{name}", "INUSE")
        w.device_state(bridge.announcer.rsplit("-", 1)[0], "UNKNOWN")
    if ch.in_moh:
        rt.stop_moh(ch)
    w.enter_bridge(ch, bridge)
    for member in bridge.others(ch):
        w.set_var(member, "BRIDGEPEER", w.bridge_peer_value(member))
    if first:
        w.set_var(ch, "BRIDGEPEER", w.bridge_peer_value(ch))
        w.emit("ConfbridgeStart", "call,all", [("Conference", name), *bridge.fields()])
    admin = "Yes" if data.endswith("cc_agent") else "No"
    w.emit(
        "ConfbridgeJoin",
        "call,all",
        [("Conference", name), *bridge.fields(), *ch.fields(), ("Admin", admin), ("Muted", "No")],
    )
    if not first:
        w.set_var(ch, "BRIDGEPEER", w.bridge_peer_value(ch))
    tell_handset(ch, Signal.PEER_BRIDGED)
    item = await rt.sit_in_bridge(ch)
    if item is not None and ch.bridge is not None:
        w.leave_bridge(ch)
        w.set_var(ch, "CONFBRIDGE_RESULT", "HANGUP" if item.kind is Signal.HANGUP else "KICKED")
        raise Diverted(item)
    return None


async def app_chanspy(rt: Runtime, ch: Channel, data: str) -> AppResult:
    prefix = data.split(",", 1)[0]
    w = rt.world
    spyee = next(
        (c for c in w.channels.values() if c.name.startswith(prefix) and c is not ch), None
    )
    if spyee is None:
        await rt.wait(ch, None)
        return None
    w.emit("ChanSpyStart", "call,all", [*ch.fields("Spyer"), *spyee.fields("Spyee")])
    if spyee.bridge is not None:  # a spy (like a MixMonitor) re-announces the bridge peers
        w.refresh_bridgepeer(spyee.bridge)
    try:
        await rt.wait(ch, None)
    except Diverted:
        w.emit("ChanSpyStop", "call,all", [*ch.fields("Spyer"), *spyee.fields("Spyee")])
        # whisper (w) and barge (B) add an audiohook of their own: two re-announcements
        for _ in range(2 if {"w", "B"} & set(data.partition(",")[2]) else 1):
            if spyee.bridge is not None and not spyee.hungup:
                w.refresh_bridgepeer(spyee.bridge)
        raise
    return None


APPS: dict[str, App] = {
    "NoOp": app_noop,
    "Verbose": app_noop,
    "Answer": app_answer,
    "Ringing": app_ringing,
    "Wait": app_wait,
    "Busy": app_busy,
    "Congestion": app_congestion,
    "Playback": app_playback,
    "BackGround": app_background,
    "WaitForSilence": app_waitforsilence,
    "WaitExten": app_waitexten,
    "MusicOnHold": app_moh,
    "Hangup": app_hangup,
    "ExecIf": app_execif,
    "SendDTMF": app_senddtmf,
    "Set": app_set,
    "UserEvent": app_userevent,
    "Goto": app_goto,
    "GotoIf": app_gotoif,
    "AMD": app_amd,
    "AGI": app_agi,
    "Bridge": app_bridge,
    "ConfBridge": app_confbridge,
    "ChanSpy": app_chanspy,
    "Dial": app_dial,
}
