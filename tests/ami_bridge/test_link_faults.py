"""Link faults against real Asterisk bytes: silence, dropped socket, Shutdown, lost replies."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from ami_bridge.errors import LinkDown, OriginateLost
from ami_bridge.frames import Message
from ami_bridge.link import Link, LinkConfig, LinkState, backoff_delay
from tests.ami_bridge.trace_server import TraceServer, test_config, trace


class Harness:
    def __init__(self, server: TraceServer) -> None:
        self.server = server
        self.events: list[Message] = []
        self.states: list[tuple[LinkState, float]] = []
        self.lost = asyncio.Event()
        self.link: Link
        self.task: asyncio.Task[None]

    def _on_state(self, state: LinkState, _detail: str) -> None:
        self.states.append((state, time.monotonic()))
        if state is LinkState.WAITING:
            self.lost.set()

    async def __aenter__(self) -> Harness:
        port = await self.server.start()
        self.link = Link(
            test_config(port),
            on_event=self.events.append,
            on_state=self._on_state,
        )
        self.task = asyncio.create_task(self.link.run())
        await self.link.wait_up(2)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.link.stop()
        await asyncio.wait_for(self.task, 2)
        await self.server.close()

    async def until_sessions(self, count: int, within: float = 3.0) -> None:
        async with asyncio.timeout(within):
            while self.link.sessions < count or not self.link.is_up:
                await self.link.wait_attempt()


def _second_session() -> TraceServer:
    login = trace("01").connection("A")
    return TraceServer.of([login, login])


async def test_silence_is_noticed_within_dead_after_and_the_link_comes_back() -> None:
    async with Harness(_second_session()) as h:
        await asyncio.sleep(0.3)  # a few pings answered: the watchdog is content
        assert h.link.is_up
        muted_at = time.monotonic()
        h.server.mute()
        await asyncio.wait_for(h.lost.wait(), 2)
        noticed = time.monotonic() - muted_at
        assert noticed <= 0.6 + 0.25, f"dead link noticed after {noticed:.2f} s"
        h.server.mute(False)
        await h.until_sessions(2)
        assert h.server.connections == 2


def test_default_watchdog_notices_silence_within_three_seconds() -> None:
    config = LinkConfig(username="u", secret="s")
    assert config.dead_after <= 3.0 and config.ping_interval < config.dead_after
    with pytest.raises(ValueError, match=r"ping_interval .* shorter than dead_after"):
        LinkConfig(username="u", secret="s", ping_interval=3.0, dead_after=3.0)
    with pytest.raises(ValueError, match="username"):
        LinkConfig(username="", secret="s")


async def test_socket_closed_by_the_pbx_reconnects() -> None:
    async with Harness(_second_session()) as h:
        h.server.drop()
        await h.until_sessions(2)
        states = [state for state, _ in h.states]
        assert states[:2] == [LinkState.CONNECTING, LinkState.UP]
        assert LinkState.WAITING in states[2:]
        assert states[-1] is LinkState.UP


async def test_asterisk_shutdown_event_then_eof_reconnects() -> None:
    shutdown = trace("14")
    server = TraceServer.of([shutdown.connection("A"), shutdown.connection("B")])
    async with Harness(server) as h:
        result = await h.link.originate([("Channel", "Local/100@cb-hold")], result_timeout=1)
        assert result["Reason"] == "4"
        # Everything up to the Shutdown event was delivered, then the link reconnected.
        await h.until_sessions(2)
        names = [e.get("Event") for e in h.events]
        assert "Shutdown" in names
        assert names.index("Hangup") < names.index("Shutdown")


async def test_pending_action_fails_fast_on_link_loss_and_is_never_replayed() -> None:
    async with Harness(_second_session()) as h:
        h.server.swallow("QueueAdd")
        waiting = asyncio.create_task(h.link.send("QueueAdd", [("Queue", "support")]))
        await asyncio.sleep(0.05)
        h.server.drop()
        with pytest.raises(LinkDown, match="lost while waiting"):
            await waiting
        await h.until_sessions(2)
        await asyncio.sleep(0.1)
        assert len(h.server.sent("QueueAdd")) == 1, "panoramisk would have re-sent it"


async def test_originate_cut_before_its_reply_reports_the_call_may_exist() -> None:
    async with Harness(_second_session()) as h:
        h.server.swallow("Originate")
        waiting = asyncio.create_task(
            h.link.originate([("Channel", "Local/5551234@pstn-sim")], result_timeout=5)
        )
        await asyncio.sleep(0.05)
        h.server.drop()
        with pytest.raises(OriginateLost, match="the call may exist") as caught:
            await waiting
        assert caught.value.code == "ami.originate_lost"


def test_backoff_is_exponential_capped_and_jittered() -> None:
    config = LinkConfig(username="u", secret="s", backoff_initial=0.5, backoff_max=30.0)
    rng = random.Random(7)
    delays = [backoff_delay(config, n, rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        base = min(30.0, 0.5 * 2 ** (n - 1))
        assert base / 2 <= delay <= base
    assert max(delays) <= 30.0
    assert len({round(d, 6) for d in delays[-4:]}) == 4, "jitter spreads capped delays"
    assert backoff_delay(config, 1, rng, after_refusal=True) >= 15.0
    assert backoff_delay(config, 10_000, rng) <= 30.0
