"""Debtor CSV import throughput: 100,000 rows must import in under a minute.

Writes a CSV of N realistic rows (demo generator; ~25% of debtors with a second debt on another
row, numbers in national and international spellings), imports it into a fresh SQLite database
with `callboard import`'s code path, and prints rows/s. Baseline measured in the same run: the
same rows inserted one by one through the ORM (one session.add per object, one commit), on a
sample, extrapolated to N.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

# the package, not benchmarks/<name>.py, answers `import routing` and friends
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callboard.progress import ProgressBar
from callboard.schema import metadata
from crm_core.db import Database
from crm_core.demo_data import DemoGenerator
from crm_core.importer import import_debtors
from crm_core.models import Contact, ContactPhone, Debt, Phone

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HEADER = [
    "external_ref",
    "first_name",
    "last_name",
    "language",
    "address_line",
    "city",
    "country",
    "timezone",
    "phones",
    "creditor",
    "reference",
    "principal",
    "balance",
    "currency",
    "due_date",
]


def national(e164: str, country: str, rng: random.Random) -> str:
    """National spelling when the number is of the debtor's own country, as files carry them."""
    if rng.random() < 0.5:
        return e164
    if e164.startswith("+7") and country == "RU":
        return "8 " + e164[2:5] + " " + e164[5:]
    if e164.startswith("+44") and country == "GB":
        return "0" + e164[3:]
    return e164


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(5)
    gen = DemoGenerator(11, NOW, history=False)
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        while written < rows:
            batch = gen.batch(min(5_000, rows - written))
            phones = {p["id"]: p["e164"] for p in batch.phones}
            by_contact: dict[int, list[str]] = {}
            for link in batch.links:
                if link["phone_id"] in phones:
                    by_contact.setdefault(link["contact_id"], []).append(phones[link["phone_id"]])
            contacts = {c["id"]: c for c in batch.contacts}
            for debt in batch.debts:
                if written >= rows:
                    break
                c = contacts[debt["contact_id"]]
                out.writerow(
                    [
                        c["external_ref"],
                        c["first_name"],
                        c["last_name"],
                        c["language"],
                        c["address_line"],
                        c["city"],
                        c["country"],
                        c["timezone"],
                        ";".join(
                            national(n, c["country"], rng) for n in by_contact.get(c["id"], [])
                        ),
                        debt["creditor"],
                        debt["reference"],
                        debt["principal"],
                        debt["balance"],
                        debt["currency"],
                        debt["due_date"].isoformat(),
                    ]
                )
                written += 1


def remove_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


async def fresh_db(path: Path) -> Database:
    remove_database(path)
    db = await Database.open(f"sqlite+aiosqlite:///{path}")
    await db.create_schema(metadata())
    return db


async def orm_one_by_one(db: Database, csv_path: Path, sample: int) -> float:
    """The naive way: parse, then an ORM object per row, flushing to get ids."""
    from crm_core.importer import DebtorRow, load_mapping, parse_rows

    started = time.perf_counter()
    with csv_path.open(encoding="utf-8") as handle:
        async with db.session() as session:
            for i, item in enumerate(parse_rows(handle, load_mapping(None), "GB")):
                if i >= sample:
                    break
                if not isinstance(item, DebtorRow):
                    continue
                contact = Contact(
                    external_ref=f"{item.external_ref}-{i}",
                    created_at=NOW,
                    updated_at=NOW,
                    **item.contact,
                )
                session.add(contact)
                await session.flush()
                for raw, e164 in item.phones:
                    phone = Phone(e164=f"{e164}{i}", raw=raw)
                    session.add(phone)
                    await session.flush()
                    session.add(ContactPhone(contact_id=contact.id, phone_id=phone.id))
                session.add(
                    Debt(
                        contact_id=contact.id,
                        created_at=NOW,
                        **{**item.debt, "reference": f"{item.debt['reference']}-{i}"},
                    )
                )
                await session.flush()
            await session.commit()
    return sample / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 rows")
    args = parser.parse_args()
    if args.quick:
        args.rows = 10_000
    work = Path("var/bench")
    csv_path = work / f"debtors-{args.rows}.csv"
    remove_database(work / "import.db")
    write_csv(csv_path, args.rows)

    db = await fresh_db(work / "import.db")
    started = time.perf_counter()
    result = await import_debtors(
        db, csv_path, default_region="GB", now=NOW, progress=ProgressBar("import")
    )
    seconds = time.perf_counter() - started
    await db.close()
    if result.errors or not result.committed:
        raise SystemExit(f"import failed: {result.errors[:5]}")

    baseline_db = await fresh_db(work / "import-baseline.db")
    sample = min(2_000, args.rows)
    baseline_rate = await orm_one_by_one(baseline_db, csv_path, sample)
    await baseline_db.close()

    rate = args.rows / seconds
    figures = {
        "rows": args.rows,
        "import_s": round(seconds, 2),
        "rows_per_s": round(rate),
        "contacts_created": result.contacts_created,
        "debts_created": result.debts_created,
        "phones_created": result.phones_created,
        "baseline_orm_rows_per_s": round(baseline_rate),
        "speedup_vs_orm": round(rate / baseline_rate, 1),
    }
    print(
        f"imported {args.rows:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s; target: "
        f"100,000 rows in < 60 s)"
    )
    print(
        f"baseline, ORM row by row on {sample:,} rows: {baseline_rate:,.0f} rows/s "
        f"(would take {args.rows / baseline_rate:,.0f} s); ours is {rate / baseline_rate:.1f}x"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
