"""Leftover of the probe: a supervisor could force-pause and force-log-out any operator in the
center, not only their team (listen, whisper and barge were already limited), and the audit of a
force-pause did not say why. Now every agent command follows the recordings' rule (a supervisor
their own team, an administrator all; 403 `not_your_team`), and the pause's reason is audited."""

from __future__ import annotations

from sqlalchemy import update

from crm_core.models import User
from tests.security.support import audit_rows


async def _join_team(env, operator: str, supervisor: str) -> None:
    async with env.db.session() as session:
        await session.execute(
            update(User).where(User.id == env.users[operator]).values(team_id=env.users[supervisor])
        )
        await session.commit()


async def test_a_supervisor_pauses_and_logs_out_only_their_own_team(client, env, sign_in) -> None:
    agent = str(env.users["op1"])
    await env.acd.login(agent)
    csrf = await sign_in(client, "sup")
    headers = {"X-CSRF-Token": csrf}
    for command in ("pause", "logout"):
        refused = await client.post(
            f"/supervisor/agents/{agent}/{command}", json={"reason": "coffee"}, headers=headers
        )
        assert refused.status == 403, await refused.text()
        assert (await refused.json())["error"]["details"] == {"reason": "not_your_team"}
    assert await audit_rows(env, "pause") == [] and await audit_rows(env, "logout") == []

    await _join_team(env, "op1", "sup")
    paused = await client.post(
        f"/supervisor/agents/{agent}/pause", json={"reason": "coaching"}, headers=headers
    )
    assert paused.status == 200, await paused.text()
    logged_out = await client.post(f"/supervisor/agents/{agent}/logout", json={}, headers=headers)
    assert logged_out.status == 200, await logged_out.text()


async def test_a_force_pause_audits_its_reason(client, env, sign_in) -> None:
    agent = str(env.users["op1"])
    await env.acd.login(agent)
    await _join_team(env, "op1", "sup")
    csrf = await sign_in(client, "sup")
    response = await client.post(
        f"/supervisor/agents/{agent}/pause",
        json={"reason": "coaching session"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 200, await response.text()
    [row] = await audit_rows(env, "pause")
    assert (row.user_id, row.object_id) == (env.users["sup"], agent)
    assert row.detail["reason"] == "coaching session"


async def test_an_administrator_pauses_and_logs_out_anyone(client, env, sign_in) -> None:
    agent = str(env.users["op1"])
    await env.acd.login(agent)
    csrf = await sign_in(client, "admin")
    headers = {"X-CSRF-Token": csrf}
    for command in ("pause", "logout"):
        response = await client.post(
            f"/supervisor/agents/{agent}/{command}", json={"reason": "audit"}, headers=headers
        )
        assert response.status == 200, await response.text()
