"""Browser tests run beside the rest of the suite on a loaded machine: Playwright's
assertions wait up to 15 s for the page (its 5 s default was seen to run out while a list
loaded), still far below any test's own bound."""

from __future__ import annotations

from playwright.async_api import expect

expect.set_options(timeout=15_000)
