"""LoopLagMonitor on a real uvloop: a callback that holds the loop is measured and named."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from farmwatch.platform.observability import LoopLagMonitor


def _hold_the_loop(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


async def test_a_stall_is_measured_logged_once_and_names_the_code_that_held_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitor = LoopLagMonitor(interval=0.01, threshold=0.05)
    await monitor.start()
    try:
        await asyncio.sleep(0.05)  # a few normal samples first
        with caplog.at_level(logging.WARNING, logger="farmwatch.platform.observability"):
            # Long enough for the watchdog thread to be scheduled and catch the stack on a
            # machine whose two cores run three test workers and their servers.
            asyncio.get_running_loop().call_soon(_hold_the_loop, 1.0)
            deadline = time.monotonic() + 5
            while monitor.stats.stalls == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
    finally:
        await monitor.close()
    stats = monitor.stats
    assert stats.stalls >= 1
    assert stats.max_lag >= 0.2
    lines = [r.getMessage() for r in caplog.records if "event loop held" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "_hold_the_loop" in lines[0]
