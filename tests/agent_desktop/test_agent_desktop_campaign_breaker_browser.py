"""The dialer's breaker on the campaign panel in a real Chromium: while the PBX refuses dials the
row counts the failures in a row; when it trips the campaign shows Paused with the breaker's
reason (in red, in full) and the supervisor gets an alert, all pushed without a reload. The
screenshot goes to test-artifacts/campaign-breaker.png."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from agent_desktop.app import create_app
from ami_bridge.switch import Switch
from dialer.attempts import Attempt
from dialer.breaker import classify_failed_originate
from dialer.campaign import Campaign, CampaignState
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings
from dialer.tables import CampaignRow
from tests.agent_desktop import browser_support as support
from tests.agent_desktop.browser_support import ARTIFACTS

pytestmark = pytest.mark.browser


async def test_the_breakers_pause_is_shown_live_with_its_reason(env, desk_deps, browser) -> None:
    now = env.clock.now()
    async with env.db.session() as s:
        s.add(CampaignRow(id=1, name="Autumn arrears", created_at=now, updated_at=now))
        await s.commit()
    settings = CampaignSettings.from_dict({"name": "Autumn arrears"})
    dialer = CampaignDialer(
        Campaign(1, settings),
        db=env.db,
        bus=env.bus,
        switch=Switch(env.port, number_endpoint="Local/{number}@pstn-sim"),
        clock=env.clock,
    )
    server = TestServer(create_app(desk_deps(env, dialer={1: dialer})), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/"))
    refused = classify_failed_originate(0, None)  # no such extension: no channel at all

    async def failed_dial(n: int) -> None:
        attempt = Attempt(
            attempt_id=f"x{n}",
            campaign_id=1,
            debt_id=env.debt_id,
            phone="+447911123456",
            started_at=env.clock.now(),
        )
        await dialer.dial_verdict(attempt, refused)
        dialer.bus.publish(dialer.figures())  # what the dialer's next tick would push

    try:
        sup = await support.signed_in_page(
            browser, url, "sup", "correct horse battery", width=1600, height=1000
        )
        await sup.goto(url + "supervisor")
        row = sup.locator("#t-campaigns tr[data-campaign='1']")
        await expect(row).to_contain_text("Stopped")
        await dialer.move(CampaignState.RUNNING, "morning shift")
        await expect(row.locator(".st")).to_have_text("Running")
        for n in range(2):
            await failed_dial(n)
        await expect(row.locator(".cmp-warn")).to_have_text("PBX failures in a row: 2 / 5")
        for n in range(2, 5):
            await failed_dial(n)
        await expect(row.locator(".st")).to_have_text("Paused")
        why = row.locator(".cmp-why.cmp-alert")
        await expect(why).to_contain_text("5 dials in a row failed at the PBX")
        await expect(why).to_contain_text("fix the PBX, then resume")
        await expect(sup.locator("#flash")).to_contain_text("Autumn arrears: auto-paused")
        ARTIFACTS.mkdir(exist_ok=True)
        await sup.locator("#campaigns").screenshot(path=str(ARTIFACTS / "campaign-breaker.png"))
        # the supervisor resumes from the panel: running again, the breaker reset
        await row.locator("button[data-verb=start]").click()
        await expect(row.locator(".st")).to_have_text("Running")
        await expect(row.locator(".cmp-alert")).to_have_count(0)
        assert not dialer.breaker.tripped
    finally:
        await server.close()
