"""A tracker that follows a PBX for weeks forgets every call, leg and bridge once it is over:
replaying the captured traces over and over (ids renamed each round, as new calls have new
ids) leaves exactly what one replay leaves, the calls still live at the end of a capture."""

from __future__ import annotations

import re

import pytest

from ami_bridge.channels import DirectionRules
from ami_bridge.frames import FrameParser
from ami_bridge.tracker import CallTracker
from tests.ami_bridge.tracker_replay import TRACES, clock_at, trace

ROUNDS = 25
_SIBLING = re.compile(r"(;[12])$")


def renamed(message: dict[str, str], round_: int) -> dict[str, str]:
    """The same event for another call: every channel name and id gets the round's mark
    (kept before a Local half's ;1/;2, so the pair stays a pair)."""
    out = dict(message)
    for key, value in message.items():
        if not value:
            continue
        if key.endswith(("Uniqueid", "Linkedid")):
            out[key] = f"{value}r{round_}"
        elif key.endswith("Channel") or key == "Newname":
            out[key] = _SIBLING.sub(rf"r{round_}\1", value) if ";" in value else f"{value}r{round_}"
    return out


def state(tracker: CallTracker) -> tuple[int, int, int, int]:
    return (
        len(tracker._calls),
        len(tracker._channels),
        len(tracker._by_name),
        len(tracker._bridges),
    )


def feed_rounds(prefix: str, rounds: int) -> CallTracker:
    tracker = CallTracker(
        clock_at(1795444000),
        rules=DirectionRules(leg_uniqueid_prefixes=("cb-acd-", "manual-")),
    )
    data = trace(prefix).connection("A").received_bytes
    for round_ in range(rounds):
        parser = FrameParser()
        for message in parser.feed(data):
            tracker.feed(renamed(dict(message), round_))
    return tracker


PREFIXES = sorted(p.name[:2] for p in TRACES.glob("[01][0-9]-*.ami") if p.name[:2] >= "03")


@pytest.mark.skipif(not PREFIXES, reason="the shared Asterisk traces are not beside the repo")
@pytest.mark.parametrize("prefix", PREFIXES or ["none"])
def test_ended_calls_and_legs_leave_nothing_behind(prefix: str) -> None:
    once = state(feed_rounds(prefix, 1))
    many = feed_rounds(prefix, ROUNDS)
    # what is left after one replay is live at the end of the capture: one set per round
    assert state(many) == tuple(n * ROUNDS for n in once)
    assert many._closing == set()
    if prefix != "13":  # the FastAGI capture ends with its calls still up
        assert once == (0, 0, 0, 0)
