"""The flow runtime on its own: the demo flow walked by hand, on a manual clock, no sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from crm_core.clock import ManualClock
from ivr.flow import Flow
from ivr.loader import load_flow, parse_flow
from ivr.runtime import (
    Action,
    CallFacts,
    Digits,
    EndCall,
    Enqueue,
    FindCaller,
    FlowRun,
    PlayPrompts,
    Profile,
    ReadDigits,
    RequestCallback,
    SetLanguage,
    luhn_ok,
    mask,
)

INBOUND = Path(__file__).resolve().parents[2] / "ivr" / "flows" / "inbound.toml"
OPEN = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
CLOSED = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Sunday 21:00 in New York
THANKSGIVING = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def walk(
    flow: Flow,
    keys: list[str],
    *,
    at: datetime = OPEN,
    caller: str = "5551234",
    profiles: dict[tuple[str, str], Profile] | None = None,
    callback_task: int | None = 1,
) -> tuple[FlowRun, list[Action]]:
    """Run the flow; each ReadDigits takes the next entry of `keys` ("" = timeout)."""
    run = FlowRun(flow, CallFacts(caller_number=caller), ManualClock(at))
    steps = run.steps()
    actions: list[Action] = []
    pending = list(keys)
    reply: object = None
    try:
        action = next(steps)
        while True:
            actions.append(action)
            if isinstance(action, ReadDigits):
                value = pending.pop(0)  # "#" ends input; without it Asterisk reports timeout
                reply = Digits(value.rstrip("#"), timed_out=not value.endswith("#"))
            elif isinstance(action, FindCaller):
                reply = (profiles or {}).get((action.by, action.value))
            elif isinstance(action, RequestCallback):
                reply = callback_task
            else:
                reply = None
            action = steps.send(reply)
    except StopIteration:
        pass
    assert not pending, f"keys left over: {pending}"
    return run, actions


def of(kind: type, actions: list[Action]) -> list:
    return [a for a in actions if isinstance(a, kind)]


@pytest.fixture(scope="module")
def inbound() -> Flow:
    return load_flow(INBOUND)


def test_unknown_caller_chooses_russian_enters_account_and_is_queued(inbound: Flow) -> None:
    debtor = Profile(contact_id=7, language="ru", balance=Decimal("12500.00"))
    run, actions = walk(inbound, ["2", "12345678#"], profiles={("account", "12345678"): debtor})
    assert of(SetLanguage, actions) == [SetLanguage("ru")]
    assert of(FindCaller, actions) == [
        FindCaller("caller", "5551234"),
        FindCaller("account", "12345678"),
    ]
    reads = of(ReadDigits, actions)
    assert reads[1] == ReadDigits("cb-enter-account", 11, 8.0)  # max_length + 1: see too long
    assert of(Enqueue, actions) == [Enqueue("collections", {"collections": 50, "lang_ru": 1}, 30)]
    assert run.path == [
        "greeting",
        "known_caller:not_found",
        "language=2",
        "russian",
        "account=****5678",
        "account_lookup:found",
        "hours=yes",
        "repeat_caller=no",
        "vip=no",
        "high_balance=yes",
        "queue_high:collections",
    ]
    assert run.digits == ["2", "****5678"]
    assert run.outcome == "queued"
    assert run.vars["balance_band"] == "high"


def test_the_callers_language_choice_beats_the_cards(inbound: Flow) -> None:
    debtor = Profile(contact_id=7, language="en")
    run, actions = walk(inbound, ["2", "12345678#"], profiles={("account", "12345678"): debtor})
    assert of(SetLanguage, actions) == [SetLanguage("ru")]
    assert of(Enqueue, actions)[0].skills == {"collections": 1, "lang_ru": 1}
    assert run.vars["language"] == "ru"


def test_known_caller_skips_questions_and_repeat_call_is_prioritised(inbound: Flow) -> None:
    last = OPEN - timedelta(minutes=10)
    debtor = Profile(contact_id=3, language="en", last_call_ended_at=last)
    run, actions = walk(inbound, [], profiles={("caller", "5551234"): debtor})
    assert of(ReadDigits, actions) == []
    assert of(Enqueue, actions)[0].priority == 40
    assert run.path[-1] == "queue_repeat:collections"


def test_closed_on_a_holiday_offers_a_callback(inbound: Flow) -> None:
    run, actions = walk(inbound, ["1", "123456#", "1"], at=THANKSGIVING)
    assert of(RequestCallback, actions) == [
        RequestCallback("collections", "Callback requested in the IVR outside business hours")
    ]
    assert isinstance(actions[-1], EndCall)
    assert of(Enqueue, actions) == []
    assert "hours=no" in run.path and run.outcome == "callback"


def test_a_callback_that_cannot_be_stored_sends_the_caller_to_a_queue(inbound: Flow) -> None:
    run, actions = walk(inbound, ["1", "123456#", "1"], at=THANKSGIVING, callback_task=None)
    assert of(Enqueue, actions) == [Enqueue("collections", {}, 10, fallback=True)]
    assert run.path[-2:] == ["callback", "default:callback_failed"]
    assert run.outcome == "queued"


def test_a_withheld_unknown_number_cannot_be_called_back(inbound: Flow) -> None:
    run, actions = walk(inbound, ["1", "99999999#", "1"], at=THANKSGIVING, caller="")
    assert of(RequestCallback, actions) == []
    assert of(FindCaller, actions) == [FindCaller("account", "99999999")]
    assert of(Enqueue, actions) == [Enqueue("collections", {}, 10, fallback=True)]
    assert run.path[-1] == "default:no_number_to_call_back"


def test_closed_at_night_and_caller_declines(inbound: Flow) -> None:
    run, actions = walk(inbound, ["1", "123456#", "2"], at=CLOSED)
    assert run.outcome == "ivr_hangup"
    assert of(PlayPrompts, actions)[-1] == PlayPrompts(("cb-goodbye",))


def test_menu_retries_then_takes_on_failure(inbound: Flow) -> None:
    run, actions = walk(inbound, ["", "9", "", "123456#"])
    assert run.path[1:5] == [
        "known_caller:not_found",
        "language:timeout",
        "language:invalid:9",
        "language:timeout",
    ]
    assert of(PlayPrompts, actions)[1:3] == [PlayPrompts(("cb-invalid-choice",))] * 2
    assert run.vars["language"] == "en"


def test_account_too_long_too_short_then_gives_up(inbound: Flow) -> None:
    run, actions = walk(inbound, ["1", "12345678901", "123#", ""])
    assert run.path[4:7] == [
        "account:too_long:*******8901",
        "account:too_short:***",
        "account:timeout",
    ]
    assert of(PlayPrompts, actions)[1:3] == [PlayPrompts(("cb-invalid-account",))] * 2
    assert run.path[7] == "hours=yes"
    assert "12345678901" not in " ".join(run.path)
    assert run.outcome == "queued"


LUHN_FLOW = """
[flow]
start = "card"
default_queue = "general"

[nodes.card]
type = "collect"
prompt = "enter-card"
variable = "card"
min_length = 4
max_length = 19
validate = "luhn"
retries = 1
sensitive = true
next = "queue"

[nodes.queue]
type = "queue"
queue = "pay_{language}"
skills = { "lang_{segment}" = 10 }
"""


def test_luhn_check_and_unset_template_variable_fall_back_to_default() -> None:
    flow = parse_flow(LUHN_FLOW, file="luhn.toml", default_name="luhn")
    run, actions = walk(flow, ["79927398710#", "79927398713#"])
    assert run.path[:2] == ["card:check_digit:*******8710", "card=*******8713"]
    # {segment} is unknown without a lookup: the call still reaches the safe default queue
    assert of(Enqueue, actions) == [Enqueue("general", {}, 0, fallback=True)]
    assert run.path[-1] == "default:unset variable segment"


def test_a_loop_without_input_ends_in_the_default_queue() -> None:
    flow = parse_flow(
        '[flow]\nstart = "a"\ndefault_queue = "general"\n'
        '[nodes.a]\ntype = "set"\nvalues = { x = "1" }\nnext = "b"\n'
        '[nodes.b]\ntype = "set"\nvalues = { x = "2" }\nnext = "a"\n',
        file="loop.toml",
        default_name="loop",
    )
    run, actions = walk(flow, [])
    assert actions == [Enqueue("general", {}, 0, fallback=True)]
    assert run.path[-1] == "default:step limit"


@pytest.mark.parametrize(
    ("digits", "ok"),
    [("79927398713", True), ("79927398710", False), ("0", True), ("18", True), ("19", False)],
)
def test_luhn(digits: str, ok: bool) -> None:
    assert luhn_ok(digits) is ok


@pytest.mark.parametrize(
    ("digits", "shown"), [("12345678", "****5678"), ("123456", "******"), ("", "")]
)
def test_mask(digits: str, shown: str) -> None:
    assert mask(digits) == shown
