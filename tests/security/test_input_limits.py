"""Findings 5 (Low 9) and 6 (Low 14): the card-view audit reason came from the client, any
length; a NUL in a contact search matched almost anything; force-pause reasons had no limit.
Now the audit reason is the server's own (the search, the offer with its call); searches with
control characters and over-long pause reasons are refused with 400 and a clear message."""

from __future__ import annotations

from sqlalchemy import select

from crm_core.models import AuditEntry
from routing.events import AgentOffered
from tests.waiting import drained

JUNK = "because I say so " * 300


async def card_views(env) -> list[AuditEntry]:
    """Card views made through HTTP (the screen-pop auditor writes its own, without address)."""
    async with env.db.session() as session:
        query = select(AuditEntry).where(
            AuditEntry.action == "view",
            AuditEntry.object_type == "contact",
            AuditEntry.remote_addr != "",
        )
        return list((await session.scalars(query.order_by(AuditEntry.id))).all())


async def test_the_card_view_reason_is_the_servers_not_the_clients(client, env, sign_in) -> None:
    await sign_in(client, "op1")
    hits = await (await client.get("/api/contacts", params={"q": "Petrov"})).json()
    assert [h["contact_id"] for h in hits["items"]] == [env.contact_id]
    card = await client.get(
        f"/api/contacts/{env.contact_id}/card", params={"reason": JUNK, "purpose": "callback"}
    )
    assert card.status == 200
    (searched,) = await card_views(env)  # the purpose is one of a fixed list (finding 4)
    assert searched.detail == {"reason": "search", "purpose": "callback", "query": "Petrov"}

    env.bus.publish(  # a screen pop of the other contact: its card is opened for that call
        AgentOffered(
            agent_id=str(env.users["op1"]),
            linkedid="L-pop-1",
            queue="collections",
            caller_number=None,
            card=None,
            contact_id=env.xss_contact_id,
            at=env.clock.now(),
        )
    )
    await drained(env.bus, "agent_desktop.hub")  # the hub applies the offer to the board
    card = await client.get(f"/api/contacts/{env.xss_contact_id}/card", params={"reason": JUNK})
    assert card.status == 200
    popped = (await card_views(env))[-1]
    assert popped.detail in (
        {"reason": "offer", "linkedid": "L-pop-1"},
        {"reason": "call", "linkedid": "L-pop-1"},
    )
    assert all(JUNK not in str(row.detail) for row in await card_views(env))


async def test_control_characters_in_a_search_are_refused(client, env, sign_in) -> None:
    await sign_in(client, "op1")
    for query in ("\x00", "Pe\x00", "Petrov\n", "a\x1b[2J"):
        response = await client.get("/api/contacts", params={"q": query})
        assert response.status == 400, query
        error = (await response.json())["error"]
        assert error["details"]["field"] == "q"
        assert "control characters" in error["message"]
    too_long = await client.get("/api/contacts", params={"q": "x" * 101})
    assert too_long.status == 400
    ok = await client.get("/api/contacts", params={"q": "Petrov"})
    assert ok.status == 200


async def test_force_pause_reasons_are_limited(client, env, sign_in) -> None:
    agent = str(env.users["op1"])
    await env.acd.login(agent)
    csrf = await sign_in(client, "admin")  # a supervisor may pause only their team
    url = f"/supervisor/agents/{agent}/pause"
    headers = {"X-CSRF-Token": csrf}
    long = await client.post(url, json={"reason": "x" * 201}, headers=headers)
    assert long.status == 400
    assert "at most 200 characters" in (await long.json())["error"]["message"]
    control = await client.post(url, json={"reason": "coffee\x00"}, headers=headers)
    assert control.status == 400
    fine = await client.post(url, json={"reason": "x" * 200}, headers=headers)
    assert fine.status == 200, await fine.text()
