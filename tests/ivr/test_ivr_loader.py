"""Flow files that cannot be used are refused with the file, the line and the node named."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ivr.library import FlowLibrary
from ivr.loader import CenterCalendar, load_flow
from ivr.schema import FlowLoadError

GOOD = """\
[flow]
start = "menu"
default_queue = "general"

[calendars.office]
timezone = "Europe/Moscow"
mon = ["09:00-13:00", "14:00-18:00"]

[nodes.menu]
type = "menu"
prompt = "main-menu"
choices = { "1" = "hours", "2" = "bye" }

[nodes.hours]
type = "condition"
business_hours = "office"
then = "queue"
else = "bye"

[nodes.queue]
type = "queue"
queue = "general"

[nodes.bye]
type = "hangup"
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(FlowLoadError) as caught:
        load_flow(path)
    assert all(p.file == str(path) for p in caught.value.problems)
    return [str(p).removeprefix(f"{path}:") for p in caught.value.problems]


def test_good_flow_loads(tmp_path: Path) -> None:
    path = tmp_path / "good.toml"
    path.write_text(GOOD)
    flow = load_flow(path, "v1")
    assert (flow.name, flow.start, flow.version) == ("good", "menu", "v1")
    assert flow.nodes["hours"].line == 14


def test_missing_node_is_named_with_its_line(tmp_path: Path) -> None:
    text = GOOD.replace('"2" = "bye"', '"2" = "byee"')
    assert problems(tmp_path, text) == ["12: node 'menu': 'choices.2' names missing node 'byee'"]


def test_unknown_key_and_bad_values_all_reported(tmp_path: Path) -> None:
    text = GOOD.replace(
        'queue = "general"\n\n[nodes.bye]',
        'queue = "general"\npriority = 500\nskils = {}\n\n[nodes.bye]',
    )
    text = text.replace('mon = ["09:00-13:00"', 'tue = "18:00-09:00"\nmon = ["09:00-13:00"')
    assert problems(tmp_path, text) == [
        "7: calendar 'office': 'tue' must be 'HH:MM-HH:MM' (opening before closing) or "
        "'closed', got '18:00-09:00'",
        "24: node 'queue': 'priority' must be a whole number from 0 to 100, got 500",
        "25: node 'queue': unknown key 'skils'",
    ]


def test_collect_lengths_and_terminator(tmp_path: Path) -> None:
    text = GOOD + (
        '\n[nodes.acct]\ntype = "collect"\nprompt = "p"\nvariable = "a"\nmin_length = 9\n'
        'max_length = 4\nterminator = "*"\nnext = "bye"\n'
    )
    assert problems(tmp_path, text) == [
        "31: node 'acct': 'min_length' 9 is more than 'max_length' 4",
        "33: node 'acct': 'terminator' must be '#': Asterisk's GET DATA ends input on '#'",
    ]


def test_condition_needs_one_known_test(tmp_path: Path) -> None:
    text = GOOD.replace('business_hours = "office"', 'business_hours = "shop"')
    assert problems(tmp_path, text) == [
        "16: node 'hours': calendar 'shop' is not defined under [calendars]"
    ]
    text = GOOD.replace('business_hours = "office"', 'vip = true\nlanguage = "en"')
    assert problems(tmp_path, text) == [
        "14: node 'hours': needs exactly one test of business_hours, language, balance_at_least, "
        "vip, called_within_minutes, variable; found ['language', 'vip']"
    ]


def test_toml_syntax_error_keeps_tomllib_line(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, GOOD.replace('then = "queue"', 'then = "queue'))
    assert problem.startswith("17: TOML: ")


def test_quoted_header_and_unknown_type(tmp_path: Path) -> None:
    text = GOOD + '\n[nodes."odd one"]\ntype = "transfer"\n'
    assert problems(tmp_path, text) == [
        "28: node 'odd one': 'type' must be one of play, menu, collect, lookup, condition, set, "
        "queue, callback, hangup; got 'transfer'"
    ]


def test_demo_flow_is_valid() -> None:
    load_flow(Path(__file__).resolve().parents[2] / "ivr" / "flows" / "inbound.toml")


def test_library_keeps_the_last_good_version_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "main.toml"
    path.write_text(GOOD)
    library = FlowLibrary(tmp_path)
    assert library.reload().loaded == ("main",)
    good = library.get("main")
    path.write_text(GOOD.replace('start = "menu"', 'start = "nope"'))
    os.utime(path, ns=(1, 10**18))
    report = library.reload()
    assert report.loaded == () and list(report.failed) == [str(path)]
    assert "2: [flow]: start node 'nope' does not exist" in str(report.failed[str(path)])
    assert library.get("main") is good
    assert library.reload().failed == {}  # unchanged file: not read again
    path.unlink()
    assert library.reload().removed == ("main",)
    assert library.get("main") is None and library.errors == {}


def test_two_files_cannot_claim_one_flow_name(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(GOOD.replace("[flow]\n", '[flow]\nname = "same"\n'))
    (tmp_path / "b.toml").write_text(GOOD.replace("[flow]\n", '[flow]\nname = "same"\n'))
    library = FlowLibrary(tmp_path)
    report = library.reload()
    assert report.loaded == ("same",)
    assert "already used by" in str(report.failed[str(tmp_path / "b.toml")])
    (tmp_path / "a.toml").unlink()
    report = library.reload()
    assert (report.removed, report.loaded, library.errors) == (("same",), ("same",), {})
    assert library.get("same") is not None


def test_hash_cannot_be_a_menu_choice(tmp_path: Path) -> None:
    text = GOOD.replace('"2" = "bye" }', '"#" = "bye", "12" = "bye" }')
    assert problems(tmp_path, text) == [
        "12: node 'menu': '#' cannot be a choice: GET DATA takes it as end of input",
        "12: node 'menu': choice '12' must be one key 0-9 or * naming a node",
    ]


def test_prompts_must_be_sound_file_names(tmp_path: Path) -> None:
    text = GOOD.replace('prompt = "main-menu"', 'prompt = "main menu"')
    assert problems(tmp_path, text) == [
        "11: node 'menu': 'prompt' must be a sound file name (letters, digits, _ . / -): "
        "'main menu'"
    ]


def test_calendars_take_the_centers_time_zone_and_holidays(tmp_path: Path) -> None:
    path = tmp_path / "center.toml"
    path.write_text(GOOD.replace('timezone = "Europe/Moscow"\n', "holidays = [2026-11-30]\n"))
    with pytest.raises(FlowLoadError, match="5: calendar 'office': 'timezone' is required"):
        load_flow(path)
    center = CenterCalendar("Europe/Moscow", frozenset({date(2026, 11, 23)}))
    office = load_flow(path, center=center).calendars["office"]
    assert office.timezone.key == "Europe/Moscow"
    assert office.holidays == {date(2026, 11, 23), date(2026, 11, 30)}
    monday_0930_moscow = datetime(2026, 11, 16, 6, 30, tzinfo=UTC)
    assert office.is_open(monday_0930_moscow)
    assert not office.is_open(monday_0930_moscow + timedelta(hours=3, minutes=45))  # 13:15 lunch
    assert not office.is_open(monday_0930_moscow + timedelta(days=7))  # the center's holiday
