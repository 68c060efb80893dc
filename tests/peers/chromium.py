"""Debian's chromium as the tests and benchmarks launch it (never a downloaded browser),
and the console's login as a person does it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]


async def log_in_through_page(
    page: Any, url: str, username: str = ADMIN, password: str = ADMIN_PASSWORD
) -> None:
    """Open `url` (a page behind the login) in a Playwright `page`: the platform sends the
    browser to its login page, where the form is filled in and sent as a person would;
    returns once the browser is back on `url` with the session cookie."""
    await page.goto(url)
    if urlsplit(page.url).path != "/login":
        raise AssertionError(f"{url} did not ask for a login: {page.url}")
    await page.fill("#username", username)
    await page.fill("#password", password)
    wanted = urlsplit(url)
    async with page.expect_navigation(
        url=lambda now: urlsplit(now).path == wanted.path, timeout=20_000
    ):
        await page.click("#submit")
