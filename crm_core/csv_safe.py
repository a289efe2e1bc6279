"""CSV the product writes, safe to open in a spreadsheet (CSV/formula injection).

A spreadsheet evaluates a cell that starts with `=`, `+`, `-` or `@` (and their full-width
forms `＝＋－＠`), and some also one that starts with a tab, carriage return or line feed:
`=HYPERLINK(...)` or `+cmd|' /C calc'!A0` in a debtor's name would run when a supervisor
opens an error report or an export. Every CSV writer of the product (the debtor import's error
report, the do-not-call report and export) writes its cells through `cell` (or `writer`), which
puts an apostrophe before such text: the spreadsheet shows the text and runs nothing.

Decision on `+` before phone numbers: the `+` of an E.164 number is data and stays in stored
fields (and in the API, the desk, the AMI). In CSV output it is neutralised like any other
`+`, because a spreadsheet reads `+447911123456` as a formula too (and shows 4.47911E+11); with
the apostrophe it shows `+447911123456` as text, which is also what a person wants to see.
Numbers given as numbers (int, Decimal) are written as they are. Our own CSV readers take the
apostrophe off again (`unneutralise`), so an export can be imported back unchanged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def cell(value: object) -> Any:
    """The cell as a spreadsheet may safely read it: numbers as they are, None as empty, text
    starting like a formula with an apostrophe before it."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    if text and text[0] in FORMULA_STARTS:
        return "'" + text
    return text


def unneutralise(text: str) -> str:
    """A cell read back from a CSV we wrote: the apostrophe `cell` put before it comes off."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_STARTS:
        return text[1:]
    return text


class SafeWriter:
    """`csv.writer` whose every cell goes through `cell`."""

    def __init__(self, handle: Any, **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[object]) -> Any:
        return self._writer.writerow([cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(handle: Any, **options: Any) -> SafeWriter:
    return SafeWriter(handle, **options)
