"""The `callboard` command as a user runs it: exit codes, messages, files it writes."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from callboard.cli import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "callboard.toml"
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "cb.db"}"\n'
        '[center]\ndefault_region = "GB"\n'
    )
    return path


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def test_migrate_import_and_report(config: Path, tmp_path: Path, capsys):
    assert run(config, "migrate") == 0
    assert run(config, "migrate") == 0  # idempotent
    csv_file = tmp_path / "debtors.csv"
    csv_file.write_text(
        "external_ref,first_name,last_name,phones,creditor,reference,balance,due_date\n"
        "C1,Ivan,Petrov,+79161234567,Acme,R-1,100.00,2026-01-01\n"
        "C2,Bad,Row,not-a-phone,Acme,R-2,abc,2026-01-01\n"
    )
    assert run(config, "import", "debtors", str(csv_file)) == 1
    err = capsys.readouterr().err
    assert "2 problems in 1 rows" in err
    assert "nothing imported" in err
    report = tmp_path / "debtors.csv.errors.csv"
    assert report.read_text().splitlines()[1:] == [
        "3,balance,abc,not an amount",
        "3,phones,not-a-phone,not a phone number",
    ]
    assert run(config, "import", "debtors", str(csv_file), "--skip-bad") == 0
    assert "imported 1 of 2 rows" in capsys.readouterr().out
    assert run(config, "import", "debtors", str(tmp_path / "missing.csv")) == 2
    assert "no such file" in capsys.readouterr().err


def test_bad_config_is_named(tmp_path: Path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[web]\nport = 'eighty'\n")
    assert main(["--config", str(path), "migrate"]) == 2
    assert "bad.toml: [web] port: expected a whole number" in capsys.readouterr().err


def test_backup_while_writing(config: Path, tmp_path: Path, capsys):
    assert run(config, "migrate") == 0
    assert run(config, "demo-data", "--contacts", "200") == 0
    stop = threading.Event()
    database = tmp_path / "cb.db"

    def writer() -> None:  # the product keeps writing while the backup runs
        connection = sqlite3.connect(database, timeout=10)
        n = 0
        while not stop.is_set():
            connection.execute("UPDATE contacts SET notes = ? WHERE id = 1", (f"note {n}",))
            connection.commit()
            n += 1
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert run(config, "backup", str(tmp_path / "backups")) == 0
    finally:
        stop.set()
        thread.join()
    copy = sqlite3.connect(tmp_path / "backups" / "cb.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT count(*) FROM contacts").fetchone()[0] == 200
    copy.close()
    assert not list((tmp_path / "backups").glob("*.partial"))


def test_backup_of_postgres_prints_pg_dump(tmp_path: Path, capsys):
    path = tmp_path / "pg.toml"
    path.write_text('[database]\nurl = "postgresql+asyncpg://cb:pw@db.example:5433/callboard"\n')
    assert main(["--config", str(path), "backup", "/backups/cb.dump"]) == 0
    assert (
        "pg_dump --format=custom --file=/backups/cb.dump --host=db.example --port=5433 "
        "--username=cb callboard"
    ) in capsys.readouterr().out


def test_campaign_create_validates_and_lists(config: Path, tmp_path: Path, capsys):
    assert run(config, "migrate") == 0
    sample = Path(__file__).resolve().parents[2] / "deploy" / "campaign.toml"
    assert run(config, "campaign", "create", str(sample)) == 0
    assert run(config, "campaign", "create", str(sample)) == 2
    assert "exists already" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "Bad"\n[compliance]\nmax_attempts_per_debt = "many"\n')
    assert run(config, "campaign", "create", str(bad)) == 2
    assert "max_attempts_per_debt" in capsys.readouterr().err
    assert run(config, "campaign", "list") == 0
    assert "Early arrears" in capsys.readouterr().out
