"""A loaded IVR flow: plain, immutable data. Built by ivr.loader, walked by ivr.runtime."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Calendar:
    """The center's opening hours in its own time zone, with holidays closed all day."""

    name: str
    timezone: ZoneInfo
    weekly: dict[int, tuple[tuple[time, time], ...]]  # Monday=0 -> [(open, close), ...]
    holidays: frozenset[date] = frozenset()

    def is_open(self, at: datetime) -> bool:
        """Open at this instant? `at` is aware; it is converted to the calendar's zone."""
        local = at.astimezone(self.timezone)
        if local.date() in self.holidays:
            return False
        now = local.time()
        return any(start <= now < end for start, end in self.weekly.get(local.weekday(), ()))


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    name: str
    line: int  # the line of the node's [nodes.<name>] header, for messages


@dataclass(frozen=True, slots=True, kw_only=True)
class Play(Node):
    prompts: tuple[str, ...]
    next: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Menu(Node):
    prompt: str
    choices: dict[str, str]  # digit -> node
    timeout_s: float = 5.0
    retries: int = 2  # extra attempts after the first
    invalid_prompt: str = ""
    timeout_prompt: str = ""
    on_failure: str = ""  # "" = the flow's safe default queue


@dataclass(frozen=True, slots=True, kw_only=True)
class Collect(Node):
    prompt: str
    variable: str
    min_length: int
    max_length: int
    timeout_s: float = 8.0
    validate: str = "length"  # "length" or "luhn"
    retries: int = 2
    invalid_prompt: str = ""
    timeout_prompt: str = ""
    sensitive: bool = False  # masked in the recorded path (account numbers)
    next: str
    on_failure: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Lookup(Node):
    by: str  # "caller" or "account"
    variable: str = ""  # the collected variable holding the account number (by = "account")
    balance_bands: tuple[tuple[Decimal, str], ...]  # ascending (threshold, band)
    found: str
    not_found: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition(Node):
    """Exactly one test; `then` when it holds, `otherwise` when not."""

    test: str  # one of ivr.loader.CONDITION_TESTS
    argument: str | Decimal | bool | int
    variable: str = ""  # for test = "variable"
    then: str
    otherwise: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetVars(Node):
    values: dict[str, str]
    next: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Queue(Node):
    queue: str  # may name variables: "collections_{language}"
    skills: dict[str, int] = field(default_factory=dict)  # skill (may name variables) -> level
    priority: int = 0
    prompt: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Callback(Node):
    prompt: str = ""
    queue: str = ""
    note: str = ""
    next: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup(Node):
    prompt: str = ""


AnyNode = Play | Menu | Collect | Lookup | Condition | SetVars | Queue | Callback | Hangup


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    source: str  # the file it came from
    version: str  # changes whenever the file does (mtime and size)
    start: str
    nodes: dict[str, AnyNode]
    calendars: dict[str, Calendar]
    default_queue: str
    default_priority: int = 0
    language: str = "en"
    region: str = "US"  # for reading the caller's number


def successors(node: AnyNode) -> list[tuple[str, str]]:
    """(field, target node) for every edge out of a node; "" targets mean the safe default."""
    match node:
        case Play() | SetVars() | Callback():
            return [("next", node.next)]
        case Menu():
            return [
                *((f"choices.{d}", t) for d, t in node.choices.items()),
                ("on_failure", node.on_failure),
            ]
        case Collect():
            return [("next", node.next), ("on_failure", node.on_failure)]
        case Lookup():
            return [("found", node.found), ("not_found", node.not_found)]
        case Condition():
            return [("then", node.then), ("else", node.otherwise)]
        case Queue() | Hangup():
            return []
