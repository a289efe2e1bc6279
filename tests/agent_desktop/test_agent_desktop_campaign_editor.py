"""The campaign editor's REST API: create, edit and clone with the validator of `callboard
campaign create` (the field named), the legal defaults never loosened, supervisors and admins
only, CSRF, the audit log before and after, and a running campaign's edit refused until it is
paused (then the dialer uses the new settings without a restart)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from agent_desktop.app import create_app
from ami_bridge.switch import Switch
from crm_core.models import AuditEntry
from dialer.campaign import Campaign, CampaignState
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettingsError, define_campaign
from dialer.tables import CampaignRow

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "campaign.toml"


def sample() -> dict:
    return tomllib.loads(SAMPLE.read_text(encoding="utf-8"))


def headers(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token}


async def audit(env, action: str) -> list[AuditEntry]:
    async with env.db.session() as s:
        rows = await s.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows)


async def test_a_supervisor_creates_a_campaign_from_the_toml_definition(env, client, sign_in):
    token = await sign_in(client, "sup")
    data = sample()
    data["retry"] = {"busy": {"delay_minutes": 30, "max_count": 2}}
    response = await client.post("/api/campaigns", json=data, headers=headers(token))
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["state"] == "stopped"
    definition = created["definition"]
    assert definition["name"] == "Early arrears"
    assert definition["retry"]["busy"] == {"delay_minutes": 30.0, "max_count": 2}
    assert definition["retry"]["no_answer"] == {"delay_minutes": 120.0, "max_count": 6}
    async with env.db.session() as s:
        row = await s.get(CampaignRow, created["id"])
    # stored as the CLI stores it, read back as the dialer reads it
    assert row.campaign_settings() == define_campaign(data)
    assert "name" not in row.settings
    [entry] = await audit(env, "campaign_create")
    assert entry.user_id == env.users["sup"]
    assert entry.detail["before"] is None and entry.detail["after"] == definition

    again = await client.post("/api/campaigns", json=data, headers=headers(token))
    assert again.status == 409
    assert (await again.json())["error"]["details"] == {"field": "name"}
    loud = await client.post(
        "/api/campaigns", json={**data, "name": "EARLY ARREARS"}, headers=headers(token)
    )
    assert loud.status == 409  # names are unique up to case
    reserved = await client.post(
        "/api/campaigns", json={"name": "manual-dial"}, headers=headers(token)
    )
    assert reserved.status == 409


async def test_validation_names_the_field_exactly_as_the_toml_path_does(env, client, sign_in):
    token = await sign_in(client, "admin")
    cases = {
        "compliance.max_attempts_per_debt": {"compliance": {"max_attempts_per_debt": "many"}},
        "schedule.zone": {"schedule": {"zone": "Nowhere/Land"}},
        "retry.busy.max_count": {"retry": {"busy": {"max_count": 0}}},
        "retry.engaged": {"retry": {"engaged": {"max_count": 2}}},
        "filter.min_balance": {"filter": {"min_balance": "lots"}},
        "schedule.end": {"schedule": {"start": "20:00", "end": "09:00"}},
        "machine_prompt": {"machine_prompt": "../../etc/passwd"},
        "dial_mode": {"dial_mode": "telepathic"},
        "name": {"name": ""},
    }
    for field, change in cases.items():
        body = {"name": "Probe", **change}
        response = await client.post("/api/campaigns", json=body, headers=headers(token))
        assert response.status == 422, (field, await response.text())
        error = (await response.json())["error"]
        assert error["code"] == "campaign.invalid"
        assert error["details"] == {"field": field}, error
        try:
            define_campaign(body)
        except CampaignSettingsError as exc:  # the CLI's validator says the same
            assert exc.key == field and str(exc) == error["message"]
        else:
            raise AssertionError(field)
    async with env.db.session() as s:
        assert await s.scalar(select(CampaignRow.id)) is None


async def test_loosening_a_legal_default_is_refused_with_the_rule_named(env, client, sign_in):
    token = await sign_in(client, "sup")
    cases = {
        "compliance.calling_from": ({"compliance": {"calling_from": "07:30"}}, "calling_hours"),
        "compliance.calling_until": ({"compliance": {"calling_until": "22:00"}}, "calling_hours"),
        "compliance.max_attempts_per_debt": (
            {"compliance": {"max_attempts_per_debt": 8}},
            "attempt_cap",
        ),
        "compliance.attempts_window_days": (
            {"compliance": {"attempts_window_days": 6}},
            "attempt_cap",
        ),
        "compliance.quiet_after_conversation_days": (
            {"compliance": {"quiet_after_conversation_days": 2}},
            "after_conversation",
        ),
        "compliance.abandoned_redial_gap_hours": (
            {"compliance": {"abandoned_redial_gap_hours": 24}},
            "abandoned_redial",
        ),
        "target_abandon_rate": ({"target_abandon_rate": 0.05}, "abandon_rate"),
    }
    for field, (change, rule) in cases.items():
        response = await client.post(
            "/api/campaigns", json={"name": "Loose", **change}, headers=headers(token)
        )
        assert response.status == 422
        error = (await response.json())["error"]
        assert error["details"] == {"field": field}
        assert f"rule {rule}" in error["message"], error["message"]
    tighter = {"compliance": {"calling_from": "09:00", "max_attempts_per_debt": 3}}
    response = await client.post(
        "/api/campaigns", json={"name": "Tight", **tighter}, headers=headers(token)
    )
    assert response.status == 201
    defaults = await (await client.get("/api/campaign-defaults")).json()
    assert defaults["definition"]["compliance"]["max_attempts_per_debt"] == 7
    assert defaults["legal"]["compliance.max_attempts_per_debt"]["rule"] == "attempt_cap"


async def test_edit_and_clone_are_audited_before_and_after(env, client, sign_in):
    token = await sign_in(client, "sup")
    created = await (
        await client.post("/api/campaigns", json=sample(), headers=headers(token))
    ).json()
    campaign_id = created["id"]
    loaded = await (await client.get(f"/api/campaigns/{campaign_id}/definition")).json()
    assert loaded["definition"] == created["definition"] and loaded["problem"] is None
    changed = {**loaded["definition"], "name": "Early arrears (UK)", "dial_mode": "progressive"}
    changed["retry"]["machine"] = {"delay_minutes": 600, "max_count": 2}
    response = await client.put(
        f"/api/campaigns/{campaign_id}/definition", json=changed, headers=headers(token)
    )
    assert response.status == 200, await response.text()
    after = (await response.json())["definition"]
    assert after["dial_mode"] == "progressive" and after["name"] == "Early arrears (UK)"
    [entry] = await audit(env, "campaign_edit")
    assert entry.object_id == str(campaign_id)
    assert entry.detail["before"]["dial_mode"] == "predictive"
    assert entry.detail["after"]["retry"]["machine"] == {"delay_minutes": 600.0, "max_count": 2}

    bad = {**after, "compliance": {**after["compliance"], "max_attempts_per_debt": 9}}
    refused = await client.put(
        f"/api/campaigns/{campaign_id}/definition", json=bad, headers=headers(token)
    )
    assert refused.status == 422
    assert len(await audit(env, "campaign_edit")) == 1  # nothing saved, nothing audited

    cloned = await client.post(
        f"/api/campaigns/{campaign_id}/clone", json={}, headers=headers(token)
    )
    assert cloned.status == 201
    copy = await cloned.json()
    assert copy["definition"]["name"] == "Early arrears (UK) (copy)"
    assert copy["state"] == "stopped" and copy["id"] != campaign_id
    assert {k: v for k, v in copy["definition"].items() if k != "name"} == {
        k: v for k, v in after.items() if k != "name"
    }
    second = await client.post(
        f"/api/campaigns/{campaign_id}/clone", json={}, headers=headers(token)
    )
    assert (await second.json())["definition"]["name"] == "Early arrears (UK) (copy 2)"
    named = await client.post(
        f"/api/campaigns/{campaign_id}/clone", json={"name": "Late arrears"}, headers=headers(token)
    )
    assert (await named.json())["definition"]["name"] == "Late arrears"
    entries = await audit(env, "campaign_clone")
    assert len(entries) == 3 and entries[0].detail["source"] == campaign_id
    missing = await client.put("/api/campaigns/999/definition", json=after, headers=headers(token))
    assert missing.status == 404


async def test_only_supervisors_and_admins_with_a_csrf_token(env, client, sign_in):
    token = await sign_in(client, "op1")
    for method, path in (
        ("POST", "/api/campaigns"),
        ("GET", "/api/campaign-defaults"),
        ("GET", "/api/campaigns/1/definition"),
        ("PUT", "/api/campaigns/1/definition"),
        ("POST", "/api/campaigns/1/clone"),
        ("GET", "/supervisor/campaigns/editor"),
    ):
        response = await client.request(method, path, json=sample(), headers=headers(token))
        assert response.status == 403, (method, path)
    await client.post("/logout", data={"csrf_token": token})
    await sign_in(client, "sup")
    no_token = await client.post("/api/campaigns", json=sample())
    assert no_token.status == 403
    assert (await no_token.json())["error"]["code"] == "auth.csrf"
    async with env.db.session() as s:
        assert await s.scalar(select(CampaignRow.id)) is None


async def test_a_running_campaign_is_paused_before_an_edit_which_applies_without_restart(
    env, desk_deps, sign_in
):
    setup = create_app(desk_deps(env))
    async with TestClient(TestServer(setup)) as plain:
        token = await sign_in(plain, "sup")
        created = await (
            await plain.post("/api/campaigns", json=sample(), headers=headers(token))
        ).json()
    campaign_id = created["id"]
    async with env.db.session() as s:
        settings = (await s.get(CampaignRow, campaign_id)).campaign_settings()
    dialer = CampaignDialer(
        Campaign(campaign_id, settings, CampaignState.RUNNING),
        db=env.db,
        bus=env.bus,
        switch=Switch(env.port, number_endpoint="Local/{number}@pstn-sim"),
        clock=env.clock,
    )
    app = create_app(desk_deps(env, dialer={campaign_id: dialer}))
    async with TestClient(TestServer(app)) as client:
        token = await sign_in(client, "sup")
        changed = {**created["definition"], "max_lines_per_agent": 1.5, "pbx_failures_to_pause": 9}
        url = f"/api/campaigns/{campaign_id}/definition"
        running = await client.put(url, json=changed, headers=headers(token))
        assert running.status == 409
        assert (await running.json())["error"]["code"] == "campaign.running"
        assert dialer.campaign.settings.max_lines_per_agent == 3.0

        paused = await client.post(
            f"/api/campaigns/{campaign_id}/pause", json={"reason": "edit"}, headers=headers(token)
        )
        assert paused.status == 200, await paused.text()
        saved = await client.put(url, json=changed, headers=headers(token))
        assert saved.status == 200, await saved.text()
    # the dialer of this node dials with the new settings from the resume: no restart
    assert dialer.campaign.settings.max_lines_per_agent == 1.5
    assert dialer.pacer.policy.max_lines_per_agent == 1.5
    assert dialer.window.settings is dialer.campaign.settings
    assert dialer.breaker.threshold == 9
