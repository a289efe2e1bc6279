"""What the IVR needs from the rest of Callboard, as small ports the session is given.

crm_core fills the directory, the callback desk and the journal (ivr.crm); routing's ACD fills
the queue hand-off (ivr.handoff). Tests use the real ones over a real SQLite database, and an
in-memory hand-off where routing is not what is being tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ivr.runtime import Outcome, Profile


@dataclass(frozen=True, slots=True)
class QueuedCall:
    """A caller the IVR hands to the ACD; the caller then waits in cb-hold."""

    linkedid: str
    channel: str  # the caller's channel, the one an agent is bridged to
    caller_number: str
    queue: str
    skills: dict[str, int]  # skill -> minimum level
    priority: int
    contact_id: int | None = None
    preferred_agent: str = ""  # the debtor's assigned operator, if any
    ivr_path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IvrRecord:
    """What the IVR did with one call, for the interaction log."""

    linkedid: str
    flow: str  # "<name>@<version>", or "" when no flow could run
    path: tuple[str, ...]
    digits: str  # keyed digits, account numbers masked
    outcome: Outcome
    contact_id: int | None = None
    queue: str = ""


class LookupFailed(Exception):
    """The directory could not answer (storage down); the caller is treated as unknown."""


class CallbackFailed(Exception):
    """The callback request could not be stored; the caller goes to a queue instead."""


class CallerDirectory(Protocol):
    async def find(self, by: str, value: str, region: str) -> Profile | None:
        """The debtor behind an account number (`by="account"`) or a calling number (`"caller"`);
        None when unknown, LookupFailed when the directory cannot answer."""
        ...


class HandoffRefused(Exception):
    """The ACD would not take the call (unknown queue, not running); the IVR tries the default."""


class QueueHandoff(Protocol):
    async def enqueue(self, call: QueuedCall) -> None:
        """Queue the call; raises HandoffRefused when the ACD cannot take it."""
        ...


class CallbackDesk(Protocol):
    async def request_callback(
        self, *, caller_number: str, contact_id: int | None, queue: str, note: str, region: str
    ) -> int:
        """Record a callback request (a Task); returns its id, raises CallbackFailed."""
        ...


class IvrJournal(Protocol):
    """Best effort: a journal that cannot write logs the record and never stops the call."""

    async def call_entered(
        self, linkedid: str, *, at: datetime, caller_number: str, caller_name: str
    ) -> None: ...

    async def record(self, record: IvrRecord, *, at: datetime) -> None: ...
