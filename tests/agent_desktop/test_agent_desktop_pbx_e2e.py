"""The desktop end to end over TCP: pbx_sim <-> ami_bridge <-> AcdService <-> the desktop app.

A caller waits on music on hold; the ACD offers the call to the signed-in operator, whose
websocket gets the card before the phone rings; the operator's Hang up button sends a real
Hangup through the AMI link, the tracker reports the end, the ACD puts the operator in wrap-up,
and the disposition lets them become ready again.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientWebSocketResponse
from sqlalchemy import select

from ami_bridge.switch import DialplanTarget, OriginateRequest
from crm_core.models import Interaction


async def next_of(ws: ClientWebSocketResponse, kind: str, **match: Any) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            message = json.loads((await ws.receive()).data)
            body = message.get("agent") or message.get("call") or message
            if message["type"] == kind and all(body.get(k) == v for k, v in match.items()):
                return message


async def test_a_pbx_sim_call_pops_the_card_and_is_hung_up_from_the_desk(pbx_stack, env, sign_in):
    stack = pbx_stack
    client = stack.client
    csrf = await sign_in(client, "op1")
    headers = {"X-CSRF-Token": csrf}
    origin = str(client.make_url("/")).rstrip("/")
    ws = await client.ws_connect("/ws?page=desk", headers={"Origin": origin})
    assert (await client.post("/desk/agent", json={"action": "login"}, headers=headers)).ok
    await next_of(ws, "agent", state="ready")

    result = await stack.bridge.switch.originate(
        OriginateRequest(
            endpoint="Local/100@cb-hold",
            target=DialplanTarget("caller-sim", "s", 1),
            caller_id='"Ivan" <5551234>',
            variables={"HOLD_SECS": "60", "DTMF_DELAY": "0"},
            channel_id="caller-100",
        )
    )
    assert result.answered
    caller_channel = result.channel.removesuffix(";1") + ";2"
    stack.acd.enqueue(
        linkedid="caller-100",
        queue="collections",
        caller_channel=caller_channel,
        caller_number="5551234",
        contact_id=env.contact_id,
    )

    offer = await next_of(ws, "offer")
    assert offer["call"]["card"]["name"] == "Ivan Petrov"
    await next_of(ws, "agent", state="on_call")
    await next_of(ws, "call", bridged=True)

    hangup = await client.post("/desk/call/hangup", json={}, headers=headers)
    assert hangup.status == 200, await hangup.text()
    await next_of(ws, "call", ended=True)
    await next_of(ws, "agent", state="wrap_up")
    saved = await client.post(
        "/desk/wrapup",
        json={
            "key": "e2e-key-1",
            "linkedid": "caller-100",
            "disposition": "refused",
            "notes": "says the debt is not his",
        },
        headers=headers,
    )
    assert saved.status == 200, await saved.text()
    assert (await client.post("/desk/agent", json={"action": "ready"}, headers=headers)).ok
    await next_of(ws, "agent", state="ready")
    async with env.db.session() as session:
        row = (
            await session.execute(select(Interaction).where(Interaction.linkedid == "caller-100"))
        ).scalar_one()
    assert (row.disposition, row.contact_id) == ("refused", env.contact_id)
    await ws.close()
