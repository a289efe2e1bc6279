"""The client card: everything an operator needs on screen before the debtor says a word."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any


@dataclass(frozen=True, slots=True)
class CardPhone:
    e164: str
    kind: str
    do_not_call: bool
    dnc_reason: str


@dataclass(frozen=True, slots=True)
class CardDebt:
    id: int
    creditor: str
    reference: str
    principal: Decimal
    balance: Decimal
    currency: str
    due_date: date
    days_past_due: int
    status: str


@dataclass(frozen=True, slots=True)
class CardPayment:
    debt_id: int
    amount: Decimal
    paid_on: date
    method: str
    reference: str = ""


@dataclass(frozen=True, slots=True)
class CardInstalment:
    seq: int
    amount: Decimal
    due_on: date
    status: str  # open, kept, broken, cancelled
    paid: Decimal


@dataclass(frozen=True, slots=True)
class CardPlan:
    """A payment plan (crm_core.arrangements) with each instalment's state."""

    id: int
    debt_id: int
    status: str  # active, completed, broken
    total: Decimal
    created_at: datetime
    instalments: tuple[CardInstalment, ...] = ()


@dataclass(frozen=True, slots=True)
class CardPromise:
    id: int
    debt_id: int
    amount: Decimal
    due_on: date
    status: str


@dataclass(frozen=True, slots=True)
class CardInteraction:
    id: int
    kind: str
    direction: str
    started_at: datetime
    ended_at: datetime | None
    agent_id: int | None
    disposition: str
    notes: str
    recording_ref: str


@dataclass(frozen=True, slots=True)
class CardTask:
    id: int
    kind: str
    due_at: datetime
    owner_agent_id: int | None
    owner_queue: str
    note: str


@dataclass(frozen=True, slots=True)
class Card:
    contact_id: int
    name: str
    kind: str
    external_ref: str | None
    language: str
    address: str
    timezone: str | None
    segment: str
    vip: bool
    notes: str
    matched_number: str | None  # the E.164 number the caller was found by, if any
    matched_by: str  # "phone", "account", "contact"
    phones: tuple[CardPhone, ...] = ()
    debts: tuple[CardDebt, ...] = ()
    payments: tuple[CardPayment, ...] = ()
    promises: tuple[CardPromise, ...] = ()
    plans: tuple[CardPlan, ...] = ()
    interactions: tuple[CardInteraction, ...] = ()
    tasks: tuple[CardTask, ...] = ()
    other_contacts: tuple[tuple[int, str], ...] = field(default=())  # same number, other people

    @property
    def total_balance(self) -> Decimal:
        return sum((d.balance for d in self.debts), Decimal("0.00"))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (amounts as strings, times as ISO 8601) for the bus and the web."""
        data: dict[str, Any] = _plain(asdict(self))
        data["total_balance"] = str(self.total_balance)
        return data


def public_recording_ref(ref: str) -> str:
    """What clients may see of an interaction's recording reference: the path relative to the
    recordings directory, never an absolute server path (an absolute or climbing reference, as
    Asterisk's own MixMonitor file names are, is cut to its file name)."""
    if not ref:
        return ""
    path = PurePosixPath(ref.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or ":" in ref:
        return path.name
    return str(path)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
