"""The dialer's circuit breaker: a PBX or trunk that cannot place calls pauses the campaign.

Plain decision code (no I/O, time from the injected clock). Two parts:

- `classify_failed_originate` / `classify_ami_error`: what a dial that was not answered says,
  as an attempt outcome for the ledger and a *side* for the breaker. A busy line, a ring-out or
  a far end that rejects the call is the debtor's side: it says the network works. A refused
  Originate (AMI error, "Permission denied"), an OriginateResponse Failure with Reason 0 where
  no channel ever ended with a real cause (Asterisk's answer to a dial string whose extension or
  context does not exist: trace 11.9, cause 0), congestion (Reason 8) and "no channel available"
  causes (34, 38, 41, 42, 44, ...) are the PBX's or the trunk's side.
- `CircuitBreaker`: counts PBX-side failures in a row; any debtor-side outcome (answered, busy
  17, no answer 19, rejected 21, ...) resets the run. At `threshold` failures in a row it trips,
  and the dialer pauses the campaign with the trip's reason. Only a supervisor's resume (the
  existing start) resets it; results of dials placed before that reset are ignored.

The threshold: 5 in a row by default (per campaign, `pbx_failures_to_pause`). A working PBX and
trunk fail a dial on their side rarely and independently (a congestion now and then), so five in
a row with not one busy, ring-out or answer in between does not happen by chance; a broken dial
string or trunk fails every dial, so the campaign stops within five dials: two ticks for three
operators, instead of hundreds of dials a minute. A single congestion or refusal never trips it
(the threshold is at least 2), and a debtor's busy or no answer is not a failure at all.

What the ledger's compliance reading makes of each outcome is in dialer/attempts.py: only
`not_dialled` (the call never left the PBX) is kept out of the attempt counts. Congestion and
"no channel" causes did reach the trunk or the network, so they stay attempts on the debtor
(the legally safe side) while still counting towards the breaker.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from ami_bridge.errors import ActionFailed, AmiError, InvalidRequest, LinkDown, OriginateLost
from crm_core.clock import Clock
from dialer.attempts import AttemptOutcome

DEFAULT_THRESHOLD = 5

# Q.850 causes that say "the network or the trunk has no way through", not "the debtor's line
# said no": no circuit/channel (34), network out of order (38), temporary failure (41),
# switching equipment congestion (42), requested channel not available (44), resource
# unavailable (47), bearer capability not available (58), service not available (63),
# bearer capability / channel type / facility / service not implemented (65, 66, 69, 79).
PBX_SIDE_CAUSES = frozenset({34, 38, 41, 42, 44, 47, 58, 63, 65, 66, 69, 79})

# OriginateResponse `Reason` (AST_CONTROL code; traces README, behaviour 7)
REASON_HANGUP = 1
REASON_NO_ANSWER = 3
REASON_BUSY = 5
REASON_CONGESTION = 8


class Side(enum.StrEnum):
    DEBTOR = "debtor"  # the far end answered for itself: the PBX and the trunk work
    PBX = "pbx"  # the PBX or the trunk could not place the call
    NEUTRAL = "neutral"  # says nothing about the PBX (a bad number in our data, our own bug)


@dataclass(frozen=True, slots=True)
class DialVerdict:
    outcome: AttemptOutcome
    side: Side
    detail: str  # for people: the log, the pause reason, the alert

    @property
    def feeds_pacing(self) -> bool:
        """Whether the pacer's answer-rate and ring-time estimates may learn from this dial:
        only dials that reached the debtor's line say anything about the list."""
        return self.side is Side.DEBTOR


ANSWERED = DialVerdict(AttemptOutcome.HUMAN, Side.DEBTOR, "answered")


def classify_failed_originate(reason: int, cause: int | None) -> DialVerdict:
    """An OriginateResponse Failure: `reason` its Reason (-1 if unreadable), `cause` the Q.850
    cause the call's channels ended with (the dialer waits a short grace for it), or None when
    no channel of the dial was seen to end (none was created)."""
    if reason == REASON_BUSY:
        return DialVerdict(AttemptOutcome.BUSY, Side.DEBTOR, "busy")
    if reason == REASON_NO_ANSWER:
        return DialVerdict(AttemptOutcome.NO_ANSWER, Side.DEBTOR, "no answer")
    if reason == REASON_CONGESTION:
        text = f"cause {cause}" if cause else "no cause"
        return DialVerdict(AttemptOutcome.CONGESTION, Side.PBX, f"congestion (Reason 8, {text})")
    if cause is not None and cause in PBX_SIDE_CAUSES:
        return DialVerdict(
            AttemptOutcome.CONGESTION,
            Side.PBX,
            f"no channel available (Reason {reason}, cause {cause})",
        )
    if reason == REASON_HANGUP or cause:  # the far end hung up on the dial: its own answer
        if cause == 17:
            return DialVerdict(AttemptOutcome.BUSY, Side.DEBTOR, "busy (cause 17)")
        if cause in (18, 19):
            return DialVerdict(AttemptOutcome.NO_ANSWER, Side.DEBTOR, f"no answer (cause {cause})")
        return DialVerdict(
            AttemptOutcome.REJECTED, Side.DEBTOR, f"rejected by the far end (cause {cause})"
        )
    # Reason 0 (or unreadable) and nothing but cause 0, or no channel at all: Asterisk could
    # not even start the call (no such extension or context in the dial string, no endpoint)
    seen = "no channel created" if cause is None else "channels ended with cause 0"
    return DialVerdict(
        AttemptOutcome.NOT_DIALLED,
        Side.PBX,
        f"originate failed at the PBX (Reason {reason}, {seen}): no such extension or endpoint?",
    )


def classify_ami_error(exc: AmiError) -> DialVerdict:
    """The Originate itself failed: refused by Asterisk, not sent, or its outcome lost."""
    if isinstance(exc, InvalidRequest):  # a number or setting of ours Asterisk never saw
        return DialVerdict(AttemptOutcome.FAILED, Side.NEUTRAL, f"invalid dial: {exc}")
    if isinstance(exc, OriginateLost):  # sent: the call may exist, so it stays an attempt
        return DialVerdict(AttemptOutcome.FAILED, Side.PBX, f"originate outcome lost: {exc}")
    if isinstance(exc, ActionFailed | LinkDown):  # refused ("Permission denied") or never sent
        return DialVerdict(AttemptOutcome.NOT_DIALLED, Side.PBX, f"originate refused: {exc}")
    return DialVerdict(AttemptOutcome.FAILED, Side.PBX, f"originate failed: {exc}")


@dataclass(frozen=True, slots=True)
class Trip:
    failures: int
    first_at: datetime
    at: datetime
    last_detail: str

    @property
    def reason(self) -> str:
        """The pause reason the supervisor sees on the campaign panel (at most 200 chars)."""
        text = (
            f"auto-paused: {self.failures} dials in a row failed at the PBX/trunk "
            f"(last: {self.last_detail}); fix the PBX, then resume"
        )
        return text if len(text) <= 200 else text[:199] + "…"


class CircuitBreaker:
    """PBX-side failures in a row; trips at `threshold`, reset only by `reset()`."""

    def __init__(self, clock: Clock, threshold: int = DEFAULT_THRESHOLD) -> None:
        if threshold < 2:
            raise ValueError(f"a breaker threshold must be at least 2, got {threshold}")
        self.threshold = threshold
        self._clock = clock
        self._failures = 0
        self._first_at: datetime | None = None
        self._last_detail = ""
        self._reset_at: datetime | None = None
        self.trip: Trip | None = None

    @property
    def failures_in_a_row(self) -> int:
        return self._failures

    @property
    def tripped(self) -> bool:
        return self.trip is not None

    def record(self, verdict: DialVerdict, placed_at: datetime | None = None) -> Trip | None:
        """One dial's verdict; the Trip if this very verdict trips the breaker, else None.
        `placed_at`: when the dial was placed; dials placed before the last reset belong to
        the run already dealt with, and are ignored."""
        if self._reset_at is not None and placed_at is not None and placed_at < self._reset_at:
            return None
        if self.trip is not None or verdict.side is Side.NEUTRAL:
            return None
        if verdict.side is Side.DEBTOR:
            self._failures, self._first_at = 0, None
            return None
        now = self._clock.now()
        self._failures += 1
        self._first_at = self._first_at or now
        self._last_detail = verdict.detail
        if self._failures < self.threshold:
            return None
        self.trip = Trip(self._failures, self._first_at, now, verdict.detail)
        return self.trip

    def reset(self) -> None:
        """A supervisor resumed the campaign: a fresh run from now."""
        self._failures, self._first_at, self._last_detail = 0, None, ""
        self.trip = None
        self._reset_at = self._clock.now()

    def to_dict(self) -> dict[str, object]:
        """For the campaign panel."""
        return {
            "failures_in_a_row": self._failures,
            "threshold": self.threshold,
            "last_failure": self._last_detail or None,
            "tripped": self.trip.reason if self.trip else None,
            "tripped_at": self.trip.at.isoformat() if self.trip else None,
        }
