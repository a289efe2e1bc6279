"""Queues: offered, answered, abandoned, service level, speed of answer, longest wait.

Definitions (as routing's live statistics count them, routing/stats.py):
- A call is offered to the queue it ended in (an overflow moves it) when it entered a queue:
  inbound calls with a queue in the interaction log. Its wait starts when the IVR handed it to
  the queue (the IVR's last `ivr_*` transition), else when the PBX answered it, else when it
  started; answered = connected to an operator (wait until `connected_at`); abandoned = ended
  without an operator (time to abandon until `ended_at`); still waiting = neither yet.
- Service level = answered within the queue's threshold / (answered + abandoned - short
  abandons), short abandons being those quicker than `short_abandon_s` (5 s, routing's
  default). Each call is measured against its own queue's threshold (`sl_threshold_s`), and a
  queue's row names its target (`sl_target_pct`) and whether it was met.
- ASA = total wait of answered calls / answered. Longest wait: of answered and abandoned calls.
- Buckets: the interval (15, 30 or 60 minutes) or the day the wait started, or the queue.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Direction, Interaction, InteractionKind, QueueDefinition
from reports.common import Column, Report, ReportError, ReportRange, choice, share, stream_rows

BREAKDOWNS = ("queue", "day", "interval")
INTERVALS = (15, 30, 60)
DEFAULT_THRESHOLD_S, DEFAULT_TARGET_PCT = 20, 80  # QueueDefinition's defaults
SHORT_ABANDON_S = 5.0
# a call waits in the IVR and the queue for at most this long before it is offered: the query
# reaches back this far so a call started before the range and queued in it is counted
LOOKBACK = timedelta(hours=6)


@dataclass(slots=True)
class _Bucket:
    offered: int = 0
    answered: int = 0
    within: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    waiting: int = 0
    answer_wait_s: float = 0.0
    abandon_wait_s: float = 0.0
    longest_abandon_s: float = 0.0
    longest_wait_s: float = 0.0

    def add(self, other: _Bucket) -> None:
        for name in ("offered", "answered", "within", "abandoned", "short_abandoned", "waiting"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.answer_wait_s += other.answer_wait_s
        self.abandon_wait_s += other.abandon_wait_s
        self.longest_abandon_s = max(self.longest_abandon_s, other.longest_abandon_s)
        self.longest_wait_s = max(self.longest_wait_s, other.longest_wait_s)

    def row(self, target_pct: int | None) -> dict[str, Any]:
        level = share(self.within, self.answered + self.abandoned - self.short_abandoned)
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "abandon_rate": share(self.abandoned, self.offered),
            "avg_abandon_s": round(self.abandon_wait_s / self.abandoned, 1)
            if self.abandoned
            else None,
            "longest_abandon_s": round(self.longest_abandon_s, 1),
            "answered_within": self.within,
            "service_level": level,
            "target_pct": target_pct,
            "target_met": None
            if level is None or target_pct is None
            else level * 100 >= target_pct,
            "asa_s": round(self.answer_wait_s / self.answered, 1) if self.answered else None,
            "longest_wait_s": round(self.longest_wait_s, 1),
        }


COLUMNS = [
    Column("offered", "Offered"),
    Column("answered", "Answered"),
    Column("abandoned", "Abandoned"),
    Column("short_abandoned", "Short abandons"),
    Column("abandon_rate", "Abandon rate", "percent"),
    Column("avg_abandon_s", "Avg time to abandon", "seconds"),
    Column("longest_abandon_s", "Longest abandon", "seconds"),
    Column("answered_within", "Answered in threshold"),
    Column("service_level", "Service level", "percent"),
    Column("target_pct", "SL target %"),
    Column("target_met", "Target met", "text"),
    Column("asa_s", "ASA", "seconds"),
    Column("longest_wait_s", "Longest wait", "seconds"),
]


def queue_entry(started_at: datetime, answered_at: datetime | None, transitions: Any) -> datetime:
    """When the call began waiting for an operator (see the module's definitions)."""
    entered = None
    for item in transitions or ():
        if isinstance(item, dict) and str(item.get("what", "")).startswith("ivr_"):
            try:
                at = datetime.fromisoformat(str(item["at"]))
            except (KeyError, ValueError):
                continue
            if at.tzinfo is not None and (entered is None or at > entered):
                entered = at
    return entered or answered_at or started_at


async def queue_report(
    session: AsyncSession,
    rng: ReportRange,
    *,
    breakdown: str = "queue",
    interval_minutes: int = 30,
    queue: str | None = None,
    short_abandon_s: float = SHORT_ABANDON_S,
) -> Report:
    choice("breakdown", breakdown, BREAKDOWNS)
    if interval_minutes not in INTERVALS:
        raise ReportError("interval", "one of 15, 30, 60")
    definitions = {
        name: (threshold, target)
        for name, threshold, target in await session.execute(
            select(
                QueueDefinition.name, QueueDefinition.sl_threshold_s, QueueDefinition.sl_target_pct
            )
        )
    }
    query = select(
        Interaction.queue,
        Interaction.started_at,
        Interaction.answered_at,
        Interaction.connected_at,
        Interaction.ended_at,
        Interaction.transitions,
    ).where(
        Interaction.kind == InteractionKind.CALL,
        Interaction.direction == Direction.INBOUND,
        Interaction.queue != "",
        Interaction.started_at >= rng.start - LOOKBACK,
        Interaction.started_at < rng.end,
    )
    if queue:
        query = query.where(Interaction.queue == queue)
    buckets: dict[str, _Bucket] = defaultdict(_Bucket)
    start, end = rng.start, rng.end
    async for name, started, answered, connected, ended, transitions in stream_rows(session, query):
        entered = queue_entry(started, answered, transitions)
        if not start <= entered < end:
            continue
        if breakdown == "queue":
            k = name
        elif breakdown == "day":
            k = rng.local_day(entered).isoformat()
        else:
            k = rng.interval(entered, interval_minutes)
        threshold, _target = definitions.get(name, (DEFAULT_THRESHOLD_S, DEFAULT_TARGET_PCT))
        bucket = buckets[k]
        bucket.offered += 1
        if connected is not None:
            wait = max(0.0, (connected - entered).total_seconds())
            bucket.answered += 1
            bucket.within += wait <= threshold
            bucket.answer_wait_s += wait
            bucket.longest_wait_s = max(bucket.longest_wait_s, wait)
        elif ended is not None:
            wait = max(0.0, (ended - entered).total_seconds())
            bucket.abandoned += 1
            bucket.short_abandoned += wait < short_abandon_s
            bucket.abandon_wait_s += wait
            bucket.longest_abandon_s = max(bucket.longest_abandon_s, wait)
            bucket.longest_wait_s = max(bucket.longest_wait_s, wait)
        else:
            bucket.waiting += 1

    def target_of(k: str) -> int | None:
        name = k if breakdown == "queue" else queue
        if not name:
            return None
        return definitions.get(name, (DEFAULT_THRESHOLD_S, DEFAULT_TARGET_PCT))[1]

    total = _Bucket()
    rows = []
    for k in sorted(buckets):
        total.add(buckets[k])
        rows.append({"key": k, "label": k, **buckets[k].row(target_of(k))})
    label = {"queue": "Queue", "day": "Day", "interval": "Interval"}[breakdown]
    return Report(
        "queues",
        breakdown,
        [Column("label", label, "text"), *COLUMNS],
        rows,
        {"label": "Total", **total.row(target_of(queue) if queue else None)},
        {"interval_minutes": interval_minutes, "short_abandon_s": short_abandon_s},
    )
