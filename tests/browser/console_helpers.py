"""What the console's browser tests share: a logged-in page on a menu entry, screenshots
kept in the test's folder and in /tmp/console-shots/ (looked at after a run), the calls
that set a platform up through its API, and the tiles' decoded-frame counters."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page

from tests.e2e.access_helpers import Caller
from tests.peers.chromium import log_in_through_page

__all__ = [
    "FRAMES_DECODED",
    "SHOTS",
    "answered",
    "console_page",
    "created",
    "first_tile_playing",
    "save_shot",
]

SHOTS = Path("/tmp/console-shots")
FRAMES_DECODED = """
async () => Promise.all((window.farmwatchTiles || []).map((tile) => tile.framesDecoded()))
"""


async def console_page(
    browser: Browser,
    base: str,
    username: str,
    password: str,
    menu: str | None = None,
    *,
    height: int = 900,
    **context: Any,
) -> Page:
    """A new browser context (its own cookies) logged in as `username` through the login
    page, on the console's page `menu` chosen in the menu as a person does (None: the
    console's first page). `context`: more of Playwright's context options."""
    browser_context = await browser.new_context(
        viewport={"width": 1440, "height": height}, locale="zh-CN", **context
    )
    page = await browser_context.new_page()
    await log_in_through_page(page, base + "/", username, password)
    if menu is not None:
        await page.click(f"#nav-{menu}")
    return page


async def save_shot(page: Page, folder: Path, name: str, *, full_page: bool = True) -> None:
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    SHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


async def answered(caller: Caller, method: str, path: str, body: Any, status: int = 200) -> Any:
    """The answer to one API call, which must have `status`."""
    got, answer = await caller.request(method, path, body)
    assert got == status, (method, path, got, answer)
    return answer


async def created(caller: Caller, path: str, body: Any) -> dict[str, Any]:
    """What a POST that must answer 201 created."""
    return dict(await answered(caller, "POST", path, body, 201))


async def first_tile_playing(page: Page, timeout: float = 20) -> None:
    """Once the first tile has decoded five frames."""
    async with asyncio.timeout(timeout):
        while True:
            decoded = await page.evaluate(FRAMES_DECODED)
            if decoded and int(decoded[0]) >= 5:
                return
            await asyncio.sleep(0.2)
