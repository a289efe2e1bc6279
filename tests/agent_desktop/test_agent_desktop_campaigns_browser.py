"""The campaign panel in a real Chromium: a campaign with a day of attempts, its live figures,
start and pause from the buttons, and an operator's refused manual dial appearing live for the
supervisor to approve. The screenshot goes to test-artifacts/campaign-panel.png."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from agent_desktop.app import create_app
from ami_bridge.switch import Switch
from crm_core.models import AuditEntry, Contact, ContactPhone, Debt, Phone
from dialer.attempts import Attempt, AttemptOutcome
from dialer.campaign import Campaign
from dialer.ledger import AttemptLedger
from dialer.service import CampaignDialer
from dialer.settings import CampaignSettings
from dialer.tables import CampaignRow
from tests.agent_desktop import browser_support as support
from tests.agent_desktop.browser_support import ARTIFACTS
from tests.waiting import eventually

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
DEBTOR = "+447911123456"


async def seed(env: Any) -> None:
    """A morning of a predictive campaign: 40 dials, 12 people, one of them abandoned."""
    now = env.clock.now()
    async with env.db.session() as s:
        s.add(CampaignRow(id=1, name="Autumn arrears", created_at=now, updated_at=now))
        await s.commit()
    ledger = AttemptLedger(env.db)
    for i in range(40):
        started = now - timedelta(minutes=3 * (i + 1))
        aid = f"m{i}"
        await ledger.started(
            Attempt(
                attempt_id=aid,
                campaign_id=1,
                debt_id=env.debt_id,
                phone=DEBTOR,
                started_at=started,
            )
        )
        if i % 10 == 3 or i < 9:
            await ledger.answered(aid, started + timedelta(seconds=6))
            agent = None if i == 0 else "1"
            await ledger.classified(aid, AttemptOutcome.HUMAN, abandoned=i == 0, agent_id=agent)
        else:
            await ledger.classified(aid, AttemptOutcome.NO_ANSWER)
        await ledger.ended(aid, started + timedelta(minutes=1))
    await ledger.conversation("m5")
    async with env.db.session() as s:  # five more debtors the campaign has not reached yet
        for i in range(5):
            debtor = Contact(
                first_name=f"D{i}", timezone="Europe/London", created_at=now, updated_at=now
            )
            phone = Phone(e164=f"+4479111235{i:02d}", raw=f"079111235{i:02d}")
            s.add_all([debtor, phone])
            await s.flush()
            s.add(ContactPhone(contact_id=debtor.id, phone_id=phone.id, is_primary=True))
            s.add(
                Debt(
                    contact_id=debtor.id,
                    creditor="Northwind Bank",
                    reference=f"NW-9{i}",
                    principal=Decimal(900),
                    balance=Decimal(300 + 100 * i),
                    due_date=date(2026, 9, 1),
                    created_at=now,
                )
            )
        await s.commit()


async def signed_in_page(browser: Browser, url: str, username: str) -> Page:
    return await support.signed_in_page(browser, url, username, PASSWORD, width=1600, height=1000)


async def test_the_campaign_panel_starts_pauses_and_shows_refused_dials(
    env, desk_deps, browser
) -> None:
    await seed(env)
    settings = CampaignSettings.from_dict({"name": "Autumn arrears", "dial_mode": "predictive"})
    dialer = CampaignDialer(
        Campaign(1, settings),
        db=env.db,
        bus=env.bus,
        switch=Switch(env.port, number_endpoint="Local/{number}@pstn-sim"),
        clock=env.clock,
    )
    for agent in ("1", "2", "5"):
        dialer.join_operator(agent, f"agent{agent}")
    dialer.pause_operator("5")
    server = TestServer(create_app(desk_deps(env, dialer={1: dialer})), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/"))
    try:
        sup = await signed_in_page(browser, url, "sup")
        await sup.goto(url + "supervisor")
        row = sup.locator("#t-campaigns tr[data-campaign='1']")
        await expect(row).to_contain_text("Autumn arrears")
        await expect(row).to_contain_text("Stopped")
        cells = row.locator("td")
        await expect(cells.nth(2)).to_have_text("40")  # attempts today
        await expect(cells.nth(6)).to_have_text("8.3%")  # 1 abandoned of 12 people
        await expect(cells.nth(6)).to_have_class("num cmp-ab cmp-ab-over")
        await expect(cells.nth(10)).to_have_text("2 / 3")  # operators working / on line
        await expect(cells.nth(11)).to_have_text("5 (5)")  # debts left (dialable right now)

        await row.locator("button[data-verb=start]").click()
        await expect(row.locator(".st")).to_have_text("Running")
        await row.locator("button[data-verb=pause]").click()  # no reason: refused in the page
        await expect(sup.locator("#flash")).to_have_text("Enter a reason first.")
        await row.locator("input.cmp-reason").fill("team briefing")
        await row.locator("button[data-verb=pause]").click()
        await expect(row.locator(".st")).to_have_text("Paused")
        await expect(row).to_contain_text("team briefing")
        await row.locator("input.cmp-reason").fill("briefing over")
        await row.locator("button[data-verb=start]").click()
        await expect(row.locator(".st")).to_have_text("Running")

        operator = await signed_in_page(browser, url, "op1")
        await operator.fill("#dial input[name=number]", "07911 123456")
        await operator.click("#dial button")
        refusal = operator.locator("#flash")  # the operator sees the rule and the reason
        await expect(refusal).to_contain_text("attempt_cap")
        await expect(refusal).to_contain_text("already had 40 attempts")
        assert env.port.sent == []  # nothing was originated
        denial = sup.locator("#t-dial-denials tr[data-denial]")
        await expect(denial).to_contain_text("attempt_cap")  # pushed, no reload
        await expect(denial).to_contain_text("OP1")

        ARTIFACTS.mkdir(exist_ok=True)
        await sup.locator("#campaigns").screenshot(path=str(ARTIFACTS / "campaign-panel.png"))

        await denial.locator("input.cmp-reason").fill("debtor asked us to call")
        await denial.locator("button").click()
        await expect(sup.locator("#t-dial-denials tr[data-denial]")).to_have_count(0)

        async def audited() -> list[str]:
            async with env.db.session() as s:
                actions = (await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
            return [a for a in actions if a.startswith(("campaign_", "dial_"))]

        async def approval_audited() -> bool:
            return "dial_approval" in await audited()

        # the row may leave the page before the approval's request has committed its audit row
        await eventually(approval_audited, what="the approval's audit row")
        assert await audited() == [
            "campaign_start",
            "campaign_pause",
            "campaign_start",
            "dial_denied",
            "dial_approval",
        ]
    finally:
        await server.close()
