"""The background task that reminds farms of unfixed tickets and escalates old ones
(`[supervision] fault_remind_after`, `fault_escalate_after`; `schedule` decides
what is due). `run_once(now)` does one round; the task runs it every `interval` seconds
(a tenth of the shorter deadline, between 1 and 60 s), so a reminder comes at most that
late. The clock is injected: tests run rounds at chosen moments without waiting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from farmwatch.platform.supervision.faults.schedule import DueAction, FaultDeadlines, due_actions
from farmwatch.platform.supervision.faults.service import FaultService

__all__ = ["FaultReminders"]

log = logging.getLogger(__name__)


class FaultReminders:
    def __init__(
        self,
        faults: FaultService,
        deadlines: FaultDeadlines,
        *,
        clock: Callable[[], datetime] | None = None,
        interval: float | None = None,
    ) -> None:
        self._faults = faults
        self._deadlines = deadlines
        self._clock = clock or faults.now
        shortest = min(deadlines.remind_after, deadlines.escalate_after).total_seconds()
        self._interval = interval if interval is not None else min(max(shortest / 10, 1.0), 60.0)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once(self._clock())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fault reminder round failed")
            await asyncio.sleep(self._interval)

    async def run_once(self, now: datetime) -> tuple[int, int]:
        """Send what is due at `now`; how many reminders and escalations went out."""
        reminded = escalated = 0
        for ticket in await self._faults.open_tickets():
            for action in due_actions(ticket, now, self._deadlines):
                if action is DueAction.REMIND:
                    await self._faults.remind(ticket, now)
                    reminded += 1
                else:
                    await self._faults.escalate(ticket, now)
                    escalated += 1
        return reminded, escalated
