"""Info items of the probe: `recording_ref` in API responses named absolute server paths (an
interaction's reference as Asterisk's MixMonitor wrote it); a supervisor could listen, whisper
or barge on any operator's live call while recordings were limited to their team. Now clients
see only a reference relative to the recordings directory (or the file name), and live
listening follows the recordings' rule: a supervisor their own team, an administrator all."""

from __future__ import annotations

import json

from sqlalchemy import update

from crm_core.interactions import InteractionLog
from crm_core.models import User
from tests.agent_desktop.test_agent_desktop_desk import connect_call, offer_call
from tests.waiting import drained

HUB_SUBSCRIBER = "agent_desktop.hub"
ABSOLUTE = "/var/spool/asterisk/monitor/2026-11-23/collections/L-ref-1.wav"


async def test_recording_refs_name_no_server_paths(client, env, sign_in) -> None:
    log = InteractionLog(env.db)
    for linkedid, ref in (("L-ref-1", ABSOLUTE), ("L-ref-2", "2026-11-23/collections/L-ref-2.wav")):
        await log.call_started(
            linkedid,
            started_at=env.clock.now(),
            caller_number="+447911123456",
            queue="collections",
            contact_id=env.contact_id,
        )
        await log.call_updated(
            linkedid, at=env.clock.now(), agent_id=env.users["op1"], recording_ref=ref
        )
    await sign_in(client, "op1")
    one = await (await client.get("/api/calls/L-ref-1")).json()
    assert one["recording_ref"] == "L-ref-1.wav"
    two = await (await client.get("/api/calls/L-ref-2")).json()
    assert two["recording_ref"] == "2026-11-23/collections/L-ref-2.wav"
    for url in (
        "/api/interactions",
        f"/api/interactions?contact_id={env.contact_id}",
        f"/api/contacts/{env.contact_id}/card",
    ):
        response = await client.get(url)
        assert response.status == 200, url
        text = await response.text()
        assert "/var/spool" not in text and "L-ref-1.wav" in text, url
    card = await (await client.get(f"/api/contacts/{env.contact_id}/card")).json()
    refs = {i["recording_ref"] for i in card["interactions"]}
    assert refs == {"L-ref-1.wav", "2026-11-23/collections/L-ref-2.wav"}


async def _spies(env) -> list[dict[str, str]]:
    return [
        headers
        for action, headers in env.port.sent
        if "ChanSpy" in json.dumps(headers) or action == "ChanSpy"
    ]


async def test_a_supervisor_listens_only_to_their_own_team(client, env, sign_in) -> None:
    await offer_call(env)
    connect_call(env)
    await drained(env.bus, HUB_SUBSCRIBER)
    agent = str(env.users["op1"])
    csrf = await sign_in(client, "sup")
    headers = {"X-CSRF-Token": csrf}
    for command in ("listen", "whisper", "barge"):
        refused = await client.post(
            f"/supervisor/agents/{agent}/{command}", json={}, headers=headers
        )
        assert refused.status == 403, await refused.text()
        assert (await refused.json())["error"]["details"] == {"reason": "not_your_team"}
    assert await _spies(env) == []

    async with env.db.session() as session:  # op1 joins sup's team
        await session.execute(
            update(User).where(User.id == env.users["op1"]).values(team_id=env.users["sup"])
        )
        await session.commit()
    allowed = await client.post(f"/supervisor/agents/{agent}/listen", json={}, headers=headers)
    assert allowed.status == 200, await allowed.text()
    assert len(await _spies(env)) == 1


async def test_an_administrator_may_listen_to_anyone(client, env, sign_in) -> None:
    await offer_call(env)
    connect_call(env)
    await drained(env.bus, HUB_SUBSCRIBER)
    async with env.db.session() as session:
        await session.execute(
            update(User).where(User.id == env.users["admin"]).values(endpoint="Local/9@x")
        )
        await session.commit()
    csrf = await sign_in(client, "admin")
    agent = str(env.users["op1"])
    response = await client.post(
        f"/supervisor/agents/{agent}/listen", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 200, await response.text()
