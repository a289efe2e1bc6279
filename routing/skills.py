"""Skill requirements: which agents may take a call.

A requirement is a set of alternatives; an agent qualifies when it meets every minimum level of
at least one alternative. Overflow rules widen a call's requirement as it waits, either by
lowering the minimum levels or by adding an alternative (e.g. 'general').
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MIN_LEVEL = 1
MAX_LEVEL = 100

# (skill, minimum level) pairs in declared order; the first is the primary skill
Alternative = tuple[tuple[str, int], ...]


def check_level(level: int, where: str) -> int:
    if not isinstance(level, int) or isinstance(level, bool):
        raise ValueError(f"{where}: skill level must be an integer, got {level!r}")
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise ValueError(f"{where}: skill level must be {MIN_LEVEL}..{MAX_LEVEL}, got {level}")
    return level


def alternative(skills: Mapping[str, int] | Iterable[tuple[str, int]], where: str) -> Alternative:
    pairs = skills.items() if isinstance(skills, Mapping) else skills
    result: list[tuple[str, int]] = []
    seen: set[str] = set()
    for skill, level in pairs:
        if not skill:
            raise ValueError(f"{where}: empty skill name")
        if skill in seen:
            raise ValueError(f"{where}: skill {skill!r} given twice")
        seen.add(skill)
        result.append((skill, check_level(level, f"{where}, skill {skill!r}")))
    return tuple(result)


@dataclass(frozen=True, slots=True)
class Requirement:
    alternatives: tuple[Alternative, ...]

    @classmethod
    def of(
        cls, skills: Mapping[str, int] | Iterable[tuple[str, int]], where: str = "requirement"
    ) -> Requirement:
        """One alternative; no skills means any agent qualifies."""
        return cls((alternative(skills, where),))

    def met_by(self, levels: Mapping[str, int]) -> bool:
        for alt in self.alternatives:
            for skill, minimum in alt:
                if levels.get(skill, 0) < minimum:
                    break
            else:
                return True
        return False

    def relaxed_to(self, level: int) -> Requirement:
        """Accept any level >= `level` where more was asked."""
        return Requirement(
            tuple(tuple((s, min(m, level)) for s, m in alt) for alt in self.alternatives)
        )

    def widened(self, alt: Alternative) -> Requirement:
        if alt in self.alternatives:
            return self
        return Requirement((*self.alternatives, alt))

    def as_dicts(self) -> tuple[dict[str, int], ...]:
        return tuple(dict(alt) for alt in self.alternatives)

    def __str__(self) -> str:
        def one(alt: Alternative) -> str:
            return "+".join(f"{s}>={m}" for s, m in alt) or "any"

        return " | ".join(one(alt) for alt in self.alternatives)
