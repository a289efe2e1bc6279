"""The desktop on the real ACD (routing's Acd + AcdService): a queued call is offered to the
signed-in operator, the card pops on their websocket before the agent leg is rung, the operator
takes the call through wrap-up with a disposition and becomes ready again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient, TestServer

from agent_desktop.acd_adapter import RoutingAgentControl
from agent_desktop.app import create_app
from ami_bridge.events import CallBridged, CallEnded, CallStarted, Direction, EndReason
from ami_bridge.switch import Switch
from routing.acd import Acd
from routing.queues import QueueConfig
from routing.service import AcdService

CALLER_CHANNEL = "Local/100@cb-hold-00000000;2"


@pytest.fixture
async def acd_client(env, desk_deps) -> AsyncIterator[tuple[TestClient, AcdService]]:
    switch = Switch(env.port, number_endpoint="Local/{number}@pstn-sim")
    service = AcdService(
        Acd(env.clock, [QueueConfig(name="collections", wrap_up_s=30)]),
        bus=env.bus,
        switch=switch,
        clock=env.clock,
        db=env.db,
        default_region="GB",
        stats_interval_s=0.05,
    )
    await service.start()
    app = create_app(desk_deps(env, acd=RoutingAgentControl(service, env.db), switch=switch))
    async with TestClient(TestServer(app)) as client:
        yield client, service
    await service.stop()


async def next_of(ws: ClientWebSocketResponse, kind: str, **match: Any) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            message = json.loads((await ws.receive()).data)
            if message["type"] != kind:
                continue
            body = message.get("agent") or message.get("call") or message
            if all(body.get(k) == v for k, v in match.items()):
                return message


async def test_a_queued_call_pops_the_card_then_rings_and_wraps_up(acd_client, env, sign_in):
    client, service = acd_client
    csrf = await sign_in(client, "op1")
    headers = {"X-CSRF-Token": csrf}
    origin = str(client.make_url("/")).rstrip("/")
    ws = await client.ws_connect("/ws?page=desk", headers={"Origin": origin})
    login = await client.post("/desk/agent", json={"action": "login"}, headers=headers)
    assert login.status == 200, await login.text()
    await next_of(ws, "agent", state="ready")

    linkedid = "1795444000.0"
    env.bus.publish(
        CallStarted(
            linkedid=linkedid,
            at=env.clock.now(),
            channel=CALLER_CHANNEL,
            uniqueid=linkedid,
            caller_number="+447911123456",
            caller_name=None,
            context="cb-inbound",
            exten="100",
            direction=Direction.INBOUND,
        )
    )
    service.enqueue(
        linkedid=linkedid,
        queue="collections",
        caller_channel=CALLER_CHANNEL,
        caller_number="+447911123456",
        ivr_path=("menu:2",),
    )
    offer = await next_of(ws, "offer")
    assert offer["call"]["card"]["name"] == "Ivan Petrov"
    assert offer["call"]["ivr_path"] == ["menu:2"]
    await next_of(ws, "agent", state="on_call")  # the (recorded) agent leg answered
    originate = next(h for action, h in env.port.sent if action == "Originate")
    assert originate["Data"] == f"{CALLER_CHANNEL},T"  # rung only after the card was pushed

    env.bus.publish(
        CallBridged(
            linkedid=linkedid,
            at=env.clock.now(),
            bridge_id="b1",
            channel="Local/agent1@cb-agents-00000001;1",
            parties=(CALLER_CHANNEL, "Local/agent1@cb-agents-00000001;1"),
        )
    )
    await next_of(ws, "call", bridged=True)
    hangup = await client.post("/desk/call/hangup", json={}, headers=headers)
    assert hangup.status == 200
    assert env.port.sent[-1] == ("Hangup", {"Channel": CALLER_CHANNEL})
    env.bus.publish(
        CallEnded(
            linkedid=linkedid,
            at=env.clock.now(),
            cause=16,
            cause_text="Normal Clearing",
            duration_s=60,
            talk_s=50,
            reason=EndReason.HANGUP,
        )
    )
    await next_of(ws, "agent", state="wrap_up")
    refused = await client.post("/desk/agent", json={"action": "ready"}, headers=headers)
    assert (await refused.json())["error"]["code"] == "desk.disposition_required"
    saved = await client.post(
        "/desk/wrapup",
        json={"key": "k-routing-1", "linkedid": linkedid, "disposition": "rpc", "notes": "ok"},
        headers=headers,
    )
    assert saved.status == 200, await saved.text()
    ready = await client.post("/desk/agent", json={"action": "ready"}, headers=headers)
    assert ready.status == 200
    await next_of(ws, "agent", state="ready")
    wrong = await client.post("/desk/agent", json={"action": "ready"}, headers=headers)
    assert wrong.status == 409
    assert (await wrong.json())["error"]["code"] == "acd.invalid_agent_transition"
    await ws.close()


async def test_supervisor_panel_receives_the_acds_queue_figures(acd_client, env, sign_in):
    client, _service = acd_client
    await sign_in(client, "sup")
    origin = str(client.make_url("/")).rstrip("/")
    ws = await client.ws_connect("/ws?page=panel", headers={"Origin": origin})
    message = await next_of(ws, "queue")
    assert message["queue"]["name"] == "collections"
    await ws.close()
