"""Queue definitions as the routing core sees them: plain, validated, immutable."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from routing.errors import InvalidQueueConfig
from routing.skills import Alternative, Requirement, alternative, check_level


class Strategy(enum.StrEnum):
    """How to choose among several ready agents who can all take a call."""

    LONGEST_IDLE = "longest_idle"
    HIGHEST_LEVEL = "highest_level"  # best level in the requirement's primary skill
    LEAST_CALLS = "least_calls"  # fewest calls answered today
    ROUND_ROBIN = "round_robin"  # the agent offered a call least recently


@dataclass(frozen=True, slots=True, kw_only=True)
class OverflowRule:
    """Applied once a call has waited `after_s` in its queue. Rules accumulate: a call past two
    rules has both applied. `move_to` hands the call to another queue (its wait goes on)."""

    after_s: float
    relax_to_level: int | None = None
    add_skills: Alternative = ()
    move_to: str | None = None

    def __post_init__(self) -> None:
        where = f"overflow rule after {self.after_s} s"
        try:
            object.__setattr__(self, "add_skills", alternative(self.add_skills, where))
            if self.relax_to_level is not None:
                check_level(self.relax_to_level, f"{where}, relax_to_level")
        except ValueError as exc:
            raise InvalidQueueConfig(str(exc)) from exc
        if self.after_s < 0:
            raise InvalidQueueConfig(f"{where}: after_s must be >= 0")
        if self.relax_to_level is None and not self.add_skills and self.move_to is None:
            raise InvalidQueueConfig(f"{where}: does nothing (no relax, add or move)")

    def describe(self) -> str:
        parts = []
        if self.relax_to_level is not None:
            parts.append(f"accept level >= {self.relax_to_level}")
        if self.add_skills:
            parts.append("add " + "+".join(f"{s}>={m}" for s, m in self.add_skills))
        if self.move_to is not None:
            parts.append(f"move to {self.move_to}")
        return f"after {self.after_s:g} s: " + ", ".join(parts)

    def apply(self, requirement: Requirement) -> Requirement:
        if self.relax_to_level is not None:
            requirement = requirement.relaxed_to(self.relax_to_level)
        if self.add_skills:
            requirement = requirement.widened(self.add_skills)
        return requirement


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueConfig:
    name: str
    skills: Alternative = ()  # required skills with minimum levels; empty: any agent
    priority: int = 0  # added to every call's own priority
    sl_target_s: float = 20.0  # service level: answered within this many seconds...
    sl_target_pct: float = 80.0  # ...for this share of calls
    max_wait_s: float | None = None  # then the call leaves the queue (voicemail, message)
    overflow: tuple[OverflowRule, ...] = ()
    callback_after_s: float | None = None  # offer a callback once a call has waited this long
    wrap_up_s: float = 10.0
    ring_timeout_s: float = 20.0  # an agent who does not answer within this is RONA
    sticky_s: float = 0.0  # how long a call waits for the debtor's own operator
    short_abandon_s: float = 5.0  # abandons quicker than this do not count against the SL
    strategy: Strategy = Strategy.LONGEST_IDLE
    # derived from `skills`; kept so routing does not rebuild it for every decision
    requirement: Requirement = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"queue {self.name!r}"
        if not self.name:
            raise InvalidQueueConfig("queue name is empty")
        try:
            object.__setattr__(self, "skills", alternative(self.skills, where))
            object.__setattr__(self, "strategy", Strategy(self.strategy))
            object.__setattr__(self, "overflow", tuple(self.overflow))
            object.__setattr__(self, "requirement", Requirement((self.skills,)))
        except ValueError as exc:
            raise InvalidQueueConfig(str(exc)) from exc
        for field_name in ("sl_target_s", "wrap_up_s", "sticky_s", "short_abandon_s"):
            if getattr(self, field_name) < 0:
                raise InvalidQueueConfig(f"{where}: {field_name} must be >= 0")
        if self.ring_timeout_s <= 0:
            raise InvalidQueueConfig(f"{where}: ring_timeout_s must be > 0")
        if not 0 < self.sl_target_pct <= 100:
            raise InvalidQueueConfig(f"{where}: sl_target_pct must be in (0, 100]")
        for name in ("max_wait_s", "callback_after_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidQueueConfig(f"{where}: {name} must be > 0 when set")
        afters = [rule.after_s for rule in self.overflow]
        if afters != sorted(afters):
            raise InvalidQueueConfig(f"{where}: overflow rules must be in order of after_s")
        if any(rule.move_to == self.name for rule in self.overflow):
            raise InvalidQueueConfig(f"{where}: an overflow rule moves calls to itself")
