"""Debtor CSV import: good rows land, bad rows are reported by line and column, never lost."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm_core.importer import (
    ImportFileError,
    import_debtors,
    load_mapping,
    write_error_report,
)
from crm_core.lookup import lookup_by_phone
from crm_core.models import Contact, ContactPhone, Debt, Phone

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HEADER = "external_ref,first_name,last_name,phones,creditor,reference,balance,due_date,country\n"


def _write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "debtors.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


GOOD = (
    "C1,Ivan,Petrov,8 916 123-45-67;+7 495 123 45 67,Acme,R-1,1500.00,2026-09-01,RU\n"
    'C2,Mary,Jones,07911 123456,Acme,R-2,"1,200.50",2026-10-01,GB\n'
    "C1,Ivan,Petrov,,Beta Bank,R-3,99.99,2026-08-15,RU\n"
)
BAD = (
    "C3,Bad,Phone,12345,Acme,R-4,10,2026-09-01,GB\n"
    "C4,No,Balance,,Acme,R-5,,2026-09-01,GB\n"
    "C5,Bad,Date,,Acme,R-6,10,01/09/2026,GB\n"
    "C6,Dup,Ref,,Acme,R-1,10,2026-09-01,GB\n"
    "C7,Neg,Amount,,Acme,R-7,-5,2026-09-01,GB\n"
)


async def test_good_file_imports_and_dedups_contacts(db, tmp_path):
    result = await import_debtors(db, _write(tmp_path, GOOD), default_region="GB", now=NOW)
    assert result.committed and not result.errors
    assert (result.contacts_created, result.debts_created, result.phones_created) == (2, 3, 3)
    async with db.session() as s:
        card = await lookup_by_phone(s, "+79161234567", "GB")
        assert card is not None and card.name == "Ivan Petrov"
        assert sorted(d.reference for d in card.debts) == ["R-1", "R-3"]
        assert card.total_balance == Decimal("1599.99")
    # the same file again changes nothing but updates in place
    again = await import_debtors(db, _write(tmp_path, GOOD), default_region="GB", now=NOW)
    assert (again.contacts_created, again.contacts_updated, again.debts_updated) == (0, 2, 3)
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Contact)) == 2
        assert await s.scalar(select(func.count()).select_from(Debt)) == 3
        assert await s.scalar(select(func.count()).select_from(Phone)) == 3
        assert await s.scalar(select(func.count()).select_from(ContactPhone)) == 3


async def test_broken_rows_block_the_import_and_are_reported(db, tmp_path):
    path = _write(tmp_path, GOOD + BAD)
    result = await import_debtors(db, path, default_region="GB", now=NOW)
    assert not result.committed
    report = tmp_path / "errors.csv"
    write_error_report(result.errors, report)
    rows = list(csv.DictReader(report.open()))
    assert [(r["row"], r["column"], r["value"], r["reason"]) for r in rows] == [
        ("5", "phones", "12345", "no such number range in its country"),
        ("6", "balance", "", "required"),
        ("7", "due_date", "01/09/2026", "not a date (YYYY-MM-DD)"),
        ("8", "reference", "R-1", "duplicate reference (already on line 2)"),
        # a cell that starts like a formula is neutralised for spreadsheets
        ("9", "balance", "'-5", "must be a non-negative amount"),
    ]
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Debt)) == 0


async def test_skip_bad_imports_only_the_good_rows(db, tmp_path):
    path = _write(tmp_path, GOOD + BAD)
    result = await import_debtors(db, path, default_region="GB", now=NOW, skip_bad=True)
    assert result.committed and result.rows_imported == 3 and len(result.errors) == 5
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Debt)) == 3


async def test_ragged_rows_and_missing_columns(sqlite_db, tmp_path):
    path = _write(tmp_path, "C1,Ivan,Petrov,,Acme,R-1,10,2026-09-01,GB,EXTRA\nC2,Short\n")
    result = await import_debtors(sqlite_db, path, default_region="GB", now=NOW)
    reasons = [e.reason for e in result.errors]
    assert "more fields than the header" in reasons and "fewer fields than the header" in reasons
    with pytest.raises(ImportFileError, match="missing required columns: creditor"):
        await import_debtors(
            sqlite_db,
            _write(tmp_path, "", header="external_ref,reference\n"),
            default_region="GB",
            now=NOW,
        )
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ImportFileError, match="not UTF-8"):
        await import_debtors(sqlite_db, binary, default_region="GB", now=NOW)


async def test_column_mapping(sqlite_db, tmp_path):
    mapping_file = tmp_path / "map.toml"
    mapping_file.write_text(
        '[columns]\nexternal_ref = "Client"\nreference = "Acct No"\nbalance = "Owed"\n'
    )
    mapping = load_mapping(mapping_file)
    path = _write(
        tmp_path, "K9,Acme,A-9,10.00,2026-01-01\n", header="Client,creditor,Acct No,Owed,due_date\n"
    )
    result = await import_debtors(sqlite_db, path, default_region="GB", now=NOW, mapping=mapping)
    assert result.committed and result.debts_created == 1
    mapping_file.write_text('[columns]\nnonsense = "x"\n')
    with pytest.raises(ImportFileError, match="unknown field 'nonsense'"):
        load_mapping(mapping_file)
