"""A month of a 30-seat floor: how long each report takes, and the memory a call-record CSV
export needs streamed (reports.export over a database cursor) against the baseline of building
the whole file in memory first, measured in the same run.

    .venv/bin/python benchmarks/report_queries.py [--agents N] [--days D] [--calls-per-day C]

Seeds a fresh SQLite file (executemany on sqlite3): N operators with a shift a day of 40 state
changes each, C calls a day (80 % inbound through two queues, 20 % outbound), a promise on one
call in ten with a payment on half of them. Then each report runs over the whole month; peak
memory is Python's (tracemalloc) while the CSV is produced and drained.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from callboard.schema import metadata
from crm_core.db import Database
from reports import agents, calls, campaigns, collected, export, queues
from reports.common import ReportRange, Scope

ZONE = ZoneInfo("Europe/London")
START = date(2026, 10, 1)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def seed(path: str, agents_n: int, days: int, calls_per_day: int) -> int:
    rng = random.Random(42)
    con = sqlite3.connect(path)
    made = "2026-09-01 00:00:00"
    con.executemany(
        "INSERT INTO users (id, username, full_name, role, password_hash, endpoint, language,"
        " active, created_at) VALUES (?, ?, ?, 'operator', 'x', '', 'en', 1, ?)",
        [(i, f"op{i}", f"Operator {i}", made) for i in range(1, agents_n + 1)],
    )
    con.execute(
        "INSERT INTO contacts (id, kind, first_name, last_name, company_name, language,"
        " address_line, city, region, postal_code, country, segment, vip, notes, created_at,"
        " updated_at)"
        " VALUES (1, 'person', 'A', 'B', '', 'en', '', '', '', '', '', '', 0, '', ?, ?)",
        (made, made),
    )
    con.executemany(
        "INSERT INTO debts (id, contact_id, creditor, reference, principal, balance, currency,"
        " due_date, status, segment, created_at) VALUES (?, 1, ?, ?, 100000, 100000, 'GBP',"
        " '2026-01-01', 'active', '', ?)",
        [(i, f"Creditor {i % 5}", f"R-{i}", made) for i in range(1, 1001)],
    )
    states, interactions, promises, payments = [], [], [], []
    states_cycle = ["ready", "reserved", "ringing", "on_call", "wrap_up"]
    call_id = 0
    for day in range(days):
        base = datetime.combine(START + timedelta(days=day), datetime.min.time(), ZONE)
        for agent in range(1, agents_n + 1):
            at = base + timedelta(hours=8, minutes=rng.randint(0, 30))
            for i in range(40):
                state = "paused" if i % 13 == 12 else states_cycle[i % 5]
                states.append(
                    (str(agent), state, "", "break" if state == "paused" else None, _iso(at))
                )
                at += timedelta(seconds=rng.randint(20, 600))
            states.append((str(agent), "logged_out", "", None, _iso(at)))
        for _ in range(calls_per_day):
            call_id += 1
            started = base + timedelta(seconds=rng.randint(8 * 3600, 20 * 3600))
            inbound = rng.random() < 0.8
            answered = rng.random() < 0.9
            connected = started + timedelta(seconds=rng.randint(5, 120)) if answered else None
            ended = (connected or started) + timedelta(seconds=rng.randint(3, 600))
            interactions.append(
                (
                    call_id,
                    f"call-{call_id}",
                    "inbound" if inbound else "outbound",
                    rng.choice(("billing", "general")) if inbound else "",
                    rng.randint(1, agents_n) if answered else None,
                    _iso(started),
                    _iso(started),
                    _iso(connected) if connected else None,
                    _iso(ended),
                    f"+4479{call_id:08d}",
                )
            )
            if answered and rng.random() < 0.1:
                debt = rng.randint(1, 1000)
                promises.append(
                    (debt, 5000, (started.date() + timedelta(days=7)).isoformat(),
                     rng.choice(("open", "kept", "broken")), _iso(started), interactions[-1][4],
                     call_id)
                )  # fmt: skip
                if rng.random() < 0.5:
                    paid_on = (started.date() + timedelta(days=3)).isoformat()
                    payments.append((debt, 5000, paid_on))
    con.executemany(
        "INSERT INTO agent_state_log (agent_id, state, previous, reason, at)"
        " VALUES (?, ?, ?, ?, ?)",
        states,
    )
    con.executemany(
        "INSERT INTO interactions (id, kind, linkedid, direction, queue, agent_id, started_at,"
        " answered_at, connected_at, ended_at, caller_number, caller_name, campaign,"
        " hangup_cause_text, end_reason, disposition, notes, recording_ref, ivr_path,"
        " ivr_digits, transitions) VALUES (?, 'call', ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', '',"
        " 'hangup', '', '', '', '[]', '', '[]')",
        [(i, lk, d, q, a, s, ans, c, e, n) for i, lk, d, q, a, s, ans, c, e, n in interactions],
    )
    con.executemany(
        "INSERT INTO promises (debt_id, amount, due_on, status, created_at, created_by,"
        " interaction_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        promises,
    )
    con.executemany(
        "INSERT INTO payments (debt_id, amount, paid_on, method, reference, source)"
        " VALUES (?, ?, ?, 'card', '', 'import')",
        payments,
    )
    con.commit()
    con.close()
    return len(states)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=30)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--calls-per-day", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "reports.db")
        db = await Database.open(f"sqlite+aiosqlite:///{path}")
        await db.create_schema(metadata())
        await db.close()
        t = time.perf_counter()
        state_rows = seed(path, args.agents, args.days, args.calls_per_day)
        calls_n = args.days * args.calls_per_day
        print(
            f"seeded {args.agents} operators, {state_rows:,} state changes and {calls_n:,} calls"
            f" in {time.perf_counter() - t:.1f} s"
        )
        db = await Database.open(f"sqlite+aiosqlite:///{path}")
        rng = ReportRange(START, START + timedelta(days=args.days - 1), ZONE)
        now = datetime(2027, 1, 1, tzinfo=UTC)
        timings: dict[str, float] = {}
        builds = {
            "agents": lambda s: agents.agent_performance(s, rng, Scope(None), now=now),
            "agents_by_day": lambda s: agents.agent_performance(
                s, rng, Scope(None), now=now, breakdown="day"
            ),
            "queues_30min": lambda s: queues.queue_report(s, rng, breakdown="interval"),
            "campaigns": lambda s: campaigns.campaign_report(s, rng),
            "collections": lambda s: collected.collections_report(s, rng, Scope(None)),
            "calls_page_1": lambda s: calls.call_page(s, rng, Scope(None)),
        }
        for name, build in builds.items():
            t = time.perf_counter()
            async with db.session() as session:
                await build(session)
            timings[name] = time.perf_counter() - t
            print(f"{name:>14}: {timings[name] * 1000:8.0f} ms")

        async def streamed() -> int:
            size = 0
            async with db.session() as session:
                async for chunk in export.calls_csv(calls.stream_calls(session, rng, Scope(None))):
                    size += len(chunk)
            return size

        async def buffered() -> int:  # the baseline: every row read, then the file built
            async with db.session() as session:
                rows = [row async for row in calls.stream_calls(session, rng, Scope(None))]

            async def again():
                for row in rows:
                    yield row

            return len(b"".join([chunk async for chunk in export.calls_csv(again())]))

        peaks = {}
        for name, run in (("streamed", streamed), ("buffered", buffered)):
            tracemalloc.start()
            t = time.perf_counter()
            size = await run()
            elapsed = time.perf_counter() - t
            peaks[name] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(
                f"call-record CSV {name}: {size / 1e6:.1f} MB in {elapsed:.1f} s,"
                f" peak Python memory {peaks[name] / 1e6:.1f} MB"
            )
        await db.close()
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(
            json.dumps(
                {
                    "benchmark": "reports",
                    "calls": calls_n,
                    "state_changes": state_rows,
                    "ms": {k: round(v * 1000) for k, v in timings.items()},
                    "csv_peak_mb_streamed": round(peaks["streamed"] / 1e6, 1),
                    "csv_peak_mb_buffered": round(peaks["buffered"] / 1e6, 1),
                }
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
