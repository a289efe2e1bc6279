"""Payment CSV import: validated whole first, bad rows reported by line and column (and safe to
open in a spreadsheet), idempotent by payment reference, balances and plans updated."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callboard.cli import main
from crm_core.arrangements import CollectionRules
from crm_core.importer import ImportFileError, write_error_report
from crm_core.models import Contact, Debt, Payment
from crm_core.payment_import import import_payments, load_mapping

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
RULES = CollectionRules()
HEADER = "account,creditor,amount,paid_on,method,reference\n"


async def _debts(db) -> None:
    async with db.session() as s:
        contact = Contact(first_name="Ivan", last_name="Petrov", created_at=NOW, updated_at=NOW)
        s.add(contact)
        await s.flush()
        for creditor, reference, balance in (
            ("Acme", "R-1", "300.00"),
            ("Acme", "R-2", "50.00"),
            ("Beta", "R-2", "70.00"),
        ):
            s.add(
                Debt(
                    contact_id=contact.id,
                    creditor=creditor,
                    reference=reference,
                    principal=Decimal(balance),
                    balance=Decimal(balance),
                    currency="GBP",
                    due_date=date(2026, 8, 1),
                    created_at=NOW,
                )
            )
        await s.commit()


def _file(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "payments.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


GOOD = 'R-1,,100.00,2026-11-20,bank_transfer,TX-1\nR-2,Acme,"1,5",2026-11-21,card,TX-2\n'
BAD = (
    "R-1,,1e400,2026-11-20,card,TX-3\n"  # 4: huge
    "R-1,,ten,2026-11-20,card,TX-4\n"  # 5: not an amount
    "R-1,,99999999999999999999,2026-11-20,card,TX-5\n"  # 6: huge
    "R-404,,1.00,2026-11-20,card,TX-6\n"  # 7: no such debt
    "R-2,,1.00,2026-11-20,card,TX-7\n"  # 8: two creditors
    "R-1,,10.00,2026-12-24,card,TX-8\n"  # 9: future date
    "R-1,,10.00,2026-11-20,card,TX-1\n"  # 10: duplicate reference in the file
    "R-1,,10.00,2026-11-20,card,\n"  # 11: no reference
    'R-1,,10.00,2026-11-20,gold,=HYPERLINK("http://x")\n'  # 12: bad method
    "R-1,,250.00,2026-11-20,card,TX-9\n"  # 13: more than what is left (300 - 100)
    "R-1,,-5,2026-11-20,card,TX-10\n"  # 14: negative
)


async def test_a_file_with_bad_rows_imports_nothing_and_reports_each(sqlite_db, tmp_path):
    await _debts(sqlite_db)
    path = _file(tmp_path, GOOD + BAD)
    result = await import_payments(sqlite_db, path, now=NOW, today=TODAY, rules=RULES)
    assert not result.committed and result.rows_read == 13
    by_row = {(e.row, e.column): e.reason for e in result.errors}
    assert by_row[(4, "amount")] == "not an amount"
    assert by_row[(5, "amount")] == "not an amount"
    assert by_row[(6, "amount")] == "too large an amount"
    assert by_row[(7, "account")] == "no such debt"
    assert "give the creditor" in by_row[(8, "account")]
    assert by_row[(9, "paid_on")] == "the date is in the future"
    assert "duplicate reference" in by_row[(10, "reference")]
    assert by_row[(11, "reference")] == "required"
    assert by_row[(12, "method")].startswith("one of")
    assert "more than the balance 200.00" in by_row[(13, "amount")]
    assert by_row[(14, "amount")] == "not an amount"
    async with sqlite_db.session() as s:
        assert await s.scalar(select(func.count(Payment.id))) == 0
    report = tmp_path / "payments.csv.errors.csv"
    write_error_report(result.errors, report)
    rows = list(csv.reader(report.open(encoding="utf-8")))
    assert rows[0] == ["row", "column", "value", "reason"]
    # a formula from the file is shown, never run, when the report is opened in a spreadsheet
    assert ["12", "reference", '\'=HYPERLINK("http://x")', "required"] not in rows
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert ["14", "amount", "'-5", "not an amount"] in rows


async def test_skip_bad_imports_the_good_rows_and_a_second_run_adds_nothing(db, tmp_path):
    await _debts(db)
    path = _file(tmp_path, GOOD + BAD)
    result = await import_payments(db, path, now=NOW, today=TODAY, rules=RULES, skip_bad=True)
    assert result.committed and result.rows_imported == 2 and result.total == Decimal("101.50")
    again = await import_payments(db, _file(tmp_path, GOOD), now=NOW, today=TODAY, rules=RULES)
    assert again.committed and again.rows_imported == 0 and again.already_imported == 2
    async with db.session() as s:
        balances = dict(
            (r.reference + "/" + r.creditor, r.balance) for r in await s.scalars(select(Debt))
        )
        assert balances == {
            "R-1/Acme": Decimal("200.00"),
            "R-2/Acme": Decimal("48.50"),
            "R-2/Beta": Decimal("70.00"),
        }
        sources = [p.source for p in await s.scalars(select(Payment))]
        assert sources == ["import", "import"]
    # the same reference for another payment is an error, not a silent skip
    clash = _file(tmp_path, "R-1,,5.00,2026-11-20,card,TX-1\n")
    refused = await import_payments(db, clash, now=NOW, today=TODAY, rules=RULES)
    assert [e.reason for e in refused.errors] == ["reference already used by another payment"]


async def test_missing_columns_and_mappings(sqlite_db, tmp_path):
    with pytest.raises(ImportFileError, match="missing required columns: reference"):
        await import_payments(
            sqlite_db,
            _file(tmp_path, "R-1,1,2026-11-20\n", "account,amount,paid_on\n"),
            now=NOW,
            today=TODAY,
            rules=RULES,
        )
    mapping_file = tmp_path / "map.toml"
    mapping_file.write_text('[columns]\naccount = "Account No"\nreference = "Bank ref"\n')
    mapping = load_mapping(mapping_file)
    await _debts(sqlite_db)
    path = _file(tmp_path, "R-1,10.00,2026-11-20,B-1\n", "Account No,amount,paid_on,Bank ref\n")
    result = await import_payments(
        sqlite_db, path, now=NOW, today=TODAY, rules=RULES, mapping=mapping
    )
    assert result.committed and result.rows_imported == 1


def test_the_command_writes_the_report_and_exits_1(tmp_path, capsys):
    import asyncio

    from callboard.migrate import upgrade
    from crm_core.db import Database

    url = f"sqlite+aiosqlite:///{tmp_path / 'cb.db'}"
    upgrade(url)

    async def seed() -> None:
        db = await Database.open(url)
        try:
            await _debts(db)
        finally:
            await db.close()

    asyncio.run(seed())
    config = tmp_path / "cb.toml"
    config.write_text(f'[database]\nurl = "{url}"\n')
    path = _file(tmp_path, "R-1,,12.00,2026-11-20,card,TX-1\nR-1,,@SUM(1),2026-11-20,card,TX-2\n")
    assert main(["--config", str(config), "import", "payments", str(path)]) == 1
    report = path.with_name("payments.csv.errors.csv")
    assert "'@SUM(1)" in report.read_text(encoding="utf-8")
    assert main(["--config", str(config), "import", "payments", str(path), "--skip-bad"]) == 0
    assert "imported 1 of 2 payments" in capsys.readouterr().out
    assert main(["--config", str(config), "evaluate-promises"]) == 0
    assert "instalments kept" in capsys.readouterr().out
