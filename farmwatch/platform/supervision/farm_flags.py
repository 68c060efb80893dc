"""Why a farm is flagged for more on-site inspection, from what is still open against it:
fault tickets (art. 19) and anomalies not closed (art. 20)."""

from __future__ import annotations

from farmwatch.platform.supervision.anomalies.service import AnomalyService
from farmwatch.platform.supervision.farms.flags import FarmFlag, FlagKind
from farmwatch.platform.supervision.faults.service import FaultService

__all__ = ["SupervisionFlags"]


class SupervisionFlags:
    def __init__(self, faults: FaultService, anomalies: AnomalyService) -> None:
        self._faults = faults
        self._anomalies = anomalies

    async def flags(self, farm_id: int) -> list[FarmFlag]:
        tickets = await self._faults.open_tickets(farm_id=farm_id)
        flags = [
            FarmFlag(
                FlagKind.FAULT,
                ticket.since,
                f"{ticket.kind.value}: camera {ticket.channel_id}",
                str(ticket.id),
            )  # fmt: skip
            for ticket in tickets
        ]
        flags += [
            FarmFlag(
                FlagKind.ANOMALY,
                anomaly.reported_at,
                f"{anomaly.state.value}: camera {anomaly.channel_id}",
                str(anomaly.id),
            )  # fmt: skip
            for anomaly in await self._anomalies.open_of_farm(farm_id)
        ]
        return sorted(flags, key=lambda flag: flag.since)
