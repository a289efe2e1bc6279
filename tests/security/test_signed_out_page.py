"""Finding 1 in the browser: a desk tab whose session ends elsewhere (the user signed out in
another tab) is closed with 4401 and shows "You were signed out" on the sign-in page, instead
of reconnecting forever with the debtor's card still on screen."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from agent_desktop.app import create_app
from tests.agent_desktop.browser_support import signed_in_page
from tests.agent_desktop.conftest import PASSWORD

pytestmark = pytest.mark.browser


async def test_a_desk_tab_shows_signed_out_when_the_session_ends_in_another(
    env, browser, desk_deps
) -> None:
    server = TestServer(create_app(desk_deps(env)), host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("/"))
        desk = await signed_in_page(browser, url, "op1", PASSWORD)
        assert desk.url == url  # the desk
        other = await desk.context.new_page()
        await other.goto(url)
        await other.wait_for_load_state("networkidle")
        await other.click("form[action='/logout'] button[type=submit]")
        await desk.wait_for_url("**/login?signed_out=1", timeout=10_000)
        notice = desk.locator(".form-notice")
        assert (await notice.text_content() or "").strip() == "You were signed out."
        await desk.context.close()
    finally:
        await server.close()
