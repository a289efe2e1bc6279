"""Which debts to dial next, on which number: priority order, retry plan, then the rules.

Pure: the leads, the ledger snapshot and the time come in; the picks and the moment something
next becomes dialable (so the dialer can sleep until then) come out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from dialer.attempts import AttemptHistory, AttemptOutcome
from dialer.campaign import Lead, priority_key
from dialer.compliance import Compliance, DialTarget, Rule
from dialer.retry import RetryPolicy, plan


@dataclass(frozen=True, slots=True)
class Pick:
    lead: Lead
    phone: str


@dataclass(slots=True)
class Selection:
    picks: list[Pick] = field(default_factory=list)
    wake_at: datetime | None = None  # the earliest moment a skipped lead may become dialable
    refused: dict[Rule, int] = field(default_factory=dict)  # why leads were passed over now
    finished: int = 0  # leads the campaign is done with (final retry status)

    def later(self, moment: datetime | None) -> None:
        if moment is not None and (self.wake_at is None or moment < self.wake_at):
            self.wake_at = moment


def target_for(lead: Lead, phone: str) -> DialTarget:
    flagged = any(p.e164 == phone and p.do_not_call for p in lead.phones)
    return DialTarget(
        debt_id=lead.debt_id,
        phone=phone,
        address_zone=lead.address_zone,
        debt_disputed=lead.disputed,
        debt_stopped=lead.status if lead.stopped else "",
        phone_do_not_call=flagged,
    )


def select(
    leads: Iterable[Lead],
    *,
    count: int,
    now: datetime,
    campaign_id: int,
    compliance: Compliance,
    retry: RetryPolicy,
    history: AttemptHistory,
    busy_debts: frozenset[int] = frozenset(),
    busy_phones: frozenset[str] = frozenset(),
    not_dialled_since: datetime | None = None,
) -> Selection:
    """Up to `count` dials allowed at `now`, best first. `history` must hold every attempt the
    rules look back on (all campaigns) and this campaign's attempts on these debts.
    `not_dialled_since`: dials that never left the PBX before then (the breaker's last reset)
    no longer hold their debts back."""
    out = Selection()
    taken_debts, taken_phones = set(busy_debts), set(busy_phones)
    for lead in sorted(leads, key=lambda lead: priority_key(lead, now)):
        if len(out.picks) >= count:
            break
        if lead.debt_id in taken_debts:
            continue
        mine = [
            a
            for a in history.for_debt(lead.debt_id)
            if a.campaign_id == campaign_id
            and not (
                a.outcome is AttemptOutcome.NOT_DIALLED
                and not_dialled_since is not None
                and a.started_at < not_dialled_since
            )
        ]
        retry_plan = plan(retry, [p.e164 for p in lead.phones], mine)
        if retry_plan.final is not None:
            out.finished += 1
            continue
        for phone_plan in retry_plan.phones:
            if phone_plan.phone in taken_phones:
                continue
            if phone_plan.usable_at is not None and phone_plan.usable_at > now:
                out.later(phone_plan.usable_at)
                continue
            target = target_for(lead, phone_plan.phone)
            verdict = compliance.check(target, history, now)
            if verdict.allowed:
                out.picks.append(Pick(lead, phone_plan.phone))
                taken_debts.add(lead.debt_id)
                taken_phones.add(phone_plan.phone)
                break
            if verdict.rule is not None:
                out.refused[verdict.rule] = out.refused.get(verdict.rule, 0) + 1
            if not verdict.permanent:
                out.later(compliance.next_eligible(target, history, now))
    return out
