"""The desk in a real Chromium: a payment plan entered on the wrap-up, shown on the card with
each instalment's state, and a payment posted from the card's form."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from crm_core.models import Instalment, Payment
from routing.agent_state import AgentState
from tests.agent_desktop.browser_support import ARTIFACTS
from tests.agent_desktop.test_agent_desktop_browser import (
    LINKEDID,
    connect,
    offer,
    serve,
    signed_in_page,
)

pytestmark = pytest.mark.browser


async def test_a_plan_on_the_wrap_up_and_a_payment_from_the_card(env, browser, desk_deps):
    server = await serve(env, desk_deps)
    try:
        page = await signed_in_page(browser, str(server.make_url("/")), "op1")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        agent_id = str(env.users["op1"])
        await page.click("#btn-login")
        await expect(page.locator("#state-name")).to_have_text("Ready")
        await offer(env, agent_id, env.contact_id)
        await expect(page.locator("#card-name")).to_have_text("Ivan Petrov")
        connect(env, agent_id)
        env.acd.move(agent_id, AgentState.WRAP_UP, LINKEDID)
        await expect(page.locator("#state-name")).to_have_text("Wrap-up")

        await page.check("input[name=disposition][value=ptp]")
        await page.check("#ptp-plan")
        rows = page.locator("#instalment-rows li")
        await expect(rows).to_have_count(3)
        for i, (amount, day) in enumerate(
            (("400", "2026-12-01"), ("400", "2027-01-01"), ("400", "2027-02-01"))
        ):
            await rows.nth(i).locator("input[name=i_amount]").fill(amount)
            await rows.nth(i).locator("input[name=i_date]").fill(day)
        await page.click("#btn-save")
        await expect(page.locator("#wrapup-msg")).to_have_text("Saved")
        async with env.db.session() as session:
            saved = list(await session.scalars(select(Instalment).order_by(Instalment.seq)))
        assert [str(i.amount) for i in saved] == ["400.00", "400.00", "400.00"]

        # the card (reopened by a search) shows the plan; a payment is posted from its form
        await page.fill("#search-q", "NW-778812")
        await page.press("#search-q", "Enter")
        await page.locator("#search-results li button").first.click()
        await expect(page.locator("#plans table tbody tr")).to_have_count(3)
        await page.click("#payment-box summary")
        await page.fill("#pay-amount", "400")
        await page.fill("#pay-date", "2026-11-23")
        await page.select_option("#pay-method", "card")
        await page.fill("#pay-reference", "DESK-1")
        await page.click("#btn-pay")
        await expect(page.locator("#payment-msg")).to_have_text("Payment posted")
        await expect(page.locator("#plans table tbody tr").first).to_contain_text("kept")
        await expect(page.locator("#t-payments tbody")).to_contain_text("DESK-1")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "desktop-payment-plan.png"))
        async with env.db.session() as session:
            payment = (
                await session.execute(select(Payment).where(Payment.reference == "DESK-1"))
            ).scalar_one()
        assert payment.source == "desk"
        assert errors == []
    finally:
        await server.close()
