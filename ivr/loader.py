"""Reading one flow file (TOML) into an ivr.flow.Flow, refusing anything doubtful.

Every problem in the file is reported at once, each as `file:line: node 'x': what is wrong`
(positions found by ivr.schema), so an administrator fixes a file in one pass.
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.flow import (
    AnyNode,
    Calendar,
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
    successors,
)
from ivr.schema import Checker, Fields, FlowLoadError, Problem, Source, read_table

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CONDITION_TESTS = (
    "business_hours",
    "language",
    "balance_at_least",
    "vip",
    "called_within_minutes",
    "variable",
)
DEFAULT_BANDS: tuple[tuple[Decimal, str], ...] = (
    (Decimal("0"), "low"),
    (Decimal("1000"), "medium"),
    (Decimal("10000"), "high"),
)
_HOURS = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")
_SOUND = re.compile(r"^[A-Za-z0-9_./-]+$")  # one AGI argument: no spaces or quotes


@dataclass(frozen=True, slots=True)
class CenterCalendar:
    """The center's own settings ([center] timezone, holidays): every flow calendar uses the
    center's time zone unless it names its own, and is closed on the center's holidays too."""

    timezone: str | None = None
    holidays: frozenset[date] = frozenset()


def load_flow(path: Path, version: str = "", center: CenterCalendar | None = None) -> Flow:
    """Parse and validate one flow file; raises FlowLoadError naming file, line and node."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowLoadError(file, [Problem(file, 1, "file", f"cannot be read: {exc}")]) from exc
    return parse_flow(text, file=file, default_name=path.stem, version=version, center=center)


def parse_flow(
    text: str,
    *,
    file: str,
    default_name: str,
    version: str = "",
    center: CenterCalendar | None = None,
) -> Flow:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found[1]) if found else 1
        raise FlowLoadError(file, [Problem(file, line, "TOML", str(exc))]) from exc
    problems: list[Problem] = []
    src = Source(text)
    check = Checker(file, src, problems)
    for key in data:
        if key not in ("flow", "calendars", "nodes"):
            check.problem(
                (), f"[{key}]", "unknown table; expected [flow], [calendars.*], [nodes.*]"
            )
    head = read_table(check, data, "flow", ("flow",), "[flow]")
    calendars = {
        name: cal
        for name, raw in read_table(check, data, "calendars", ("calendars",), "[calendars]").items()
        if (cal := _calendar(check, name, raw, center or CenterCalendar())) is not None
    }
    nodes: dict[str, AnyNode] = {}
    raw_nodes = read_table(check, data, "nodes", ("nodes",), "[nodes]")
    if not raw_nodes:
        check.problem(("nodes",), "[nodes]", "a flow needs at least one node")
    for name, raw in raw_nodes.items():
        node = _node(check, name, raw, calendars)
        if node is not None:
            nodes[name] = node

    reader = Fields(check, ("flow",), "[flow]", head)
    start = reader.text("start", required=True)
    flow = Flow(
        name=reader.text("name") or default_name,
        source=file,
        version=version,
        start=start,
        nodes=nodes,
        calendars=calendars,
        default_queue=reader.text("default_queue", required=True),
        default_priority=reader.integer("default_priority", 0, 0, 100),
        language=reader.text("language") or "en",
        region=reader.text("region") or "US",
    )
    reader.finish()
    if start and raw_nodes and start not in raw_nodes:
        check.problem(("flow",), "[flow]", f"start node {start!r} does not exist", "start")
    _check_edges(check, nodes, raw_nodes)
    if problems:
        raise FlowLoadError(file, sorted(problems, key=lambda p: p.line))
    return flow


def _calendar(check: Checker, name: str, raw: Any, center: CenterCalendar) -> Calendar | None:
    fields = Fields(check, ("calendars", name), f"calendar {name!r}", raw)
    zone_name = fields.text("timezone", required=center.timezone is None) or center.timezone
    try:
        zone = ZoneInfo(zone_name) if zone_name else None
    except (ZoneInfoNotFoundError, ValueError):
        fields.bad("timezone", f"unknown time zone {zone_name!r}")
        zone = None
    weekly: dict[int, tuple[tuple[time, time], ...]] = {}
    for index, day in enumerate(DAYS):
        spec = fields.take(day, False)
        spans = [] if spec in (None, "closed") else spec if isinstance(spec, list) else [spec]
        parsed: list[tuple[time, time]] = []
        for span in spans:
            match = _HOURS.match(span) if isinstance(span, str) else None
            start = end = None
            if match:
                h1, m1, h2, m2 = (int(g) for g in match.groups())
                if h1 < 24 and m1 < 60 and m2 < 60 and (h2 < 24 or (h2, m2) == (24, 0)):
                    start, end = time(h1, m1), time.max if h2 == 24 else time(h2, m2)
            if start is None or end is None or start >= end:
                fields.bad(
                    day,
                    f"'{day}' must be 'HH:MM-HH:MM' (opening before closing) or "
                    f"'closed', got {span!r}",
                )
                continue
            parsed.append((start, end))
        weekly[index] = tuple(parsed)
    holidays: set[date] = set(center.holidays)
    raw_holidays = fields.take("holidays", False) or []
    for item in raw_holidays if isinstance(raw_holidays, list) else [raw_holidays]:
        try:
            exact = isinstance(item, date) and not isinstance(item, datetime)
            holidays.add(item if exact else date.fromisoformat(str(item)))
        except ValueError:
            fields.bad("holidays", f"holiday {item!r} is not a date (YYYY-MM-DD)")
    fields.finish()
    if zone is None:
        return None
    return Calendar(name=name, timezone=zone, weekly=weekly, holidays=frozenset(holidays))


def _prompt(fields: Fields, key: str, required: bool = False) -> str:
    value = fields.text(key, required=required)
    if value and not _SOUND.match(value):
        fields.bad(key, f"'{key}' must be a sound file name (letters, digits, _ . / -): {value!r}")
        return ""
    return value


def _template_ok(fields: Fields, key: str, value: str) -> None:
    try:
        names = [n for _, n, spec, conv in string.Formatter().parse(value) if n is not None]
    except ValueError as exc:
        fields.bad(key, f"'{key}' is not a valid template {value!r}: {exc}")
        return
    for name in names:
        if not name.isidentifier():
            fields.bad(key, f"'{key}' may only name plain variables in braces, got {{{name}}}")


def _node(check: Checker, name: str, raw: Any, calendars: dict[str, Calendar]) -> AnyNode | None:
    f = Fields(check, ("nodes", name), f"node {name!r}", raw)
    kind = f.text(
        "type",
        required=True,
        choices=(
            "play",
            "menu",
            "collect",
            "lookup",
            "condition",
            "set",
            "queue",
            "callback",
            "hangup",
        ),
    )
    line = check.src.table("nodes", name)
    node: AnyNode | None = None
    if kind == "play":
        prompts = f.take("prompts", False) or [_prompt(f, "prompt", required=True)]
        if not isinstance(prompts, list) or not all(
            isinstance(p, str) and _SOUND.match(p) for p in prompts
        ):
            f.bad("prompts", f"'prompts' must be a list of sound file names, got {prompts!r}")
            prompts = []
        node = Play(
            name=name, line=line, prompts=tuple(prompts), next=f.text("next", required=True)
        )
    elif kind == "menu":
        choices = f.mapping("choices", required=True)
        for digit, target in choices.items():
            if digit == "#":
                f.bad("choices", "'#' cannot be a choice: GET DATA takes it as end of input")
            elif len(digit) != 1 or digit not in "0123456789*" or not isinstance(target, str):
                f.bad("choices", f"choice {digit!r} must be one key 0-9 or * naming a node")
        node = Menu(
            name=name,
            line=line,
            prompt=_prompt(f, "prompt", required=True),
            choices={str(k): str(v) for k, v in choices.items()},
            timeout_s=f.seconds("timeout", 5.0),
            retries=f.integer("retries", 2, 0, 5),
            invalid_prompt=_prompt(f, "invalid_prompt"),
            timeout_prompt=_prompt(f, "timeout_prompt"),
            on_failure=f.text("on_failure"),
        )
    elif kind == "collect":
        low, high = f.integer("min_length", 1, 1, 32), f.integer("max_length", 0, 1, 32)
        if high == 0:
            f.bad("", "'max_length' is required")
        elif low > high:
            f.bad("min_length", f"'min_length' {low} is more than 'max_length' {high}")
        if f.text("terminator") not in ("", "#"):
            f.bad("terminator", "'terminator' must be '#': Asterisk's GET DATA ends input on '#'")
        node = Collect(
            name=name,
            line=line,
            prompt=_prompt(f, "prompt", required=True),
            variable=f.text("variable", required=True),
            min_length=low,
            max_length=high,
            timeout_s=f.seconds("timeout", 8.0),
            validate=f.text("validate", choices=("length", "luhn")) or "length",
            retries=f.integer("retries", 2, 0, 5),
            invalid_prompt=_prompt(f, "invalid_prompt"),
            timeout_prompt=_prompt(f, "timeout_prompt"),
            sensitive=f.flag("sensitive", False),
            next=f.text("next", required=True),
            on_failure=f.text("on_failure"),
        )
    elif kind == "lookup":
        by = f.text("by", required=True, choices=("caller", "account"))
        variable = f.text("variable", required=by == "account")
        bands = DEFAULT_BANDS
        if raw_bands := f.mapping("balance_bands"):
            try:
                bands = tuple(sorted((Decimal(str(v)), k) for k, v in raw_bands.items()))
            except InvalidOperation:
                f.bad("balance_bands", "'balance_bands' maps band names to amounts")
        node = Lookup(
            name=name,
            line=line,
            by=by,
            variable=variable,
            balance_bands=bands,
            found=f.text("found", required=True),
            not_found=f.text("not_found", required=True),
        )
    elif kind == "condition":
        tests = [t for t in CONDITION_TESTS if t in f.raw]
        if len(tests) != 1:
            f.bad("", f"needs exactly one test of {', '.join(CONDITION_TESTS)}; found {tests}")
            return None
        test = tests[0]
        argument: Any = f.take(test, True)
        variable = ""
        if test == "business_hours" and argument not in calendars:
            f.bad(test, f"calendar {argument!r} is not defined under [calendars]")
        elif test == "balance_at_least":
            try:
                argument = Decimal(str(argument))
            except InvalidOperation:
                f.bad(test, f"'balance_at_least' must be an amount, got {argument!r}")
        elif test == "vip" and not isinstance(argument, bool):
            f.bad(test, "'vip' must be true or false")
        elif test == "called_within_minutes" and (
            isinstance(argument, bool) or not isinstance(argument, int) or argument < 1
        ):
            f.bad(test, "'called_within_minutes' must be a whole number of minutes")
        elif test == "variable":
            variable = str(argument)
            argument = f.text("equals", required=True)
        node = Condition(
            name=name,
            line=line,
            test=test,
            argument=argument,
            variable=variable,
            then=f.text("then", required=True),
            otherwise=f.text("else", required=True),
        )
    elif kind == "set":
        values = f.mapping("values", required=True)
        for key, value in values.items():
            if not key.isidentifier() or not isinstance(value, str | int | bool):
                f.bad("values", f"'values.{key}' must be a plain name set to text or a number")
        node = SetVars(
            name=name,
            line=line,
            values={k: str(v) for k, v in values.items()},
            next=f.text("next", required=True),
        )
    elif kind == "queue":
        queue = f.text("queue", required=True)
        _template_ok(f, "queue", queue)
        skills = f.mapping("skills")
        for skill, level in skills.items():
            _template_ok(f, "skills", skill)
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 100:
                f.bad("skills", f"skill {skill!r} needs a level from 1 to 100, got {level!r}")
        node = Queue(
            name=name,
            line=line,
            queue=queue,
            skills=dict(skills),
            priority=f.integer("priority", 0, 0, 100),
            prompt=_prompt(f, "prompt"),
        )
    elif kind == "callback":
        node = Callback(
            name=name,
            line=line,
            prompt=_prompt(f, "prompt"),
            queue=f.text("queue"),
            note=f.text("note"),
            next=f.text("next", required=True),
        )
    elif kind == "hangup":
        node = Hangup(name=name, line=line, prompt=_prompt(f, "prompt"))
    f.finish()
    return node


def _check_edges(check: Checker, nodes: dict[str, AnyNode], raw: dict[str, Any]) -> None:
    collected = {n.variable for n in nodes.values() if isinstance(n, Collect)}
    for name, node in nodes.items():
        where = f"node {name!r}"
        for field_name, target in successors(node):
            key = field_name.split(".")[0]
            if target == "" and field_name == "on_failure":
                continue  # the flow's safe default queue
            if target not in raw:
                check.problem(
                    ("nodes", name), where, f"'{field_name}' names missing node {target!r}", key
                )
        if isinstance(node, Lookup) and node.by == "account" and node.variable not in collected:
            check.problem(
                ("nodes", name),
                where,
                f"no collect node sets variable {node.variable!r}",
                "variable",
            )
