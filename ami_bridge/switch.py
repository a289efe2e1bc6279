"""Switch: the typed call-control API the product uses to act on Asterisk.

Routing, dialer, recordings and the desktop never build AMI dicts; they call these methods and
get typed results or typed errors (ami_bridge.errors): ActionFailed (with Asterisk's message),
ChannelNotFound, ActionTimeout, LinkDown, InvalidRequest. The Switch sends through an
`ActionPort` (the live `Link`, or anything speaking the same contract), which owns timeouts and
the reply bookkeeping. Every Originate is Async: a synchronous one blocks the whole AMI session.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ami_bridge.errors import ActionFailed, InvalidRequest

Headers = Sequence[tuple[str, str]]
"""An action's headers in order; a name may repeat (`Variable`)."""

Reply = Mapping[str, str]
"""A reply or event as received. A header sent several times has its values joined by "\\n"."""


class ActionPort(Protocol):
    """What the Switch needs from the AMI link."""

    async def send(
        self, action: str, headers: Headers, *, reply_timeout: float | None = None
    ) -> Reply:
        """Send one action; return its `Response: Success` reply.

        Raises ActionFailed on `Response: Error`, ActionTimeout when no reply comes in time,
        LinkDown when there is no session."""
        ...

    async def originate(
        self, headers: Headers, *, reply_timeout: float | None = None, result_timeout: float
    ) -> Reply:
        """Send an Async Originate and return its `OriginateResponse` event (success or not)."""
        ...


class OriginateOutcome(enum.Enum):
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    FAILED = "failed"


# OriginateResponse `Reason` is Asterisk's AST_CONTROL code (traces README, behaviour 7).
_OUTCOME_BY_REASON: dict[int, tuple[OriginateOutcome, str]] = {
    4: (OriginateOutcome.ANSWERED, "answered"),
    5: (OriginateOutcome.BUSY, "busy"),
    3: (OriginateOutcome.NO_ANSWER, "no answer before the originate timeout"),
    8: (OriginateOutcome.CONGESTION, "congestion"),
    1: (OriginateOutcome.FAILED, "hung up (rejected)"),
    0: (OriginateOutcome.FAILED, "failed: far end hung up before answer, or bad dial string"),
}


@dataclass(frozen=True, slots=True)
class DialplanTarget:
    """Where a channel continues in the dialplan."""

    context: str
    exten: str
    priority: int = 1


@dataclass(frozen=True, slots=True)
class ApplicationTarget:
    """An application the answered channel runs directly (Bridge, ConfBridge, ChanSpy)."""

    application: str
    data: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginateRequest:
    """One outgoing call: ring `endpoint`, and once it answers run `target`.

    `endpoint` is a dial string: `PJSIP/agent1`, `Local/agent1@cb-agents`, `PJSIP/5551234@trunk`.
    `ring_timeout` is how long it may ring (the Originate Timeout).
    `channel_id`/`other_channel_id` become the Uniqueids of the new channel (`;1`/`;2` for Local
    channels), which lets the caller correlate its call before any event arrives.
    """

    endpoint: str
    target: DialplanTarget | ApplicationTarget
    caller_id: str | None = None
    ring_timeout: float = 30.0
    variables: Mapping[str, str] = field(default_factory=dict)
    channel_id: str | None = None
    other_channel_id: str | None = None
    account: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginateResult:
    outcome: OriginateOutcome
    reason: int
    reason_text: str
    channel: str
    """The real channel name when answered; on failure, the dial string as sent."""
    uniqueid: str | None
    """None when Asterisk reports `<unknown>` (failure without a channel_id)."""
    action_id: str

    @property
    def answered(self) -> bool:
        return self.outcome is OriginateOutcome.ANSWERED

    @classmethod
    def from_event(cls, event: Reply) -> OriginateResult:
        raw_reason = event.get("Reason", "")
        try:
            reason = int(raw_reason)
        except ValueError:
            reason = -1  # unreadable: report a failure rather than guess an answer
        outcome, text = _OUTCOME_BY_REASON.get(
            reason, (OriginateOutcome.FAILED, f"failed (reason code {raw_reason!r})")
        )
        if outcome is OriginateOutcome.ANSWERED and event.get("Response") != "Success":
            outcome, text = OriginateOutcome.FAILED, "failed after answer"
        uniqueid = event.get("Uniqueid") or None
        return cls(
            outcome=outcome,
            reason=reason,
            reason_text=text,
            channel=event.get("Channel", ""),
            uniqueid=None if uniqueid == "<unknown>" else uniqueid,
            action_id=event.get("ActionID", ""),
        )


class SpyMode(enum.Enum):
    """ChanSpy options: all three look the same on AMI, only the Originate Data differs."""

    LISTEN = "q"
    WHISPER = "qw"
    BARGE = "qB"


AMI_ACTIONS_SENT: frozenset[str] = frozenset(
    {
        # the link itself (session.py, link.py): log in, keep alive, log off
        "Login",
        "Ping",
        "Logoff",
        # the Switch
        "Originate",
        "Redirect",
        "Hangup",
        "BlindTransfer",
        "Atxfer",
        "MixMonitor",
        "StopMixMonitor",
        "PlayDTMF",
        "Setvar",
        "Getvar",
        "QueueAdd",
        "QueueRemove",
        "QueuePause",
        # resync after every (re)connect (resync.py)
        "CoreShowChannels",
        "Status",
        "QueueStatus",
    }
)
"""Every AMI action the product sends. The AMI user of deploy/asterisk/manager_callboard.conf
must be allowed each of them (tests/deploy checks both this set against the source and the
shipped write classes against Asterisk's table): add a new action here when you send one."""

_DTMF_DIGIT = re.compile(r"[0-9*#A-Da-d]")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\([^\s()]*\))?")
_MIXMON_ID_VAR = "CB_MIXMON_ID"


def _require(what: str, value: str) -> str:
    if not value or not value.strip():
        raise InvalidRequest(f"{what} must not be empty")
    return value


def _require_channel(channel: str) -> str:
    _require("channel", channel)
    if channel.startswith("/"):
        raise InvalidRequest(f"channel {channel!r}: regular expressions are not allowed here")
    return channel


class Switch:
    """Call control on one Asterisk through an ActionPort (usually the live `Link`)."""

    def __init__(
        self,
        port: ActionPort,
        *,
        reply_timeout: float = 5.0,
        originate_grace: float = 10.0,
        number_endpoint: str = "PJSIP/{number}@trunk",
    ) -> None:
        """`originate_grace` is added to each Originate's own timeout before giving up on its
        OriginateResponse; `number_endpoint` turns a phone number into a dial string
        (`Local/{number}@pstn-sim` in the simulator)."""
        if "{number}" not in number_endpoint:
            raise ValueError(f"number_endpoint {number_endpoint!r} must contain {{number}}")
        self._port = port
        self._reply_timeout = reply_timeout
        self._grace = originate_grace
        self._number_endpoint = number_endpoint

    # -- calls -------------------------------------------------------------------------------

    def number_endpoint(self, number: str) -> str:
        """The dial string for an outside number (digits and a leading + only)."""
        if not re.fullmatch(r"\+?[0-9]{2,20}", number):
            raise InvalidRequest(f"number {number!r} is not a dialable number")
        return self._number_endpoint.format(number=number)

    async def originate(self, request: OriginateRequest) -> OriginateResult:
        """Ring the endpoint and wait for the outcome (answered, busy, no answer, ...)."""
        if request.ring_timeout <= 0:
            raise InvalidRequest(f"ring_timeout must be positive, got {request.ring_timeout}")
        headers: list[tuple[str, str]] = [("Channel", _require("endpoint", request.endpoint))]
        target = request.target
        if isinstance(target, ApplicationTarget):
            headers += [("Application", _require("application", target.application))]
            if target.data:
                headers.append(("Data", target.data))
        else:
            headers += [
                ("Context", _require("context", target.context)),
                ("Exten", _require("exten", target.exten)),
                ("Priority", str(target.priority)),
            ]
        if request.caller_id:
            headers.append(("CallerID", request.caller_id))
        headers.append(("Timeout", str(round(request.ring_timeout * 1000))))
        if request.channel_id:
            headers.append(("ChannelId", request.channel_id))
        if request.other_channel_id:
            headers.append(("OtherChannelId", request.other_channel_id))
        if request.account:
            headers.append(("Account", request.account))
        for name, value in request.variables.items():
            if not _VAR_NAME.fullmatch(name):
                raise InvalidRequest(f"variable name {name!r} is not a valid channel variable")
            headers.append(("Variable", f"{name}={value}"))
        headers.append(("Async", "true"))
        event = await self._port.originate(
            headers,
            reply_timeout=self._reply_timeout,
            result_timeout=request.ring_timeout + self._grace,
        )
        return OriginateResult.from_event(event)

    async def connect(
        self,
        caller_channel: str,
        agent_endpoint: str,
        *,
        caller_id: str | None = None,
        ring_timeout: float = 20.0,
        allow_transfer: bool = False,
        variables: Mapping[str, str] | None = None,
    ) -> OriginateResult:
        """Ring the agent and, on answer, bridge them with the waiting caller (trace 03).

        `allow_transfer` adds Bridge option T, which the Atxfer action needs (trace 07.4)."""
        if "," in _require_channel(caller_channel):
            raise InvalidRequest(f"caller channel {caller_channel!r} must not contain ','")
        data = caller_channel + (",T" if allow_transfer else "")
        return await self.originate(
            OriginateRequest(
                endpoint=agent_endpoint,
                target=ApplicationTarget("Bridge", data),
                caller_id=caller_id,
                ring_timeout=ring_timeout,
                variables=variables or {},
            )
        )

    async def spy(
        self,
        supervisor_endpoint: str,
        target_channel: str,
        mode: SpyMode,
        *,
        caller_id: str | None = None,
        ring_timeout: float = 20.0,
    ) -> OriginateResult:
        """Ring the supervisor, then listen / whisper / barge on the agent's channel (trace 10).

        ChanSpy matches a channel-name prefix, so pass the full name of the agent leg."""
        _require_channel(target_channel)
        if "," in target_channel:
            raise InvalidRequest(f"spy target {target_channel!r} must not contain ','")
        return await self.originate(
            OriginateRequest(
                endpoint=supervisor_endpoint,
                target=ApplicationTarget("ChanSpy", f"{target_channel},{mode.value}"),
                caller_id=caller_id,
                ring_timeout=ring_timeout,
            )
        )

    async def redirect(
        self,
        channel: str,
        context: str,
        exten: str,
        priority: int = 1,
        *,
        extra_channel: str | None = None,
        extra_target: DialplanTarget | None = None,
    ) -> None:
        """Move a channel (and optionally a second one, e.g. the agent leg) in the dialplan.

        Without `extra_target` the extra channel goes where the first one goes."""
        headers = [
            ("Channel", _require_channel(channel)),
            ("Context", _require("context", context)),
            ("Exten", _require("exten", exten)),
            ("Priority", str(priority)),
        ]
        if extra_channel is not None:
            extra = extra_target or DialplanTarget(context, exten, priority)
            headers += [
                ("ExtraChannel", _require_channel(extra_channel)),
                ("ExtraContext", extra.context),
                ("ExtraExten", extra.exten),
                ("ExtraPriority", str(extra.priority)),
            ]
        elif extra_target is not None:
            raise InvalidRequest("extra_target given without extra_channel")
        await self._send("Redirect", headers)

    async def hangup(self, channel: str, cause: int | None = None) -> None:
        """Hang up one channel (never a regex: a typo must not clear a whole PBX)."""
        headers = [("Channel", _require_channel(channel))]
        if cause is not None:
            if not 0 <= cause <= 127:
                raise InvalidRequest(f"hangup cause {cause} is not a Q.850 cause (0-127)")
            headers.append(("Cause", str(cause)))
        await self._send("Hangup", headers)

    async def blind_transfer(self, channel: str, context: str, exten: str) -> None:
        """Transfer the party bridged with `channel` to context/exten; `channel` is hung up."""
        await self._send(
            "BlindTransfer",
            [
                ("Channel", _require_channel(channel)),
                ("Context", _require("context", context)),
                ("Exten", _require("exten", exten)),
            ],
        )

    async def attended_transfer(self, channel: str, exten: str, context: str) -> None:
        """Start an attended transfer from `channel` (needs features.conf atxfer and Bridge T).

        Completes when the transferring party hangs up (AttendedTransfer event)."""
        await self._send(
            "Atxfer",
            [
                ("Channel", _require_channel(channel)),
                ("Exten", _require("exten", exten)),
                ("Context", _require("context", context)),
            ],
        )

    # -- media -------------------------------------------------------------------------------

    async def start_recording(self, channel: str, file: str, options: str = "b") -> str:
        """Start MixMonitor; returns its id for `stop_recording`.

        Asterisk returns an id only with option i(<var>), so one is added when absent."""
        _require("recording file", file)
        if "i(" not in options:
            options = f"{options}i({_MIXMON_ID_VAR})"
        reply = await self._send(
            "MixMonitor",
            [("Channel", _require_channel(channel)), ("File", file), ("Options", options)],
        )
        mixmonitor_id = reply.get("MixMonitorID", "")
        if not mixmonitor_id:
            raise ActionFailed("MixMonitor", f"no MixMonitorID returned for {channel}", reply)
        return mixmonitor_id

    async def stop_recording(self, channel: str, mixmonitor_id: str) -> None:
        await self._send(
            "StopMixMonitor",
            [
                ("Channel", _require_channel(channel)),
                ("MixMonitorID", _require("mixmonitor_id", mixmonitor_id)),
            ],
        )

    async def play_dtmf(self, channel: str, digit: str, duration_ms: int | None = None) -> None:
        if not _DTMF_DIGIT.fullmatch(digit):
            raise InvalidRequest(f"{digit!r} is not one DTMF digit (0-9, *, #, A-D)")
        headers = [("Channel", _require_channel(channel)), ("Digit", digit)]
        if duration_ms is not None:
            headers.append(("Duration", str(duration_ms)))
        await self._send("PlayDTMF", headers)

    # -- variables ---------------------------------------------------------------------------

    async def set_var(self, channel: str, name: str, value: str) -> None:
        if not _VAR_NAME.fullmatch(name):
            raise InvalidRequest(f"variable name {name!r} is not a valid channel variable")
        await self._send(
            "Setvar", [("Channel", _require_channel(channel)), ("Variable", name), ("Value", value)]
        )

    async def get_var(self, channel: str, name: str) -> str:
        """The variable's value; "" when it is not set (Asterisk does not distinguish)."""
        if not _VAR_NAME.fullmatch(name):
            raise InvalidRequest(f"variable name {name!r} is not a valid channel variable")
        reply = await self._send(
            "Getvar", [("Channel", _require_channel(channel)), ("Variable", name)]
        )
        return reply.get("Value", "")

    # -- queues (Asterisk app_queue members, trace 12) ---------------------------------------

    async def queue_add(
        self,
        queue: str,
        interface: str,
        *,
        member_name: str | None = None,
        state_interface: str | None = None,
        penalty: int | None = None,
        paused: bool | None = None,
    ) -> None:
        """Add a member; `state_interface` is the device whose state says busy (the phone)."""
        headers = [("Queue", _require("queue", queue)), ("Interface", interface)]
        if state_interface:
            headers.append(("StateInterface", state_interface))
        if member_name:
            headers.append(("MemberName", member_name))
        if penalty is not None:
            headers.append(("Penalty", str(penalty)))
        if paused is not None:
            headers.append(("Paused", "true" if paused else "false"))
        await self._send("QueueAdd", headers)

    async def queue_remove(self, queue: str, interface: str) -> None:
        await self._send(
            "QueueRemove", [("Queue", _require("queue", queue)), ("Interface", interface)]
        )

    async def queue_pause(
        self, interface: str, paused: bool, *, queue: str | None = None, reason: str | None = None
    ) -> None:
        """Pause or unpause a member; without `queue` it applies to every queue."""
        headers = [("Interface", _require("interface", interface))]
        if queue:
            headers.append(("Queue", queue))
        headers.append(("Paused", "true" if paused else "false"))
        if reason:
            headers.append(("Reason", reason))
        await self._send("QueuePause", headers)

    async def _send(self, action: str, headers: Headers) -> Reply:
        return await self._port.send(action, headers, reply_timeout=self._reply_timeout)
