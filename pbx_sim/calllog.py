"""What the simulated PBX did, for tests to compare against Callboard's ledgers.

Every Originate and its outcome, and every call keyed by Linkedid (channels, bridges, causes),
built from the same event stream the AMI clients receive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pbx_sim.local import OriginateRequest, OriginateResult

REASONS = {4: "answered", 5: "busy", 8: "congestion", 3: "no_answer", 0: "failed", 1: "hangup"}


@dataclass
class OriginateRecord:
    at: float
    channel: str
    target: str  # "Application(Data)" or "context,exten,priority"
    action_id: str | None
    reason: int
    uniqueid: str
    linkedid: str
    variables: dict[str, str]

    @property
    def outcome(self) -> str:
        return REASONS.get(self.reason, str(self.reason))


@dataclass
class CallRecord:
    linkedid: str
    started: float
    first_channel: str
    caller_number: str = ""
    channels: list[str] = field(default_factory=list)
    bridged_with: list[str] = field(default_factory=list)  # its channels that entered a bridge
    amd_status: str = ""
    played: list[str] = field(default_factory=list)  # Playback()s of the call's channels
    answered: bool = False
    ended: float | None = None
    causes: dict[str, int] = field(default_factory=dict)  # channel -> Hangup cause

    @property
    def active(self) -> bool:
        return self.ended is None

    @property
    def connected(self) -> bool:
        """Was this call ever bridged with another party (an agent, a conference)?"""
        return bool(self.bridged_with)


class CallLog:
    def __init__(self) -> None:
        self.originates: list[OriginateRecord] = []
        self.calls: dict[str, CallRecord] = {}
        self._live: dict[str, str] = {}  # channel -> linkedid
        self._now = 0.0

    def on_originate(self, req: OriginateRequest, result: OriginateResult, now: float) -> None:
        ch = result.channel
        target = (
            f"{req.application}({req.data})"
            if req.application
            else f"{req.context},{req.exten},{req.priority}"
        )
        self.originates.append(
            OriginateRecord(
                now,
                req.channel,
                target,
                req.action_id,
                result.reason,
                ch.uniqueid if ch else (req.channel_id or ""),
                ch.linkedid if ch else "",
                dict(req.variables),
            )
        )

    def on_event(self, event: str, headers: list[tuple[str, str]]) -> None:
        h = dict(headers)
        name, linkedid = h.get("Channel", ""), h.get("Linkedid", "")
        now = float(h.get("Timestamp", "0") or 0)
        if event == "Newchannel":
            call = self.calls.get(linkedid)
            if call is None:
                call = self.calls[linkedid] = CallRecord(linkedid, now, name)
            call.channels.append(name)
            self._live[name] = linkedid
        elif event == "BridgeEnter" and name in self._live:
            old = self._live[name]
            if old != linkedid and linkedid in self.calls:  # Linkedid switch at BridgeEnter
                self._live[name] = linkedid
                self.calls[linkedid].channels.append(name)
                self._end_if_empty(old, now)
            self.calls.get(linkedid, self.calls[old]).bridged_with.append(name)
        elif event == "Newstate" and h.get("ChannelStateDesc") == "Up":
            if linkedid in self.calls:
                self.calls[linkedid].answered = True
        elif event == "NewCallerid" and linkedid in self.calls:
            self.calls[linkedid].caller_number = self.calls[linkedid].caller_number or h.get(
                "CallerIDNum", ""
            )
        elif event == "VarSet" and h.get("Variable") == "AMDSTATUS" and linkedid in self.calls:
            self.calls[linkedid].amd_status = h.get("Value", "")
        elif event == "Newexten" and h.get("Application") == "Playback" and linkedid in self.calls:
            self.calls[linkedid].played.append(h.get("AppData", ""))
        elif event == "Hangup" and name in self._live:
            owner = self._live.pop(name)
            call = self.calls[owner]
            call.causes[name] = int(h.get("Cause", "0") or 0)
            self._end_if_empty(owner, now)

    def _end_if_empty(self, linkedid: str, now: float) -> None:
        if linkedid not in self._live.values():
            self.calls[linkedid].ended = now

    def active_calls(self) -> list[CallRecord]:
        return [call for call in self.calls.values() if call.active]

    def forget(self, keep: int) -> None:
        """Forget the oldest ended calls beyond `keep` calls (live ones stay), and the oldest
        Originates beyond `keep`."""
        excess = len(self.calls) - keep
        if excess > 0:
            doomed: list[str] = []
            for linkedid, call in self.calls.items():  # oldest first
                if len(doomed) == excess:
                    break
                if not call.active:
                    doomed.append(linkedid)
            for linkedid in doomed:
                del self.calls[linkedid]
        if len(self.originates) > keep:
            del self.originates[: len(self.originates) - keep]
