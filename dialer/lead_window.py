"""A campaign's leads, paged through the database in priority order into a bounded window.

A campaign may select a million debts; loading them all every minute stalls the dialer. Instead
the leads are read in the order `campaign.priority_key` sorts them, page by page:

  0. debts with an open callback due before the window's horizon (few; ix_tasks_status_due);
  1. debts with a broken promise or plan instalment, biggest score first (score = balance x
     days past due);
  2. every other debt, biggest score first, ties by debt id.

Tier 2's score depends on the day, so no single index holds it; but within one due date the
score is the balance times a constant, so ix_debts_dialer_order (status, due date, balance
descending, id) holds each due date's debts in score order. The pager merges those per-date
streams (a heap, each stream read by keyset pages, opened lazily from an upper bound: the date's
largest balance), which yields exactly the global order.

The window keeps the first `size` leads that may be dialled before the next fill lands. A lead
the rules or the retry plan block beyond that horizon is parked until it may wake (its debt id
and the moment only), so the next fill skips it without reading it; a lead the campaign is done
with is parked for `recheck`. Every fill starts from the top again with fresh rows, so new debts,
payments, disputes and do-not-call changes reach the window at the next fill. The rules read
only the attempt ledger: the fill loads the ledger for the window's debts and numbers, a page at a
time. Between pages the fill yields to the event loop, so it can run beside the dialer's ticks.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, CompoundSelect, Row, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.arrangements import broken_debt_ids
from crm_core.db import Database
from crm_core.models import (
    Contact,
    ContactPhone,
    Debt,
    Phone,
    Task,
    TaskKind,
    TaskStatus,
)
from dialer.attempts import Attempt, AttemptHistory, AttemptOutcome
from dialer.campaign import DebtFilter, Lead, LeadPhone
from dialer.compliance import Compliance
from dialer.leads import lead_of, load_do_not_call
from dialer.ledger import to_attempt
from dialer.retry import plan
from dialer.selection import target_for
from dialer.settings import CampaignSettings
from dialer.tables import DialAttemptRow

# heap key of a debt: (tier, -score, debt id); smaller first, as campaign.priority_key sorts
Key = tuple[int, Decimal, int]
_IN_CHUNK = 500  # ids per IN (...) (SQLite's bound-parameter limit, short statements)


def order_key(tier: int, balance: Decimal, due: date, debt_id: int, today: date) -> Key:
    return (tier, -(balance * max(0, (today - due).days)), debt_id)


def _sql_filter(f: DebtFilter) -> list[ColumnElement[bool]]:
    """The cheap parts of the filter, as load_leads runs them in SQL."""
    where: list[ColumnElement[bool]] = []
    if f.statuses:
        where.append(Debt.status.in_(sorted(f.statuses)))
    if f.creditors:
        where.append(Debt.creditor.in_(sorted(f.creditors)))
    if f.segments:
        where.append(Debt.segment.in_(sorted(f.segments)))
    return where


def _chunks(items: Sequence[int], size: int = _IN_CHUNK) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Stream:
    """One source of debt ids in key order, read by keyset pages."""

    def __init__(self, bound: Key) -> None:
        self.bound = bound  # no key of this stream is smaller
        self.buffer: list[tuple[Key, int]] = []  # reversed: pop() gives the next
        self.done = False
        self.page = 16

    async def fetch(self, session: AsyncSession) -> None:
        raise NotImplementedError


class _DueDateStream(_Stream):
    """Debts of one status and one past due date: balance descending, then id."""

    def __init__(
        self, status: str, due: date, top: Decimal, where: list[ColumnElement[bool]], today: date
    ) -> None:
        self.status, self.due, self.where, self.today = status, due, where, today
        self.after: tuple[Decimal, int] | None = None
        super().__init__(order_key(2, top, due, -1, today))

    async def fetch(self, session: AsyncSession) -> None:
        query = select(Debt.id, Debt.balance).where(
            Debt.status == self.status, Debt.due_date == self.due, *self.where
        )
        if self.after is not None:
            balance, debt_id = self.after
            query = query.where(
                or_(Debt.balance < balance, and_(Debt.balance == balance, Debt.id > debt_id))
            )
        rows = (
            await session.execute(query.order_by(Debt.balance.desc(), Debt.id).limit(self.page))
        ).all()
        self.done = len(rows) < self.page
        self.page = min(self.page * 2, 1024)
        if rows:
            self.after = (rows[-1][1], rows[-1][0])
        self.buffer = [
            (order_key(2, balance, self.due, debt_id, self.today), debt_id)
            for debt_id, balance in reversed(rows)
        ]


class _NotYetDueStream(_Stream):
    """Debts not past due (score 0 whatever the balance): by id."""

    def __init__(self, where: list[ColumnElement[bool]], today: date) -> None:
        self.where, self.today = where, today
        self.after = 0
        super().__init__((2, Decimal(0), -1))

    async def fetch(self, session: AsyncSession) -> None:
        rows = (
            await session.scalars(
                select(Debt.id)
                .where(Debt.due_date >= self.today, Debt.id > self.after, *self.where)
                .order_by(Debt.id)
                .limit(self.page)
            )
        ).all()
        self.done = len(rows) < self.page
        self.page = min(self.page * 2, 1024)
        if rows:
            self.after = rows[-1]
        self.buffer = [((2, Decimal(0), debt_id), debt_id) for debt_id in reversed(rows)]


class _ListStream(_Stream):
    """Keys known in full (broken promises, an imported list of debts)."""

    def __init__(self, keys: list[tuple[Key, int]]) -> None:
        keys.sort(reverse=True)
        super().__init__(keys[-1][0] if keys else (9, Decimal(0), 0))
        self.buffer = keys
        self.done = True

    async def fetch(self, session: AsyncSession) -> None:
        return None


async def _keys_of(
    session: AsyncSession,
    ids: Sequence[int],
    where: list[ColumnElement[bool]],
    tier: int,
    today: date,
) -> list[tuple[Key, int]]:
    out: list[tuple[Key, int]] = []
    for chunk in _chunks(sorted(ids)):
        rows = (
            await session.execute(
                select(Debt.id, Debt.balance, Debt.due_date).where(Debt.id.in_(chunk), *where)
            )
        ).all()
        out.extend((order_key(tier, b, d, i, today), i) for i, b, d in rows)
    return out


async def ordered_debt_ids(
    session: AsyncSession, f: DebtFilter, today: date, broken: frozenset[int]
) -> AsyncIterator[int]:
    """Every debt id the filter's SQL part selects, in priority order (callbacks aside)."""
    where = _sql_filter(f)
    streams: list[_Stream] = []
    if f.debt_ids:  # an imported list: its keys in memory, sorted once
        keys = await _keys_of(session, sorted(f.debt_ids), where, 2, today)
        keys = [((1 if i in broken else 2, k[1], k[2]), i) for k, i in keys]
        streams.append(_ListStream(keys))
    else:
        streams.append(_ListStream(await _keys_of(session, sorted(broken), where, 1, today)))
        # each (status, past due date) group's largest balance: an index-only scan
        groups = (
            select(Debt.status, Debt.due_date, func.max(Debt.balance))
            .where(Debt.due_date < today, *where[:1])
            .group_by(Debt.status, Debt.due_date)
        )
        for status, due, top in (await session.execute(groups)).all():
            streams.append(_DueDateStream(str(status), due, top, where, today))
        streams.append(_NotYetDueStream(where, today))
    heap: list[tuple[Key, int, int]] = []  # (key, opened?, stream index)
    for n, stream in enumerate(streams):
        if stream.buffer:
            heap.append((stream.buffer[-1][0], 1, n))
        elif not stream.done:
            heap.append((stream.bound, 0, n))
    heapq.heapify(heap)
    while heap:
        _, opened, n = heapq.heappop(heap)
        stream = streams[n]
        if not opened:
            await stream.fetch(session)
        else:
            _, debt_id = stream.buffer.pop()
            if stream is streams[0] or debt_id not in broken:  # tier 1 came from streams[0]
                yield debt_id
            if not stream.buffer and not stream.done:
                await stream.fetch(session)
        if stream.buffer:
            heapq.heappush(heap, (stream.buffer[-1][0], 1, n))


@dataclass(slots=True)
class Fill:
    """One fill of the window: the leads, the ledger they need, and how it went."""

    leads: list[Lead]  # in the order read (ties in priority keep it)
    history: AttemptHistory
    compliance: Compliance
    full: bool  # stopped at `size`: more leads lie beyond the window
    until: datetime  # the horizon: leads parked wake after it
    read: int = 0  # debts read from the order (parked ones skipped unread)
    parked_wake: datetime | None = None  # the earliest moment a parked lead may wake
    seconds: float = 0.0


@dataclass(slots=True)
class LeadWindow:
    """A bounded window of one campaign's leads, filled page by page from the database."""

    db: Database
    settings: CampaignSettings
    campaign_id: int
    size: int = 2000
    page: int = 100
    horizon: timedelta = timedelta(seconds=180)  # a fill's leads last until the next one lands
    recheck: timedelta = timedelta(minutes=10)  # finished or refused for good: looked at again
    parked: dict[int, datetime] = field(default_factory=dict)  # debt id -> may wake at
    resting: dict[int, datetime] = field(default_factory=dict)  # done with, until a recheck

    def unpark_all(self) -> None:
        """Something unblocked leads (a resume lets not_dialled debts go): read them again."""
        self.parked.clear()
        self.resting.clear()

    async def fill(
        self,
        now: datetime,
        *,
        not_dialled_since: datetime | None = None,
        busy: frozenset[int] = frozenset(),
    ) -> Fill:
        """The window from the top of the order. `busy`: debts on a call now, kept in the
        window whatever their ledger says (their call's outcome is not known yet)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        settings, f = self.settings, self.settings.filter
        c = settings.compliance
        lookback = max(c.attempts_window, c.quiet_after_conversation, c.abandoned_redial_gap)
        since = now - lookback - timedelta(days=1)
        until = now + self.horizon
        today = now.date()
        compliance = Compliance(c, await load_do_not_call(self.db, self.campaign_id))
        history = AttemptHistory()
        leads: list[Lead] = []
        seen: set[int] = set()
        self.parked = {k: v for k, v in self.parked.items() if v > until}
        self.resting = {k: v for k, v in self.resting.items() if v > now}
        parked_wake: datetime | None = None
        read = 0
        full = False

        async def take(session: AsyncSession, ids: list[int], callbacks: bool) -> None:
            nonlocal parked_wake
            page = await _materialize(session, ids, f, today, broken)
            debts = [lead.debt_id for lead in page]
            phones = sorted({p.e164 for lead in page for p in lead.phones})
            for attempt in await _ledger(session, since, debts, phones):
                history.add(attempt)
            for lead in page:
                if lead.debt_id in seen:
                    continue
                seen.add(lead.debt_id)
                wake = wake_of(
                    lead, now, self.campaign_id, compliance, settings, history, not_dialled_since
                )
                if lead.debt_id in busy:
                    leads.append(lead)
                elif wake is NEVER:
                    self.resting[lead.debt_id] = now + self.recheck
                elif wake is None or wake <= until or callbacks:
                    leads.append(lead)
                else:
                    self.parked[lead.debt_id] = wake
                    parked_wake = wake if parked_wake is None else min(parked_wake, wake)
            await asyncio.sleep(0)  # the ticks go on between pages

        async with self.db.session() as session:
            broken = await broken_debt_ids(session)  # promises and plan instalments
            ids = (await session.scalars(_callback_debts(until))).all()
            due = sorted({i for i in ids if i is not None})  # the query leaves None out
            for chunk in _chunks(due, self.page):
                await take(session, list(chunk), callbacks=True)
            batch: list[int] = []
            async for debt_id in ordered_debt_ids(session, f, today, broken):
                if debt_id in seen or (debt_id in self.resting and debt_id not in busy):
                    continue
                wake = self.parked.get(debt_id)
                if wake is not None and debt_id not in busy:  # held past the horizon: unread
                    parked_wake = wake if parked_wake is None else min(parked_wake, wake)
                    continue
                read += 1
                batch.append(debt_id)
                if len(batch) >= self.page:
                    await take(session, batch, callbacks=False)
                    batch = []
                    if len(leads) >= self.size:
                        full = True
                        break
            if batch:
                await take(session, batch, callbacks=False)
        return Fill(
            leads,
            history,
            compliance,
            full,
            until,
            read=read,
            parked_wake=parked_wake,
            seconds=loop.time() - started,
        )


NEVER = datetime.max.replace(tzinfo=UTC)  # from wake_of: finished, or refused for good


def _callback_debts(until: datetime) -> CompoundSelect[int | None]:
    """Debts with an open callback due by `until` (on the debt, or on the debtor)."""
    tasks = select(Task.contact_id, Task.debt_id).where(
        Task.status == TaskStatus.OPEN, Task.due_at <= until, Task.kind == TaskKind.CALLBACK
    )
    on_debt = tasks.where(Task.debt_id.is_not(None)).with_only_columns(Task.debt_id)
    on_contact = (
        select(Debt.id)
        .join(Task, Task.contact_id == Debt.contact_id)
        .where(
            Task.status == TaskStatus.OPEN,
            Task.due_at <= until,
            Task.kind == TaskKind.CALLBACK,
            Task.debt_id.is_(None),
        )
    )
    return on_debt.union(on_contact)


async def _ledger(
    session: AsyncSession, since: datetime, debts: list[int], phones: list[str]
) -> list[Attempt]:
    """The ledger's attempts on these debts or numbers (every campaign's), started after
    `since`: what the rules look back on."""
    out: list[Attempt] = []
    for chunk in _chunks(debts):
        query = select(DialAttemptRow).where(
            DialAttemptRow.started_at > since, DialAttemptRow.debt_id.in_(chunk)
        )
        out.extend(to_attempt(row) for row in (await session.scalars(query)).all())
    for i in range(0, len(phones), _IN_CHUNK):
        query = select(DialAttemptRow).where(
            DialAttemptRow.started_at > since, DialAttemptRow.phone.in_(phones[i : i + _IN_CHUNK])
        )
        out.extend(to_attempt(row) for row in (await session.scalars(query)).all())
    return out


async def _materialize(
    session: AsyncSession, ids: list[int], f: DebtFilter, today: date, broken: frozenset[int]
) -> list[Lead]:
    """Leads for these debts (in this order), built as load_leads builds them."""
    rows: list[Row[Debt, Contact]] = []
    for chunk in _chunks(ids):
        query = (
            select(Debt, Contact)
            .join(Contact, Contact.id == Debt.contact_id)
            .where(Debt.id.in_(chunk), *_sql_filter(f))
        )
        rows.extend((await session.execute(query)).all())
    contact_ids = sorted({contact.id for _, contact in rows})
    phones: dict[int, list[LeadPhone]] = defaultdict(list)
    callbacks: dict[tuple[int, int | None], datetime] = {}
    for chunk in _chunks(contact_ids):
        for contact_id, e164, dnc in (
            await session.execute(
                select(ContactPhone.contact_id, Phone.e164, Phone.do_not_call)
                .join(Phone, Phone.id == ContactPhone.phone_id)
                .where(ContactPhone.contact_id.in_(chunk))
                .order_by(ContactPhone.contact_id, ContactPhone.is_primary.desc(), Phone.id)
            )
        ).all():
            phones[contact_id].append(LeadPhone(e164, dnc))
        for task_contact, callback_debt, due_at in (
            await session.execute(
                select(Task.contact_id, Task.debt_id, Task.due_at).where(
                    Task.kind == TaskKind.CALLBACK,
                    Task.status == TaskStatus.OPEN,
                    Task.contact_id.in_(chunk),
                )
            )
        ).all():
            assert task_contact is not None  # the query asked for these contacts' tasks
            key = (task_contact, callback_debt)
            callbacks[key] = min(due_at, callbacks.get(key, due_at))
    position = {debt_id: n for n, debt_id in enumerate(ids)}
    out = []
    for debt, contact in sorted(rows, key=lambda row: position[row[0].id]):
        due = [
            moment
            for moment in (callbacks.get((contact.id, debt.id)), callbacks.get((contact.id, None)))
            if moment is not None
        ]
        lead = lead_of(
            debt,
            contact,
            today=today,
            phones=phones.get(contact.id, ()),
            callback_due_at=min(due, default=None),
            broken_promise=debt.id in broken,
        )
        if f.matches(lead):
            out.append(lead)
    return out


def wake_of(
    lead: Lead,
    now: datetime,
    campaign_id: int,
    compliance: Compliance,
    settings: CampaignSettings,
    history: AttemptHistory,
    not_dialled_since: datetime | None,
) -> datetime | None:
    """When `select` could first pick this lead, as far as is known now: None for now,
    NEVER when the campaign is done with it or every number is refused for good. Busy debts
    and numbers count as free (they free up at any moment)."""
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
    retry_plan = plan(settings.retry, [p.e164 for p in lead.phones], mine)
    if retry_plan.final is not None:
        return NEVER
    wake = NEVER
    for phone_plan in retry_plan.phones:
        if phone_plan.usable_at is not None and phone_plan.usable_at > now:
            moment = phone_plan.usable_at  # the rules may hold it longer: an early guess is safe
        else:
            target = target_for(lead, phone_plan.phone)
            verdict = compliance.check(target, history, now)
            if verdict.allowed:
                return None
            if verdict.permanent:
                continue
            moment = compliance.next_eligible(target, history, now) or now + timedelta(days=31)
        wake = min(wake, moment)
    return wake
