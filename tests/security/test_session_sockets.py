"""Finding 1: ending a session (sign-out, an admin deactivating or changing the user) closes
its websockets at once with 4401, so no screen pop with debtor data reaches a signed-out
browser; deactivation also takes the agent off the ACD and every campaign; a session holds at
most `[web] max_sockets_per_session` sockets."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from agent_desktop.app import create_app
from agent_desktop.hub import SIGNED_OUT, TOO_MANY
from ami_bridge.switch import Switch
from crm_core.config import WebSettings
from dialer.campaign import Campaign
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings
from routing.agent_state import AgentState
from routing.events import AgentOffered
from tests.security.support import closed_with, next_of, open_desk, receive


def pop(env: Any, agent_id: str, linkedid: str) -> None:
    """A screen pop as the ACD publishes it: the debtor's card before the phone rings."""
    env.bus.publish(
        AgentOffered(
            agent_id=agent_id,
            linkedid=linkedid,
            queue="collections",
            caller_number="+447911123456",
            card={"contact_id": env.contact_id, "name": "Ivan Petrov"},
            contact_id=env.contact_id,
            at=env.clock.now(),
        )
    )


async def test_signing_out_closes_the_sessions_sockets_and_no_pop_follows(
    client, env, sign_in
) -> None:
    csrf = await sign_in(client, "op1")
    agent = str(env.users["op1"])
    tabs = [await open_desk(client), await open_desk(client, "desk")]
    pop(env, agent, "L-before")
    for ws in tabs:  # the pops reach a signed-in desk, in every tab (positive control)
        assert (await next_of(ws, "offer")) is not None

    response = await client.post("/logout", headers={"X-CSRF-Token": csrf}, allow_redirects=False)
    assert response.status == 302
    pop(env, agent, "L-after")
    for ws in tabs:
        seen = await closed_with(ws)
        # closed with 4401: the page goes to /login?signed_out=1 instead of reconnecting; the
        # pop published after sign-out never arrived
        assert seen[-1] == SIGNED_OUT and "offer" not in seen, seen
    # and the cookie no longer opens a socket
    refused = await client.get("/ws?page=desk")
    assert refused.status == 401


async def test_no_pop_reaches_a_signed_out_socket(client, env, sign_in) -> None:
    csrf = await sign_in(client, "op1")
    agent = str(env.users["op1"])
    ws = await open_desk(client)
    pop(env, agent, "L-before")  # positive control: a pop does reach this socket
    assert (await next_of(ws, "offer")) is not None
    await client.post("/logout", headers={"X-CSRF-Token": csrf}, allow_redirects=False)
    for n in range(5):
        pop(env, agent, f"L-after-{n}")
    seen = await closed_with(ws)
    assert [kind for kind in seen if kind != "tab"] == [SIGNED_OUT], seen


async def test_deactivating_a_user_ends_sessions_sockets_acd_and_campaigns(
    env, desk_deps, sign_in
) -> None:
    agent = str(env.users["op1"])
    dialer = CampaignDialer(
        Campaign(1, CampaignSettings.from_dict({"name": "Autumn arrears"})),
        db=env.db,
        bus=env.bus,
        switch=Switch(env.port, number_endpoint="Local/{number}@pstn-sim"),
        clock=env.clock,
    )
    app = create_app(desk_deps(env, dialer={1: dialer}))
    async with TestClient(TestServer(app)) as operator, TestClient(operator.server) as admin:
        op_csrf = await sign_in(operator, "op1")
        ws = await open_desk(operator)
        login = await operator.post(
            "/desk/agent", json={"action": "login"}, headers={"X-CSRF-Token": op_csrf}
        )
        assert login.status == 200, await login.text()
        dialer.join_operator(agent, "agent1")
        assert env.acd.book.get(agent).state is AgentState.READY

        admin_csrf = await sign_in(admin, "admin")
        response = await admin.patch(
            f"/api/admin/users/{agent}",
            json={"active": False},
            headers={"X-CSRF-Token": admin_csrf},
        )
        assert response.status == 200, await response.text()

        pop(env, agent, "L-after")
        seen = await closed_with(ws)
        assert seen[-1] == SIGNED_OUT and "offer" not in seen, seen
        assert (await operator.get("/api/me")).status == 401
        assert env.acd.book.get(agent).state is AgentState.LOGGED_OUT
        assert agent not in {op.agent_id for op in dialer.roster}
        # the admin's own session is untouched
        assert (await admin.get("/api/me")).status == 200


async def test_a_session_holds_at_most_the_configured_number_of_sockets(
    env, desk_deps, sign_in
) -> None:
    deps = desk_deps(env)
    settings = replace(deps.settings, web=WebSettings(max_sockets_per_session=2))
    app = create_app(replace(deps, settings=settings))
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, "op1")
        first, second = await open_desk(client), await open_desk(client)
        third = await client.ws_connect("/ws?page=desk", headers={"Origin": _origin(client)})
        message = await receive(third)
        assert third.close_code == TOO_MANY, message
        await first.close()
        fourth = await open_desk(client)  # a slot is free again
        await fourth.close()
        await second.close()


def _origin(client: TestClient) -> str:
    return str(client.make_url("/")).rstrip("/")
