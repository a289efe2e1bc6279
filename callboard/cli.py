"""The `callboard` command: one entry point for running, importing, backing up and demoing."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from callboard import users_cli
from callboard.migrate import upgrade
from callboard.progress import ProgressBar
from crm_core import logcontext
from crm_core.backup import BackupError, backup_sqlite, pg_dump_command
from crm_core.config import ConfigError, Settings, load_settings
from crm_core.db import Database
from crm_core.importer import (
    ImportFileError,
    ImportResult,
    RowError,
    import_debtors,
    load_mapping,
    write_error_report,
)


class CommandError(Exception):
    """A user-facing failure: printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callboard", description=__doc__)
    parser.add_argument("--config", type=Path, help="TOML settings file (default: none)")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("migrate", help="create or upgrade the database schema")

    importing = commands.add_parser("import", help="import data files")
    kinds = importing.add_subparsers(dest="kind", required=True)
    debtors = kinds.add_parser("debtors", help="debtors, phones and debts from a CSV file")
    debtors.add_argument("file", type=Path)
    debtors.add_argument("--mapping", type=Path, help="TOML [columns] mapping our fields to yours")
    debtors.add_argument("--region", help="country for numbers without a country code")
    debtors.add_argument(
        "--skip-bad", action="store_true", help="import the good rows even when some rows are bad"
    )
    debtors.add_argument(
        "--report", type=Path, help="where to write the error report (default: FILE.errors.csv)"
    )

    payments = kinds.add_parser(
        "payments", help="payments from a CSV file (account, amount, paid_on, reference, ...)"
    )
    payments.add_argument("file", type=Path)
    payments.add_argument("--mapping", type=Path, help="TOML [columns] mapping our fields to yours")
    payments.add_argument(
        "--skip-bad", action="store_true", help="import the good rows even when some rows are bad"
    )
    payments.add_argument(
        "--report", type=Path, help="where to write the error report (default: FILE.errors.csv)"
    )

    demo_data = commands.add_parser("demo-data", help="generate realistic demo debtors")
    demo_data.add_argument("--contacts", type=int, default=2_000)
    demo_data.add_argument("--seed", type=int, default=42)

    backup = commands.add_parser("backup", help="online backup of the database")
    backup.add_argument("destination", type=Path)

    commands.add_parser(
        "evaluate-promises",
        help="mark promises to pay and plan instalments kept or broken (the node also does it"
        " daily at [payments] evaluate_at_hour)",
    )

    campaign = commands.add_parser("campaign", help="outbound campaigns")
    campaign_commands = campaign.add_subparsers(dest="action", required=True)
    create = campaign_commands.add_parser("create", help="define a campaign from a TOML file")
    create.add_argument("file", type=Path, help="campaign settings (see deploy/campaign.toml)")
    campaign_commands.add_parser("list", help="campaigns with their state")

    transcribe = commands.add_parser("transcribe", help="transcribe recorded calls")
    transcribe.add_argument(
        "--backlog",
        action="store_true",
        required=True,
        help="every recording not transcribed yet, with worker processes",
    )

    users_cli.add_parser(commands)

    commands.add_parser("serve", help="run Callboard against your Asterisk")
    demo = commands.add_parser("demo", help="run the whole floor against the simulated PBX")
    demo.add_argument("--call-rate", type=float, default=0.25, help="inbound calls per second")
    demo.add_argument(
        "--log-file",
        type=Path,
        default=Path("var/demo/callboard.log"),
        help="the full log; the terminal shows warnings only",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.INFO
    logcontext.configure("text", level=level)
    try:
        settings = load_settings(args.config)
        logcontext.configure(settings.logging.format, level=level)
        handler = HANDLERS[args.command]
        return handler(args, settings)
    except (
        ConfigError,
        CommandError,
        ImportFileError,
        BackupError,
        users_cli.UserCommandError,
    ) as exc:
        print(f"callboard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database.url)
    print(f"database at {settings.database.url} is up to date")
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    if not args.file.exists():
        raise CommandError(f"{args.file}: no such file")
    if args.kind == "payments":
        return _import_payments(args, settings)
    region = (args.region or settings.center.default_region).upper()
    mapping = load_mapping(args.mapping)

    async def run() -> ImportResult:
        db = await Database.open(settings.database.url)
        try:
            return await import_debtors(
                db,
                args.file,
                default_region=region,
                now=datetime.now(UTC),
                mapping=mapping,
                skip_bad=args.skip_bad,
                progress=ProgressBar(f"import {args.file.name}"),
            )
        finally:
            await db.close()

    result = asyncio.run(run())
    if not _reported(args, result.errors, committed=result.committed):
        return 1
    print(
        f"imported {result.rows_imported} of {result.rows_read} rows: "
        f"{result.contacts_created} new and {result.contacts_updated} updated contacts, "
        f"{result.debts_created} new and {result.debts_updated} updated debts, "
        f"{result.phones_created} new phones"
    )
    return 0


def _reported(args: argparse.Namespace, errors: list[RowError], *, committed: bool) -> bool:
    """Write an import's row report and say what it holds; False when nothing was imported."""
    if errors:
        report = args.report or args.file.with_name(args.file.name + ".errors.csv")
        write_error_report(errors, report)
        print(
            f"{len(errors)} problems in {len({e.row for e in errors})} rows; report: {report}",
            file=sys.stderr,
        )
    if not committed:
        print(
            "nothing imported: fix the rows in the report, or run again with --skip-bad to "
            "import only the good rows",
            file=sys.stderr,
        )
    return committed


def _import_payments(args: argparse.Namespace, settings: Settings) -> int:
    from zoneinfo import ZoneInfo

    from crm_core.arrangements import CollectionRules
    from crm_core.payment_import import PaymentImportResult, import_payments
    from crm_core.payment_import import load_mapping as payment_mapping

    mapping = payment_mapping(args.mapping)
    now = datetime.now(UTC)

    async def run() -> PaymentImportResult:
        db = await Database.open(settings.database.url)
        try:
            return await import_payments(
                db,
                args.file,
                now=now,
                today=now.astimezone(ZoneInfo(settings.center.timezone)).date(),
                rules=CollectionRules.from_settings(settings),
                mapping=mapping,
                skip_bad=args.skip_bad,
                progress=ProgressBar(f"import {args.file.name}"),
            )
        finally:
            await db.close()

    result = asyncio.run(run())
    if not _reported(args, result.errors, committed=result.committed):
        return 1
    print(
        f"imported {result.rows_imported} of {result.rows_read} payments ({result.total});"
        f" {result.already_imported} already imported"
    )
    return 0


def _demo_data(args: argparse.Namespace, settings: Settings) -> int:
    from crm_core.demo_data import load_demo_data

    if args.contacts < 1:
        raise CommandError("--contacts must be at least 1")

    async def run() -> None:
        db = await Database.open(settings.database.url)
        try:
            await load_demo_data(
                db, args.contacts, seed=args.seed, progress=ProgressBar("demo debtors")
            )
        finally:
            await db.close()

    asyncio.run(run())
    print(f"added {args.contacts} demo debtors (seed {args.seed})")
    return 0


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.database.url
    if url.startswith("postgresql"):
        print(
            "PostgreSQL is backed up with its own tool; run:\n  "
            + pg_dump_command(url, args.destination)
        )
        return 0
    pages = backup_sqlite(url, args.destination, progress=ProgressBar("backup"))
    print(f"backed up {pages} pages to {args.destination}")
    return 0


def _evaluate_promises(args: argparse.Namespace, settings: Settings) -> int:
    from zoneinfo import ZoneInfo

    from crm_core.arrangements import CollectionRules, Evaluation, evaluate
    from crm_core.payments import lock_for_write

    async def run() -> Evaluation:
        db = await Database.open(settings.database.url)
        try:
            async with db.session() as session:
                await lock_for_write(session)
                now = datetime.now(UTC)
                result = await evaluate(
                    session,
                    today=now.astimezone(ZoneInfo(settings.center.timezone)).date(),
                    now=now,
                    rules=CollectionRules.from_settings(settings),
                )
                await session.commit()
                return result
        finally:
            await db.close()

    print(asyncio.run(run()).summary())
    return 0


def _campaign(args: argparse.Namespace, settings: Settings) -> int:
    import tomllib

    from sqlalchemy import select

    from dialer.campaign import CampaignError
    from dialer.campaign_store import CampaignNameTaken, create_campaign
    from dialer.tables import CampaignRow

    async def create(data: dict[str, Any]) -> int:
        db = await Database.open(settings.database.url)
        try:
            return (await create_campaign(db, data, datetime.now(UTC))).id
        finally:
            await db.close()

    async def listing() -> list[tuple[int, str, str, str]]:
        db = await Database.open(settings.database.url)
        try:
            async with db.session() as session:
                rows = await session.execute(select(CampaignRow).order_by(CampaignRow.id))
                return [(r.id, r.name, r.state, r.state_reason) for r in rows.scalars()]
        finally:
            await db.close()

    if args.action == "list":
        for campaign_id, name, state, reason in asyncio.run(listing()):
            print(f"{campaign_id:>4}  {name:<30} {state:<9} {reason}")
        return 0
    try:
        raw = tomllib.loads(args.file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CommandError(f"{args.file}: no such file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CommandError(f"{args.file}: not valid TOML: {exc}") from exc
    try:
        # the one validator of campaign definitions (dialer/settings.py define_campaign), as
        # the supervisors' editor uses it
        campaign_id = asyncio.run(create(raw))
    except CampaignNameTaken as exc:
        raise CommandError(
            f"{args.file}: a campaign named {raw.get('name')!r} exists already"
        ) from exc
    except CampaignError as exc:
        raise CommandError(f"{args.file}: {exc}") from exc
    print(
        f"campaign {campaign_id} {raw['name']!r} created (stopped); start it from the "
        "supervisor panel once `callboard serve` runs"
    )
    return 0


def _transcribe(args: argparse.Namespace, settings: Settings) -> int:
    from recordings.backlog import run_backlog
    from recordings.workers import BacklogResult

    async def run() -> BacklogResult:
        db = await Database.open(settings.database.url)
        try:
            return await run_backlog(db, settings, ProgressBar("transcribe"))
        finally:
            await db.close()

    result = asyncio.run(run())
    print(
        f"transcribed {result.done}, failed {result.failed}, retried {result.retried}, "
        f"recovered from an interrupted run {result.recovered}"
    )
    for error in result.errors:
        print(f"  {error}", file=sys.stderr)
    return 1 if result.failed else 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from callboard.node import serve

    upgrade(settings.database.url)
    asyncio.run(serve(settings))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from callboard.demo import run_demo

    if args.call_rate <= 0:
        raise CommandError("--call-rate must be above 0")
    # the terminal keeps the sign-in lines readable; everything else goes to the log file
    args.log_file.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setLevel(logging.WARNING)
    to_file = logging.FileHandler(args.log_file, encoding="utf-8")
    root.addHandler(logcontext.contextual(to_file, settings.logging.format))
    print(f"Full log: {args.log_file}")
    asyncio.run(run_demo(settings, call_rate=args.call_rate))
    return 0


HANDLERS = {
    "serve": _serve,
    "transcribe": _transcribe,
    "campaign": _campaign,
    "demo": _demo,
    "migrate": _migrate,
    "import": _import,
    "demo-data": _demo_data,
    "backup": _backup,
    "evaluate-promises": _evaluate_promises,
    "user": users_cli.run,
}

if __name__ == "__main__":
    sys.exit(main())
