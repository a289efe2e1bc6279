"""Online backups: a consistent copy of the running SQLite database, taken page by page."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    pass


def sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        raise BackupError(f"not a SQLite database file: {url}")
    return Path(parsed.database)


def backup_sqlite(
    url: str, destination: Path, *, progress: Callable[[int, int], None] | None = None
) -> int:
    """Copies with SQLite's backup API (safe while the product writes); returns the page count.

    Blocking: run it in a thread when called from the event loop.
    """
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"database file {source_path} does not exist")
    if destination.is_dir() or not destination.suffix:  # a folder, existing or to be made
        destination = destination / source_path.name
    if destination.resolve() == source_path.resolve():
        raise BackupError("the backup destination is the database itself")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    target = sqlite3.connect(partial)
    pages = 0
    try:

        def step(status: int, remaining: int, total: int) -> None:
            nonlocal pages
            pages = total
            if progress:
                progress(total - remaining, total)

        source.backup(target, pages=1024, progress=step)
        check = target.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copy failed its integrity check: {check}")
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {source_path} failed: {exc}") from exc
    finally:
        target.close()
        source.close()
    partial.replace(destination)  # a half-written backup never carries the final name
    return pages


def pg_dump_command(url: str, destination: Path) -> str:
    parsed = make_url(url)
    parts = ["pg_dump", "--format=custom", f"--file={destination}"]
    if parsed.host:
        parts.append(f"--host={parsed.host}")
    if parsed.port:
        parts.append(f"--port={parsed.port}")
    if parsed.username:
        parts.append(f"--username={parsed.username}")
    parts.append(parsed.database or "")
    return " ".join(parts)
