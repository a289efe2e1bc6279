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


def _machine_branch(ch: Channel) -> str:
    """A machine goes to the campaign's message when it has one, else to the reference
    dialplan's beep; the branch is in this one GotoIf, so a call without a message emits
    exactly the events of trace 11."""
    if ch.var("AMDSTATUS") != "MACHINE":
        return "0?machine"
    return "1?message" if ch.var("CB_MACHINE_PROMPT") else "1?machine"


DIALER = [
    Step("NoOp", "Dialer call answered: ${CHANNEL} campaign=${CAMPAIGN}"),
    Step("AMD"),
    Step("Set", "AMD_RESULT=${AMDSTATUS}/${AMDCAUSE}"),
    Step(
        "UserEvent",
        "AMDResult,Channel: ${CHANNEL},AMDStatus: ${AMDSTATUS},AMDCause: ${AMDCAUSE}",
    ),
    Step("Verbose", "1,AMD result on ${CHANNEL}: ${AMDSTATUS} ${AMDCAUSE}"),
    Step("GotoIf", _machine_branch),
    Step("Goto", "cb-hold,s,1"),
    Step("Playback", "beep", label="machine"),  # the reference config of trace 11
    Step("Hangup"),
    # a campaign's message (CB_MACHINE_PROMPT, an Originate variable), as
    # deploy/asterisk/extensions_callboard.conf plays it: after the greeting
    Step("WaitForSilence", "1500,1,20", label="message"),
    Step("Playback", "${CB_MACHINE_PROMPT}"),
    Step("Hangup"),
]

INBOUND = [
    Step("NoOp", "Inbound call to DID ${EXTEN} from ${CALLERID(all)}"),
    Step("Answer"),
    Step("AGI", lambda ch: ch.var("CB_AGI_URL") or "agi://127.0.0.1:4573/inbound"),
    Step("Goto", "cb-hold,s,1"),
]

Extensions = list[tuple[str, list[Step]]]

CONTEXTS: dict[str, Extensions] = {
    "caller-sim": [("s", CALLER_SIM)],
    "cb-inbound": [(did, INBOUND) for did in ("_X.", "_+X.")],  # DIDs, also in E.164
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
                Step("Playback", var_or("CB_ABANDON_PROMPT", "cb-abandoned-call")),
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
    # numbers only (deploy/asterisk: `_X.` and `_+X.`); what a number does comes from the far
    # end's profile, see `Dialplan.steps`
    "pstn-sim": [("_X.", []), ("_+X.", [])],
}


# Asterisk's extension patterns (verified on Asterisk 22.10.1 with `dialplan show <exten>@<ctx>`
# and Originates): after "_", X N Z (either case) are [0-9] [2-9] [1-9], "[...]" is a set with
# ranges (letters in it are literal), "." is one or more characters of anything and "!" zero or
# more (either ends the pattern: `_X.9` matches "12"), "-" is ignored (`_1-800-NXX` matches
# "1800234" and "1-800-234"); every other character, "+" included, is itself, case-sensitive.
_CLASSES = {"X": "0123456789", "Z": "123456789", "N": "23456789"}
_DOT, _BANG = 0x40000, 0x50000  # after any character set in Asterisk's order


def _pattern_sets(pattern: str) -> list[str | int]:
    """The positions of a pattern (without "_"): a string of the characters allowed there, or
    _DOT / _BANG, which end it."""
    items: list[str | int] = []
    body, i = pattern[1:], 0
    while i < len(body):
        c = body[i]
        i += 1
        if c == "-":
            continue
        if c in ".!":
            items.append(_DOT if c == "." else _BANG)
            break
        if c.upper() in _CLASSES:
            items.append(_CLASSES[c.upper()])
        elif c == "[":
            end = body.find("]", i)
            inside, i = (body[i:end], end + 1) if end >= 0 else (body[i:], len(body))
            chars: set[str] = set()
            j = 0
            while j < len(inside):
                if j + 2 < len(inside) and inside[j + 1] == "-":
                    chars.update(chr(k) for k in range(ord(inside[j]), ord(inside[j + 2]) + 1))
                    j += 3
                else:
                    chars.add(inside[j])
                    j += 1
            items.append("".join(sorted(chars)))
        else:
            items.append(c)
    return items


def pattern_matches(pattern: str, exten: str) -> bool:
    if not pattern.startswith("_"):
        return pattern == exten
    items = _pattern_sets(pattern)
    exten = exten.replace("-", "")
    for index, item in enumerate(items):
        if item == _DOT:
            return len(exten) > index
        if item == _BANG:
            return True
        if index >= len(exten) or exten[index] not in str(item):
            return False
    return len(exten) == len(items)


def pattern_order(pattern: str) -> tuple[int, ...]:
    """Asterisk's order among the patterns that match: position by position, the smaller set
    first (its size, then its lowest character), "." after any set, "!" last; shorter first."""
    return tuple(
        item if isinstance(item, int) else (len(item) << 8) | ord(item[0])
        for item in _pattern_sets(pattern)
    )


class Dialplan:
    def __init__(self, contexts: dict[str, Extensions] | None = None) -> None:
        self.contexts = contexts if contexts is not None else CONTEXTS

    def has_context(self, context: str) -> bool:
        return context in self.contexts

    def has_extension(self, context: str, exten: str) -> bool:
        """Whether `exten@context` exists, as Asterisk decides it: without it a
        `Local/<exten>@<context>` cannot be dialled (the Originate fails with Reason 0)."""
        return self.find(context, exten) is not None

    def find(self, context: str, exten: str) -> list[Step] | None:
        """The steps `exten` runs in `context`: an exact name beats every pattern, then the most
        specific matching pattern wins (Asterisk's order, not the order of definition)."""
        extensions = self.contexts.get(context)
        if extensions is None:
            return None
        for name, steps in extensions:
            if not name.startswith("_") and name == exten:
                return steps
        patterns = [(n, st) for n, st in extensions if n.startswith("_")]
        matching = [(n, st) for n, st in patterns if pattern_matches(n, exten)]
        if not matching:
            return None
        return min(matching, key=lambda item: pattern_order(item[0]))[1]

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
        return self.find(ch.context, ch.exten)

    @staticmethod
    def label_priority(steps: list[Step], label: str) -> int | None:
        for index, step in enumerate(steps, start=1):
            if step.label == label:
                return index
        return None
