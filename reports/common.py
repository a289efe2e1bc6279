"""What every report shares: the range in the center's time zone, who may see what (the scope),
the result's shape, and the buckets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Role, User

MAX_DAYS = 366  # one report covers at most a year


class ReportError(ValueError):
    """A report asked for with bad parameters; `field` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class ReportRange:
    """Whole local days, `first` to `last` inclusive, in the center's time zone."""

    first: date
    last: date
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ReportError("to", "the range ends before it starts")
        if (self.last - self.first).days >= MAX_DAYS:
            raise ReportError("to", f"at most {MAX_DAYS} days in one report")

    @property
    def start(self) -> datetime:
        """The first instant of the range (local midnight of `first`), aware."""
        return midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        """The instant after the range (local midnight after `last`), aware."""
        return midnight(self.last + timedelta(days=1), self.zone)

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def interval(self, at: datetime, minutes: int) -> str:
        """The local interval `at` falls in, as 'YYYY-MM-DD HH:MM' of its start."""
        local = at.astimezone(self.zone)
        floored = local.replace(
            minute=local.minute - local.minute % minutes, second=0, microsecond=0
        )
        return floored.strftime("%Y-%m-%d %H:%M")

    def split_by_day(self, start: datetime, end: datetime) -> Iterator[tuple[date, float]]:
        """Seconds of [start, end) on each local day (a shift across midnight counts on both)."""
        while start < end:
            day = self.local_day(start)
            cut = min(end, midnight(day + timedelta(days=1), self.zone))
            yield day, (cut - start).total_seconds()
            start = cut


def midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose work a report covers: `agent_ids` None for all (administrators), else a
    supervisor's team (the users whose team is the supervisor, and the supervisor)."""

    agent_ids: frozenset[int] | None = None

    @property
    def everyone(self) -> bool:
        return self.agent_ids is None

    def allows(self, user_id: int | None) -> bool:
        return self.agent_ids is None or (user_id is not None and user_id in self.agent_ids)


async def scope_for(session: AsyncSession, user_id: int, role: Role) -> Scope:
    """Administrators see everyone; a supervisor their team and themselves; an operator only
    themselves (the edges do not offer reports to operators today)."""
    if role is Role.ADMIN:
        return Scope(None)
    if role is Role.SUPERVISOR:
        team = await session.scalars(select(User.id).where(User.team_id == user_id))
        return Scope(frozenset({user_id, *team}))
    return Scope(frozenset({user_id}))


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    name: str
    team_id: int | None


async def users(session: AsyncSession) -> dict[int, UserInfo]:
    rows = await session.execute(select(User.id, User.username, User.full_name, User.team_id))
    return {uid: UserInfo(uid, full or name, team) for uid, name, full, team in rows}


@dataclass(slots=True)
class Column:
    key: str
    label: str
    kind: str = "number"  # number, money, percent, seconds, text


@dataclass(slots=True)
class Report:
    """A report's result: ordered columns, one row per bucket, and the totals row."""

    name: str
    breakdown: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "report": self.name,
            "breakdown": self.breakdown,
            "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in self.columns],
            "rows": [jsonable(r) for r in self.rows],
            "totals": jsonable(self.totals),
            "notes": jsonable(self.notes),
        }


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    return value


_Number = TypeVar("_Number", float, Decimal)


def share(part: _Number, whole: _Number) -> _Number | None:
    """part / whole, or None when there is nothing to divide by (Decimal for amounts)."""
    return part / whole if whole else None


def choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ReportError(name, f"one of {', '.join(allowed)}")
    return value


ZERO = Decimal("0.00")


async def stream_rows(session: AsyncSession, query: Any, size: int = 2000) -> AsyncIterator[Any]:
    """The query's rows from a database cursor, fetched `size` at a time (one hop to the
    driver per batch, not per row), so memory holds one batch however long the range."""
    result = await session.stream(query.execution_options(yield_per=size))
    async for partition in result.partitions(size):
        for row in partition:
            yield row
