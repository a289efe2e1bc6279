"""Campaigns worked from the desk, in a real Chromium on pbx_sim, end to end.

An operator signs in and joins a campaign from the desk: their nailed-up line goes up (pbx_sim
answers it) and the ACD stops offering them inbound calls. A debtor answers the dialer and is
moved into their conference: the card pops. They ask to leave while on the call: the call goes
on, and once the debtor hangs up the line is hung up. They disposition the call as a promise
to pay with a payment plan of instalments; the debt is then refused by the dialer's rules for
7 days (the rule named: after_conversation). Ready ends the wrap-up and the campaign with it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import expect
from sqlalchemy import select

from agent_desktop.acd_adapter import RoutingAgentControl
from agent_desktop.app import create_app
from crm_core.models import Instalment, Interaction
from dialer.campaign import CampaignState
from dialer.compliance import Compliance
from dialer.leads import load_do_not_call, load_leads
from dialer.ledger import AttemptLedger
from dialer.selection import select as select_leads
from routing.agent_state import AgentState
from tests.agent_desktop.browser_support import ARTIFACTS, signed_in_page
from tests.agent_desktop.conftest import PASSWORD
from tests.dialer.seat_support import CAMPAIGN_ID, floor
from tests.waiting import eventually

pytestmark = pytest.mark.browser


async def test_an_operator_works_a_campaign_from_the_desk(env, browser, desk_deps) -> None:
    agent = str(env.users["op1"])
    async with floor(env.db, debtor=False, debtor_talk_s=8.0, wrap_up_s=120.0) as f:
        deps = desk_deps(
            env,
            bus=f.bus,
            clock=f.clock,
            acd=RoutingAgentControl(f.acd, env.db),
            switch=f.bridge.switch,
            dialer={CAMPAIGN_ID: f.dialer},
            seats=f.seats,
        )
        server = TestServer(create_app(deps))
        await server.start_server()
        try:
            page = await signed_in_page(browser, str(server.make_url("/")), "op1", PASSWORD)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.click("#btn-login")  # on inbound first
            await expect(page.locator("#state-name")).to_have_text("Ready")

            await expect(page.locator("#campaign-bar")).to_be_visible()
            await page.select_option("#campaign-pick", str(CAMPAIGN_ID))
            await page.click("#btn-join-campaign")
            state = page.locator("#campaign-state")
            await expect(state).to_have_text("Joined: waiting for a call")
            seat = f.seats.seat(agent)
            assert seat is not None and seat.channel.startswith("Local/agent1@cb-agent-phone")
            # not blended: the ACD offers them no inbound call while on the campaign
            assert f.acd.acd.agent(agent).state is AgentState.PAUSED

            await f.dialer.move(CampaignState.RUNNING, "test")
            await expect(state).to_have_text("On a campaign call")
            await expect(page.locator("#card-name")).to_have_text("Ivan Petrov")
            attempt_id = f.dialer.roster.get(agent).attempt_id

            await page.click("#btn-leave-campaign")  # never mid-call: after this one
            await expect(state).to_have_text("Leaving after this call")
            assert f.seats.seat(agent).channel in f.sim.world.channels
            await expect(page.locator("#state-name")).to_have_text("Wrap-up")
            await eventually(
                lambda: seat.channel not in f.sim.world.channels,
                what="the line is hung up once the debtor is gone",
            )

            await page.check("input[name=disposition][value=ptp]")
            await page.check("#ptp-plan")
            rows = page.locator("#instalment-rows li")
            await expect(rows).to_have_count(3)
            for i, (amount, day) in enumerate(
                (("300", "2026-12-01"), ("300", "2027-01-01"), ("300", "2027-02-01"))
            ):
                await rows.nth(i).locator("input[name=i_amount]").fill(amount)
                await rows.nth(i).locator("input[name=i_date]").fill(day)
            await page.click("#btn-save")
            await expect(page.locator("#wrapup-msg")).to_have_text("Saved")
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "desktop-campaign-desk.png"))

            await page.click("#btn-ready")  # the wrap-up ends, and the campaign with it
            await expect(state).to_have_text("Not on a campaign")
            assert f.seats.seat(agent) is None
            assert not any(op.agent_id == agent for op in f.dialer.roster)
            # back where they were before joining: ready for inbound calls
            await eventually(
                lambda: f.acd.acd.agent(agent).state is AgentState.READY, what="back on inbound"
            )
            assert errors == []
        finally:
            await server.close()

        async with env.db.session() as session:
            talk = (
                await session.execute(select(Interaction).where(Interaction.linkedid == attempt_id))
            ).scalar_one()
            plan = list(await session.scalars(select(Instalment).order_by(Instalment.seq)))
        assert (talk.disposition, talk.campaign, talk.debt_id) == (
            "ptp",
            "Early arrears",
            env.debt_id,
        )
        assert [str(i.amount) for i in plan] == ["300.00", "300.00", "300.00"]

        # the dialer's rules now refuse the debt for 7 days after the conversation, in any
        # campaign (this one is done with it: its retry plan ends at a connected call)
        now = f.clock.now()
        settings = f.dialer.campaign.settings
        leads = await load_leads(env.db, settings, now)
        assert [lead.debt_id for lead in leads] == [env.debt_id]
        history = await AttemptLedger(env.db).history(
            since=now - timedelta(days=30), debt_ids=[env.debt_id]
        )
        compliance = Compliance(settings.compliance, await load_do_not_call(env.db, CAMPAIGN_ID))
        # the conversation settled when the call ended (pbx_sim's own clock stamps the end);
        # the checks are at noon (the London debtor's calling hours), 6 and 8 days later
        settled = history.last_conversation(env.debt_id, now + timedelta(days=30))
        assert settled is not None
        noon = settled.replace(hour=12, minute=0, second=0, microsecond=0)
        for later, refused in ((timedelta(days=6), True), (timedelta(days=8), False)):
            chosen = select_leads(
                leads,
                count=1,
                now=noon + later,
                campaign_id=CAMPAIGN_ID + 1,
                compliance=compliance,
                retry=settings.retry,
                history=history,
            )
            rules = {rule.value for rule in chosen.refused}
            if refused:
                assert (chosen.picks, rules) == ([], {"after_conversation"})
            else:
                assert "after_conversation" not in rules
