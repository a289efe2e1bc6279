"""Simulated people: agent phones, PSTN far ends of dialer calls, and inbound callers.

A profile describes a party's habits (distributions); `draw()` fixes one call's behaviour so
the dialplan sees stable values for the whole call.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    """What a dialled number does (the far end of a dialer call)."""

    HUMAN = "human"
    MACHINE = "machine"
    SILENT = "silent"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    REJECT = "reject"
    REJECT_AFTER_RING = "reject_after_ring"


# The far ends of the reference PBX (trace 11); any other number answers as a human.
REFERENCE_NUMBERS: dict[str, Outcome] = {
    "5550777": Outcome.MACHINE,
    "5550666": Outcome.SILENT,
    "5550486": Outcome.BUSY,
    "5550408": Outcome.NO_ANSWER,
    "5550503": Outcome.CONGESTION,
    "5550404": Outcome.REJECT,
    "5550405": Outcome.REJECT_AFTER_RING,
}


def _draw(value: float | tuple[float, float], rng: random.Random) -> float:
    if isinstance(value, tuple):
        return round(rng.uniform(*value), 1)
    return value


@dataclass(frozen=True, slots=True)
class AgentLeg:
    """One call's behaviour of an agent phone (ring time, answer or not, talk time)."""

    behaviour: str = "answer"  # answer | no_answer | busy | congestion
    ring: float = 1.0
    talk: float = 600.0
    nailed: float = 600.0  # how long a nailed-up line (cb-agent-phone) stays off-hook

    def ring_secs(self) -> float:
        return self.ring

    def talk_secs(self) -> float:
        return self.talk


@dataclass(frozen=True, slots=True)
class AgentPhone:
    """An operator's phone behind `Local/<name>@cb-agents`.

    ring_secs/talk_secs are fixed values or (low, high) uniform ranges; no_answer/busy are
    probabilities per call. talk_secs is how long the agent talks before hanging up. Without
    call waiting a phone already in a call answers Busy.
    """

    name: str = ""
    ring_secs: float | tuple[float, float] = 1.0
    talk_secs: float | tuple[float, float] = 600.0
    no_answer: float = 0.0
    busy: float = 0.0
    call_waiting: bool = False
    nailed_secs: float = 600.0  # cb-agent-phone: the nailed-up line hangs up after this

    def draw(self, rng: random.Random, in_call: bool = False) -> AgentLeg:
        roll = rng.random()
        if in_call and not self.call_waiting:
            behaviour = "busy"
        elif roll < self.busy:
            behaviour = "busy"
        elif roll < self.busy + self.no_answer:
            behaviour = "no_answer"
        else:
            behaviour = "answer"
        ring, talk = _draw(self.ring_secs, rng), _draw(self.talk_secs, rng)
        return AgentLeg(behaviour, ring, talk, self.nailed_secs)


@dataclass(frozen=True, slots=True)
class FarEnd:
    """One dialled number's behaviour for one call."""

    outcome: Outcome = Outcome.HUMAN
    answer_after: float = 1.0
    talk_secs: float = 8.0


@dataclass(frozen=True, slots=True)
class FarEndProfile:
    """How dialled numbers behave: fixed per number, else drawn from `weights`."""

    per_number: dict[str, Outcome] = field(default_factory=lambda: dict(REFERENCE_NUMBERS))
    weights: dict[Outcome, float] = field(default_factory=lambda: {Outcome.HUMAN: 1.0})
    answer_after: float | tuple[float, float] = 1.0
    talk_secs: float | tuple[float, float] = 8.0

    def draw(self, number: str, rng: random.Random) -> FarEnd:
        # as deploy/asterisk's [pstn-sim]: a number ending in a fixed 7-digit one behaves like it
        # (+15555550486 is 5550486)
        outcome = self.per_number.get(number)
        if outcome is None and len(number) > 7:
            outcome = self.per_number.get(number[-7:])
        if outcome is None:
            outcomes = list(self.weights)
            outcome = rng.choices(outcomes, weights=[self.weights[o] for o in outcomes])[0]
        return FarEnd(outcome, _draw(self.answer_after, rng), _draw(self.talk_secs, rng))


@dataclass(frozen=True, slots=True)
class Caller:
    """One inbound caller: who calls which DID, what they key in, how long they wait.

    `digits[n]` is what the caller keys in during the n-th prompt of the IVR (every STREAM
    FILE, GET DATA and SAY DIGITS counts, from 0; use "" for a prompt they let play, e.g. a
    greeting); a prompt beyond the list times out. `hangup_after_prompts=n` hangs up during
    prompt n;
    `patience` is how long they wait in holding before giving up; once connected they stay
    until the agent hangs up (or `talk_limit` seconds, if set).
    """

    number: str
    name: str = ""
    did: str = "100"
    digits: tuple[str, ...] = ()
    patience: float = 120.0
    hangup_after_prompts: int | None = None
    talk_limit: float | None = None
