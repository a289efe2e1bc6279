"""AMI ingest: bytes -> FrameParser -> CallTracker -> InProcessBus, on one core.

The stream is the call scenarios of the Asterisk 22 captures (traces 03-11), every call copied
with fresh Uniqueids, Linkedids, channel and bridge names, and the copies interleaved so that
about --concurrent calls are live at once. It is fed in 64 KiB reads, like socket reads.
Measured in the same run:
  - ours, end to end: parse, track, publish every call event to a bus with one draining
    subscriber (AMI events per second);
  - the baseline: panoramisk 1.4's own parsing (AMIProtocol.data_received -> Message.from_line)
    of the same bytes, dispatch stubbed out; ratio = ours end to end / panoramisk parse only;
  - memory held by the tracker with 10,000 live channels (tracemalloc).
Targets: >= 30,000 events/s end to end, ratio >= 0.6.
Times are this process's CPU seconds (time.process_time): the work of one core, unaffected by
other processes on a shared machine. Each figure is the best of --runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from panoramisk.ami_protocol import AMIProtocol

from ami_bridge.events import CallEvent
from ami_bridge.frames import FrameParser
from ami_bridge.traces import load_trace
from ami_bridge.tracker import CallTracker
from crm_core.bus import InProcessBus, Overflow
from crm_core.clock import ManualClock

TRACES = Path(
    os.environ.get(
        "CALLBOARD_TRACES", Path(__file__).resolve().parents[2] / "shared/asterisk/traces"
    )
)
T = TypeVar("T", bound=tuple[Any, ...])
SCENARIOS = ("03", "04", "05", "06", "07", "09", "10", "11")
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
READ_SIZE = 65536
NOT_CALL_TRAFFIC = {"FullyBooted", "SuccessfulAuth"}

# Identifiers to renumber per copy: Uniqueids/Linkedids (at most 3 decimals; Timestamps have 6,
# so the look-ahead keeps them intact), dialer ChannelIds, channel sequence numbers, bridge ids.
_IDENTIFIER = re.compile(
    rb"((?<![\d.])17954\d{5}\.\d{1,3}(?!\d)|dial-\d+-[ab]|-[0-9a-f]{8};"
    rb"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b)"
)

Template = list[bytes]  # literal, identifier, literal, identifier, ..., literal


def scenario_templates() -> list[list[Template]]:
    """Each scenario's received call events (banner, replies, login dropped) as templates."""
    scenarios = []
    for prefix in SCENARIOS:
        (path,) = TRACES.glob(f"{prefix}-*.ami")
        connection = load_trace(path).connections[0]
        scenarios.append(
            [
                _IDENTIFIER.split(frame + b"\r\n\r\n")
                for frame in connection.received_bytes.split(b"\r\n\r\n")
                if frame.startswith(b"Event: ")
                and frame[7:].split(b"\r\n", 1)[0].decode() not in NOT_CALL_TRAFFIC
            ]
        )
    return scenarios


def renumbered(identifier: bytes, copy: int) -> bytes:
    """The identifier as copy `copy` of its call has it."""
    if identifier.startswith(b"dial-"):
        return b"dial-%d-%s" % (copy, identifier[5:])
    if identifier.startswith(b"-"):
        return b"-%08x;" % ((copy << 8) + int(identifier[1:9], 16))
    if b"." in identifier:
        return b"%d.%s" % (copy, identifier.split(b".")[1])
    return b"%08x%s" % (copy, identifier[8:])


def render(scenario: list[Template], copy: int) -> Iterator[bytes]:
    names: dict[bytes, bytes] = {}
    for parts in scenario:
        out = parts[:]
        for i in range(1, len(out), 2):
            name = names.get(out[i])
            if name is None:
                name = names[out[i]] = renumbered(out[i], copy)
            out[i] = name
        yield b"".join(out)


def build_stream(target_events: int, concurrent: int) -> tuple[bytes, int]:
    """Interleave renumbered scenario copies on `concurrent` lanes until target_events."""
    scenarios = scenario_templates()
    copies = iter(range(1, 1 << 24))

    def lane() -> Iterator[bytes]:
        while True:
            for scenario in scenarios:
                yield from render(scenario, next(copies))

    lanes = [lane() for _ in range(concurrent)]
    out = [BANNER]
    events = 0
    while events < target_events:
        for source in lanes:
            out.append(next(source))
            events += 1
    return b"".join(out), events


def reads(stream: bytes) -> list[bytes]:
    return [stream[i : i + READ_SIZE] for i in range(0, len(stream), READ_SIZE)]


def run_ours(chunks: list[bytes]) -> tuple[float, int, int, int, int]:
    """(seconds, AMI messages, call events published, events delivered to the subscriber,
    the most calls live at the end of a read)."""
    bus = InProcessBus()
    subscription = bus.subscribe("drain", CallEvent, maxsize=100_000, overflow=Overflow.FAIL)
    tracker = CallTracker(ManualClock())
    parser = FrameParser()
    feed, publish, drain = tracker.feed, bus.publish, subscription.get_nowait
    messages = published = delivered = peak = 0
    start = time.process_time()
    for chunk in chunks:
        batch = parser.feed(chunk)
        messages += len(batch)
        for message in batch:
            for event in feed(message):
                publish(event)
                published += 1
        while drain() is not None:
            delivered += 1
        peak = max(peak, tracker.call_count)
    elapsed = time.process_time() - start
    return elapsed, messages, published, delivered, peak


def run_ours_parse_only(chunks: list[bytes]) -> tuple[float, int]:
    parser = FrameParser()
    start = time.process_time()
    count = sum(len(parser.feed(chunk)) for chunk in chunks)
    return time.process_time() - start, count


class _CountingProtocol(AMIProtocol):
    """panoramisk's real protocol parser; only the dispatch to handlers is replaced."""

    count = 0

    def handle_message(self, message: object) -> None:
        self.count += 1


def run_panoramisk(chunks: list[bytes]) -> tuple[float, int]:
    protocol = _CountingProtocol()
    protocol.connection_made(None)
    start = time.process_time()
    for chunk in chunks:
        protocol.data_received(chunk)
    return time.process_time() - start, protocol.count


def measure_memory(channels: int) -> tuple[int, float]:
    """tracemalloc bytes held by a tracker with `channels` live channels (callers on hold)."""
    hold = scenario_templates()[0]  # trace 03: stop each copy once its caller is on hold
    waiting = next(i for i, t in enumerate(hold) if t[0].startswith(b"Event: MusicOnHoldStart"))
    per_call = sum(1 for t in hold[: waiting + 1] if t[0].startswith(b"Event: Newchannel"))
    frames = [
        frame
        for copy in range(1, channels // per_call + 1)
        for frame in render(hold[: waiting + 1], copy)
    ]
    messages = FrameParser(expect_banner=False).feed(b"".join(frames))
    del frames
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracker = CallTracker(ManualClock())
    for message in messages:
        tracker.feed(message)
    del messages
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    live = tracker.channel_count
    return live, held / (1024 * 1024) * 10_000 / max(1, live)


def best_of(runs: int, fn: Callable[[list[bytes]], T], chunks: list[bytes]) -> T:
    """The run with the least CPU time (element 0 of each result)."""
    return min((fn(chunks) for _ in range(runs)), key=lambda result: result[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000, help="AMI events in the stream")
    parser.add_argument(
        "--concurrent", type=int, default=2_000, help="scenario copies playing at once"
    )
    parser.add_argument("--runs", type=int, default=3, help="best of N timed runs")
    parser.add_argument("--quick", action="store_true", help="a small run (100k events)")
    args = parser.parse_args()
    if args.quick:
        args.events, args.concurrent, args.runs = 100_000, 500, 2

    built = time.perf_counter()
    stream, events = build_stream(args.events, args.concurrent)
    chunks = reads(stream)
    size = len(stream)
    del stream
    built = time.perf_counter() - built
    print(
        f"stream: {events:,} AMI events, {size / 2**20:.1f} MiB, "
        f"{args.concurrent:,} scenarios playing at once (built in {built:.1f} s)"
    )

    parse_s, parsed = best_of(args.runs, run_ours_parse_only, chunks)
    base_s, base_count = best_of(args.runs, run_panoramisk, chunks)
    ours_s, messages, published, delivered, peak = best_of(args.runs, run_ours, chunks)
    if not parsed == base_count == messages == events or delivered != published:
        raise SystemExit(
            f"count mismatch: ours {parsed}/{messages}, panoramisk {base_count}, built {events}, "
            f"published {published}, delivered {delivered}"
        )
    ours_rate = messages / ours_s
    base_rate = base_count / base_s
    print(f"ours, parse only:              {parsed / parse_s:>10,.0f} events/s")
    print(f"panoramisk 1.4, parse only:    {base_rate:>10,.0f} events/s  (baseline)")
    print(
        f"ours, parse+track+publish:     {ours_rate:>10,.0f} events/s  "
        f"({published:,} call events published and drained; up to {peak:,} live calls)"
    )
    ratio = ours_rate / base_rate
    print(f"ratio end to end / panoramisk parse only: {ratio:.2f}   (target >= 0.6)")

    live, mib = measure_memory(10_000)
    print(f"tracker memory: {mib:.2f} MiB per 10,000 live channels ({live:,} measured)")
    print(
        json.dumps(
            {
                "events_per_s": round(ours_rate),
                "parse_events_per_s": round(parsed / parse_s),
                "panoramisk_parse_events_per_s": round(base_rate),
                "ratio_vs_panoramisk": round(ratio, 3),
                "call_events_published": published,
                "mib_per_10k_channels": round(mib, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
