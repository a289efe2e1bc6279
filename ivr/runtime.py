"""Walking a flow for one call, with no I/O: the decision core of the IVR.

`FlowRun.steps()` is a generator. It yields what the call needs next (play a prompt, read
digits, look the caller up, queue the call...) and is sent back what happened; the AGI session
does the I/O and a test just answers by hand. Time comes from an injected clock. Every node
visited and every key pressed lands in `path` (account numbers masked) for the interaction log.
"""

from __future__ import annotations

import enum
import logging
import string
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from crm_core.clock import Clock
from ivr.flow import (
    AnyNode,
    Callback,
    Collect,
    Condition,
    Flow,
    Hangup,
    Lookup,
    Menu,
    Play,
    Queue,
    SetVars,
)

log = logging.getLogger(__name__)

MAX_STEPS = 200  # a flow that loops without the caller doing anything ends in the default queue


class Outcome(enum.StrEnum):
    """How the IVR part of a call ended (the interaction gets an `ivr_<outcome>` transition)."""

    RUNNING = "running"
    QUEUED = "queued"
    CALLBACK = "callback"  # a callback was requested, then the IVR hung up
    IVR_HANGUP = "ivr_hangup"
    CALLER_HUNG_UP = "caller_hung_up"
    FAILED = "failed"  # FastAGI broke, or even the safe default queue was refused


# ---- what the runtime asks for ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlayPrompts:
    prompts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReadDigits:
    """Play `prompt`, then read up to `max_digits` ('#' ends input). Answer with `Digits`."""

    prompt: str
    max_digits: int
    timeout_s: float


@dataclass(frozen=True, slots=True)
class SetLanguage:
    language: str


@dataclass(frozen=True, slots=True)
class FindCaller:
    """Look the caller up by `account` number or by the calling `number`. Answer: Profile|None."""

    by: str
    value: str


@dataclass(frozen=True, slots=True)
class Enqueue:
    queue: str
    skills: dict[str, int]
    priority: int
    fallback: bool = False  # the safe default, taken because the flow could not go on


@dataclass(frozen=True, slots=True)
class RequestCallback:
    """Store a callback request. Answer: the task id, or None when it could not be stored."""

    queue: str
    note: str


@dataclass(frozen=True, slots=True)
class EndCall:
    pass


Action = PlayPrompts | ReadDigits | SetLanguage | FindCaller | Enqueue | RequestCallback | EndCall


# ---- what comes back -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Digits:
    value: str
    timed_out: bool


@dataclass(frozen=True, slots=True)
class Profile:
    """What the IVR needs to know of a known debtor (from crm_core's card)."""

    contact_id: int
    language: str = ""
    segment: str = ""
    vip: bool = False
    balance: Decimal = Decimal("0")
    assigned_agent: str = ""
    last_call_ended_at: datetime | None = None


@dataclass(slots=True)
class CallFacts:
    caller_number: str
    language: str = ""  # the channel's language at the start
    variables: dict[str, str] = field(default_factory=dict)


# ---- the walk --------------------------------------------------------------------------------


def luhn_ok(digits: str) -> bool:
    """The mod-10 check digit used on card and many account numbers."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def mask(digits: str) -> str:
    """Keep at most the last 4 digits, and none of a short number."""
    keep = 4 if len(digits) > 6 else 0
    return "*" * (len(digits) - keep) + digits[len(digits) - keep :]


class FlowRun:
    """One call's walk through one flow version (kept for the whole call, even after reload)."""

    def __init__(self, flow: Flow, facts: CallFacts, clock: Clock) -> None:
        self.flow = flow
        self.clock = clock
        self.caller_number = facts.caller_number
        self.vars: dict[str, str] = {"language": facts.language or flow.language}
        self.vars.update(facts.variables)
        self.profile: Profile | None = None
        self.path: list[str] = []
        self.digits: list[str] = []  # what was keyed, masked where sensitive
        self.outcome = Outcome.RUNNING
        self.language_chosen = False  # the caller's own choice beats the card's language

    def steps(self) -> Generator[Action, object, None]:
        name = self.flow.start
        for _ in range(MAX_STEPS):
            node = self.flow.nodes[name]
            following = yield from self._visit(node)
            if following is None:  # the call ended (queued, hung up)
                return
            if following == "":  # no way on (e.g. a menu's retries ran out, no on_failure)
                yield from self._fallback("no way on")
                return
            name = following
        log.error(
            "flow %s: more than %d steps without an end; default queue", self.flow.name, MAX_STEPS
        )
        yield from self._fallback("step limit")

    def _fallback(self, why: str) -> Generator[Action, object, None]:
        self.path.append(f"default:{why}")
        self.outcome = Outcome.QUEUED
        yield Enqueue(self.flow.default_queue, {}, self.flow.default_priority, fallback=True)

    def _visit(self, node: AnyNode) -> Generator[Action, object, str | None]:
        """Run one node; the next node's name, "" for the safe default, None when the call ends."""
        match node:
            case Play():
                self.path.append(node.name)
                yield PlayPrompts(node.prompts)
                return node.next
            case Menu():
                return (yield from self._menu(node))
            case Collect():
                return (yield from self._collect(node))
            case Lookup():
                return (yield from self._lookup(node))
            case Condition():
                held = self._holds(node)
                self.path.append(f"{node.name}={'yes' if held else 'no'}")
                return node.then if held else node.otherwise
            case SetVars():
                self.path.append(node.name)
                self.vars.update(node.values)
                if "language" in node.values:
                    self.language_chosen = True
                    yield SetLanguage(node.values["language"])
                return node.next
            case Queue():
                yield from self._queue(node)
                return None
            case Callback():
                self.path.append(node.name)
                if not self.caller_number and self.profile is None:
                    yield from self._fallback("no_number_to_call_back")  # withheld, unknown
                    return None
                task = yield RequestCallback(node.queue or self.flow.default_queue, node.note)
                if task is None:  # not stored: a person must take the call now instead
                    yield from self._fallback("callback_failed")
                    return None
                if node.prompt:
                    yield PlayPrompts((node.prompt,))
                self.outcome = Outcome.CALLBACK
                return node.next
            case Hangup():
                self.path.append(node.name)
                if node.prompt:
                    yield PlayPrompts((node.prompt,))
                if self.outcome is Outcome.RUNNING:
                    self.outcome = Outcome.IVR_HANGUP
                yield EndCall()
                return None
        raise TypeError(f"unknown node type {type(node).__name__}")

    def _retry_prompt(self, node: Menu | Collect, timed_out: bool) -> tuple[str, ...]:
        prompt = (node.timeout_prompt or node.invalid_prompt) if timed_out else node.invalid_prompt
        return (prompt,) if prompt else ()

    def _menu(self, node: Menu) -> Generator[Action, object, str]:
        for attempt in range(node.retries + 1):
            reply = yield ReadDigits(node.prompt, 1, node.timeout_s)
            digits = _digits(reply)
            if digits.value in node.choices:
                self.path.append(f"{node.name}={digits.value}")
                self.digits.append(digits.value)
                return node.choices[digits.value]
            failure = "timeout" if not digits.value else f"invalid:{digits.value}"
            self.path.append(f"{node.name}:{failure}")
            if attempt < node.retries and (prompt := self._retry_prompt(node, not digits.value)):
                yield PlayPrompts(prompt)
        return node.on_failure

    def _collect(self, node: Collect) -> Generator[Action, object, str]:
        for attempt in range(node.retries + 1):
            # One digit more than allowed, so that an over-long entry is seen, not truncated.
            reply = yield ReadDigits(node.prompt, node.max_length + 1, node.timeout_s)
            digits = _digits(reply)
            shown = mask(digits.value) if node.sensitive else digits.value
            problem = self._digits_problem(node, digits.value)
            if problem is None:
                self.vars[node.variable] = digits.value
                self.path.append(f"{node.name}={shown}")
                self.digits.append(shown)
                return node.next
            self.path.append(f"{node.name}:{problem}" + (f":{shown}" if shown else ""))
            if attempt < node.retries and (prompt := self._retry_prompt(node, not digits.value)):
                yield PlayPrompts(prompt)
        return node.on_failure

    @staticmethod
    def _digits_problem(node: Collect, value: str) -> str | None:
        if not value:
            return "timeout"
        if not value.isdigit():
            return "invalid"
        if len(value) > node.max_length:
            return "too_long"
        if len(value) < node.min_length:
            return "too_short"
        if node.validate == "luhn" and not luhn_ok(value):
            return "check_digit"
        return None

    def _lookup(self, node: Lookup) -> Generator[Action, object, str]:
        value = self.caller_number if node.by == "caller" else self.vars.get(node.variable, "")
        profile = (yield FindCaller(node.by, value)) if value else None
        if not isinstance(profile, Profile):
            self.path.append(f"{node.name}:not_found")
            return node.not_found
        self.profile = profile
        self.path.append(f"{node.name}:found")
        band = next(
            (b for limit, b in reversed(node.balance_bands) if profile.balance >= limit),
            node.balance_bands[0][1],
        )
        self.vars.update(
            contact_id=str(profile.contact_id),
            segment=profile.segment,
            vip="yes" if profile.vip else "no",
            balance=str(profile.balance),
            balance_band=band,
            assigned_agent=profile.assigned_agent,
        )
        if (
            profile.language
            and not self.language_chosen
            and profile.language != self.vars["language"]
        ):
            self.vars["language"] = profile.language
            yield SetLanguage(profile.language)
        return node.found

    def _holds(self, node: Condition) -> bool:
        now = self.clock.now()
        match node.test:
            case "business_hours":
                return self.flow.calendars[str(node.argument)].is_open(now)
            case "language":
                return self.vars.get("language") == node.argument
            case "balance_at_least":
                return self.profile is not None and self.profile.balance >= Decimal(node.argument)
            case "vip":
                return (self.profile is not None and self.profile.vip) == node.argument
            case "called_within_minutes":
                last = self.profile.last_call_ended_at if self.profile else None
                return last is not None and now - last <= timedelta(minutes=int(node.argument))
            case "variable":
                return self.vars.get(node.variable, "") == node.argument
        raise ValueError(f"unknown condition test {node.test!r}")

    def _queue(self, node: Queue) -> Generator[Action, object, None]:
        try:
            queue = _fill(node.queue, self.vars)
            skills = {_fill(skill, self.vars): level for skill, level in node.skills.items()}
        except KeyError as exc:
            log.error(
                "flow %s node %s: variable %s is not set; default queue",
                self.flow.name,
                node.name,
                exc,
            )
            yield from self._fallback(f"unset variable {exc.args[0]}")
            return None
        if node.prompt:
            yield PlayPrompts((node.prompt,))
        self.path.append(f"{node.name}:{queue}")
        self.outcome = Outcome.QUEUED
        yield Enqueue(queue, skills, node.priority)
        return None


def _digits(reply: object) -> Digits:
    if not isinstance(reply, Digits):
        raise TypeError(f"ReadDigits must be answered with Digits, got {reply!r}")
    return reply


def _fill(template: str, variables: dict[str, str]) -> str:
    """Replace {name} with the call's variable; KeyError for one that is not set."""
    out = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            if not variables.get(name):
                raise KeyError(name)
            out.append(variables[name])
    return "".join(out)
