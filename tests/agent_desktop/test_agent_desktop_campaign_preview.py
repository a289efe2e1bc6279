"""The desk's preview endpoints over HTTP: the next debtor with its countdown, a skip with a
reason from the list (audited under the operator), a dial the rules refuse (named, with the
denials), and a 503 without a dialer."""

from __future__ import annotations

from datetime import datetime

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from agent_desktop.app import create_app
from ami_bridge.switch import Switch
from crm_core.models import AuditEntry, Phone
from dialer.campaign import Campaign, CampaignState
from dialer.pacing import DialMode
from dialer.preview import PreviewDesk
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings, Schedule
from dialer.tables import CampaignRow


async def preview_client(env, desk_deps) -> tuple[TestClient, CampaignDialer]:
    async with env.db.session() as s:
        s.add(
            CampaignRow(id=1, name="soft", created_at=env.clock.now(), updated_at=env.clock.now())
        )
        await s.commit()
    settings = CampaignSettings(
        name="soft",
        schedule=Schedule(zone="Europe/London", start=datetime.min.time()),
        dial_mode=DialMode.PREVIEW,
        preview_countdown_s=45.0,
    )
    dialer = CampaignDialer(
        Campaign(1, settings),
        db=env.db,
        bus=env.bus,
        switch=Switch(env.port, number_endpoint="Local/{number}@pstn-sim"),
        clock=env.clock,
    )
    await dialer.move(CampaignState.RUNNING, "test")
    await dialer._refresh(env.clock.now())  # the window the ticks would fill
    dialer.join_operator(str(env.users["op1"]), "agent1")
    preview = PreviewDesk({1: dialer}, env.db, env.clock)
    app = create_app(desk_deps(env, dialer={1: dialer}, preview=preview))
    return TestClient(TestServer(app)), dialer


async def test_preview_next_and_skip_over_http(env, desk_deps, sign_in) -> None:
    client, _ = await preview_client(env, desk_deps)
    async with client:
        csrf = await sign_in(client, "op1")
        shown = await client.get("/desk/campaign/preview")
        assert shown.status == 200
        preview = (await shown.json())["preview"]
        assert preview["debt_id"] == env.debt_id and preview["remaining_s"] == 45.0
        assert "wrong_debtor" in preview["skip_reasons"]
        headers = {"X-CSRF-Token": csrf}
        bad = await client.post(
            "/desk/campaign/preview/skip", json={"reason": "x"}, headers=headers
        )
        assert bad.status == 422
        skipped = await client.post(
            "/desk/campaign/preview/skip", json={"reason": "wrong_debtor"}, headers=headers
        )
        assert skipped.status == 200
        async with env.db.session() as s:
            entry = (
                await s.scalars(select(AuditEntry).where(AuditEntry.action == "preview_skip"))
            ).one()
        assert entry.user_id == env.users["op1"] and entry.detail["reason"] == "wrong_debtor"
        after = await client.get("/desk/campaign/preview")
        assert (await after.json())["preview"] is None  # the only debt rests after a skip


async def test_a_refused_preview_dial_is_named(env, desk_deps, sign_in) -> None:
    client, _ = await preview_client(env, desk_deps)
    async with client:
        csrf = await sign_in(client, "op1")
        assert (await (await client.get("/desk/campaign/preview")).json())["preview"]
        async with env.db.session() as s:
            await s.execute(update(Phone).values(do_not_call=True))
            await s.commit()
        refused = await client.post(
            "/desk/campaign/preview/dial", json={}, headers={"X-CSRF-Token": csrf}
        )
        assert refused.status == 409
        error = (await refused.json())["error"]
        assert error["code"] == "preview.refused.phone_flagged"
        assert error["details"]["denials"][0]["rule"] == "phone_flagged"


async def test_without_a_dialer_preview_is_unavailable(client, sign_in) -> None:
    await sign_in(client, "op1")
    assert (await client.get("/desk/campaign/preview")).status == 503
