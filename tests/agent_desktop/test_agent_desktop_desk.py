"""The operator's desk over HTTP and its websocket: screen pop, state, call control, wrap-up."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from agent_desktop.callbacks import CallbackReminders
from agent_desktop.keys import HUB
from ami_bridge.events import CallBridged, CallEnded, CallStarted, EndReason
from crm_core.card import Card
from crm_core.lookup import lookup_by_phone
from crm_core.models import AuditEntry, Debt, DebtStatus, Interaction, PromiseToPay, Task, TaskKind
from routing.agent_state import AgentState
from routing.events import AgentOffered
from tests.waiting import drained, eventually

HUB_SUBSCRIBER = "agent_desktop.hub"
LINKEDID = "1795444000.0"
CALLER_CHANNEL = "Local/100@cb-hold-00000000;2"
AGENT_CHANNEL = "Local/agent1@cb-agents-00000001;1"


async def open_ws(client: TestClient, page: str = "desk") -> ClientWebSocketResponse:
    origin = str(client.make_url("/")).rstrip("/")
    return await client.ws_connect(f"/ws?page={page}", headers={"Origin": origin})


async def next_of(ws: ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(20.0):
        while True:
            message = json.loads((await ws.receive()).data)
            if message["type"] == kind:
                return message


async def card_for(env) -> Card:
    async with env.db.session() as session:
        card = await lookup_by_phone(session, "07911 123456", "GB")
    assert card is not None
    return card


async def offer_call(env, agent: str = "op1", linkedid: str = LINKEDID) -> None:
    """What routing does before ringing the agent: reserve them, then publish the offer."""
    agent_id = str(env.users[agent])
    env.acd.move(agent_id, AgentState.READY)
    env.acd.move(agent_id, AgentState.RESERVED, linkedid)
    card = await card_for(env)
    env.bus.publish(
        AgentOffered(
            agent_id=agent_id,
            linkedid=linkedid,
            queue="collections",
            caller_number="+447911123456",
            card=card.to_dict(),
            contact_id=card.contact_id,
            ivr_path=("language:en", "menu:2"),
            waited_s=12.5,
            endpoint="Local/agent1@cb-agents",
            at=env.clock.now(),
        )
    )


def connect_call(env, agent: str = "op1") -> None:
    agent_id = str(env.users[agent])
    now = env.clock.now()
    env.bus.publish(
        CallStarted(
            linkedid=LINKEDID,
            at=now,
            channel=CALLER_CHANNEL,
            uniqueid=LINKEDID,
            caller_number="+447911123456",
            caller_name=None,
            context="cb-inbound",
            exten="100",
            direction="inbound",
        )
    )
    env.acd.move(agent_id, AgentState.RINGING, LINKEDID)
    env.acd.move(agent_id, AgentState.ON_CALL, LINKEDID)
    env.bus.publish(
        CallBridged(
            linkedid=LINKEDID,
            at=now,
            bridge_id="b1",
            channel=AGENT_CHANNEL,
            parties=(CALLER_CHANNEL, AGENT_CHANNEL),
        )
    )


async def test_an_offer_pops_the_card_on_the_operators_websocket(client, env, sign_in) -> None:
    await sign_in(client, "op1")
    ws = await open_ws(client)
    await next_of(ws, "hello")
    await offer_call(env)
    message = await next_of(ws, "offer")
    call = message["call"]
    assert call["linkedid"] == LINKEDID and call["queue"] == "collections"
    assert call["card"]["name"] == "Ivan Petrov"
    assert call["card"]["total_balance"] == "1500.00"
    assert call["ivr_path"] == ["language:en", "menu:2"]
    state = await (await client.get("/desk/state")).json()
    assert state["call"]["linkedid"] == LINKEDID  # a reload or reconnect gets it back
    assert state["agent"]["state"] == "reserved"

    async def audited_views() -> list[AuditEntry]:
        async with env.db.session() as session:
            query = select(AuditEntry).where(AuditEntry.action == "view")
            return list((await session.execute(query)).scalars().all())

    # the pop is audited off the hot path, in batches
    views = await eventually(audited_views, what="the screen pop audited")
    assert [(v.user_id, v.object_id, v.detail["reason"]) for v in views] == [
        (env.users["op1"], str(env.contact_id), "screen_pop")
    ]
    await ws.close()


async def test_one_operator_never_receives_anothers_offer(client, env, sign_in) -> None:
    await sign_in(client, "op2")
    ws = await open_ws(client)
    await next_of(ws, "hello")
    await offer_call(env, agent="op1")
    # Positive control: an offer to op2 published after op1's does arrive; the hub pushes in
    # bus order, so op1's offer, had it been pushed to op2, would have come first.
    await offer_call(env, agent="op2", linkedid="1795444999.9")
    offer = await next_of(ws, "offer")
    assert offer["call"]["linkedid"] == "1795444999.9", "op2 received op1's offer"
    await ws.close()


async def test_state_buttons_drive_the_acd_and_come_back_live(client, env, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    ws = await open_ws(client)
    await next_of(ws, "hello")
    headers = {"X-CSRF-Token": csrf}
    assert (await client.post("/desk/agent", json={"action": "login"}, headers=headers)).ok
    assert (await next_of(ws, "agent"))["agent"]["state"] == "ready"
    response = await client.post(
        "/desk/agent", json={"action": "pause", "reason": "lunch"}, headers=headers
    )
    assert response.ok
    agent = (await next_of(ws, "agent"))["agent"]
    assert (agent["state"], agent["reason"]) == ("paused", "lunch")
    bad = await client.post(
        "/desk/agent", json={"action": "pause", "reason": "nap"}, headers=headers
    )
    assert bad.status == 422 and (await bad.json())["error"]["code"] == "invalid_input"
    await ws.close()


async def test_call_controls_send_typed_actions_to_the_switch(client, env, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    headers = {"X-CSRF-Token": csrf}
    none = await client.post("/desk/call/hangup", json={}, headers=headers)
    assert none.status == 409 and (await none.json())["error"]["code"] == "desk.no_call"
    await offer_call(env)
    connect_call(env)
    await drained(env.bus, HUB_SUBSCRIBER)  # the hub applies bus events on its own task
    response = await client.post(
        "/desk/call/transfer", json={"kind": "operator", "target": "2002"}, headers=headers
    )
    assert response.ok, await response.text()
    assert (await client.post("/desk/call/dtmf", json={"digit": "5"}, headers=headers)).ok
    bad = await client.post("/desk/call/dtmf", json={"digit": "55"}, headers=headers)
    assert bad.status == 422 and (await bad.json())["error"]["code"] == "ami.invalid_request"
    assert (await client.post("/desk/call/hangup", json={}, headers=headers)).ok
    assert env.port.sent == [
        ("BlindTransfer", {"Channel": AGENT_CHANNEL, "Context": "cb-xfer", "Exten": "2002"}),
        ("PlayDTMF", {"Channel": CALLER_CHANNEL, "Digit": "5"}),
        ("Hangup", {"Channel": CALLER_CHANNEL}),
    ]


async def wrap_up(env, client, csrf: str, **body: Any) -> Any:
    return await client.post("/desk/wrapup", json=body, headers={"X-CSRF-Token": csrf})


async def end_call(env) -> None:
    agent_id = str(env.users["op1"])
    env.clock.advance(95)
    env.bus.publish(
        CallEnded(
            linkedid=LINKEDID,
            at=env.clock.now(),
            cause=16,
            cause_text="Normal Clearing",
            duration_s=95,
            talk_s=80,
            reason=EndReason.HANGUP,
        )
    )
    env.acd.move(agent_id, AgentState.WRAP_UP, LINKEDID)
    await drained(env.bus, HUB_SUBSCRIBER)


async def test_promise_to_pay_is_saved_once_and_gates_leaving_wrap_up(client, env, sign_in):
    csrf = await sign_in(client, "op1")
    await offer_call(env)
    connect_call(env)
    await end_call(env)
    headers = {"X-CSRF-Token": csrf}
    gated = await client.post("/desk/agent", json={"action": "ready"}, headers=headers)
    assert gated.status == 409
    assert (await gated.json())["error"]["code"] == "desk.disposition_required"

    promise = {"debt_id": env.debt_id, "amount": "1500.01", "due_on": "2026-12-01"}
    too_much = await wrap_up(
        env, client, csrf, key="k-0000001", linkedid=LINKEDID, disposition="ptp", promise=promise
    )
    assert too_much.status == 422
    assert (await too_much.json())["error"]["details"]["field"] == "promise.amount"

    promise["amount"] = "250.00"
    body = dict(
        key="k-0000002",
        linkedid=LINKEDID,
        disposition="ptp",
        promise=promise,
        notes="will pay from salary",
    )
    first = await wrap_up(env, client, csrf, **body)
    assert first.status == 200, await first.text()
    again = await wrap_up(env, client, csrf, **body)  # a double click, a retry after reconnect
    assert await again.json() == await first.json()
    async with env.db.session() as session:
        promises = (
            (
                await session.execute(
                    select(PromiseToPay).where(PromiseToPay.interaction_id.is_not(None))
                )
            )
            .scalars()
            .all()
        )
        assert [(p.amount, str(p.due_on)) for p in promises] == [(Decimal("250.00"), "2026-12-01")]
        interaction = (
            await session.execute(select(Interaction).where(Interaction.linkedid == LINKEDID))
        ).scalar_one()
        assert (interaction.disposition, interaction.notes) == ("ptp", "will pay from salary")
        assert interaction.agent_id == env.users["op1"]
    ready = await client.post("/desk/agent", json={"action": "ready"}, headers=headers)
    assert ready.status == 200
    state = await (await client.get("/desk/state")).json()
    assert state["today"]["promises"] == 1 and state["today"]["promised"] == "250.00"
    async with env.db.session() as session:
        assert (await session.get(Debt, env.debt_id)).status is DebtStatus.PROMISE


async def test_callback_is_stored_in_utc_from_the_debtors_local_time(client, env, sign_in):
    csrf = await sign_in(client, "op1")
    await offer_call(env)
    connect_call(env)
    await end_call(env)
    response = await wrap_up(
        env,
        client,
        csrf,
        key="cb-000001",
        linkedid=LINKEDID,
        disposition="callback",
        callback={"local": "2026-11-24T18:30", "assign": "self"},
    )
    assert response.status == 200, await response.text()
    async with env.db.session() as session:
        task = (await session.execute(select(Task))).scalar_one()
    # Europe/London is UTC+0 in November
    assert task.due_at == datetime(2026, 11, 24, 18, 30, tzinfo=UTC)
    assert task.owner_agent_id == env.users["op1"]
    listed = await (await client.get("/api/tasks")).json()
    assert [t["id"] for t in listed["items"]] == [task.id]


async def test_a_second_tab_is_read_only_until_it_takes_over(client, env, sign_in):
    csrf = await sign_in(client, "op1")
    first = await open_ws(client)
    first_id = (await next_of(first, "hello"))["tab_id"]
    assert (await next_of(first, "tab"))["active"] is True
    second = await open_ws(client)
    second_id = (await next_of(second, "hello"))["tab_id"]
    assert (await next_of(second, "tab"))["active"] is False
    refused = await client.post(
        "/desk/agent",
        json={"action": "login"},
        headers={"X-CSRF-Token": csrf, "X-Tab-Id": second_id},
    )
    assert refused.status == 409
    assert (await refused.json())["error"]["code"] == "desk.read_only_tab"
    await second.send_json({"type": "claim"})
    assert (await next_of(second, "tab"))["active"] is True
    while (await next_of(first, "tab"))["active"]:  # skip the repeat sent when tab 2 joined
        pass
    allowed = await client.post(
        "/desk/agent",
        json={"action": "login"},
        headers={"X-CSRF-Token": csrf, "X-Tab-Id": second_id},
    )
    assert allowed.status == 200
    assert first_id != second_id
    await first.close()
    await second.close()


async def test_searching_grants_the_card_and_every_view_is_audited(client, env, sign_in):
    await sign_in(client, "op1")
    url = f"/api/contacts/{env.contact_id}/card"
    refused = await client.get(url)
    assert refused.status == 403
    hits = await (await client.get("/api/contacts", params={"q": "NW-778812"})).json()
    assert [h["contact_id"] for h in hits["items"]] == [env.contact_id]
    by_phone = await (await client.get("/api/contacts", params={"q": "07911 123456"})).json()
    assert [h["name"] for h in by_phone["items"]] == ["Ivan Petrov"]
    by_name = await (await client.get("/api/contacts", params={"q": "petr"})).json()
    assert [h["contact_id"] for h in by_name["items"]] == [env.contact_id]
    assert (await client.get(url)).status == 422  # a hit opens with a purpose
    card = await client.get(url, params={"purpose": "caller_on_line"})
    assert card.status == 200
    assert (await card.json())["debts"][0]["reference"] == "NW-778812"
    async with env.db.session() as session:
        views = (
            (await session.execute(select(AuditEntry).where(AuditEntry.action == "view")))
            .scalars()
            .all()
        )
    assert [(v.user_id, v.object_id) for v in views] == [(env.users["op1"], str(env.contact_id))]


async def test_unknown_caller_is_created_and_bound_to_the_call(client, env, sign_in):
    csrf = await sign_in(client, "op1")
    agent_id = str(env.users["op1"])
    env.acd.move(agent_id, AgentState.READY)
    env.acd.move(agent_id, AgentState.RESERVED, "77.1")
    env.bus.publish(
        AgentOffered(
            agent_id=agent_id,
            linkedid="77.1",
            queue="general",
            caller_number="+447911123999",
            card=None,
            at=env.clock.now(),
        )
    )
    await drained(env.bus, HUB_SUBSCRIBER)
    response = await client.post(
        "/api/contacts",
        json={
            "first_name": "Nina",
            "last_name": "New",
            "phone": "07911 123999",
            "linkedid": "77.1",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 201, await response.text()
    contact_id = (await response.json())["contact_id"]
    async with env.db.session() as session:
        row = (
            await session.execute(select(Interaction).where(Interaction.linkedid == "77.1"))
        ).scalar_one()
    assert row.contact_id == contact_id
    assert (await client.get(f"/api/contacts/{contact_id}/card")).status == 200


async def test_a_callback_coming_due_is_pushed_once_to_its_operator(client, env, sign_in):
    await sign_in(client, "op1")
    ws = await open_ws(client)
    await next_of(ws, "hello")
    async with env.db.session() as session:
        session.add(
            Task(
                kind=TaskKind.CALLBACK,
                contact_id=env.contact_id,
                phone_e164="+447911123456",
                due_at=env.clock.now() + timedelta(minutes=3),
                owner_agent_id=env.users["op1"],
                note="after payday",
                created_at=env.clock.now(),
            )
        )
        await session.commit()
    reminders = CallbackReminders(env.db, client.app[HUB], env.clock)
    assert await reminders.check() == 1
    message = await next_of(ws, "callback_due")
    assert (message["task"]["name"], message["task"]["overdue"]) == ("Ivan Petrov", False)
    assert await reminders.check() == 0  # reminded once, not every round
    await ws.close()


async def test_an_unknown_caller_found_by_search_is_bound_to_the_call(client, env, sign_in):
    csrf = await sign_in(client, "op1")
    headers = {"X-CSRF-Token": csrf}
    agent_id = str(env.users["op1"])
    env.acd.move(agent_id, AgentState.READY)
    env.acd.move(agent_id, AgentState.RESERVED, "88.1")
    env.bus.publish(
        AgentOffered(
            agent_id=agent_id,
            linkedid="88.1",
            queue="general",
            caller_number="+447911000111",
            card=None,
            at=env.clock.now(),
        )
    )
    await drained(env.bus, HUB_SUBSCRIBER)
    url = "/api/calls/88.1/contact"
    unsearched = await client.post(url, json={"contact_id": env.contact_id}, headers=headers)
    assert unsearched.status == 403
    await client.get("/api/contacts", params={"q": "Petrov"})
    bound = await client.post(url, json={"contact_id": env.contact_id}, headers=headers)
    assert bound.status == 200, await bound.text()
    assert (await bound.json())["name"] == "Ivan Petrov"
    state = await (await client.get("/desk/state")).json()
    assert state["call"]["card"]["contact_id"] == env.contact_id  # survives a reload
    async with env.db.session() as session:
        row = (
            await session.execute(select(Interaction).where(Interaction.linkedid == "88.1"))
        ).scalar_one()
    assert row.contact_id == env.contact_id
