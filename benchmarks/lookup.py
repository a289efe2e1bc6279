"""Caller lookup on a large SQLite database: indexed number query and the whole card.

Builds a database of N demo debtors (default 1,000,000; ~1.3 phones each), then times 10,000
random lookups by raw number (a mix of hits, in the spellings callers' numbers arrive in, and
misses). The baseline printed beside it is the same number query without the e164 index (a scan),
measured on a sample of the same numbers in the same run.
Targets: number query p99 <= 2 ms, whole card p99 <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, text

# the package, not benchmarks/<name>.py, answers `import routing` and friends
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.figures import percentile
from callboard.progress import ProgressBar
from callboard.schema import metadata
from crm_core.db import Database
from crm_core.demo_data import load_demo_data
from crm_core.lookup import contacts_for_number, lookup_by_phone
from crm_core.models import Phone
from crm_core.phones import try_normalise

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def spellings(e164: str, rng: random.Random) -> str:
    """How a number reaches us: E.164, national with a trunk prefix, international with 00."""
    style = rng.random()
    if style < 0.4:
        return e164
    if style < 0.7:
        return "00" + e164[1:]
    if e164.startswith("+7"):
        return "8" + e164[2:]
    if e164.startswith("+44"):
        return "0" + e164[3:]
    return e164  # North American numbers arrive in E.164 from the trunk


def remove_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--db", type=Path, default=Path("var/bench/lookup.db"))
    parser.add_argument("--quick", action="store_true", help="50,000 contacts, 2,000 lookups")
    args = parser.parse_args()
    if args.quick:
        args.contacts, args.lookups = 50_000, 2_000
        args.db = args.db.with_name("lookup-quick.db")
    remove_database(args.db)

    db = await Database.open(f"sqlite+aiosqlite:///{args.db}")
    await db.create_schema(metadata())
    started = time.perf_counter()
    await load_demo_data(
        db, args.contacts, seed=1, now=NOW, history=False, progress=ProgressBar("load")
    )
    load_s = time.perf_counter() - started
    async with db.session() as session:
        await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        await session.execute(text("ANALYZE"))
        numbers = [row[0] for row in await session.execute(select(Phone.e164))]
    size_mib = args.db.stat().st_size / 2**20
    print(
        f"database: {args.contacts:,} contacts, {len(numbers):,} phones, "
        f"{size_mib:,.0f} MiB, loaded in {load_s:,.1f} s ({args.contacts / load_s:,.0f} "
        f"contacts/s)"
    )

    rng = random.Random(7)
    queries = []
    for _ in range(args.lookups):
        if rng.random() < 0.8:
            queries.append(spellings(rng.choice(numbers), rng))
        else:  # a caller we do not know: a valid number that is not in the database
            queries.append("+44 7700 9" + f"{rng.randrange(10**5):05d}")
    number_ms, card_ms = [], []
    hits = 0
    async with db.session() as session:
        for raw in queries:
            t0 = time.perf_counter()
            e164 = try_normalise(raw, "GB")
            if e164 is not None:
                await contacts_for_number(db, e164)
            number_ms.append((time.perf_counter() - t0) * 1000)
        for raw in queries:
            t0 = time.perf_counter()
            card = await lookup_by_phone(db, raw, "GB", today=NOW.date())
            card_ms.append((time.perf_counter() - t0) * 1000)
            hits += card is not None

    # Baseline: the same query with the index unusable (what a naive schema would do).
    baseline_ms = []
    sample = queries[: max(20, args.lookups // 500)]
    async with db.session() as session:
        for raw in sample:
            e164 = try_normalise(raw, "GB") or ""
            t0 = time.perf_counter()
            await session.execute(
                text(
                    "SELECT cp.contact_id FROM phones p NOT INDEXED JOIN contact_phones cp "
                    "ON cp.phone_id = p.id WHERE p.e164 = :n"
                ),
                {"n": e164},
            )
            baseline_ms.append((time.perf_counter() - t0) * 1000)
    await db.close()

    figures = {
        "contacts": args.contacts,
        "phones": len(numbers),
        "db_mib": round(size_mib, 1),
        "load_s": round(load_s, 1),
        "lookups": len(queries),
        "hit_rate": round(hits / len(queries), 3),
        "number_p50_ms": round(statistics.median(number_ms), 3),
        "number_p99_ms": round(percentile(number_ms, 99), 3),
        "card_p50_ms": round(statistics.median(card_ms), 3),
        "card_p99_ms": round(percentile(card_ms, 99), 3),
        "baseline_scan_p50_ms": round(statistics.median(baseline_ms), 3),
    }
    print(
        f"number query: p50 {figures['number_p50_ms']} ms, p99 {figures['number_p99_ms']} ms "
        f"(target p99 <= 2 ms)"
    )
    print(
        f"whole card:   p50 {figures['card_p50_ms']} ms, p99 {figures['card_p99_ms']} ms "
        f"(target p99 <= 10 ms); {figures['hit_rate']:.0%} of lookups found a debtor"
    )
    print(
        f"baseline, same query without the index (table scan): p50 "
        f"{figures['baseline_scan_p50_ms']} ms over {len(sample)} lookups"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
