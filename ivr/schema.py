"""Typed reads of a parsed TOML flow file that know where each table and key is written.

tomllib reports line numbers for syntax errors only, so semantic errors are placed by finding
the table's header (`[nodes.<name>]`) and the offending key below it in the source text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r'^\s*"?([A-Za-z0-9_.\-]+)"?\s*=')


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    where: str  # "node 'x'", "[flow]", "calendar 'office'"
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.where}: {self.message}"


class FlowLoadError(Exception):
    """A flow file that cannot be used; `problems` lists every fault found, with its line."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.file = file
        self.problems = problems


class Source:
    """Finds table headers and keys in the raw text, since tomllib keeps no positions."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: dict[tuple[str, ...], int] = {}
        for number, line in enumerate(self.lines, start=1):
            if match := _HEADER.match(line):
                parts = tuple(p.strip().strip("\"'") for p in match[1].split("."))
                self.headers.setdefault(parts, number)

    def table(self, *path: str) -> int:
        return self.headers.get(path, 1)

    def key(self, table: tuple[str, ...], key: str) -> int:
        start = self.table(*table)
        for number in range(start, len(self.lines)):
            line = self.lines[number]
            if _HEADER.match(line):
                break
            if (match := _KEY.match(line)) and match[1] == key:
                return number + 1
        return start


class Checker:
    """Reads one table of the file, recording problems instead of stopping at the first."""

    def __init__(self, file: str, src: Source, problems: list[Problem]) -> None:
        self.file, self.src, self.problems = file, src, problems

    def problem(self, table: tuple[str, ...], where: str, message: str, key: str = "") -> None:
        line = self.src.key(table, key) if key else self.src.table(*table)
        self.problems.append(Problem(self.file, line, where, message))


def read_table(
    check: Checker, data: dict[str, Any], key: str, path: tuple[str, ...], where: str
) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        check.problem(path, where, "must be a table")
        return {}
    return value


class Fields:
    """Typed reads of one table's keys; leftovers are reported as unknown (typos)."""

    def __init__(self, check: Checker, path: tuple[str, ...], where: str, raw: Any) -> None:
        self.check, self.path, self.where = check, path, where
        self.raw: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
        if not isinstance(raw, dict):
            check.problem(path, where, "must be a table")

    def bad(self, key: str, message: str) -> None:
        self.check.problem(self.path, self.where, message, key)

    def take(self, key: str, required: bool) -> Any:
        if key not in self.raw:
            if required:
                self.bad("", f"'{key}' is required")
            return None
        return self.raw.pop(key)

    def text(self, key: str, *, required: bool = False, choices: tuple[str, ...] = ()) -> str:
        value = self.take(key, required)
        if value is None:
            return ""
        if not isinstance(value, str) or (required and not value):
            self.bad(key, f"'{key}' must be a non-empty string, got {value!r}")
            return ""
        if choices and value not in choices:
            self.bad(key, f"'{key}' must be one of {', '.join(choices)}; got {value!r}")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.take(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.bad(key, f"'{key}' must be a whole number from {low} to {high}, got {value!r}")
            return default
        return value

    def seconds(self, key: str, default: float) -> float:
        value = self.take(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 60:
            self.bad(key, f"'{key}' must be 1 to 60 seconds, got {value!r}")
            return default
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.take(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.bad(key, f"'{key}' must be true or false, got {value!r}")
            return default
        return value

    def mapping(self, key: str, required: bool = False) -> dict[str, Any]:
        value = self.take(key, required)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.bad(key, f"'{key}' must be a table, got {value!r}")
            return {}
        return value

    def finish(self) -> None:
        for key in self.raw:
            self.bad(key, f"unknown key '{key}'")
