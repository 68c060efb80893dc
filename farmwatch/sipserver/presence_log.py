"""Log lines for devices coming online and going offline, bounded during storms.

One line per device is what an operator wants when a camera comes back; when a farm
region comes back after a power cut, five thousand lines a second are noise that costs
the registrar a tenth of its time. So each kind of change is a burst (`sip.bursts`): a
change after a quiet second gets its own line; in a storm, the first change is logged
and the rest are counted into a summary every ten seconds and when the storm is over.
The database keeps every device's state either way.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from farmwatch.sipserver.gb.registrations import OfflineReason, Registration
from farmwatch.sipserver.sip.bursts import BurstLog, BurstReport, BurstStage

log = logging.getLogger("farmwatch.sipserver.device_access")

QUIET_AFTER = 1.0
REPORT_INTERVAL = 10.0


class PresenceChange(StrEnum):
    ONLINE = "came online"
    OFFLINE = "went offline"


class PresenceLog:
    """Writes the online/offline lines of `DeviceAccess`; the caller passes `now`."""

    def __init__(self) -> None:
        self._bursts: BurstLog[PresenceChange] = BurstLog(
            quiet_after=QUIET_AFTER, report_interval=REPORT_INTERVAL
        )

    def online(self, registration: Registration, *, registered: bool, now: float) -> None:
        report = self._bursts.record(PresenceChange.ONLINE, now)
        if report is None:
            return
        if report.stage is BurstStage.STARTED:
            log.info("device %s online (%s, %s)", registration.device_id,
                     registration.address, "registered" if registered else "keepalive")  # fmt: skip
        else:
            self._summarise(report, now)

    def offline(self, device_id: str, reason: OfflineReason, now: float) -> None:
        report = self._bursts.record(PresenceChange.OFFLINE, now)
        if report is None:
            return
        if report.stage is BurstStage.STARTED:
            log.info("device %s offline (%s)", device_id, reason.value)
        else:
            self._summarise(report, now)

    def tick(self, now: float) -> None:
        for report in self._bursts.ended(now):
            self._summarise(report, now)

    def next_deadline(self) -> float | None:
        return self._bursts.next_deadline()

    @staticmethod
    def _summarise(report: BurstReport[PresenceChange], now: float) -> None:
        log.info("%d more devices %s in %.0f s%s", report.count, report.key.value,
                 now - report.since,
                 "" if report.stage is BurstStage.ENDED else " (still going on)")  # fmt: skip
