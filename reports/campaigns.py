"""Campaigns: attempts, connects, right-party contacts, promises, abandons and outcomes, from the
dialer's attempt ledger.

Definitions (those of the live campaign panel, agent_desktop/campaign_views.py):
- Attempts: dials on the debtor, i.e. every ledger row of the campaign except `not_dialled`
  (dials that never left the PBX), which is shown on its own; a call still in progress is an
  attempt. Conversations on calls the debtor made (`inbound`) are not attempts and are left out.
- Connects: a person answered and an operator took the call (`human` with an agent).
- Right-party-contact rate = right-party contacts / connects; promise rate = promises made on
  the campaign's calls / right-party contacts.
- Abandon rate = abandoned / live-answered (`human`) calls, per day, against the limit (3% by
  default, [dialer] abandon_limit_pct); a campaign's row gives its worst day too.
- Outcomes: attempts by how they ended (`in_progress` while live).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import Interaction, PromiseStatus, PromiseToPay
from reports.common import Column, Report, ReportRange, choice, share, stream_rows
from reports.tables import dialer_attempts as A
from reports.tables import dialer_campaigns as C

BREAKDOWNS = ("campaign", "day")
NOT_DIALLED = "not_dialled"


@dataclass(slots=True)
class _Bucket:
    attempts: int = 0
    not_dialled: int = 0
    connects: int = 0
    rpc: int = 0
    promises: int = 0
    live: int = 0
    abandoned: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    # (live, abandoned) per day: the limit applies day by day
    days: dict[date, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def add(self, other: _Bucket) -> None:
        for name in ("attempts", "not_dialled", "connects", "rpc", "promises", "live", "abandoned"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.outcomes.update(other.outcomes)
        for day, (live, abandoned) in other.days.items():
            self.days[day][0] += live
            self.days[day][1] += abandoned

    def row(self, limit: float) -> dict[str, Any]:
        rate = share(self.abandoned, self.live)
        daily = [share(a, live) or 0.0 for live, a in self.days.values() if live]
        worst = max(daily) if daily else None
        return {
            "attempts": self.attempts,
            "not_dialled": self.not_dialled,
            "connects": self.connects,
            "rpc": self.rpc,
            "rpc_rate": share(self.rpc, self.connects),
            "promises": self.promises,
            "promise_rate": share(self.promises, self.rpc),
            "live_answered": self.live,
            "abandoned": self.abandoned,
            "abandon_rate": rate,
            "worst_day_abandon_rate": worst,
            "days_over_limit": sum(1 for r in daily if r > limit),
            "over_limit": worst is not None and worst > limit,
            "outcomes": dict(sorted(self.outcomes.items())),
        }


COLUMNS = [
    Column("attempts", "Attempts"),
    Column("not_dialled", "Not dialled"),
    Column("connects", "Connects"),
    Column("rpc", "Right-party contacts"),
    Column("rpc_rate", "RPC rate", "percent"),
    Column("promises", "Promises"),
    Column("promise_rate", "Promise rate", "percent"),
    Column("live_answered", "Live answered"),
    Column("abandoned", "Abandoned"),
    Column("abandon_rate", "Abandon rate", "percent"),
    Column("worst_day_abandon_rate", "Worst day", "percent"),
    Column("days_over_limit", "Days over limit"),
]


async def campaign_report(
    session: AsyncSession,
    rng: ReportRange,
    *,
    breakdown: str = "campaign",
    campaign_id: int | None = None,
    abandon_limit: float = 0.03,
) -> Report:
    choice("breakdown", breakdown, BREAKDOWNS)
    names = {cid: name for cid, name in await session.execute(select(C.c.id, C.c.name))}
    where = [
        A.c.started_at >= rng.start,
        A.c.started_at < rng.end,
        or_(A.c.inbound.is_(None), A.c.inbound.is_(False)),
    ]
    if campaign_id is not None:
        where.append(A.c.campaign_id == campaign_id)
    buckets: dict[Any, _Bucket] = defaultdict(_Bucket)

    def key(cid: int, day: date) -> Any:
        return day if breakdown == "day" else cid

    rows = stream_rows(
        session,
        select(
            A.c.campaign_id,
            A.c.started_at,
            A.c.outcome,
            A.c.abandoned,
            A.c.right_party_contact,
            A.c.agent_id,
        ).where(*where),
    )
    async for cid, started, outcome, abandoned, rpc, agent in rows:
        day = rng.local_day(started)
        bucket = buckets[key(cid, day)]
        if outcome == NOT_DIALLED:
            bucket.not_dialled += 1
            continue
        bucket.attempts += 1
        bucket.outcomes[outcome or "in_progress"] += 1
        human = outcome == "human"
        bucket.connects += bool(human and agent)
        bucket.rpc += bool(rpc)
        bucket.live += human
        bucket.abandoned += bool(abandoned)
        bucket.days[day][0] += human
        bucket.days[day][1] += bool(abandoned)
    # promises made on the campaign's calls (the call's Linkedid is the attempt's call id)
    promised = (
        select(A.c.campaign_id, A.c.started_at, func.count(func.distinct(PromiseToPay.id)))
        .join(Interaction, Interaction.linkedid == func.coalesce(A.c.call_id, A.c.attempt_id))
        .join(PromiseToPay, PromiseToPay.interaction_id == Interaction.id)
        .where(*where, PromiseToPay.status != PromiseStatus.CANCELLED)
        .group_by(A.c.campaign_id, A.c.started_at)
    )
    for cid, started, count in await session.execute(promised):
        buckets[key(cid, rng.local_day(started))].promises += int(count)

    total = _Bucket()
    out = []
    for k in sorted(buckets, key=lambda k: (k,) if breakdown == "day" else (names.get(k, ""), k)):
        total.add(buckets[k])
        label = k.isoformat() if breakdown == "day" else names.get(k, f"#{k}")
        out.append(
            {"key": k.isoformat() if breakdown == "day" else k, "label": label}
            | buckets[k].row(abandon_limit)
        )
    outcomes = sorted({o for row in out for o in row["outcomes"]})
    return Report(
        "campaigns",
        breakdown,
        [Column("label", "Day" if breakdown == "day" else "Campaign", "text"), *COLUMNS],
        out,
        {"label": "Total", **total.row(abandon_limit)},
        {"abandon_limit": abandon_limit, "outcomes": outcomes},
    )
