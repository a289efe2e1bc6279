"""The campaign panel's REST API and live feed, over the real app, a real SQLite ledger and a real
CampaignDialer (its Switch records the AMI actions instead of sending them)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from agent_desktop.app import create_app
from ami_bridge.switch import Switch
from crm_core.models import (
    AuditEntry,
    Contact,
    ContactPhone,
    Debt,
    Interaction,
    Phone,
    PromiseToPay,
)
from dialer.attempts import Attempt, AttemptOutcome
from dialer.campaign import Campaign, CampaignState
from dialer.ledger import AttemptLedger
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings
from dialer.tables import CampaignRow

SECOND_NUMBER = "+447911123457"


async def seed_campaigns(env: Any) -> None:
    """Campaign 1 (loaded, with a day of attempts) and campaign 2 (a row with no dialer)."""
    now = env.clock.now()
    async with env.db.session() as s:
        s.add_all(
            [
                CampaignRow(
                    id=1,
                    name="Autumn arrears",
                    settings={"dial_mode": "predictive", "target_abandon_rate": 0.03},
                    created_at=now,
                    updated_at=now,
                ),
                CampaignRow(id=2, name="Dormant", settings={}, created_at=now, updated_at=now),
            ]
        )
        other = Contact(first_name="Olga", timezone="Europe/London", created_at=now, updated_at=now)
        phone = Phone(e164=SECOND_NUMBER, raw=SECOND_NUMBER)
        s.add_all([other, phone])
        await s.flush()
        s.add(ContactPhone(contact_id=other.id, phone_id=phone.id, is_primary=True))
        s.add(
            Debt(
                contact_id=other.id,
                creditor="Northwind Bank",
                reference="NW-1",
                principal=Decimal(100),
                balance=Decimal(100),
                due_date=now.date() - timedelta(days=40),
                created_at=now,
            )
        )
        await s.commit()
    ledger = AttemptLedger(env.db)

    async def attempt(aid: str, started: datetime, outcome: AttemptOutcome, **kw: Any) -> None:
        await ledger.started(
            Attempt(
                attempt_id=aid,
                campaign_id=1,
                debt_id=env.debt_id,
                phone="+447911123456",
                started_at=started,
            )
        )
        if outcome.answered:
            await ledger.answered(aid, started + timedelta(seconds=5))
        await ledger.classified(
            aid, outcome, abandoned=kw.get("abandoned", False), agent_id=kw.get("agent_id")
        )
        await ledger.ended(aid, started + timedelta(minutes=2))

    await attempt("a1", now - timedelta(hours=1), AttemptOutcome.HUMAN, agent_id="1")
    await ledger.conversation("a1")
    await attempt("a2", now - timedelta(minutes=50), AttemptOutcome.HUMAN, abandoned=True)
    await attempt("a3", now - timedelta(minutes=40), AttemptOutcome.NO_ANSWER)
    await attempt("a4", now - timedelta(days=2), AttemptOutcome.HUMAN, agent_id="1")
    async with env.db.session() as s:
        call = Interaction(linkedid="a1", contact_id=env.contact_id, started_at=now)
        s.add(call)
        await s.flush()
        s.add(
            PromiseToPay(
                debt_id=env.debt_id,
                amount=Decimal(50),
                due_on=now.date() + timedelta(days=7),
                created_at=now - timedelta(minutes=30),
                interaction_id=call.id,
            )
        )
        await s.commit()


def campaign_dialer(env: Any) -> CampaignDialer:
    settings = CampaignSettings.from_dict({"name": "Autumn arrears", "target_abandon_rate": 0.03})
    return CampaignDialer(
        Campaign(1, settings),
        db=env.db,
        bus=env.bus,
        switch=Switch(env.port, number_endpoint="Local/{number}@pstn-sim"),
        clock=env.clock,
    )


@pytest.fixture
async def dialer(env: Any) -> CampaignDialer:
    await seed_campaigns(env)
    return campaign_dialer(env)


@pytest.fixture
async def panel_client(
    env: Any, desk_deps: Any, dialer: CampaignDialer
) -> AsyncIterator[TestClient]:
    app = create_app(desk_deps(env, dialer={1: dialer}))
    async with TestClient(TestServer(app)) as client:
        yield client


async def audit_rows(env: Any, action: str) -> list[AuditEntry]:
    async with env.db.session() as s:
        return list((await s.scalars(select(AuditEntry).where(AuditEntry.action == action))).all())


async def test_operators_may_not_see_or_control_campaigns(panel_client, sign_in) -> None:
    csrf = await sign_in(panel_client, "op1")
    listing = await panel_client.get("/api/campaigns")
    assert listing.status == 403
    assert (await listing.json())["error"]["code"] == "auth.forbidden"
    start = await panel_client.post(
        "/api/campaigns/1/start", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert start.status == 403
    assert (await start.json())["error"]["code"] == "auth.forbidden"


async def test_signed_out_and_csrf_less_requests_are_refused(panel_client, sign_in) -> None:
    assert (await panel_client.get("/api/campaigns")).status == 401
    await sign_in(panel_client, "sup")
    response = await panel_client.post("/api/campaigns/1/start", json={})
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "auth.csrf"


async def test_figures_come_from_the_ledger_and_the_running_dialer(
    panel_client, sign_in, dialer
) -> None:
    dialer.join_operator("1", "agent1")
    dialer.join_operator("2", "agent2")
    dialer.pause_operator("2")
    await sign_in(panel_client, "sup")
    body = await (await panel_client.get("/api/campaigns")).json()
    assert [c["name"] for c in body["items"]] == ["Autumn arrears", "Dormant"]
    autumn, dormant = body["items"]
    assert autumn["today"] == {
        "attempts": 3,
        "contacts": 1,
        "right_party_contacts": 1,
        "promises": 1,
        "not_dialled": 0,
    }
    abandon = autumn["abandon"]
    assert (abandon["live_24h"], abandon["abandoned_24h"], abandon["rate_24h"]) == (2, 1, 0.5)
    assert (abandon["live_30d"], abandon["abandoned_30d"]) == (3, 1)
    assert abandon["limit"] == 0.03 and abandon["level"] == "over"
    assert autumn["state"] == "stopped" and autumn["mode"] == "predictive" and autumn["loaded"]
    assert autumn["operators"]["on_line"] == 2 and autumn["operators"]["paused"] == 1
    assert autumn["lines_in_use"] == 0
    assert autumn["dial_level"] == {"lines_per_operator": 0.0, "max_lines_per_operator": 3.0}
    # the first debtor had a right-party conversation: done; the second is dialable now
    assert autumn["list"]["total"] == 2
    assert autumn["list"]["finished"] == 1
    assert autumn["list"]["remaining"] == 1 and autumn["list"]["eligible_now"] == 1
    assert dormant["loaded"] is False and dormant["operators"] is None
    assert dormant["today"]["attempts"] == 0 and dormant["abandon"]["rate_24h"] is None
    one = await panel_client.get("/api/campaigns/1")
    assert (await one.json())["today"]["attempts"] == 3
    missing = await panel_client.get("/api/campaigns/99")
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "not_found"


async def test_start_pause_stop_need_reasons_and_are_audited(env, panel_client, sign_in) -> None:
    csrf = await sign_in(panel_client, "sup")
    headers = {"X-CSRF-Token": csrf}
    started = await panel_client.post("/api/campaigns/1/start", json={}, headers=headers)
    assert started.status == 200, await started.text()
    assert (await started.json())["state"] == "running"
    no_reason = await panel_client.post("/api/campaigns/1/pause", json={}, headers=headers)
    assert no_reason.status == 422
    assert (await no_reason.json())["error"]["details"] == {"field": "reason"}
    paused = await panel_client.post(
        "/api/campaigns/1/pause", json={"reason": "trunk maintenance"}, headers=headers
    )
    assert (await paused.json())["state"] == "paused"
    assert (await paused.json())["reason"] == "trunk maintenance"
    stopped = await panel_client.post(
        "/api/campaigns/1/stop", json={"reason": "list done"}, headers=headers
    )
    assert (await stopped.json())["state"] == "stopped"
    again = await panel_client.post("/api/campaigns/1/pause", json={"reason": "x"}, headers=headers)
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "campaign.bad_state"
    unloaded = await panel_client.post("/api/campaigns/2/start", json={}, headers=headers)
    assert unloaded.status == 409
    assert (await unloaded.json())["error"]["code"] == "campaign.not_loaded"
    async with env.db.session() as s:
        row = await s.get(CampaignRow, 1)
        assert (row.state, row.state_reason) == ("stopped", "list done")
    moves = [
        (e.action, e.detail["reason"], e.detail["before"], e.detail["after"], e.user_id)
        for e in await audit_rows(env, "campaign_start")
        + await audit_rows(env, "campaign_pause")
        + await audit_rows(env, "campaign_stop")
    ]
    sup = env.users["sup"]
    assert moves == [
        ("campaign_start", "started by sup", "stopped", "running", sup),
        ("campaign_pause", "trunk maintenance", "running", "paused", sup),
        ("campaign_stop", "list done", "paused", "stopped", sup),
    ]


async def test_without_a_dialer_the_panel_reads_but_cannot_control(env, desk_deps, sign_in) -> None:
    await seed_campaigns(env)
    async with TestClient(TestServer(create_app(desk_deps(env)))) as client:
        csrf = await sign_in(client, "admin")
        body = await (await client.get("/api/campaigns")).json()
        assert [c["loaded"] for c in body["items"]] == [False, False]
        response = await client.post(
            "/api/campaigns/1/start", json={}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status == 503
        assert (await response.json())["error"]["code"] == "dialer.unavailable"


async def test_dialer_events_are_pushed_to_the_panel(panel_client, sign_in, dialer) -> None:
    await sign_in(panel_client, "sup")
    origin = str(panel_client.make_url("/")).rstrip("/")
    ws = await panel_client.ws_connect("/ws?page=panel", headers={"Origin": origin})
    try:
        await dialer.move(CampaignState.RUNNING, "morning shift")
        async with asyncio.timeout(20.0):
            while True:
                message = json.loads((await ws.receive()).data)
                if message["type"] == "campaign":
                    break
        assert message["campaign"]["id"] == 1
        assert message["campaign"]["state"] == "running"
        assert message["campaign"]["reason"] == "morning shift"
    finally:
        await ws.close()


async def test_the_supervisor_page_includes_the_panel(panel_client, sign_in) -> None:
    await sign_in(panel_client, "sup")
    page = await (await panel_client.get("/supervisor")).text()
    assert 'id="t-campaigns"' in page and "/static/campaigns.js" in page
    doc = await (await panel_client.get("/api/openapi.json")).json()
    assert "/api/campaigns/{campaign_id}/pause" in doc["paths"]


async def test_the_abandon_rate_turns_amber_from_the_campaigns_own_target(
    env, desk_deps, sign_in
) -> None:
    """2.5 % abandoned: under the legal 3 %, over this campaign's 2 % target."""
    now = env.clock.now()
    async with env.db.session() as s:
        s.add(
            CampaignRow(
                id=3,
                name="Gentle",
                settings={"target_abandon_rate": 0.02},
                created_at=now,
                updated_at=now,
            )
        )
        await s.commit()
    ledger = AttemptLedger(env.db)
    for i in range(40):
        started = now - timedelta(minutes=i + 1)
        await ledger.started(
            Attempt(
                attempt_id=f"g{i}",
                campaign_id=3,
                debt_id=env.debt_id,
                phone="+447911123456",
                started_at=started,
            )
        )
        await ledger.classified(f"g{i}", AttemptOutcome.HUMAN, abandoned=i == 0)
    async with TestClient(TestServer(create_app(desk_deps(env)))) as client:
        await sign_in(client, "sup")
        abandon = (await (await client.get("/api/campaigns/3")).json())["abandon"]
    assert abandon["rate_24h"] == 0.025
    assert (abandon["limit"], abandon["target"], abandon["level"]) == (0.03, 0.02, "near")


async def test_the_breakers_pause_shows_live_with_its_reason_and_an_alert(
    env, panel_client, sign_in, dialer
) -> None:
    """The PBX refuses the dials: the breaker pauses the campaign, the panel is told at once
    (the state with the breaker's reason, and a campaign_alert), and the dials that never left
    the PBX are shown apart from the attempts."""
    from dialer.breaker import classify_failed_originate

    await sign_in(panel_client, "sup")
    origin = str(panel_client.make_url("/")).rstrip("/")
    await dialer.move(CampaignState.RUNNING, "morning shift")
    ledger = AttemptLedger(env.db)
    refused = Attempt(
        attempt_id="nd1",
        campaign_id=1,
        debt_id=env.debt_id,
        phone="+447911123456",
        started_at=env.clock.now(),
    )
    await ledger.started(refused)
    await ledger.classified("nd1", AttemptOutcome.NOT_DIALLED)
    ws = await panel_client.ws_connect("/ws?page=panel", headers={"Origin": origin})
    try:
        verdict = classify_failed_originate(0, None)  # no such extension: no channel at all
        for _ in range(dialer.breaker.threshold):
            await dialer.dial_verdict(refused, verdict)
        seen: dict[str, dict] = {}
        async with asyncio.timeout(20.0):
            while not {"campaign_alert", "campaign"} <= set(seen):
                message = json.loads((await ws.receive()).data)
                if message["type"] == "campaign" and message["campaign"]["state"] != "paused":
                    continue
                seen[message["type"]] = message
    finally:
        await ws.close()
    reason = dialer.campaign.reason
    assert "5 dials in a row failed at the PBX" in reason
    alert = seen["campaign_alert"]
    assert (alert["campaign_id"], alert["name"], alert["kind"]) == (
        1,
        "Autumn arrears",
        "pbx_failures",
    )
    assert alert["detail"] == reason
    view = seen["campaign"]["campaign"]
    assert (view["state"], view["reason"]) == ("paused", reason)
    assert view["breaker"]["tripped"] == reason and view["breaker"]["threshold"] == 5
    assert view["today"]["attempts"] == 3 and view["today"]["not_dialled"] == 1
    # the supervisor's resume resets the breaker
    body = await (await panel_client.get("/api/campaigns/1")).json()
    assert body["breaker"]["failures_in_a_row"] == 5
    await dialer.move(CampaignState.RUNNING, "PBX fixed")
    body = await (await panel_client.get("/api/campaigns/1")).json()
    assert body["breaker"]["tripped"] is None and body["breaker"]["failures_in_a_row"] == 0
