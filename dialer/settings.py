"""A campaign's settings: which debts, when, how and by whom, with the legal and retry
policies; stored as JSON (dialer_campaigns.settings) and validated on load, naming the bad key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.attempts import AttemptOutcome
from dialer.campaign import CampaignError, DebtFilter
from dialer.compliance import CompliancePolicy, Rule
from dialer.pacing import DialMode, PacingPolicy
from dialer.retry import MachineAction, RetryPolicy, RetryRule

RECORDING_MODES = ("always", "never", "on_demand")
PREVIEW_TIMEOUTS = ("dial", "skip")  # what a preview's countdown does when it runs out
MAX_RETRY_DELAY_MINUTES = 30 * 24 * 60
MAX_RETRY_COUNT = 100  # recordings.config.RecordMode's values
MAX_SOUND_NAME = 80
# A sound file as Asterisk's Playback() names it: relative to its sounds directory, without the
# extension (Asterisk picks the format), in folders if need be. No dots, so no `..`; no leading
# `/`; no `,`, `|` or `&`, which would split Playback's arguments or an Originate Variable.
_SOUND_NAME = re.compile(r"[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*")


def check_sound_name(value: object) -> str:
    """A prompt name safe to hand to Asterisk (`cb-machine-message`, `custom/early-arrears`);
    raises ValueError naming the rule otherwise."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be a sound file name such as cb-machine-message")
    if len(value) > MAX_SOUND_NAME or not _SOUND_NAME.fullmatch(value):
        raise ValueError(
            f"must be a sound file name relative to Asterisk's sounds directory, without an"
            f" extension: letters, digits, - and _, folders separated by / (no leading /, no"
            f" dots, commas or pipes), at most {MAX_SOUND_NAME} characters; got {value!r}"
        )
    return value


class CampaignSettingsError(CampaignError):
    def __init__(self, campaign: str, key: str, problem: str) -> None:
        super().__init__(f"campaign {campaign!r}: setting {key!r} {problem}")
        self.key = key


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """When the campaign dials at all, on the center's clock (the debtor's clock is compliance)."""

    zone: str = "UTC"
    days: frozenset[int] = frozenset(range(6))  # date.weekday(): Monday-Saturday
    start: time = time(9, 0)
    end: time = time(20, 0)

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.zone))
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_open(self, now: datetime) -> datetime | None:
        if self.is_open(now):
            return now
        local = now.astimezone(ZoneInfo(self.zone))
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            opening = datetime.combine(day, self.start, tzinfo=ZoneInfo(self.zone))
            if day.weekday() in self.days and opening > now:
                return opening.astimezone(UTC)
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignSettings:
    name: str
    filter: DebtFilter = field(default_factory=DebtFilter)
    schedule: Schedule = field(default_factory=Schedule)
    dial_mode: DialMode = DialMode.PREDICTIVE
    max_lines_per_agent: float = 3.0
    target_abandon_rate: float = 0.03
    caller_id: str = ""
    operators: frozenset[str] = frozenset()  # agent ids assigned to the campaign
    skills: Mapping[str, int] = field(default_factory=dict)  # or operators with these skills
    ring_timeout_s: float = 25.0
    compliance: CompliancePolicy = field(default_factory=CompliancePolicy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # PBX-side dial failures in a row (no answer, busy or ring-out between them) that pause the
    # campaign: dialer/breaker.py
    pbx_failures_to_pause: int = 5
    # recording of the campaign's calls: always, never or on_demand (wins over the queue's)
    recording: str = "always"
    # played to an answering machine after its greeting (Originate Variable CB_MACHINE_PROMPT,
    # deploy/asterisk/extensions_callboard.conf [cb-dialer]); "" leaves no message
    machine_prompt: str = ""
    # preview mode (dialer/preview.py): how long the operator sees the card before the
    # countdown ends, and what its end does: "dial" the debtor or "skip" them
    preview_countdown_s: float = 30.0
    preview_on_timeout: str = "dial"

    def originate_variables(self, attempt_id: str) -> dict[str, str]:
        """The channel variables every dial of this campaign carries to the dialplan."""
        variables = {"CAMPAIGN": self.name, "CB_ATTEMPT": attempt_id}
        if self.machine_prompt and self.retry.machine_action is MachineAction.LEAVE_MESSAGE:
            variables["CB_MACHINE_PROMPT"] = self.machine_prompt
        return variables

    def pacing(self) -> PacingPolicy:
        return PacingPolicy(
            mode=self.dial_mode,
            target_abandon_rate=self.target_abandon_rate,
            max_lines_per_agent=self.max_lines_per_agent,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CampaignSettings:
        """Settings from their JSON form; unknown keys and bad values are named."""
        name = str(data.get("name") or "")
        if not name:
            raise CampaignSettingsError("?", "name", "is required")
        return _Reader(name, data).settings()

    def to_dict(self) -> dict[str, Any]:
        f, s, c = self.filter, self.schedule, self.compliance
        return {
            "name": self.name,
            "dial_mode": self.dial_mode.value,
            "max_lines_per_agent": self.max_lines_per_agent,
            "target_abandon_rate": self.target_abandon_rate,
            "caller_id": self.caller_id,
            "operators": sorted(self.operators),
            "skills": dict(self.skills),
            "ring_timeout_s": self.ring_timeout_s,
            "machine_action": self.retry.machine_action.value,
            "pbx_failures_to_pause": self.pbx_failures_to_pause,
            "recording": self.recording,
            "machine_prompt": self.machine_prompt,
            "preview_countdown_s": self.preview_countdown_s,
            "preview_on_timeout": self.preview_on_timeout,
            "filter": {
                "creditors": sorted(f.creditors),
                "min_balance": None if f.min_balance is None else str(f.min_balance),
                "max_balance": None if f.max_balance is None else str(f.max_balance),
                "min_days_past_due": f.min_days_past_due,
                "max_days_past_due": f.max_days_past_due,
                "statuses": sorted(f.statuses),
                "segments": sorted(f.segments),
                "time_zones": sorted(f.time_zones),
                "debt_ids": sorted(f.debt_ids),
            },
            "schedule": {
                "zone": s.zone,
                "days": sorted(s.days),
                "start": s.start.strftime("%H:%M"),
                "end": s.end.strftime("%H:%M"),
            },
            "compliance": {
                "calling_from": c.calling_from.strftime("%H:%M"),
                "calling_until": c.calling_until.strftime("%H:%M"),
                "allow_unknown_zone": c.allow_unknown_zone,
                "max_attempts_per_debt": c.max_attempts_per_debt,
                "attempts_window_days": c.attempts_window.total_seconds() / 86400,
                "quiet_after_conversation_days": c.quiet_after_conversation.total_seconds() / 86400,
                "max_attempts_per_phone_per_day": c.max_attempts_per_phone_per_day,
                "abandoned_redial_gap_hours": c.abandoned_redial_gap.total_seconds() / 3600,
                "holidays": sorted(d.isoformat() for d in c.holidays),
                "no_call_weekdays": sorted(c.no_call_weekdays),
            },
            "retry": {
                outcome.value: {
                    "delay_minutes": rule.delay.total_seconds() / 60,
                    "max_count": rule.max_count,
                }
                for outcome, rule in self.retry.rules.items()
            },
        }


# The legal defaults (DESIGN.md): a campaign's definition may tighten them, never loosen them.
LEGAL = CompliancePolicy()
LEGAL_ABANDON_RATE = 0.03  # abandoned / live answers, over 24 hours and over 30 days
MAX_NAME = 100  # dialer_campaigns.name


def define_campaign(data: Mapping[str, Any]) -> CampaignSettings:
    """THE validator of a campaign's definition, for every way one is written: the TOML file of
    `callboard campaign create` and the supervisors' editor (create, edit, clone). The settings
    are read as the dialer reads them (CampaignSettings.from_dict), then refused when they
    loosen a legal default, naming the setting and the rule. Raises CampaignSettingsError."""
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CampaignSettingsError("?", "name", "is required")
    if name != name.strip() or len(name) > MAX_NAME or not name.isprintable():
        raise CampaignSettingsError(
            name[:MAX_NAME],
            "name",
            f"must be at most {MAX_NAME} printable characters without leading or trailing spaces",
        )
    settings = CampaignSettings.from_dict(data)
    _check_legal(settings)
    return settings


def _check_legal(settings: CampaignSettings) -> None:
    c = settings.compliance

    def refuse(key: str, rule: str, limit: str, got: object) -> CampaignSettingsError:
        return CampaignSettingsError(
            settings.name,
            key,
            f"loosens the legal default (rule {rule}): {limit}; got {got}",
        )

    hours = f"calls only {LEGAL.calling_from:%H:%M}-{LEGAL.calling_until:%H:%M} debtor's time"
    if c.calling_from < LEGAL.calling_from:
        raise refuse(
            "compliance.calling_from", Rule.CALLING_HOURS, hours, f"{c.calling_from:%H:%M}"
        )
    if c.calling_until > LEGAL.calling_until:
        raise refuse(
            "compliance.calling_until", Rule.CALLING_HOURS, hours, f"{c.calling_until:%H:%M}"
        )
    week = LEGAL.attempts_window.days
    cap = f"at most {LEGAL.max_attempts_per_debt} attempts per debt in any {week} days"
    if c.max_attempts_per_debt > LEGAL.max_attempts_per_debt:
        raise refuse(
            "compliance.max_attempts_per_debt", Rule.ATTEMPT_CAP, cap, c.max_attempts_per_debt
        )
    if c.attempts_window < LEGAL.attempts_window:
        got = c.attempts_window.total_seconds() / 86400
        raise refuse("compliance.attempts_window_days", Rule.ATTEMPT_CAP, cap, f"{got:g}")
    if c.quiet_after_conversation < LEGAL.quiet_after_conversation:
        got = c.quiet_after_conversation.total_seconds() / 86400
        quiet = f"no call for {LEGAL.quiet_after_conversation.days} days after a conversation"
        raise refuse(
            "compliance.quiet_after_conversation_days", Rule.AFTER_CONVERSATION, quiet, f"{got:g}"
        )
    if c.max_attempts_per_phone_per_day > LEGAL.max_attempts_per_phone_per_day:
        raise refuse(
            "compliance.max_attempts_per_phone_per_day",
            Rule.PHONE_DAILY_CAP,
            f"at most {LEGAL.max_attempts_per_phone_per_day} attempts per number in 24 hours",
            c.max_attempts_per_phone_per_day,
        )
    if c.abandoned_redial_gap < LEGAL.abandoned_redial_gap:
        gap = LEGAL.abandoned_redial_gap.total_seconds() / 3600
        got = c.abandoned_redial_gap.total_seconds() / 3600
        raise refuse(
            "compliance.abandoned_redial_gap_hours",
            Rule.ABANDONED_REDIAL,
            f"no redial for {gap:g} hours after an abandoned call",
            f"{got:g}",
        )
    if not 0 < settings.target_abandon_rate <= LEGAL_ABANDON_RATE:
        raise refuse(
            "target_abandon_rate",
            "abandon_rate",
            f"abandoned calls at most {LEGAL_ABANDON_RATE:.0%} of live answers (0 < rate <= "
            f"{LEGAL_ABANDON_RATE})",
            settings.target_abandon_rate,
        )


class _Reader:
    """Reads one campaign's JSON settings, naming the key at fault."""

    TOP = frozenset(
        {
            "name",
            "dial_mode",
            "max_lines_per_agent",
            "target_abandon_rate",
            "caller_id",
            "operators",
            "skills",
            "ring_timeout_s",
            "machine_action",
            "pbx_failures_to_pause",
            "recording",
            "machine_prompt",
            "preview_countdown_s",
            "preview_on_timeout",
            "filter",
            "schedule",
            "compliance",
            "retry",
        }
    )

    def __init__(self, name: str, data: Mapping[str, Any]) -> None:
        self.name = name
        self.data = data

    def fail(self, key: str, problem: str) -> CampaignSettingsError:
        return CampaignSettingsError(self.name, key, problem)

    def number(
        self, values: Mapping[str, Any], key: str, kind: type, default: Any, where: str = ""
    ) -> Any:
        """A numeric setting, or an error naming it (`where` is its dotted path)."""
        raw = values.get(key, default)
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise self.fail(where or key, f"must be a number, got {raw!r}")
        try:
            return kind(raw)
        except (TypeError, ValueError) as exc:
            raise self.fail(where or key, f"must be a number, got {raw!r}") from exc

    def section(self, key: str, allowed: set[str]) -> Mapping[str, Any]:
        value = self.data.get(key) or {}
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be an object")
        unknown = set(value) - allowed
        if unknown:
            raise self.fail(f"{key}.{sorted(unknown)[0]}", "is not a known setting")
        return value

    def settings(self) -> CampaignSettings:
        unknown = set(self.data) - self.TOP
        if unknown:
            raise self.fail(sorted(unknown)[0], "is not a known setting")
        d = self.data
        try:
            mode = DialMode(d.get("dial_mode", "predictive"))
        except ValueError as exc:
            choices = ", ".join(m.value for m in DialMode)
            raise self.fail("dial_mode", f"must be one of {choices}") from exc
        try:
            machine = MachineAction(d.get("machine_action", "leave_message"))
        except ValueError as exc:
            choices = ", ".join(m.value for m in MachineAction)
            raise self.fail("machine_action", f"must be one of {choices}") from exc
        pause_after = self.number(d, "pbx_failures_to_pause", int, 5)
        if pause_after < 2:
            raise self.fail("pbx_failures_to_pause", "must be at least 2")
        recording = d.get("recording", "always")
        if recording not in RECORDING_MODES:
            raise self.fail("recording", f"must be one of {', '.join(RECORDING_MODES)}")
        prompt = d.get("machine_prompt", "")
        if prompt != "":
            try:
                check_sound_name(prompt)
            except ValueError as exc:
                raise self.fail("machine_prompt", str(exc)) from None
        countdown = self.number(d, "preview_countdown_s", float, 30.0)
        if not 5 <= countdown <= 600:
            raise self.fail("preview_countdown_s", "must be between 5 and 600 seconds")
        on_timeout = d.get("preview_on_timeout", "dial")
        if on_timeout not in PREVIEW_TIMEOUTS:
            raise self.fail("preview_on_timeout", f"must be one of {', '.join(PREVIEW_TIMEOUTS)}")
        try:
            return CampaignSettings(
                name=self.name,
                filter=self.debt_filter(),
                schedule=self.schedule(),
                dial_mode=mode,
                max_lines_per_agent=self.number(d, "max_lines_per_agent", float, 3.0),
                target_abandon_rate=self.number(d, "target_abandon_rate", float, 0.03),
                caller_id=str(d.get("caller_id", "")),
                operators=frozenset(str(o) for o in d.get("operators", ())),
                skills={str(k): int(v) for k, v in dict(d.get("skills", {})).items()},
                ring_timeout_s=self.number(d, "ring_timeout_s", float, 25.0),
                compliance=self.compliance(),
                retry=RetryPolicy(rules=self.retry_rules(), machine_action=machine),
                pbx_failures_to_pause=pause_after,
                recording=recording,
                machine_prompt=prompt,
                preview_countdown_s=countdown,
                preview_on_timeout=on_timeout,
            )
        except CampaignSettingsError:
            raise
        except (TypeError, ValueError, InvalidOperation) as exc:
            raise self.fail("(settings)", f"is invalid: {exc}") from exc

    def debt_filter(self) -> DebtFilter:
        f = self.section("filter", {fl.name for fl in fields(DebtFilter)})

        def money(key: str) -> Decimal | None:
            if f.get(key) is None:
                return None
            try:
                value = Decimal(str(f[key]))
            except InvalidOperation:
                value = Decimal("NaN")
            if isinstance(f[key], bool) or not value.is_finite() or value < 0:
                raise self.fail(f"filter.{key}", f"must be an amount of 0 or more, got {f[key]!r}")
            return value

        def days(key: str) -> int | None:
            raw = f.get(key)
            if raw is None:
                return None
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
                raise self.fail(f"filter.{key}", f"must be a whole number of days, got {raw!r}")
            return raw

        def names(key: str, default: tuple[str, ...] = ()) -> frozenset[str]:
            raw = f.get(key, default)
            if isinstance(raw, str) or not isinstance(raw, list | tuple | set | frozenset):
                raise self.fail(f"filter.{key}", f"must be a list, got {raw!r}")
            if not all(isinstance(x, str) and x for x in raw):
                raise self.fail(f"filter.{key}", "must be a list of non-empty names")
            return frozenset(raw)

        low, high = money("min_balance"), money("max_balance")
        if low is not None and high is not None and low > high:
            raise self.fail("filter.max_balance", "must not be below filter.min_balance")
        newest, oldest = days("min_days_past_due"), days("max_days_past_due")
        if newest is not None and oldest is not None and newest > oldest:
            raise self.fail("filter.max_days_past_due", "must not be below min_days_past_due")
        debt_ids = f.get("debt_ids", ())
        if isinstance(debt_ids, str) or not isinstance(debt_ids, list | tuple | set | frozenset):
            raise self.fail("filter.debt_ids", f"must be a list of debt ids, got {debt_ids!r}")
        if any(isinstance(i, bool) or not isinstance(i, int) for i in debt_ids):
            raise self.fail("filter.debt_ids", "must be a list of debt ids (whole numbers)")
        return DebtFilter(
            creditors=names("creditors"),
            min_balance=low,
            max_balance=high,
            min_days_past_due=newest,
            max_days_past_due=oldest,
            statuses=names("statuses", ("active", "promise")),
            segments=names("segments"),
            time_zones=names("time_zones"),
            debt_ids=frozenset(debt_ids),
        )

    def schedule(self) -> Schedule:
        s = self.section("schedule", {"zone", "days", "start", "end"})
        zone = str(s.get("zone", "UTC"))
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise self.fail("schedule.zone", f"{zone!r} is not an IANA time zone") from exc
        start = self.clock_time("schedule.start", s.get("start", "09:00"))
        end = self.clock_time("schedule.end", s.get("end", "20:00"))
        if not start < end:
            raise self.fail("schedule.end", f"must be after schedule.start ({start:%H:%M})")
        return Schedule(
            zone=zone,
            days=self.weekdays(s, "days", "schedule.days", range(6)),
            start=start,
            end=end,
        )

    def weekdays(
        self, values: Mapping[str, Any], key: str, where: str, default: Any
    ) -> frozenset[int]:
        raw = values.get(key, default)
        if isinstance(raw, str) or not isinstance(raw, list | tuple | range | set | frozenset):
            raise self.fail(where, f"must be a list of weekdays 0-6 (0 = Monday), got {raw!r}")
        if any(isinstance(x, bool) or x not in range(7) for x in raw):
            raise self.fail(where, f"must be a list of weekdays 0-6 (0 = Monday), got {raw!r}")
        return frozenset(int(x) for x in raw)

    def compliance(self) -> CompliancePolicy:
        c = self.section(
            "compliance",
            {
                "calling_from",
                "calling_until",
                "allow_unknown_zone",
                "max_attempts_per_debt",
                "attempts_window_days",
                "quiet_after_conversation_days",
                "max_attempts_per_phone_per_day",
                "abandoned_redial_gap_hours",
                "holidays",
                "no_call_weekdays",
                "center_zone",
            },
        )
        try:
            holidays = frozenset(date.fromisoformat(str(x)) for x in c.get("holidays", ()))
        except ValueError as exc:
            raise self.fail("compliance.holidays", f"needs YYYY-MM-DD dates: {exc}") from exc
        calling_from = self.clock_time("compliance.calling_from", c.get("calling_from", "08:00"))
        calling_until = self.clock_time("compliance.calling_until", c.get("calling_until", "21:00"))
        if not calling_from < calling_until:
            raise self.fail(
                "compliance.calling_until",
                f"must be after compliance.calling_from ({calling_from:%H:%M})",
            )
        for key in ("max_attempts_per_debt", "max_attempts_per_phone_per_day"):
            if self.number(c, key, int, 1, f"compliance.{key}") < 1:
                raise self.fail(f"compliance.{key}", "must be at least 1")
        return CompliancePolicy(
            calling_from=calling_from,
            calling_until=calling_until,
            allow_unknown_zone=self.flag(c, "allow_unknown_zone", "compliance.allow_unknown_zone"),
            center_zone=str(c.get("center_zone", self.data.get("schedule", {}).get("zone", "UTC"))),
            max_attempts_per_debt=self.number(
                c, "max_attempts_per_debt", int, 7, "compliance.max_attempts_per_debt"
            ),
            attempts_window=timedelta(
                days=self.number(
                    c, "attempts_window_days", float, 7, "compliance.attempts_window_days"
                )
            ),
            quiet_after_conversation=timedelta(
                days=self.number(
                    c,
                    "quiet_after_conversation_days",
                    float,
                    7,
                    "compliance.quiet_after_conversation_days",
                )
            ),
            max_attempts_per_phone_per_day=self.number(
                c,
                "max_attempts_per_phone_per_day",
                int,
                3,
                "compliance.max_attempts_per_phone_per_day",
            ),
            abandoned_redial_gap=timedelta(
                hours=self.number(
                    c,
                    "abandoned_redial_gap_hours",
                    float,
                    72,
                    "compliance.abandoned_redial_gap_hours",
                )
            ),
            holidays=holidays,
            no_call_weekdays=self.weekdays(
                c, "no_call_weekdays", "compliance.no_call_weekdays", ()
            ),
        )

    def retry_rules(self) -> dict[AttemptOutcome, RetryRule]:
        """`[retry.<outcome>] delay_minutes, max_count`; outcomes left out keep the default."""
        section = self.section("retry", {o.value for o in AttemptOutcome})
        rules = dict(RetryPolicy().rules)
        for key, value in section.items():
            where = f"retry.{key}"
            if not isinstance(value, Mapping):
                raise self.fail(where, "must be an object with delay_minutes and max_count")
            unknown = set(value) - {"delay_minutes", "max_count"}
            if unknown:
                raise self.fail(f"{where}.{sorted(unknown)[0]}", "is not a known setting")
            outcome = AttemptOutcome(key)
            default = rules[outcome]
            delay = self.number(
                value,
                "delay_minutes",
                float,
                default.delay.total_seconds() / 60,
                f"{where}.delay_minutes",
            )
            count = self.number(value, "max_count", int, default.max_count, f"{where}.max_count")
            if not 0 <= delay <= MAX_RETRY_DELAY_MINUTES:
                raise self.fail(
                    f"{where}.delay_minutes",
                    f"must be from 0 to {MAX_RETRY_DELAY_MINUTES} minutes, got {delay:g}",
                )
            if not 1 <= count <= MAX_RETRY_COUNT:
                raise self.fail(
                    f"{where}.max_count", f"must be from 1 to {MAX_RETRY_COUNT}, got {count}"
                )
            rules[outcome] = RetryRule(timedelta(minutes=delay), count)
        return rules

    def flag(self, values: Mapping[str, Any], key: str, where: str) -> bool:
        raw = values.get(key, False)
        if not isinstance(raw, bool):
            raise self.fail(where, f"must be true or false, got {raw!r}")
        return raw

    def clock_time(self, key: str, value: object) -> time:
        try:
            return time.fromisoformat(str(value))
        except ValueError as exc:
            raise self.fail(key, f"needs HH:MM, got {value!r}") from exc
