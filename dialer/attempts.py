"""Dial attempts as plain data, and the questions the compliance rules ask about their history.

The ledger (dialer/ledger.py) stores attempts; this module is what the rules read, with no
storage attached, so eligibility is decided from a snapshot that tests can build by hand.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


class AttemptOutcome(enum.StrEnum):
    """How one dial attempt ended, in the words of a dialer report."""

    HUMAN = "human"  # a person answered (abandoned or connected: see Attempt.abandoned)
    MACHINE = "machine"  # answering machine detected by AMD
    NO_ANSWER = "no_answer"  # rang until the originate timeout (OriginateResponse Reason 3)
    BUSY = "busy"  # Reason 5 / cause 17
    CONGESTION = "congestion"  # Reason 8 / cause 34: network or trunk congestion
    REJECTED = "rejected"  # the far end hung up before answering (Reason 0 after ringing)
    HUNG_UP = "hung_up"  # answered, then hung up before answering-machine detection finished
    INVALID_NUMBER = "invalid_number"  # the network refused the number (cause 1/28 or bad dial)
    FAILED = "failed"  # our side failed after the dial may have left: outcome lost, our bug
    # the call never left the PBX: Originate refused or failed with no channel (no such
    # extension), or the campaign paused before it was sent. Recorded for the report, but not
    # a call attempt on the debtor: the compliance counts and the retry plan leave it out.
    NOT_DIALLED = "not_dialled"

    @property
    def answered(self) -> bool:
        return self in (AttemptOutcome.HUMAN, AttemptOutcome.MACHINE, AttemptOutcome.HUNG_UP)

    @property
    def counts_as_attempt(self) -> bool:
        """Whether the attempt caps (7 in 7 days, per number per day) count it."""
        return self is not AttemptOutcome.NOT_DIALLED


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One dial attempt. `outcome` is None while the call is still in progress."""

    attempt_id: str  # the Originate ChannelId: known before any AMI event arrives
    campaign_id: int
    debt_id: int
    phone: str  # E.164
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: AttemptOutcome | None = None
    abandoned: bool = False  # a person answered and no operator took the call within 2 s
    right_party_contact: bool = False  # the operator talked with the debtor about this debt
    agent_id: str | None = None
    call_id: str | None = None  # the call's Linkedid (a campaign attempt: its own id)
    # a conversation on a call the debtor made (or any call that was not our dial): on record
    # for the quiet week after a conversation, but not a dial attempt for the caps
    inbound: bool = False

    @property
    def settled_at(self) -> datetime:
        """When the attempt's consequences start to count: its end, or its start while live."""
        return self.ended_at or self.started_at

    @property
    def counted(self) -> bool:
        """A call attempt on the debtor for the caps; one still in progress counts."""
        return self.outcome is None or self.outcome.counts_as_attempt


class AttemptHistory:
    """Attempts indexed by debt and by phone, answering the compliance rules' questions."""

    def __init__(self, attempts: Iterable[Attempt] = ()) -> None:
        self._by_debt: dict[int, list[Attempt]] = {}
        self._by_phone: dict[str, list[Attempt]] = {}
        for attempt in attempts:
            self.add(attempt)

    def add(self, attempt: Attempt) -> None:
        """Insert or replace (same attempt_id) an attempt, keeping start-time order."""
        _insert(self._by_debt.setdefault(attempt.debt_id, []), attempt)
        _insert(self._by_phone.setdefault(attempt.phone, []), attempt)

    def for_debt(self, debt_id: int) -> list[Attempt]:
        return list(self._by_debt.get(debt_id, ()))

    def for_phone(self, phone: str) -> list[Attempt]:
        return list(self._by_phone.get(phone, ()))

    def discard(self, attempt_id: str, debt_id: int, phone: str) -> None:
        """Forget an attempt that was never placed (nothing in the ledger)."""
        for items in (self._by_debt.get(debt_id, []), self._by_phone.get(phone, [])):
            items[:] = [a for a in items if a.attempt_id != attempt_id]

    def debt_starts_since(self, debt_id: int, since: datetime, until: datetime) -> list[datetime]:
        """Start times of attempts on a debt in the half-open window (since, until]; dials
        that never left the PBX (`not_dialled`) are not attempts on the debtor."""
        return [
            a.started_at
            for a in self._by_debt.get(debt_id, ())
            if since < a.started_at <= until and not a.inbound and a.counted
        ]

    def phone_starts_since(self, phone: str, since: datetime, until: datetime) -> list[datetime]:
        return [
            a.started_at
            for a in self._by_phone.get(phone, ())
            if since < a.started_at <= until and not a.inbound and a.counted
        ]

    def last_conversation(self, debt_id: int, until: datetime) -> datetime | None:
        """When the latest right-party conversation about the debt settled (ended)."""
        times = [
            a.settled_at
            for a in self._by_debt.get(debt_id, ())
            if a.right_party_contact and a.started_at <= until
        ]
        return max(times, default=None)

    def last_abandoned(self, phone: str, until: datetime) -> datetime | None:
        times = [
            a.settled_at
            for a in self._by_phone.get(phone, ())
            if a.abandoned and a.started_at <= until
        ]
        return max(times, default=None)

    def __len__(self) -> int:
        return sum(len(items) for items in self._by_debt.values())


def _insert(items: list[Attempt], attempt: Attempt) -> None:
    for i, existing in enumerate(items):
        if existing.attempt_id == attempt.attempt_id:
            del items[i]
            break
    starts = [a.started_at for a in items]
    items.insert(bisect_right(starts, attempt.started_at), attempt)
