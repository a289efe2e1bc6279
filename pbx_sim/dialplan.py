"""The simulated dialplan: the contexts of the reference extensions.conf plus `cb-inbound`.

Each extension is a list of steps (application + data). Data is either a template with
`${VAR}` references or a function of the channel, for the `${IF(...)}` defaults of the real
dialplan; simulated parties (agent phones, PSTN far ends, callers) pick their extension's
behaviour through the profile attached to the channel (`Channel.party`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pbx_sim.channel import Channel
from pbx_sim.parties import AgentLeg, FarEnd, Outcome

DataFn = Callable[[Channel], str]


@dataclass(frozen=True, slots=True)
class Step:
    app: str
    data: str | DataFn = ""
    label: str = ""

    def render(self, ch: Channel) -> str:
        if callable(self.data):
            return self.data(ch)
        return substitute(self.data, ch)


_VAR = re.compile(r"\$\{([^}]+)\}")


def substitute(template: str, ch: Channel) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        builtins = {
            "CHANNEL": ch.name,
            "EXTEN": ch.exten,
            "CONTEXT": ch.context,
            "UNIQUEID": ch.uniqueid,
            "CALLERID(all)": ch.callerid_all(),
            "CALLERID(num)": ch.cid_num,
            "CALLERID(name)": ch.cid_name,
        }
        return builtins.get(name, ch.variables.get(name, ""))

    return _VAR.sub(value, template)


def var_or(name: str, default: str) -> DataFn:
    return lambda ch: ch.variables.get(name) or default


def _agent(ch: Channel) -> AgentLeg:
    return ch.party if isinstance(ch.party, AgentLeg) else AgentLeg()


def _far(ch: Channel) -> FarEnd:
    return ch.party if isinstance(ch.party, FarEnd) else FarEnd()


def _secs(value: float) -> str:
    return f"{value:g}"


CALLER_SIM = [
    Step("NoOp", "Simulated caller handset, DTMF='${DTMF}'"),
    Step("Wait", var_or("DTMF_DELAY", "3")),
    Step("ExecIf", lambda ch: f"{1 if ch.var('DTMF') else 0}?SendDTMF({ch.var('DTMF')},250,150)"),
    Step("Wait", var_or("HOLD_SECS", "120")),
    Step("Hangup"),
]

HOLD_STEPS = [
    Step("Answer"),
    Step("MusicOnHold", "default"),
    Step("NoOp", "Left holding: BRIDGERESULT=${BRIDGERESULT}"),
    Step("Hangup"),
]

AGENT_ANSWERS = [
    Step("NoOp", "Agent endpoint ${EXTEN} rings"),
    Step("Ringing"),
    Step("Wait", lambda ch: ch.var("AGENT_RING_SECS") or _secs(_agent(ch).ring_secs())),
    Step("Answer"),
    Step("Playback", var_or("AGENT_PROMPT", "demo-thanks")),
    Step("Wait", lambda ch: ch.var("AGENT_TALK_SECS") or _secs(_agent(ch).talk_secs())),
    Step("Hangup"),
]
AGENT_NO_ANSWER = [
    Step("NoOp", "Agent endpoint ${EXTEN} rings, nobody answers"),
    Step("Ringing"),
    Step("Wait", "600"),
]
AGENT_BUSY = [Step("NoOp", "Agent endpoint ${EXTEN} is busy"), Step("Busy", "10")]
AGENT_CONGESTION = [Step("NoOp", "Agent endpoint ${EXTEN} congestion"), Step("Congestion", "10")]

FAR_END = {
    Outcome.HUMAN: [
        Step("NoOp", "Remote party ${EXTEN} answers"),
        Step("Wait", lambda ch: _secs(_far(ch).answer_after)),
        Step("Answer"),
        Step("Wait", "1"),
        Step("Playback", "hello-world"),
        Step("Wait", lambda ch: ch.var("REMOTE_TALK_SECS") or _secs(_far(ch).talk_secs)),
        Step("Hangup"),
    ],
    Outcome.MACHINE: [
        Step("NoOp", "Answering machine ${EXTEN}"),
        Step("Wait", lambda ch: _secs(_far(ch).answer_after)),
        Step("Answer"),
        Step("Wait", "0.5"),
        Step("Playback", "vm-intro"),
        Step("Playback", "beep"),
        Step("Wait", "10"),
        Step("Hangup"),
    ],
    Outcome.SILENT: [
        Step("NoOp", "Answers and stays silent ${EXTEN}"),
        Step("Wait", lambda ch: _secs(_far(ch).answer_after)),
        Step("Answer"),
        Step("Wait", "20"),
        Step("Hangup"),
    ],
    Outcome.BUSY: [Step("Busy", "3")],
    Outcome.NO_ANSWER: [Step("Ringing"), Step("Wait", "600")],
    Outcome.CONGESTION: [Step("Congestion", "3")],
    Outcome.REJECT: [
        Step("NoOp", "Rejects before answer ${EXTEN}"),
        Step("Wait", "1"),
        Step("Hangup", "21"),
    ],
    Outcome.REJECT_AFTER_RING: [
        Step("NoOp", "Rings, then rejects ${EXTEN}"),
        Step("Ringing"),
        Step("Wait", "2"),
        Step("Hangup", "21"),
    ],
}

DIALER = [
    Step("NoOp", "Dialer call answered: ${CHANNEL} campaign=${CAMPAIGN}"),
    Step("AMD"),
    Step("Set", "AMD_RESULT=${AMDSTATUS}/${AMDCAUSE}"),
    Step(
        "UserEvent",
        "AMDResult,Channel: ${CHANNEL},AMDStatus: ${AMDSTATUS},AMDCause: ${AMDCAUSE}",
    ),
    Step("Verbose", "1,AMD result on ${CHANNEL}: ${AMDSTATUS} ${AMDCAUSE}"),
    Step("GotoIf", lambda ch: f"{int(ch.var('AMDSTATUS') == 'MACHINE')}?machine"),
    Step("Goto", "cb-hold,s,1"),
    Step("Playback", "beep", label="machine"),
    Step("Hangup"),
]

Extensions = list[tuple[str, list[Step]]]

CONTEXTS: dict[str, Extensions] = {
    "caller-sim": [("s", CALLER_SIM)],
    "cb-inbound": [
        (
            "_X.",
            [
                Step("NoOp", "Inbound call to DID ${EXTEN} from ${CALLERID(all)}"),
                Step("Answer"),
                Step("AGI", lambda ch: ch.var("CB_AGI_URL") or "agi://127.0.0.1:4573/inbound"),
                Step("Goto", "cb-hold,s,1"),
            ],
        )
    ],
    "cb-hold": [
        (
            "_X.",
            [
                Step("NoOp", "Caller ${CALLERID(all)} for DID ${EXTEN} parked in holding"),
                *HOLD_STEPS,
            ],
        ),
        (
            "s",
            [Step("NoOp", "Caller ${CALLERID(all)} parked in holding (dialer leg)"), *HOLD_STEPS],
        ),
    ],
    "cb-agents": [
        ("noanswer1", AGENT_NO_ANSWER),
        ("busy1", AGENT_BUSY),
        ("congest1", AGENT_CONGESTION),
        ("_age[n]t.", AGENT_ANSWERS),
    ],
    "cb-agent-phone": [
        (
            "_age[n]t.",
            [
                Step("NoOp", "Nailed-up agent phone ${EXTEN} off-hook"),
                Step("Answer"),
                Step("Wait", lambda ch: ch.var("AGENT_TALK_SECS") or _secs(_agent(ch).nailed)),
                Step("Hangup"),
            ],
        )
    ],
    "cb-supervisor": [
        (
            "_sup.",
            [
                Step("NoOp", "Supervisor phone ${EXTEN} off-hook"),
                Step("Answer"),
                Step("Wait", "600"),
                Step("Hangup"),
            ],
        )
    ],
    "cb-voicemail": [
        (
            "_X.",
            [
                Step("NoOp", "Voicemail-like box ${EXTEN} for ${CALLERID(all)}"),
                Step("Answer"),
                Step("Playback", "vm-intro"),
                Step("Playback", "beep"),
                Step("Wait", "2"),
                Step("Playback", "vm-goodbye"),
                Step("Hangup"),
            ],
        )
    ],
    "cb-ivr": [
        (
            "s",
            [
                Step("NoOp", "IVR menu for ${CALLERID(all)}"),
                Step("Answer"),
                Step("BackGround", "vm-enter-num-to-call"),
                Step("WaitExten", "5"),
            ],
        ),
        ("1", [Step("NoOp", "IVR choice 1"), Step("Playback", "beep"), Step("Hangup")]),
        ("t", [Step("NoOp", "IVR timeout"), Step("Playback", "vm-goodbye"), Step("Hangup")]),
    ],
    "cb-xfer": [
        (
            "_200X",
            [
                Step("NoOp", lambda ch: f"Transfer of {ch.callerid_all()} to agent{ch.exten[3:]}"),
                Step("Dial", lambda ch: f"Local/agent{ch.exten[3:]}@cb-agents,30"),
                Step("NoOp", "DIALSTATUS=${DIALSTATUS}"),
                Step("Hangup"),
            ],
        )
    ],
    "cb-wrapup": [
        (
            "s",
            [
                Step("NoOp", "Agent leg ${CHANNEL} in wrap-up"),
                Step("Playback", "beep"),
                Step("Wait", "2"),
                Step("Hangup"),
            ],
        )
    ],
    # deploy/asterisk's cb-abandon: the identification message an abandoned dialer call hears
    "cb-abandon": [
        (
            "s",
            [
                Step("NoOp", "Callboard abandoned dialer call ${CHANNEL}"),
                Step("Answer"),
                Step("Playback", "vm-goodbye"),
                Step("Hangup"),
            ],
        )
    ],
    "cb-conf": [
        (
            "_age[n]t.",
            [
                Step("NoOp", "Caller ${CALLERID(all)} joins conference ${EXTEN}"),
                Step("ConfBridge", "${EXTEN},cc_bridge,cc_caller"),
                Step("NoOp", "CONFBRIDGE_RESULT=${CONFBRIDGE_RESULT}"),
                Step("Hangup"),
            ],
        )
    ],
    "cb-dialer": [("s", DIALER)],
    "cb-agi": [
        (
            "_X.",
            [
                Step("NoOp", "FastAGI call to ${EXTEN} from ${CALLERID(all)}"),
                Step("AGI", "agi://127.0.0.1:4573/ivr,first arg,second"),
                Step("NoOp", "AGISTATUS=${AGISTATUS} IVR_CHOICE=${IVR_CHOICE}"),
                Step("Hangup"),
            ],
        )
    ],
    "pstn-sim": [],  # resolved from the far end's profile, see `Dialplan.steps`
}


def pattern_matches(pattern: str, exten: str) -> bool:
    if not pattern.startswith("_"):
        return pattern == exten
    regex = ""
    body = pattern[1:]
    i = 0
    while i < len(body):
        c = body[i]
        if c == "[":
            end = body.index("]", i)
            regex += "[" + body[i + 1 : end] + "]"
            i = end + 1
            continue
        regex += {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}.get(
            c, re.escape(c)
        )
        i += 1
    return re.fullmatch(regex, exten) is not None


class Dialplan:
    def __init__(self, contexts: dict[str, Extensions] | None = None) -> None:
        self.contexts = contexts if contexts is not None else CONTEXTS

    def has_context(self, context: str) -> bool:
        return context in self.contexts

    def steps(self, ch: Channel) -> list[Step] | None:
        """The steps of `ch`'s current extension; exact names beat patterns, as in Asterisk."""
        if ch.context == "pstn-sim":
            return FAR_END[_far(ch).outcome]
        if ch.context == "cb-agents" and isinstance(ch.party, AgentLeg):
            return {
                "answer": AGENT_ANSWERS,
                "no_answer": AGENT_NO_ANSWER,
                "busy": AGENT_BUSY,
                "congestion": AGENT_CONGESTION,
            }[ch.party.behaviour]
        extensions = self.contexts.get(ch.context)
        if extensions is None:
            return None
        for name, steps in extensions:
            if not name.startswith("_") and name == ch.exten:
                return steps
        for name, steps in extensions:
            if name.startswith("_") and pattern_matches(name, ch.exten):
                return steps
        return None

    @staticmethod
    def label_priority(steps: list[Step], label: str) -> int | None:
        for index, step in enumerate(steps, start=1):
            if step.label == label:
                return index
        return None
