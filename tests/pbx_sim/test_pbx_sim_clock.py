"""pbx_sim's virtual clock: timers fire in order, each timer's consequences before the next."""

from __future__ import annotations

import asyncio

from pbx_sim import VirtualClock


async def test_advance_fires_due_timers_in_order_and_stops_at_the_target() -> None:
    clock = VirtualClock(start=1000.0)
    fired: list[tuple[str, float]] = []
    clock.call_later(5, lambda: fired.append(("b", clock.now())))
    clock.call_later(2, lambda: fired.append(("a", clock.now())))
    late = clock.call_later(20, lambda: fired.append(("late", clock.now())))
    cancelled = clock.call_later(3, lambda: fired.append(("cancelled", clock.now())))
    cancelled.cancel()
    await clock.advance(10)
    assert fired == [("a", 1002.0), ("b", 1005.0)]
    assert clock.now() == 1010.0
    late.cancel()
    assert clock.next_deadline() is None


async def test_a_sleeping_task_wakes_before_the_next_timer() -> None:
    clock = VirtualClock(start=0.0)
    seen: list[str] = []

    async def sleeper() -> None:
        await clock.sleep(1)
        seen.append("woke")
        clock.call_later(0.5, lambda: seen.append("scheduled by the sleeper"))

    task = asyncio.get_running_loop().create_task(sleeper())
    clock.call_later(1.2, lambda: seen.append("timer at 1.2"))
    await clock.run_until_idle()
    await task
    assert seen == ["woke", "timer at 1.2", "scheduled by the sleeper"]


async def test_auto_drive_jumps_when_idle_but_not_while_a_peer_is_busy() -> None:
    clock = VirtualClock(start=0.0, idle_grace=0.002)
    clock.busy_limit = 60.0  # a stalled CI machine must not outlast the peer's busy spell
    fired = asyncio.Event()
    clock.call_later(3600, fired.set)
    clock.start()
    try:
        with clock.busy():
            await asyncio.sleep(0.05)  # many idle_graces: the driver looked and held still
            assert not fired.is_set()
        await asyncio.wait_for(fired.wait(), 20)  # positive control: then it jumps
        assert clock.now() == 3600.0
    finally:
        await clock.stop()
