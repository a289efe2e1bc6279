"""What every browser test of the desktop shares: Debian's Chromium, signing in, artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# as root, and with no network: nothing in the background may try to reach the internet
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHROMIUM = "/usr/bin/chromium"
# A busy CI machine renders slowly: web-first assertions wait up to 20 s (5 s by default); only
# a failing one waits that long.
expect.set_options(timeout=20_000)


async def signed_in_page(
    browser: Browser,
    url: str,
    username: str,
    password: str,
    *,
    width: int = 1440,
    height: int = 900,
) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))
    await page.goto(url + "login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("networkidle")
    return page
