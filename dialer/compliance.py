"""May we dial this debt on this number now, and if not, when next?

The rules of collection law (US Regulation F presumptions, UK Ofcom abandoned-call practice) as
plain functions of the attempt ledger, the do-not-call lists and the debt/phone flags. Time is
passed in, so the same rules run live, in tests and in virtual-time simulations.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_core.phones import time_zones
from dialer.attempts import AttemptHistory


class Rule(enum.StrEnum):
    """Each rule that can refuse a dial; the value is the stable code shown in reports."""

    DISPUTED = "disputed"
    DEBT_STOPPED = "debt_stopped"  # deceased, bankrupt, represented by a lawyer
    DO_NOT_CALL = "do_not_call"  # the global list
    CAMPAIGN_DO_NOT_CALL = "campaign_do_not_call"
    PHONE_FLAGGED = "phone_flagged"  # a disposition marked the number "do not call"
    UNKNOWN_TIME_ZONE = "unknown_time_zone"
    CALLING_HOURS = "calling_hours"  # includes holidays and no-call weekdays
    ATTEMPT_CAP = "attempt_cap"
    AFTER_CONVERSATION = "after_conversation"
    PHONE_DAILY_CAP = "phone_daily_cap"
    ABANDONED_REDIAL = "abandoned_redial"


@dataclass(frozen=True, slots=True, kw_only=True)
class CompliancePolicy:
    """The legal defaults; each campaign may tighten (or, where the law allows, loosen) them."""

    calling_from: time = time(8, 0)
    calling_until: time = time(21, 0)  # exclusive: a dial at 20:59:59 local is the last allowed
    allow_unknown_zone: bool = False
    center_zone: str = "UTC"  # whose clock applies when the debtor's is unknown but allowed
    max_attempts_per_debt: int = 7
    attempts_window: timedelta = timedelta(days=7)
    quiet_after_conversation: timedelta = timedelta(days=7)
    max_attempts_per_phone_per_day: int = 3  # rolling 24 hours
    abandoned_redial_gap: timedelta = timedelta(hours=72)
    holidays: frozenset[date] = frozenset()  # debtor-local dates
    no_call_weekdays: frozenset[int] = frozenset()  # date.weekday(): 6 = Sunday

    def __post_init__(self) -> None:
        if not self.calling_from < self.calling_until:
            raise ValueError(
                f"calling hours must start before they end, got "
                f"{self.calling_from:%H:%M}-{self.calling_until:%H:%M}"
            )
        if self.max_attempts_per_debt < 1 or self.max_attempts_per_phone_per_day < 1:
            raise ValueError("attempt caps must be at least 1")
        _zone(self.center_zone, "CompliancePolicy.center_zone")


@dataclass(frozen=True, slots=True, kw_only=True)
class DialTarget:
    """One debt on one of the debtor's numbers, with the flags the rules need."""

    debt_id: int
    phone: str  # E.164
    address_zone: str | None = None  # IANA zone from the debtor's address
    debt_disputed: bool = False
    debt_stopped: str = ""  # the debt's status when no dialing is allowed (deceased, ...)
    phone_do_not_call: bool = False


@dataclass(frozen=True, slots=True)
class DoNotCall:
    """Numbers nobody may dial (global) and numbers this campaign may not dial."""

    global_numbers: frozenset[str] = frozenset()
    campaign_numbers: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    rule: Rule | None = None
    reason: str = ""
    not_before: datetime | None = None  # when the refusing rule could first allow; None: never

    @property
    def permanent(self) -> bool:
        return not self.allowed and self.not_before is None


ALLOW = Verdict(True)
# Refusals no override passes, a supervisor's included: the global do-not-call list, and a debt
# whose debtor died, went bankrupt or is represented by a lawyer.
NEVER_OVERRIDDEN = frozenset({Rule.DO_NOT_CALL, Rule.DEBT_STOPPED})
_RULE_ORDER: dict[Rule | None, int] = {rule: i for i, rule in enumerate(Rule)}


@dataclass(frozen=True, slots=True)
class LocalClock:
    """The zones the debtor may be in. Several zones (a number spanning zones): all must agree."""

    zones: tuple[ZoneInfo, ...]
    source: str  # "address", "phone" or "center"


def resolve_zones(target: DialTarget, policy: CompliancePolicy) -> LocalClock | None:
    """The debtor's local clock: the address zone, else the number's zones, else the center's
    when the campaign allows unknown zones; None when it must not be guessed."""
    if target.address_zone:
        try:
            return LocalClock((_zone_info(target.address_zone),), "address")
        except (ZoneInfoNotFoundError, ValueError):
            pass  # an unusable address zone is as good as none: fall back to the number
    zones = _phone_zones(target.phone)
    if zones:
        return LocalClock(zones, "phone")
    if policy.allow_unknown_zone:
        return LocalClock((_zone_info(policy.center_zone),), "center")
    return None


@lru_cache(maxsize=1024)
def _zone_info(name: str) -> ZoneInfo:
    """ZoneInfo keeps only a few zones alive; numbers spanning 40 zones would reload them all."""
    return ZoneInfo(name)


@lru_cache(maxsize=65536)
def _phone_zones(e164: str) -> tuple[ZoneInfo, ...]:
    return tuple(_zone_info(name) for name in time_zones(e164))


class Compliance:
    """Evaluates every rule for a campaign (its policy and do-not-call lists)."""

    def __init__(self, policy: CompliancePolicy, dnc: DoNotCall | None = None) -> None:
        self.policy = policy
        self.dnc = dnc or DoNotCall()

    def check(self, target: DialTarget, history: AttemptHistory, now: datetime) -> Verdict:
        """Allowed, or the first refusing rule (permanent refusals first)."""
        denials = self.denials(target, history, now)
        return denials[0] if denials else ALLOW

    def denials(self, target: DialTarget, history: AttemptHistory, now: datetime) -> list[Verdict]:
        _aware(now)
        found = [*self._permanent(target)]
        clock = resolve_zones(target, self.policy)
        if clock is None:
            found.append(
                Verdict(
                    False,
                    Rule.UNKNOWN_TIME_ZONE,
                    f"no time zone for {target.phone} (no address zone, number not geographic)"
                    " and the campaign does not dial unknown zones",
                )
            )
        else:
            hours = self._hours(clock, now)
            if hours is not None:
                found.append(hours)
        found.extend(
            v
            for v in (
                self._attempt_cap(target, history, now),
                self._after_conversation(target, history, now),
                self._phone_daily_cap(target, history, now),
                self._abandoned(target, history, now),
            )
            if v is not None
        )
        return sorted(found, key=lambda v: (not v.permanent, _RULE_ORDER[v.rule]))

    def next_eligible(
        self,
        target: DialTarget,
        history: AttemptHistory,
        now: datetime,
        horizon: timedelta = timedelta(days=31),
    ) -> datetime | None:
        """The earliest moment from `now` at which every rule allows the dial, given the history
        as it stands; None if no moment within `horizon` (or never)."""
        moment = now
        for _ in range(64):
            denials = self.denials(target, history, moment)
            if not denials:
                return moment
            if any(d.permanent for d in denials):
                return None
            # every rule refuses until its own not_before, so nothing earlier than the latest works
            moment = max(d.not_before for d in denials if d.not_before is not None)
            if moment > now + horizon:
                return None
        return None

    # -- the rules ---------------------------------------------------------------------------

    def _permanent(self, target: DialTarget) -> list[Verdict]:
        out = []
        if target.debt_disputed:
            out.append(Verdict(False, Rule.DISPUTED, f"debt {target.debt_id} is disputed"))
        if target.debt_stopped:
            out.append(
                Verdict(
                    False,
                    Rule.DEBT_STOPPED,
                    f"debt {target.debt_id} is {target.debt_stopped}: no dialing",
                )
            )
        if target.phone in self.dnc.global_numbers:
            out.append(Verdict(False, Rule.DO_NOT_CALL, f"{target.phone} is on do-not-call"))
        if target.phone in self.dnc.campaign_numbers:
            out.append(
                Verdict(
                    False,
                    Rule.CAMPAIGN_DO_NOT_CALL,
                    f"{target.phone} is on this campaign's do-not-call list",
                )
            )
        if target.phone_do_not_call:
            out.append(Verdict(False, Rule.PHONE_FLAGGED, f"{target.phone} is flagged do-not-call"))
        return out

    def _hours(self, clock: LocalClock, now: datetime) -> Verdict | None:
        refusals = [(zone, why) for zone in clock.zones if (why := self._closed_why(zone, now))]
        if not refusals:
            return None
        zone, why = refusals[0]
        local = now.astimezone(zone)
        return Verdict(
            False,
            Rule.CALLING_HOURS,
            f"{local:%a %H:%M} in {zone.key} ({clock.source}) {why}",
            self._next_open(clock, now),
        )

    def _closed_why(self, zone: ZoneInfo, moment: datetime) -> str | None:
        p = self.policy
        local = moment.astimezone(zone)
        if local.date() in p.holidays:
            return "is a holiday"
        if local.weekday() in p.no_call_weekdays:
            return "is a no-call day"
        if not p.calling_from <= local.time() < p.calling_until:
            return f"is outside calling hours {p.calling_from:%H:%M}-{p.calling_until:%H:%M}"
        return None

    def _next_open(self, clock: LocalClock, now: datetime) -> datetime | None:
        """The first moment every zone of the clock is inside its window; None if they never
        overlap within 31 days (e.g. a mobile range spanning half the world)."""
        moment = now
        for _ in range(128):
            starts = [self._zone_next_open(z, moment) for z in clock.zones]
            latest = max(starts)
            if latest == moment:
                return moment
            if latest > now + timedelta(days=31):
                return None
            moment = latest
        return None

    def _zone_next_open(self, zone: ZoneInfo, moment: datetime) -> datetime:
        if self._closed_why(zone, moment) is None:
            return moment
        p = self.policy
        local = moment.astimezone(zone)
        day = local.date()
        if local.time() >= p.calling_from:
            day += timedelta(days=1)
        for _ in range(400):
            if day not in p.holidays and day.weekday() not in p.no_call_weekdays:
                opening = datetime.combine(day, p.calling_from, tzinfo=zone).astimezone(UTC)
                if opening > moment:
                    return opening
            day += timedelta(days=1)
        return moment + timedelta(days=400)

    def _attempt_cap(
        self, target: DialTarget, history: AttemptHistory, now: datetime
    ) -> Verdict | None:
        p = self.policy
        starts = history.debt_starts_since(target.debt_id, now - p.attempts_window, now)
        if len(starts) < p.max_attempts_per_debt:
            return None
        reopens = starts[len(starts) - p.max_attempts_per_debt] + p.attempts_window
        return Verdict(
            False,
            Rule.ATTEMPT_CAP,
            f"debt {target.debt_id} already had {len(starts)} attempts in the last "
            f"{_days(p.attempts_window)} (cap {p.max_attempts_per_debt})",
            reopens,
        )

    def _after_conversation(
        self, target: DialTarget, history: AttemptHistory, now: datetime
    ) -> Verdict | None:
        last = history.last_conversation(target.debt_id, now)
        quiet = self.policy.quiet_after_conversation
        if last is None or now >= last + quiet:
            return None
        return Verdict(
            False,
            Rule.AFTER_CONVERSATION,
            f"the debtor spoke with us about debt {target.debt_id} at {last:%Y-%m-%d %H:%M} UTC;"
            f" no call for {_days(quiet)} after a conversation",
            last + quiet,
        )

    def _phone_daily_cap(
        self, target: DialTarget, history: AttemptHistory, now: datetime
    ) -> Verdict | None:
        cap = self.policy.max_attempts_per_phone_per_day
        day = timedelta(days=1)
        starts = history.phone_starts_since(target.phone, now - day, now)
        if len(starts) < cap:
            return None
        return Verdict(
            False,
            Rule.PHONE_DAILY_CAP,
            f"{target.phone} was dialled {len(starts)} times in the last 24 h (cap {cap})",
            starts[len(starts) - cap] + day,
        )

    def _abandoned(
        self, target: DialTarget, history: AttemptHistory, now: datetime
    ) -> Verdict | None:
        last = history.last_abandoned(target.phone, now)
        gap = self.policy.abandoned_redial_gap
        if last is None or now >= last + gap:
            return None
        return Verdict(
            False,
            Rule.ABANDONED_REDIAL,
            f"a call to {target.phone} was abandoned at {last:%Y-%m-%d %H:%M} UTC;"
            f" no automatic redial for {gap.total_seconds() / 3600:g} h",
            last + gap,
        )


def _days(span: timedelta) -> str:
    return f"{span.total_seconds() / 86400:g} days"


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"compliance needs an aware datetime, got naive {moment!r}")


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{where}: {name!r} is not an IANA time zone") from exc


__all__ = [
    "ALLOW",
    "NEVER_OVERRIDDEN",
    "Compliance",
    "CompliancePolicy",
    "DialTarget",
    "DoNotCall",
    "LocalClock",
    "Rule",
    "Verdict",
    "resolve_zones",
]
