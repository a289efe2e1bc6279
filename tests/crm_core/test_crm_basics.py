"""Phones, configuration, passwords and the bus: the pieces every package leans on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from crm_core.auth import hash_password, verify_password
from crm_core.bus import Event, InProcessBus, Overflow, SubscriberOverflow
from crm_core.config import ConfigError, load_settings
from crm_core.phones import InvalidPhoneNumber, normalise, time_zones


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("8 (916) 123-45-67", "RU", "+79161234567"),
        ("+7 916 123 45 67", "GB", "+79161234567"),
        ("07911 123456", "GB", "+447911123456"),
        ("(212) 555-0142", "US", "+12125550142"),
        ("0044 20 7123 4567", "US", "+442071234567"),
    ],
)
def test_numbers_normalise_to_e164(raw, region, e164):
    assert normalise(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("hello", "not a phone number"),
        ("+44 12", "wrong length"),
        ("+999 123456789", "unknown country code"),
        ("+1 011 555 0142", "no such number range"),
    ],
)
def test_invalid_numbers_say_why(raw, reason):
    with pytest.raises(InvalidPhoneNumber, match=reason) as info:
        normalise(raw, "GB")
    assert info.value.raw == raw


def test_time_zone_from_number():
    assert time_zones("+74951234567") == ("Europe/Moscow",)  # a Moscow landline
    assert time_zones("+12125550142") == ("America/New_York",)
    assert len(time_zones("+79161234567")) > 5  # a Russian mobile can be anywhere in Russia


def test_config_from_file_and_environment(tmp_path: Path):
    path = tmp_path / "callboard.toml"
    path.write_text(
        '[center]\ntimezone = "Europe/Moscow"\ndefault_region = "RU"\n'
        'holidays = ["2026-12-31"]\n[ami]\nport = 5039\n'
    )
    settings = load_settings(
        path, environ={"CALLBOARD_AMI__PORT": "6000", "CALLBOARD_WEB__COOKIE_SECURE": "true"}
    )
    assert settings.center.timezone == "Europe/Moscow"
    assert settings.center.holidays[0].isoformat() == "2026-12-31"
    assert settings.ami.port == 6000
    assert settings.web.cookie_secure is True


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[ami]\nport = 'x'\n", {}, r"callboard.toml: \[ami\] port: expected a whole number"),
        ("[ami]\nprot = 1\n", {}, r"\[ami\] unknown key 'prot'"),
        ("[amy]\n", {}, r"unknown section \[amy\]"),
        ("[center]\ntimezone = 'Mars/Olympus'\n", {}, "unknown time zone 'Mars/Olympus'"),
        ("[database]\nurl = 'mysql://x'\n", {}, "supported: sqlite"),
        ("[ami\n", {}, "not valid TOML"),
        ("", {"CALLBOARD_WEB__PORT": "99999"}, r"\[web\] port: 99999 is not a TCP port"),
        ("", {"CALLBOARD_AMI__PORT": "five"}, r"\$CALLBOARD_AMI__PORT: expected a whole number"),
        ("[center]\nholidays = ['31/12/2026']\n", {}, r"holidays\[0\]: expected a date"),
    ],
)
def test_config_errors_name_the_place(tmp_path: Path, text, env, message):
    path = tmp_path / "callboard.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ=env)


def test_missing_config_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_passwords():
    stored = hash_password("s3cret!")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert verify_password("s3cret!", stored)
    assert not verify_password("s3cret", stored)
    assert not verify_password("s3cret!", "garbage")


@dataclass(frozen=True, slots=True, kw_only=True)
class Numbered(Event):
    n: int


async def test_slow_subscriber_never_stalls_the_publisher():
    bus = InProcessBus()
    slow = bus.subscribe("slow", Numbered, maxsize=10, overflow=Overflow.DROP_OLDEST)
    keep = bus.subscribe("keep", Numbered, maxsize=10, overflow=Overflow.DROP_NEWEST)
    for n in range(25):
        bus.publish(Numbered(n=n))  # synchronous: the AMI reader never waits
    assert slow.stats.dropped == 15 and keep.stats.dropped == 15
    assert [slow.get_nowait().n for _ in range(10)] == list(range(15, 25))
    assert [(await keep.get()).n for _ in range(10)] == list(range(10))


async def test_fail_policy_closes_the_subscriber_and_iteration_ends_on_close():
    bus = InProcessBus()
    strict = bus.subscribe("strict", maxsize=2, overflow=Overflow.FAIL)
    for n in range(3):
        bus.publish(Numbered(n=n))
    with pytest.raises(SubscriberOverflow):
        while True:
            await strict.get()
    sub = bus.subscribe("reader", Numbered)
    received = []

    async def read():
        async for event in sub:
            received.append(event.n)

    task = asyncio.create_task(read())
    bus.publish(Numbered(n=7))
    await asyncio.sleep(0)
    bus.unsubscribe(sub)
    await asyncio.wait_for(task, 10)
    assert received == [7]
