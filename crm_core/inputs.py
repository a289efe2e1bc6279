"""Typed values from untrusted input (HTTP requests, imported files), with bounds.

Every id, whole number, amount and date a client or a file gives goes through one of these, so
that hostile text never reaches the database or the calendar arithmetic: "NaN" or "Infinity"
amounts, `1e30`, 5000-digit numbers, non-ASCII digits (`²`, Arabic-Indic digits, which
Python's `int()` accepts), year-9999 dates (which overflow when moved between time zones), and
ids too large for the database's integer columns. A refusal is an `InputError` that names the
field; the web edge answers it with a 4xx, the importer reports it as a row error.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL
MAX_AMOUNT = Decimal("999999999999.99")  # money columns are NUMERIC(14, 2)
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)  # far beyond any promise or callback; well inside datetime's range

_DIGITS = re.compile(r"[0-9]{1,18}")
_SIGNED = re.compile(r"-?[0-9]{1,18}")
_AMOUNT = re.compile(r"-?[0-9]{1,40}(?:\.[0-9]{1,40})?")  # then bounded by value
_ISO_TEXT = re.compile(r"[0-9T:.+\- ]{8,40}")  # what an ISO date or date-time may contain


class InputError(ValueError):
    """A value refused, with the field that held it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def ident(value: Any, field: str) -> int:
    """A database id: a whole number 1..MAX_ID, given as a number or as ASCII digits."""
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if not _is_int(value) or not 1 <= value <= MAX_ID:
        raise InputError(field, f"an id: a whole number from 1 to {MAX_ID}")
    return int(value)


def whole(value: Any, field: str, *, low: int, high: int) -> int:
    """A whole number within [low, high], given as a number or as ASCII digits."""
    if isinstance(value, str) and _SIGNED.fullmatch(value.strip()):
        value = int(value.strip())
    if not _is_int(value) or not low <= value <= high:
        raise InputError(field, f"a whole number from {low} to {high}")
    return int(value)


def amount(
    value: Any,
    field: str,
    *,
    low: Decimal = Decimal("-999999999999.99"),
    high: Decimal = MAX_AMOUNT,
    places: int = 2,
) -> Decimal:
    """Money: plain decimal notation (ASCII digits, an optional sign and point; no exponent,
    no NaN or Infinity, no grouping), rounded to `places`, within [low, high]."""
    if _is_int(value):
        value = str(value)
    elif isinstance(value, float):
        value = repr(value)
    elif isinstance(value, Decimal):
        value = str(value)
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value.strip()):
        raise InputError(field, "an amount such as 125.50 (digits, an optional point)")
    number = Decimal(value.strip())  # exact: the pattern admits plain digits only
    if not low <= number <= high:
        raise InputError(field, f"an amount from {low} to {high}")
    try:
        return number.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # cannot happen within the bounds; refuse rather than crash
        raise InputError(field, "an amount such as 125.50") from None


def day(value: Any, field: str, *, earliest: date = EARLIEST, latest: date = LATEST) -> date:
    """A calendar date YYYY-MM-DD within [earliest, latest]."""
    if isinstance(value, str) and _ISO_TEXT.fullmatch(value.strip()):
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if earliest <= parsed <= latest:
                return parsed
            raise InputError(field, f"a date from {earliest} to {latest}")
    raise InputError(field, "a date YYYY-MM-DD")


def moment(value: Any, field: str, *, earliest: date = EARLIEST, latest: date = LATEST) -> datetime:
    """An ISO date and time (with or without a zone, as given) whose date lies within
    [earliest, latest]."""
    if isinstance(value, str) and _ISO_TEXT.fullmatch(value.strip()):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if earliest <= parsed.date() <= latest:
                return parsed
            raise InputError(field, f"a date and time from {earliest} to {latest}")
    raise InputError(field, "a date and time YYYY-MM-DDTHH:MM")
