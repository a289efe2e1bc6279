"""A campaign of a million debts: the dialer's tick with the paged lead window, and with the full
reload every minute that it replaced (the baseline, measured in the same run).

    .venv/bin/python benchmarks/dialer_leads.py [--debts N] [--pg URL] [--seconds S]
        [--baseline-debts N] [--baseline-seconds S] [--gc-freeze]

Seeds N debts (default 1,000,000; two per debtor, one or two numbers each, 2 % with a broken
promise, 50 callbacks, 20,000 attempts in the ledger) into a fresh SQLite file (executemany on
sqlite3) or into an empty PostgreSQL database (--pg). Then one campaign selecting every active
debt runs the production CampaignDialer's tick every 50 ms with 5 dials per tick (each dial is
written to the ledger, rings 0.3-1.5 s and ends unanswered), and the leads are refreshed every
60 ticks, as in production (tick 1 s, refresh 60 s). Measured: each tick's time, and the
event-loop stall seen by a timer task that wakes every 5 ms (its lateness).

  paged:       dialer/lead_window.py: a 2,000-lead window filled page by page in key order,
               refilled in the background (every 60 ticks, or when a quarter is left);
  full reload: today's dialer before it (dialer/leads.py's load_leads and the ledger of every
               debt of the campaign, inside the tick), kept reachable here only.

The first fill (cold start, before the first dial) is printed apart from the ticks. Today's
path cannot load a million debts on SQLite at all (its IN lists pass SQLite's 250,000 bound
parameters: "too many SQL variables"), so it runs on the first --baseline-debts debts and its
figures are scaled linearly to --debts. Tick times are wall time (the machine's other load
included; its load average is printed) with the loop thread's CPU time beside them.
--gc-freeze freezes the objects alive before measuring, as a node may after start-up, so that
no full garbage collection lands in a tick.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

from sqlalchemy import insert

from callboard.schema import metadata
from crm_core.bus import InProcessBus
from crm_core.db import Database
from crm_core.models import Contact, ContactPhone, Debt, Phone, PromiseToPay, Task
from dialer.attempts import Attempt, AttemptOutcome
from dialer.campaign import Campaign, CampaignState, DebtFilter
from dialer.compliance import Compliance
from dialer.leads import load_do_not_call, load_leads
from dialer.pacing import PacingDecision
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings, Schedule
from dialer.tables import CampaignRow, DialAttemptRow

START = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # a Tuesday, noon in New York
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]
TICK_S, REFRESH_TICKS, DIALS = 0.05, 60, 5
ATTEMPTS = 20_000


class BenchClock:
    """Real time, starting at START."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()

    def now(self) -> datetime:
        return START + timedelta(seconds=time.perf_counter() - self._t0)

    def monotonic(self) -> float:
        return time.perf_counter() - self._t0


class FixedPacer:
    """Five dials a tick, whoever is ready (the pacer is not what is measured)."""

    def __init__(self) -> None:
        from dialer.traffic import AbandonMeter

        self.meter = AbandonMeter()

    def decide(self, snapshot: object, now: float) -> PacingDecision:
        return PacingDecision(DIALS, f"{DIALS} a tick")


class RingingFlow:
    """Places a dial as the ledger sees it: started, rings, no answer, ended."""

    def __init__(self, dialer: CampaignDialer, rng: random.Random) -> None:
        self.d, self.rng = dialer, rng
        self.placed = 0

    async def place(self, live: object) -> None:
        attempt = live.attempt  # type: ignore[attr-defined]
        self.placed += 1
        t0 = time.perf_counter()
        try:
            await self._place(attempt)
        except Exception as exc:
            print(f"dial failed after {time.perf_counter() - t0:.1f} s: {exc!r:.200}", flush=True)
            self.d.forget(attempt.attempt_id)

    async def _place(self, attempt: Attempt) -> None:
        await self.d.ledger.started(attempt)
        await asyncio.sleep(self.rng.uniform(0.3, 1.5))
        await self.d.ledger.classified(attempt.attempt_id, AttemptOutcome.NO_ANSWER)
        ended = datetime.now(UTC)
        await self.d.ledger.ended(attempt.attempt_id, ended)
        from dataclasses import replace

        self.d.remember(replace(attempt, outcome=AttemptOutcome.NO_ANSWER, ended_at=ended))
        self.d.forget(attempt.attempt_id)


class FullReloadDialer(CampaignDialer):
    """The dialer before the window: every debt of the filter and their ledger, reloaded in the
    tick every refresh (dialer/service.py's _refresh as it was). The ledger query is cut in
    chunks of 200,000 debts: unchunked it exceeds SQLite's 250,000 bound parameters."""

    async def _refresh(self, now: datetime) -> None:
        settings = self.campaign.settings
        self._leads = await load_leads(self.db, settings, now)
        dnc = await load_do_not_call(self.db, self.campaign.id)
        self._compliance = Compliance(settings.compliance, dnc)
        c = settings.compliance
        lookback = max(c.attempts_window, c.quiet_after_conversation, c.abandoned_redial_gap)
        ids = [lead.debt_id for lead in self._leads]
        history = None
        for i in range(0, len(ids), 200_000):
            part = await self.ledger.history(
                since=now - lookback - timedelta(days=1), debt_ids=ids[i : i + 200_000]
            )
            if history is None:
                history = part
            else:
                for items in part._by_debt.values():
                    for attempt in items:
                        history.add(attempt)
        assert history is not None
        for live in self._live.values():
            history.add(live.attempt)
        self._history = history
        self._window_full = False  # always reloaded inside the tick, as before


def rows(n_debts: int, seed: int) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    n_contacts = n_debts // 2
    created = START - timedelta(days=400)
    out: dict[str, list[dict]] = {k: [] for k in ("c", "p", "cp", "d", "pr", "t", "a")}
    phone_id = 0
    for c in range(1, n_contacts + 1):
        out["c"].append({"id": c, "zone": rng.choice(ZONES)})
        for k in range(1 if rng.random() < 0.7 else 2):
            phone_id += 1
            out["p"].append(
                {"id": phone_id, "e164": f"+1{212 + k}{c:07d}", "dnc": rng.random() < 0.01}
            )
            out["cp"].append({"contact_id": c, "phone_id": phone_id, "is_primary": k == 0})
    today = START.date()
    for d in range(1, n_debts + 1):
        out["d"].append(
            {
                "id": d,
                "contact_id": (d - 1) // 2 + 1,
                "creditor": rng.choice(["bank", "telco", "utility"]),
                "balance": Decimal(rng.randint(1000, 500_000)) / 100,
                "due_date": today - timedelta(days=rng.randint(-30, 1500)),
                "status": "active" if rng.random() < 0.85 else rng.choice(["paid", "promise"]),
            }
        )
    for d in rng.sample(range(1, n_debts + 1), n_debts // 50):
        out["pr"].append({"debt_id": d})
    for _ in range(50):
        out["t"].append(
            {
                "contact_id": rng.randint(1, n_contacts),
                "due_at": START + timedelta(minutes=rng.randint(-600, 600)),
            }
        )
    for n in range(min(ATTEMPTS, n_debts)):
        d = rng.randint(1, n_debts)
        at = START - timedelta(minutes=rng.randint(5, 60 * 24 * 8))
        out["a"].append(
            {
                "attempt_id": f"old-{n}",
                "debt_id": d,
                "phone": f"+1212{(d - 1) // 2 + 1:07d}",
                "started_at": at,
                "outcome": rng.choice(["no_answer", "busy", "machine"]),
            }
        )
    _ = created
    return out


def seed_sqlite(path: Path, data: dict[str, list[dict]]) -> None:
    db = sqlite3.connect(path)
    stamp = str(START.replace(tzinfo=None) - timedelta(days=400))

    def ts(moment: datetime) -> str:
        return str(moment.astimezone(UTC).replace(tzinfo=None))

    db.execute("PRAGMA synchronous=OFF")
    db.execute(
        "INSERT INTO dialer_campaigns (id, name, state, state_reason, settings, created_at,"
        " updated_at) VALUES (1, 'million', 'running', '', '{}', ?, ?)",
        (stamp, stamp),
    )
    db.executemany(
        "INSERT INTO contacts (id, kind, first_name, last_name, company_name, language,"
        " address_line, city, region, postal_code, country, timezone, segment, vip, notes,"
        " created_at, updated_at) VALUES (?, 'person', 'F', 'L', '', 'en', '', '', '', '',"
        " 'US', ?, '', 0, '', ?, ?)",
        ((r["id"], r["zone"], stamp, stamp) for r in data["c"]),
    )
    db.executemany(
        "INSERT INTO phones (id, e164, raw, kind, do_not_call, dnc_reason) VALUES"
        " (?, ?, ?, 'mobile', ?, '')",
        ((r["id"], r["e164"], r["e164"], int(r["dnc"])) for r in data["p"]),
    )
    db.executemany(
        "INSERT INTO contact_phones (contact_id, phone_id, is_primary, source) VALUES"
        " (?, ?, ?, 'import')",
        ((r["contact_id"], r["phone_id"], int(r["is_primary"])) for r in data["cp"]),
    )
    db.executemany(
        "INSERT INTO debts (id, contact_id, creditor, reference, principal, balance, currency,"
        " due_date, status, segment, created_at) VALUES (?, ?, ?, ?, ?, ?, 'USD', ?, ?, '', ?)",
        (
            (
                r["id"],
                r["contact_id"],
                r["creditor"],
                f"R{r['id']}",
                int(r["balance"] * 100),
                int(r["balance"] * 100),
                r["due_date"].isoformat(),
                r["status"],
                stamp,
            )
            for r in data["d"]
        ),
    )
    db.executemany(
        "INSERT INTO promises (debt_id, amount, due_on, status, created_at) VALUES"
        " (?, 1000, '2026-10-01', 'broken', ?)",
        ((r["debt_id"], stamp) for r in data["pr"]),
    )
    db.executemany(
        "INSERT INTO tasks (kind, status, contact_id, phone_e164, due_at, owner_queue, note,"
        " created_at) VALUES ('callback', 'open', ?, '', ?, '', '', ?)",
        ((r["contact_id"], ts(r["due_at"]), stamp) for r in data["t"]),
    )
    db.executemany(
        "INSERT INTO dialer_attempts (attempt_id, campaign_id, debt_id, phone, started_at,"
        " ended_at, outcome, abandoned, right_party_contact, inbound) VALUES"
        " (?, 1, ?, ?, ?, ?, ?, 0, 0, 0)",
        (
            (
                r["attempt_id"],
                r["debt_id"],
                r["phone"],
                ts(r["started_at"]),
                ts(r["started_at"] + timedelta(seconds=30)),
                r["outcome"],
            )
            for r in data["a"]
        ),
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()


async def seed_pg(db: Database, data: dict[str, list[dict]]) -> None:
    stamp = START - timedelta(days=400)
    tables = [
        (
            CampaignRow,
            [
                {
                    "id": 1,
                    "name": "million",
                    "state": "running",
                    "settings": {},
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            ],
        ),
        (
            Contact,
            [
                {
                    "id": r["id"],
                    "first_name": "F",
                    "timezone": r["zone"],
                    "country": "US",
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for r in data["c"]
            ],
        ),
        (
            Phone,
            [
                {"id": r["id"], "e164": r["e164"], "raw": r["e164"], "do_not_call": r["dnc"]}
                for r in data["p"]
            ],
        ),
        (ContactPhone, data["cp"]),
        (
            Debt,
            [
                {**r, "reference": f"R{r['id']}", "principal": r["balance"], "created_at": stamp}
                for r in data["d"]
            ],
        ),
        (
            PromiseToPay,
            [
                {
                    "debt_id": r["debt_id"],
                    "amount": Decimal(10),
                    "due_on": date(2026, 10, 1),
                    "status": "broken",
                    "created_at": stamp,
                }
                for r in data["pr"]
            ],
        ),
        (
            Task,
            [{**r, "kind": "callback", "status": "open", "created_at": stamp} for r in data["t"]],
        ),
        (
            DialAttemptRow,
            [
                {**r, "campaign_id": 1, "ended_at": r["started_at"] + timedelta(30)}
                for r in data["a"]
            ],
        ),
    ]
    for table, values in tables:
        for i in range(0, len(values), 20_000):
            async with db.session() as session:
                await session.execute(insert(table), values[i : i + 20_000])
                await session.commit()
    async with db.engine.begin() as connection:
        from sqlalchemy import text

        await connection.execute(text("ANALYZE"))


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(
    db: Database,
    kind: type[CampaignDialer],
    seconds: float,
    min_reloads: int,
    debt_ids: frozenset[int] = frozenset(),
) -> dict[str, float]:
    settings = CampaignSettings(
        name="million",
        filter=DebtFilter(debt_ids=debt_ids),
        schedule=Schedule(
            days=frozenset(range(7)),
            start=START.time().replace(hour=0),
            end=START.time().replace(hour=23, minute=59),
        ),
    )
    campaign = Campaign(1, settings, CampaignState.RUNNING)
    dialer = kind(
        campaign,
        db=db,
        bus=InProcessBus(),
        switch=None,  # type: ignore[arg-type]
        clock=BenchClock(),
        pacer=FixedPacer(),  # type: ignore[arg-type]
        tick_s=TICK_S,
        refresh_s=TICK_S * REFRESH_TICKS,
    )
    dialer._flow = RingingFlow(dialer, random.Random(1))  # type: ignore[assignment]
    stalls: list[float] = []
    ticks: list[float] = []
    cpu_ticks: list[float] = []  # the loop thread's CPU time in the tick (others' load aside)
    stop = asyncio.Event()

    async def timer() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            stalls.append((time.perf_counter() - before - 0.005) * 1000)

    fills_before = 0
    async with asyncio.TaskGroup() as calls:
        started = time.perf_counter()
        await dialer._tick(calls)  # the first fill: cold start
        cold = time.perf_counter() - started
        watch = calls.create_task(timer())
        t0 = time.perf_counter()
        reloads = 0
        last_refresh = dialer._refreshed_at
        while time.perf_counter() - t0 < seconds or reloads < min_reloads:
            begin, cpu = time.perf_counter(), time.thread_time()
            await dialer._tick(calls)
            ticks.append((time.perf_counter() - begin) * 1000)
            cpu_ticks.append((time.thread_time() - cpu) * 1000)
            if os.environ.get("BENCH_DEBUG") and cpu_ticks[-1] > 40:
                print(
                    f"  tick CPU {cpu_ticks[-1]:.0f} ms: refill {dialer._refill is not None},"
                    f" refreshed {dialer._refreshed_at != last_refresh},"
                    f" full {dialer._window_full}, window {len(dialer._leads)}"
                )
            if dialer._refreshed_at != last_refresh:
                reloads += 1
                last_refresh = dialer._refreshed_at
            await asyncio.sleep(max(0.0, TICK_S - (time.perf_counter() - begin)))
        stop.set()
        await watch
        if dialer._refill is not None:
            await dialer._refill
    _ = fills_before
    return {
        "cold_s": cold,
        "ticks": len(ticks),
        "reloads": reloads,
        "dials": dialer._flow.placed,  # type: ignore[attr-defined]
        "p50": statistics.median(ticks),
        "p99": pct(ticks, 0.99),
        "cpu_p99": pct(cpu_ticks, 0.99),
        "max": max(ticks),
        "stall_p99": pct(stalls, 0.99),
        "stall_max": max(stalls) if stalls else 0.0,
        "window": len(dialer._leads),
    }


def show(name: str, r: dict[str, float]) -> None:
    print(
        f"{name}: tick p50 {r['p50']:.2f} ms  p99 {r['p99']:.2f} ms  max {r['max']:.1f} ms"
        f" (CPU p99 {r['cpu_p99']:.2f} ms);"
        f"  loop stall p99 {r['stall_p99']:.2f} ms  max {r['stall_max']:.1f} ms;"
        f"  {r['ticks']} ticks, {r['dials']} dials, {r['reloads']} refills,"
        f" window {r['window']:,} leads, cold start {r['cold_s']:.2f} s",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--debts", type=int, default=1_000_000)
    parser.add_argument("--pg", default="", help="an empty PostgreSQL database (asyncpg URL)")
    parser.add_argument("--seconds", type=float, default=30.0, help="paged ticks to measure")
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--baseline-debts", type=int, default=100_000)
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() before measuring (no full GC pass)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    t = time.perf_counter()
    data = rows(args.debts, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.pg or f"sqlite+aiosqlite:///{Path(tmp) / 'leads.db'}"
        db = await Database.open(url)
        await db.create_schema(metadata())
        if args.pg:
            await seed_pg(db, data)
        else:
            await db.close()
            seed_sqlite(Path(tmp) / "leads.db", data)
            db = await Database.open(url)
        del data
        print(f"seeded {args.debts:,} debts into {db.dialect} in {time.perf_counter() - t:.1f} s")
        if args.gc_freeze:  # what a node may do after start-up: no full GC pass over them
            gc.collect()
            gc.freeze()
        paged = await measure(db, CampaignDialer, args.seconds, 3)
        show("paged window", paged)
        # today's path cannot load a million debts on SQLite at all: its IN lists (the
        # debtors' numbers, the callbacks, the ledger) exceed SQLite's 250,000 bound parameters
        # ("too many SQL variables"); so the baseline runs on the first --baseline-debts
        # debts (an imported list), and its reload is scaled to the campaign's size (linear:
        # every debt is read, built and sorted)
        n_base = min(args.baseline_debts, args.debts)
        full = await measure(
            db, FullReloadDialer, args.baseline_seconds, 0, frozenset(range(1, n_base + 1))
        )
        scale = args.debts / n_base
        # production reloads in one tick of 60 (tick 1 s, refresh 60 s): 1.7 % of the ticks,
        # so the reload tick is the full reload's p99; the benchmark times one reload (the
        # first, the same work as every later one) beside the ticks between reloads
        full["p99"] = max(full["p99"], full["cold_s"] * 1000)
        full["max"] = max(full["max"], full["cold_s"] * 1000)
        show(f"full reload of {n_base:,} debts", full)
        await db.close()
    print(
        f"full reload scaled to {args.debts:,} debts: tick p99 {full['p99'] * scale / 1000:.1f} s"
        f" (measured {full['p99'] / 1000:.2f} s for {n_base:,})"
    )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        json.dumps(
            {
                "debts": args.debts,
                "database": "postgresql" if args.pg else "sqlite",
                "tick_p99_ms_1m_debts": round(paged["p99"], 2),
                "tick_p50_ms_1m_debts": round(paged["p50"], 2),
                "tick_max_ms_1m_debts": round(paged["max"], 2),
                "tick_cpu_p99_ms_1m_debts": round(paged["cpu_p99"], 2),
                "loop_stall_p99_ms_1m_debts": round(paged["stall_p99"], 2),
                "cold_start_s_1m_debts": round(paged["cold_s"], 2),
                "tick_p99_ms_full_reload": round(full["p99"] * scale, 2),
                "full_reload_debts_measured": n_base,
                "tick_p99_ms_full_reload_measured": round(full["p99"], 2),
                "tick_p50_ms_full_reload": round(full["p50"], 2),
                "tick_max_ms_full_reload": round(full["max"], 2),
                "loop_stall_p99_ms_full_reload": round(full["stall_p99"], 2),
                "cold_start_s_full_reload": round(full["cold_s"], 2),
                "load_average": round(os.getloadavg()[0], 1),
                "gc_freeze": args.gc_freeze,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
