"""Typed configuration: one TOML file, then CALLBOARD_<SECTION>__<KEY> environment overrides.

Everything is validated at start-up; an error names the file (or variable), section and key.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_PREFIX = "CALLBOARD_"
# Numbers no internal-extension pattern may match: a "+", an international prefix, or more
# digits than an extension plan has.
_NOT_EXTENSIONS = ("+13104413956", "+1", "00", "011", "0013104413956", "123456789")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite+aiosqlite:///var/callboard.db"


@dataclass(frozen=True)
class CenterSettings:
    name: str = "Callboard"
    timezone: str = "Europe/London"
    default_region: str = "GB"  # for numbers written without a country code
    holidays: list[date] = field(default_factory=list)
    # What an operator may dial from the desk without the compliance check: numbers matching
    # one of these regular expressions (whole string) that are not a valid phone number of
    # default_region. Anything else must be a valid number, and is checked.
    internal_extensions: list[str] = field(default_factory=lambda: ["[1-9][0-9]{2,3}"])


@dataclass(frozen=True)
class AmiSettings:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callboard"
    secret: str = ""
    ping_interval_s: float = 1.0
    dead_after_s: float = 3.0
    action_timeout_s: float = 5.0
    reconnect_max_s: float = 30.0
    number_endpoint: str = "PJSIP/{number}@trunk"  # how a phone number is dialled out


@dataclass(frozen=True)
class AgiSettings:
    host: str = "127.0.0.1"
    port: int = 4573
    flows_dir: str = "ivr/flows"
    default_queue: str = "general"


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str = ""  # signs session cookies; generated per run when empty
    cookie_secure: bool = False
    # open websockets (tabs) one signed-in session may hold at once
    max_sockets_per_session: int = 5
    # addresses (or networks, e.g. "10.0.0.0/8") of reverse proxies whose X-Forwarded-For is
    # believed; from anyone else the header is ignored and the peer address is the client
    trusted_proxies: list[str] = field(default_factory=list)
    # sign-in failures from one client address within 30 minutes before each further attempt
    # from it waits `address_delay_s` (a correct password still passes after the delay)
    address_failures: int = 50
    address_delay_s: float = 3.0
    # slow or idle connections: a connection that has not sent a whole request head this long
    # after opening (or after its previous response) is closed, idle keep-alive ones included;
    # a request body must arrive within `body_timeout_s` (408 otherwise)
    keepalive_timeout_s: float = 15.0
    body_timeout_s: float = 30.0
    # over TLS (directly, or via a trusted proxy's X-Forwarded-Proto: https): Secure cookies
    # and Strict-Transport-Security; `cookie_secure` makes cookies Secure always
    hsts_max_age_s: int = 31_536_000


@dataclass(frozen=True)
class RoutingSettings:
    wrap_up_s: int = 30
    ring_timeout_s: int = 15
    strategy: str = "longest_idle"  # longest_idle, highest_level, least_calls, round_robin
    sticky_s: int = 30


@dataclass(frozen=True)
class DialerSettings:
    abandon_limit_pct: float = 3.0
    calling_hours_start: str = "08:00"
    calling_hours_end: str = "21:00"


@dataclass(frozen=True)
class DispositionSettings:
    # How long after saving a disposition its operator may still correct it (a slip of the
    # finger caught at once); later, only a supervisor or an administrator may correct it.
    correction_window_s: int = 600


@dataclass(frozen=True)
class PaymentSettings:
    # payment plans: at most this many instalments, the last at most this many days ahead
    max_instalments: int = 12
    max_plan_days: int = 365
    # an instalment short by at most this amount still counts as kept
    instalment_tolerance: float = 0.0
    # payments take a banking day or two to arrive: a promise or an instalment is broken only
    # when this many days after its date have passed without it being paid
    grace_days: int = 2
    # promises and instalments are evaluated once a day inside the node at this hour of the
    # center's time zone (and at start-up when that day's run is still due)
    evaluate_daily: bool = True
    evaluate_at_hour: int = 6
    # the queue a broken promise's or instalment's follow-up task goes to when the debt has no
    # assigned operator and the promise was not made on a queue call ("" = [agi] default_queue)
    broken_task_queue: str = ""


@dataclass(frozen=True)
class RecordingsSettings:
    directory: str = "var/recordings"
    layout: str = "{date}/{queue}/{linkedid}.wav"
    workers: int = 1
    vosk_models: dict[str, str] = field(default_factory=dict)  # language -> model directory
    # recordings (and their transcripts) older than this many days are deleted by the node
    # once a day (the first purge a few minutes after start-up); 0 keeps them forever
    retention_days: int = 365


@dataclass(frozen=True)
class PrivacySettings:
    """Contact search for operators is for identifying a caller, not for browsing the debtor
    base (crm_core/search_scope.py; SECURITY.md, *contact search*)."""

    # a query needs this many letters, or this many digits, or to be an exact account reference
    search_min_letters: int = 3
    search_min_digits: int = 4
    # hits returned at most (operators; supervisors and admins)
    search_page_operator: int = 20
    search_page_supervisor: int = 100
    # searches per user within the window (then 429 with Retry-After)
    search_rate_window_s: float = 600.0
    search_rate_operator: int = 30
    search_rate_supervisor: int = 120
    # a hit may be opened (with a purpose) this long after the search, and a card opened from a
    # search stays open to its operator as long; at most `search_grants_max` such cards at once
    search_grant_ttl_s: float = 1800.0
    search_grants_max: int = 20


@dataclass(frozen=True)
class LoggingSettings:
    # "text" for people (call=… agent=… campaign=… on each line), "json" for log shippers
    # (one object per line); crm_core/logcontext.py
    format: str = "text"


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    center: CenterSettings = field(default_factory=CenterSettings)
    ami: AmiSettings = field(default_factory=AmiSettings)
    agi: AgiSettings = field(default_factory=AgiSettings)
    web: WebSettings = field(default_factory=WebSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    dialer: DialerSettings = field(default_factory=DialerSettings)
    dispositions: DispositionSettings = field(default_factory=DispositionSettings)
    recordings: RecordingsSettings = field(default_factory=RecordingsSettings)
    payments: PaymentSettings = field(default_factory=PaymentSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: configuration file not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    sections = {f.name: f.type for f in dataclasses.fields(Settings)}
    hints = typing.get_type_hints(Settings)
    for name in raw:
        if name not in sections:
            raise ConfigError(f"{source}: unknown section [{name}]; known: {', '.join(sections)}")
    built = {}
    for name in sections:
        section_cls = hints[name]
        values = raw.get(name, {})
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        built[name] = _build_section(section_cls, name, values, source, environ)
    settings = Settings(**built)
    _validate(settings, source)
    return settings


def _build_section(
    cls: type, section: str, values: dict[str, Any], source: str, environ: Mapping[str, str]
) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(
                f"{source}: [{section}] unknown key {key!r}; known: {', '.join(sorted(known))}"
            )
    kwargs = {}
    for key in known:
        env_name = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
        if env_name in environ:
            kwargs[key] = _coerce_text(environ[env_name], hints[key], f"${env_name}")
        elif key in values:
            kwargs[key] = _coerce(values[key], hints[key], f"{source}: [{section}] {key}")
    return cls(**kwargs)


def _coerce(value: Any, kind: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if kind is date:
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError as exc:
                raise ConfigError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from exc
        raise ConfigError(f"{where}: expected a date YYYY-MM-DD, got {value!r}")
    if origin is list:
        (item,) = typing.get_args(kind)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        _, item = typing.get_args(kind)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return {str(k): _coerce(v, item, f"{where}.{k}") for k, v in value.items()}
    raise ConfigError(f"{where}: unsupported setting type {kind}")


def _coerce_text(text: str, kind: Any, where: str) -> Any:
    """Environment values are text: read them as TOML values where a type needs it."""
    if kind is str:
        return text
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    return _coerce(value, kind, where)


def _validate(settings: Settings, source: str) -> None:
    from crm_core.db import DatabaseUrlError, check_url

    try:
        check_url(settings.database.url)
    except DatabaseUrlError as exc:
        raise ConfigError(f"{source}: [database] url: {exc}") from exc
    try:
        ZoneInfo(settings.center.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"{source}: [center] timezone: unknown time zone {settings.center.timezone!r}"
        ) from exc
    region = settings.center.default_region
    if len(region) != 2 or not region.isalpha():
        raise ConfigError(
            f"{source}: [center] default_region: expected ISO country code, got {region!r}"
        )
    for i, pattern in enumerate(settings.center.internal_extensions):
        where = f"{source}: [center] internal_extensions[{i}]"
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{where}: not a regular expression: {exc}") from exc
        if compiled.fullmatch(""):
            raise ConfigError(f"{where}: {pattern!r} matches an empty number")
        if any(compiled.fullmatch(probe) for probe in _NOT_EXTENSIONS):
            raise ConfigError(
                f"{where}: {pattern!r} matches international or long numbers; an extension is"
                " a short internal number (at most 8 digits)"
            )
    for key in (f.name for f in dataclasses.fields(PrivacySettings)):
        if getattr(settings.privacy, key) <= 0:
            raise ConfigError(f"{source}: [privacy] {key}: must be greater than 0")
    if "{number}" not in settings.ami.number_endpoint:
        raise ConfigError(f"{source}: [ami] number_endpoint: must contain {{number}}")
    for section, key in (("ami", "port"), ("agi", "port"), ("web", "port")):
        port = getattr(getattr(settings, section), key)
        if not 0 <= port <= 65535:
            raise ConfigError(f"{source}: [{section}] {key}: {port} is not a TCP port")
    if settings.routing.strategy not in {
        "longest_idle",
        "highest_level",
        "least_calls",
        "round_robin",
    }:
        raise ConfigError(
            f"{source}: [routing] strategy: unknown strategy {settings.routing.strategy!r}"
        )
    if not 0 < settings.dialer.abandon_limit_pct <= 100:
        raise ConfigError(f"{source}: [dialer] abandon_limit_pct: must be in (0, 100]")
    if settings.web.max_sockets_per_session < 1:
        raise ConfigError(f"{source}: [web] max_sockets_per_session: must be at least 1")
    for i, proxy in enumerate(settings.web.trusted_proxies):
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError as exc:
            raise ConfigError(
                f"{source}: [web] trusted_proxies[{i}]: not an address or network: {proxy!r}"
            ) from exc
    if settings.web.address_failures < 1 or settings.web.address_delay_s < 0:
        raise ConfigError(f"{source}: [web] address_failures >= 1 and address_delay_s >= 0")
    if settings.dispositions.correction_window_s < 0:
        raise ConfigError(f"{source}: [dispositions] correction_window_s: must be at least 0")
    if settings.recordings.workers < 1:
        raise ConfigError(f"{source}: [recordings] workers: must be at least 1")
    if not 0 <= settings.recordings.retention_days <= 36_500:
        raise ConfigError(
            f"{source}: [recordings] retention_days: must be in 0..36500 (0 keeps recordings"
            " forever)"
        )
    if not 0.5 <= settings.web.keepalive_timeout_s <= 3600:
        raise ConfigError(f"{source}: [web] keepalive_timeout_s: must be in 0.5..3600")
    if not 0.5 <= settings.web.body_timeout_s <= 3600:
        raise ConfigError(f"{source}: [web] body_timeout_s: must be in 0.5..3600")
    if settings.web.hsts_max_age_s < 0:
        raise ConfigError(f"{source}: [web] hsts_max_age_s: must be at least 0")
    pay = settings.payments
    if not 1 <= pay.max_instalments <= 120:
        raise ConfigError(f"{source}: [payments] max_instalments: must be in 1..120")
    if not 1 <= pay.max_plan_days <= 3650:
        raise ConfigError(f"{source}: [payments] max_plan_days: must be in 1..3650")
    if not 0 <= pay.instalment_tolerance <= 1_000_000:
        raise ConfigError(f"{source}: [payments] instalment_tolerance: must be an amount >= 0")
    if not 0 <= pay.grace_days <= 60:
        raise ConfigError(f"{source}: [payments] grace_days: must be in 0..60")
    if not 0 <= pay.evaluate_at_hour <= 23:
        raise ConfigError(f"{source}: [payments] evaluate_at_hour: must be an hour 0..23")
    if settings.logging.format not in ("text", "json"):
        raise ConfigError(
            f"{source}: [logging] format: expected text or json, got {settings.logging.format!r}"
        )
