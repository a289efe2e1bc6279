"""The campaign editor in a real Chromium: a supervisor creates a campaign; a loosened legal
limit is refused with the setting named and marked on the form; fixed, the campaign is saved,
edited and cloned. The screenshot goes to test-artifacts/campaign-editor.png."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect
from sqlalchemy import select

from agent_desktop.app import create_app
from dialer.tables import CampaignRow
from tests.agent_desktop import browser_support as support
from tests.agent_desktop.browser_support import ARTIFACTS

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


async def test_a_supervisor_creates_a_campaign_and_sees_the_field_named(
    env, desk_deps, browser
) -> None:
    server = TestServer(create_app(desk_deps(env)), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/"))
    try:
        page = await support.signed_in_page(browser, url, "sup", PASSWORD, width=1400, height=1200)
        await page.goto(url + "supervisor/campaigns/editor")
        attempts = page.locator("[data-key='compliance.max_attempts_per_debt']")
        await expect(attempts).to_have_value("7")  # the legal default
        await page.locator("[data-key='name']").fill("Spring arrears")
        await page.locator("[data-key='dial_mode']").select_option("progressive")
        await page.locator("[data-key='filter.creditors']").fill("Northwind Bank")
        await page.locator("[data-key='retry.busy.delay_minutes']").fill("30")
        await attempts.fill("9")
        await page.locator("#ce-save").click()

        error = page.locator("#ce-error")
        await expect(error).to_be_visible()
        await expect(error).to_contain_text("compliance.max_attempts_per_debt")
        await expect(error).to_contain_text("rule attempt_cap")
        await expect(attempts).to_have_attribute("aria-invalid", "true")
        await expect(page.locator(".ce-field-error")).to_have_attribute(
            "data-field", "compliance.max_attempts_per_debt"
        )
        await page.screenshot(path=str(ARTIFACTS / "campaign-editor.png"), full_page=True)
        async with env.db.session() as s:
            assert await s.scalar(select(CampaignRow.id)) is None

        await attempts.fill("5")
        await page.locator("#ce-save").click()
        await page.wait_for_url("**/supervisor/campaigns/editor?id=*")
        await expect(page.locator("#ce-title")).to_have_text("Spring arrears (stopped)")
        await expect(attempts).to_have_value("5")
        await expect(page.locator("[data-key='retry.busy.delay_minutes']")).to_have_value("30")
        async with env.db.session() as s:
            row = await s.scalar(select(CampaignRow).where(CampaignRow.name == "Spring arrears"))
        settings = row.campaign_settings()
        assert settings.compliance.max_attempts_per_debt == 5
        assert settings.dial_mode.value == "progressive"
        assert settings.filter.creditors == frozenset({"Northwind Bank"})

        # an edit: a bad time names the schedule field, then a good one is saved
        start = page.locator("[data-key='schedule.start']")
        await start.fill("9 o'clock")
        await page.locator("#ce-save").click()
        await expect(error).to_contain_text("schedule.start")
        await expect(start).to_have_attribute("aria-invalid", "true")
        await start.fill("10:00")
        await page.locator("#ce-save").click()
        await expect(error).to_be_hidden()
        await expect(page.locator("#flash")).to_contain_text("Saved")

        await page.goto(url + "supervisor/campaigns/editor")
        await page.locator(f"li[data-campaign='{row.id}'] button[data-clone]").click()
        await expect(page.locator("#ce-title")).to_have_text("Spring arrears (copy) (stopped)")
        await expect(page.locator("[data-key='schedule.start']")).to_have_value("10:00")
    finally:
        await server.close()
