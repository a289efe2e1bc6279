"""CSV of every report, formula-neutralised (crm_core.csv_safe), produced a few rows at a time so
the edge streams it: call detail records are read from a database cursor and written as they
come, never held whole in memory.

Seconds and amounts are written as numbers, rates as fractions (0.25), so a spreadsheet sums
them; nested figures (pauses by reason, outcomes by reason) become one column each.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

from crm_core import csv_safe
from reports.calls import COLUMNS as CALL_COLUMNS
from reports.common import Report

CHUNK_ROWS = 200
NESTED = {"paused_by_reason": "paused_s:", "outcomes": "outcome:"}


class _Lines:
    """A csv_safe writer into a buffer that is handed out and emptied."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv_safe.writer(self._buffer, lineterminator="\r\n")

    def write(self, row: list[Any]) -> None:
        self._writer.writerow(row)

    def take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode("utf-8")


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return round(value, 6)
    return value


def report_csv(report: Report) -> Iterator[bytes]:
    """The report's rows then its totals, one chunk per CHUNK_ROWS rows."""
    nested: list[tuple[str, str]] = []
    for key in NESTED:
        names = sorted({n for row in (*report.rows, report.totals) for n in row.get(key, {})})
        nested += [(key, name) for name in names]
    header = [c.label for c in report.columns]
    header += [NESTED[key] + name for key, name in nested]
    lines = _Lines()
    lines.write(header)
    for i, row in enumerate([*report.rows, report.totals], start=1):
        cells = [_cell(row.get(c.key)) for c in report.columns]
        cells += [_cell(row.get(key, {}).get(name, 0)) for key, name in nested]
        lines.write(cells)
        if i % CHUNK_ROWS == 0:
            yield lines.take()
    yield lines.take()


async def calls_csv(rows: AsyncIterable[dict[str, Any]]) -> AsyncIterator[bytes]:
    lines = _Lines()
    lines.write([c.label for c in CALL_COLUMNS])
    count = 0
    async for row in rows:
        lines.write([_cell(row.get(c.key)) for c in CALL_COLUMNS])
        count += 1
        if count % CHUNK_ROWS == 0:
            yield lines.take()
    yield lines.take()
