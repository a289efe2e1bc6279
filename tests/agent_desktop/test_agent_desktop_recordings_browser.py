"""The recordings player in a real Chromium: the debtor's earlier call on the operator's card
plays and its transcript follows the audio word by word; a search hit plays from its word.

Screenshots go to test-artifacts/ at the repository root for a person to look at.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from agent_desktop.app import create_app
from crm_core.lookup import card_for_contact
from routing.agent_state import AgentState
from routing.events import AgentOffered
from tests.agent_desktop import browser_support as support
from tests.agent_desktop.browser_support import ARTIFACTS
from tests.agent_desktop.test_agent_desktop_recordings_support import (
    deps_with_recordings,
    recorded_calls,
)

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
SAID = "hello i filed for bankruptcy last month so please stop calling me <b>now</b>"


async def signed_in_page(browser: Browser, url: str, username: str) -> Page:
    return await support.signed_in_page(browser, url, username, PASSWORD, width=1440, height=1000)


async def offer(env, agent_id: str, contact_id: int, linkedid: str) -> None:
    async with env.db.session() as session:
        card = await card_for_contact(
            session, contact_id, matched_number="+447911123456", matched_by="phone"
        )
    env.acd.move(agent_id, AgentState.RESERVED, linkedid)
    env.bus.publish(
        AgentOffered(
            agent_id=agent_id,
            linkedid=linkedid,
            queue="collections",
            caller_number="+447911123456",
            card=card.to_dict(),
            contact_id=contact_id,
            ivr_path=("language:en",),
            waited_s=3.0,
            endpoint="Local/agent1@cb-agents",
            at=env.clock.now(),
        )
    )


async def test_card_player_follows_the_transcript(env, browser, desk_deps, tmp_path) -> None:
    calls = recorded_calls(tmp_path / "recordings", env.db, env.bus)
    earlier = await calls.call(
        "L-earlier",
        agent="op1",
        agent_id=env.users["op1"],
        contact_id=env.contact_id,
        started_at=env.clock.now() - timedelta(days=3),
        said=SAID,
    )
    server = TestServer(
        create_app(deps_with_recordings(desk_deps(env), calls.directory)), host="127.0.0.1"
    )
    await server.start_server()
    try:
        url = str(server.make_url("/"))
        page = await signed_in_page(browser, url, "op1")
        await page.click("#btn-login")
        await expect(page.locator("#state-name")).to_have_text("Ready")
        await offer(env, str(env.users["op1"]), env.contact_id, "L-now")
        await expect(page.locator("#card-name")).to_have_text("Ivan Petrov")

        row = page.locator(f"#rec-card-list tr[data-recording='{earlier.id}']")
        await expect(row).to_contain_text("bankrupt")
        await expect(page.locator("#card-badges .rec-flag")).to_have_text(
            ["bankrupt", "stop calling"]
        )
        await row.locator("button").click()
        player = page.locator("#rec-card-player")
        await expect(player.locator(".rec-word")).to_have_count(len(SAID.split()))
        await expect(player.locator(".rec-pause")).to_contain_text("recording paused")
        current = player.locator(".rec-word.current")
        await expect(current).to_have_count(1, timeout=20_000)
        await expect(current).not_to_have_text("hello", timeout=20_000)  # it moves on as it plays
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "recordings-player.png"))

        # The search page: hits highlighted as text, a click plays from the hit word.
        await page.goto(url + "recordings?q=bankrupt")
        hit = page.locator(f"#rec-hits li[data-recording='{earlier.id}']")
        await expect(hit.locator("mark")).to_have_text("bankruptcy")
        await expect(hit.locator("b")).to_have_count(0)  # transcript text never becomes markup
        await hit.locator("button.rec-play").click()
        word = page.locator("#rec-page-player .rec-word.current")
        await expect(word).to_have_count(1, timeout=20_000)
        position = await page.locator("#rec-page-player audio").evaluate("a => a.currentTime")
        assert position >= 0.3 + 3 * 0.45  # started at "bankruptcy", not at the beginning
        await page.screenshot(path=str(ARTIFACTS / "recordings-search.png"))
    finally:
        await server.close()


async def test_supervisor_sees_a_missing_recording_appear_live(
    env, browser, desk_deps, tmp_path
) -> None:
    calls = recorded_calls(tmp_path / "recordings", env.db, env.bus)
    server = TestServer(
        create_app(deps_with_recordings(desk_deps(env), calls.directory)), host="127.0.0.1"
    )
    await server.start_server()
    try:
        page = await signed_in_page(browser, str(server.make_url("/")), "sup")
        assert page.url.endswith("/supervisor")
        await expect(page.locator("#rec-alert-count")).to_have_text("0")
        lost = await calls.call(
            "L-lost",
            agent="op1",
            agent_id=env.users["op1"],
            contact_id=env.contact_id,
            started_at=env.clock.now(),
            said=None,
            with_file=False,
        )
        row = page.locator(f"#rec-alert-list tr[data-recording='{lost.id}']")
        await expect(row).to_contain_text("missing")  # pushed over the panel websocket
        await expect(page.locator("#rec-alert-count")).to_have_text("1")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "recordings-alerts.png"), full_page=True)
    finally:
        await server.close()
