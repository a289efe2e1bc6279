"""Agent performance: time in each state, calls handled, right-party contacts and promises.

Definitions (the figures a collections floor is run on):
- Time comes from routing's agent state log: each change starts a state that lasts until the
  next change (or the end of the range, or now). The state an agent was in when the range began
  counts from the range's start. Logged-in time is every state but `logged_out`; talk is
  `on_call`; ringing and reserved count as logged in and available, like ready.
- Occupancy = (talk + wrap-up) / (logged in - paused): the share of available time spent on calls.
- Calls handled: calls connected to the agent (interactions with the agent and `connected_at`),
  by the day the call started; average handle time = (talk + wrap-up) / calls handled.
- Right-party contacts: the agent's dispositions whose code is a right-party code.
- Promises: promises to pay the agent recorded in the range (cancelled ones, replaced by a
  correction, are left out): count and amount; kept rate = kept / (kept + broken), open ones
  are not settled yet; collected = payments on the promise's debt inside its evaluation window
  (from the day it was made to its date plus `grace_days`, as crm_core.promises counts them),
  at most the promised amount.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.dispositions import DEFAULT_DISPOSITIONS
from crm_core.models import (
    CallDisposition,
    Direction,
    DispositionDefinition,
    Interaction,
    InteractionKind,
    Payment,
    PromiseStatus,
    PromiseToPay,
)
from reports.common import (
    ZERO,
    Column,
    Report,
    ReportRange,
    Scope,
    UserInfo,
    choice,
    share,
    stream_rows,
    users,
)
from reports.tables import agent_state_log as L

_Wanted = Callable[[int | None], bool]  # is this operator in the report?
_Key = Callable[[int, date], Any]  # an operator's row on a day: its bucket's key

BREAKDOWNS = ("agent", "day", "team")
STATE_COLUMNS = {"ready": "ready_s", "on_call": "talk_s", "wrap_up": "wrap_s", "paused": "paused_s"}


@dataclass(slots=True)
class _Bucket:
    logged_in_s: float = 0.0
    ready_s: float = 0.0
    talk_s: float = 0.0
    wrap_s: float = 0.0
    paused_s: float = 0.0
    paused_by_reason: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    inbound: int = 0
    outbound: int = 0
    rpc: int = 0
    promises: int = 0
    promised: Decimal = ZERO
    kept: int = 0
    broken: int = 0
    collected: Decimal = ZERO

    def add(self, other: _Bucket) -> None:
        for name in (
            "logged_in_s", "ready_s", "talk_s", "wrap_s", "paused_s", "inbound", "outbound",
            "rpc", "promises", "promised", "kept", "broken", "collected",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, seconds in other.paused_by_reason.items():
            self.paused_by_reason[reason] += seconds

    def row(self) -> dict[str, Any]:
        handled = self.inbound + self.outbound
        available = self.logged_in_s - self.paused_s
        return {
            "logged_in_s": round(self.logged_in_s),
            "ready_s": round(self.ready_s),
            "talk_s": round(self.talk_s),
            "wrap_s": round(self.wrap_s),
            "paused_s": round(self.paused_s),
            "paused_by_reason": {k: round(v) for k, v in sorted(self.paused_by_reason.items())},
            "occupancy": share(self.talk_s + self.wrap_s, available),
            "calls_inbound": self.inbound,
            "calls_outbound": self.outbound,
            "calls_handled": handled,
            "aht_s": round((self.talk_s + self.wrap_s) / handled) if handled else None,
            "rpc": self.rpc,
            "promises": self.promises,
            "promised": self.promised,
            "kept_rate": share(self.kept, self.kept + self.broken),
            "collected": self.collected,
        }


COLUMNS = [
    Column("logged_in_s", "Logged in", "seconds"),
    Column("ready_s", "Ready", "seconds"),
    Column("talk_s", "Talk", "seconds"),
    Column("wrap_s", "Wrap-up", "seconds"),
    Column("paused_s", "Paused", "seconds"),
    Column("occupancy", "Occupancy", "percent"),
    Column("calls_inbound", "Inbound calls"),
    Column("calls_outbound", "Outbound calls"),
    Column("calls_handled", "Calls handled"),
    Column("aht_s", "Avg handle time", "seconds"),
    Column("rpc", "Right-party contacts"),
    Column("promises", "Promises"),
    Column("promised", "Promised", "money"),
    Column("kept_rate", "Kept rate", "percent"),
    Column("collected", "Collected on promises", "money"),
]


async def right_party_codes(session: AsyncSession) -> set[str]:
    """The codes that mean the operator spoke with the debtor: the configured ones (inactive
    codes too: old calls keep their meaning), or the defaults before any are configured."""
    rows = list(
        await session.execute(select(DispositionDefinition.code, DispositionDefinition.right_party))
    )
    if not rows:
        return {c.code for c in DEFAULT_DISPOSITIONS if c.right_party}
    return {code for code, right_party in rows if right_party}


async def agent_performance(
    session: AsyncSession,
    rng: ReportRange,
    scope: Scope,
    *,
    now: datetime,
    breakdown: str = "agent",
    agent_id: int | None = None,
    team_id: int | None = None,
    grace_days: int = 2,
) -> Report:
    choice("breakdown", breakdown, BREAKDOWNS)
    people = await users(session)

    def wanted(uid: int | None) -> bool:
        if uid is None or not scope.allows(uid):
            return False
        if agent_id is not None and uid != agent_id:
            return False
        return team_id is None or (uid in people and people[uid].team_id == team_id)

    def key(uid: int, day: date) -> Any:
        if breakdown == "day":
            return day
        if breakdown == "team":
            info = people.get(uid)
            return info.team_id if info else None
        return uid

    # the database reads only the wanted operators' rows when they are a few
    only: list[int] | None = None
    if agent_id is not None or team_id is not None or not scope.everyone:
        only = sorted(uid for uid in people if wanted(uid))
    buckets: dict[Any, _Bucket] = defaultdict(_Bucket)
    await _states(session, rng, now, wanted, key, buckets, only)
    await _calls(session, rng, wanted, key, buckets, only)
    await _promises(session, rng, wanted, key, buckets, grace_days, only)

    total = _Bucket()
    rows = []
    for k in sorted(buckets, key=lambda k: _order(k, breakdown, people)):
        bucket = buckets[k]
        total.add(bucket)
        rows.append({"key": _key_out(k), "label": _label(k, breakdown, people), **bucket.row()})
    reasons = sorted({r for row in rows for r in row["paused_by_reason"]})
    columns = [Column("label", breakdown.capitalize(), "text"), *COLUMNS]
    return Report(
        "agents",
        breakdown,
        columns,
        rows,
        {"label": "Total", **total.row()},
        {"pause_reasons": reasons},
    )


def _key_out(k: Any) -> Any:
    return k.isoformat() if isinstance(k, date) else k


def _label(k: Any, breakdown: str, people: dict[int, UserInfo]) -> str:
    if breakdown == "day":
        day: date = k
        return day.isoformat()
    if k is None:
        return "(no team)"
    info = people.get(k)
    return info.name if info else f"#{k}"


def _order(k: Any, breakdown: str, people: dict[int, UserInfo]) -> Any:
    if breakdown == "day":
        return (k,)
    return (k is None, _label(k, breakdown, people).casefold(), k or 0)


async def _states(
    session: AsyncSession,
    rng: ReportRange,
    now: datetime,
    wanted: _Wanted,
    key: _Key,
    buckets: dict[Any, _Bucket],
    only: list[int] | None,
) -> None:
    agents = [] if only is None else [L.c.agent_id.in_([str(uid) for uid in only])]
    start, end = rng.start, min(rng.end, max(now, rng.start))
    # the state each agent was in when the range began: their last change before it
    last = (
        select(L.c.agent_id, func.max(L.c.at).label("at"))
        .where(L.c.at < start, *agents)
        .group_by(L.c.agent_id)
        .subquery()
    )
    before = (
        select(L.c.agent_id, L.c.state, L.c.reason, L.c.at, L.c.id)
        .join(last, (last.c.agent_id == L.c.agent_id) & (last.c.at == L.c.at))
        .order_by(L.c.agent_id, L.c.id)
    )
    opening: dict[str, tuple[str, str | None]] = {}
    for agent, state, reason, _at, _id in await session.execute(before):
        opening[agent] = (state, reason)  # the latest row of a tie wins (order by id)
    current: dict[str, tuple[str, str | None, datetime]] = {
        agent: (state, reason, start) for agent, (state, reason) in opening.items()
    }

    def close(agent: str, until: datetime) -> None:
        state, reason, since = current[agent]
        if not agent.isdigit() or state == "logged_out" or until <= since:
            return
        uid = int(agent)
        if not wanted(uid):
            return
        for day, seconds in rng.split_by_day(since, until):
            bucket = buckets[key(uid, day)]
            bucket.logged_in_s += seconds
            column = STATE_COLUMNS.get(state)
            if column:
                setattr(bucket, column, getattr(bucket, column) + seconds)
            if state == "paused":
                bucket.paused_by_reason[reason or "(none)"] += seconds

    rows = stream_rows(
        session,
        select(L.c.agent_id, L.c.state, L.c.reason, L.c.at)
        .where(L.c.at >= start, L.c.at < end, *agents)
        .order_by(L.c.at, L.c.id),
    )
    async for agent, state, reason, at in rows:
        if agent in current:
            close(agent, at)
        current[agent] = (state, reason, at)
    for agent in current:
        close(agent, end)


async def _calls(
    session: AsyncSession,
    rng: ReportRange,
    wanted: _Wanted,
    key: _Key,
    buckets: dict[Any, _Bucket],
    only: list[int] | None,
) -> None:
    mine = [] if only is None else [Interaction.agent_id.in_(only)]
    calls = stream_rows(
        session,
        select(Interaction.agent_id, Interaction.direction, Interaction.started_at).where(
            Interaction.kind == InteractionKind.CALL,
            Interaction.agent_id.is_not(None),
            Interaction.connected_at.is_not(None),
            Interaction.started_at >= rng.start,
            Interaction.started_at < rng.end,
            *mine,
        ),
    )
    async for uid, direction, started_at in calls:
        if not wanted(uid):
            continue
        bucket = buckets[key(uid, rng.local_day(started_at))]
        if direction == Direction.OUTBOUND:
            bucket.outbound += 1
        elif direction == Direction.INBOUND:
            bucket.inbound += 1
    codes = await right_party_codes(session)
    if not codes:
        return
    rpc = stream_rows(
        session,
        select(CallDisposition.user_id, Interaction.started_at)
        .join(Interaction, Interaction.id == CallDisposition.interaction_id)
        .where(
            CallDisposition.code.in_(sorted(codes)),
            *([] if only is None else [CallDisposition.user_id.in_(only)]),
            Interaction.started_at >= rng.start,
            Interaction.started_at < rng.end,
        ),
    )
    async for uid, started_at in rpc:
        if wanted(uid):
            buckets[key(uid, rng.local_day(started_at))].rpc += 1


async def _promises(
    session: AsyncSession,
    rng: ReportRange,
    wanted: _Wanted,
    key: _Key,
    buckets: dict[Any, _Bucket],
    grace_days: int,
    only: list[int] | None,
) -> None:
    promises = [
        row
        for row in await session.execute(
            select(
                PromiseToPay.created_by,
                PromiseToPay.created_at,
                PromiseToPay.debt_id,
                PromiseToPay.amount,
                PromiseToPay.due_on,
                PromiseToPay.status,
            ).where(
                PromiseToPay.created_at >= rng.start,
                PromiseToPay.created_at < rng.end,
                PromiseToPay.status != PromiseStatus.CANCELLED,
                *([] if only is None else [PromiseToPay.created_by.in_(only)]),
            )
        )
        if wanted(row.created_by)
    ]
    paid = await payments_by_debt(session, {p.debt_id for p in promises})
    for p in promises:
        bucket = buckets[key(p.created_by, rng.local_day(p.created_at))]
        bucket.promises += 1
        bucket.promised += p.amount
        bucket.kept += p.status == PromiseStatus.KEPT
        bucket.broken += p.status == PromiseStatus.BROKEN
        bucket.collected += collected_on_promise(
            p.amount, p.created_at.date(), p.due_on, paid.get(p.debt_id, ()), grace_days
        )


async def payments_by_debt(
    session: AsyncSession, debt_ids: set[int]
) -> dict[int, list[tuple[date, Decimal]]]:
    paid: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    ids = sorted(debt_ids)
    for i in range(0, len(ids), 500):  # bounded IN lists
        rows = await session.execute(
            select(Payment.debt_id, Payment.paid_on, Payment.amount).where(
                Payment.debt_id.in_(ids[i : i + 500])
            )
        )
        for debt_id, paid_on, amount in rows:
            paid[debt_id].append((paid_on, amount))
    return paid


def collected_on_promise(
    amount: Decimal, promised_on: date, due_on: date, payments: Any, grace_days: int
) -> Decimal:
    """Payments inside the promise's evaluation window (crm_core.promises.evaluate's), capped
    at the promised amount."""
    deadline = due_on + timedelta(days=grace_days)
    total = sum((a for on, a in payments if promised_on <= on <= deadline), ZERO)
    return min(total, amount)
