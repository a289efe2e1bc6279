"""The client library Callboard uses (panoramisk 1.4) works against pbx_sim."""

from __future__ import annotations

import asyncio

from panoramisk import Manager

from pbx_sim import PbxSim, VirtualClock


async def test_panoramisk_login_ping_originate_and_events(sim: PbxSim, clock: VirtualClock) -> None:
    manager = Manager(
        host="127.0.0.1", port=sim.ami_port, username="ccadmin", secret="ccsecret", ping_delay=3600
    )
    seen: list[str] = []
    manager.register_event("MusicOnHoldStart", lambda _m, event: seen.append(event.Channel))
    await manager.connect()
    try:
        pong = await manager.send_action({"Action": "Ping"})
        assert pong.Ping == "Pong"
        # OriginateResponse arrives inside the Originate's result (DESIGN.md)
        pending = manager.send_action(
            {
                "Action": "Originate",
                "Channel": "Local/100@cb-hold",
                "Context": "caller-sim",
                "Exten": "s",
                "Priority": "1",
                "CallerID": '"Alice" <5551234>',
                "Async": "true",
                "Variable": "HOLD_SECS=30",
            }
        )
        for _ in range(100):
            if seen:
                break
            await clock.advance(0.1)
        result = await asyncio.wait_for(pending, 20)
        assert [m.Response for m in result][-1] == "Success"
        assert seen == ["Local/100@cb-hold-00000000;2"]
    finally:
        manager.close()
