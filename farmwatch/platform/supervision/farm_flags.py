"""Why a farm is flagged for more on-site inspection, from what is still open against it:
fault tickets (art. 19) and, once they land here, anomalies (art. 20)."""

from __future__ import annotations

from farmwatch.platform.supervision.farms.flags import FarmFlag, FlagKind
from farmwatch.platform.supervision.faults.service import FaultService

__all__ = ["SupervisionFlags"]


class SupervisionFlags:
    def __init__(self, faults: FaultService) -> None:
        self._faults = faults

    async def flags(self, farm_id: int) -> list[FarmFlag]:
        tickets = await self._faults.open_tickets(farm_id=farm_id)
        return [
            FarmFlag(
                FlagKind.FAULT,
                ticket.since,
                f"{ticket.kind.value}: camera {ticket.channel_id}",
                str(ticket.id),
            )  # fmt: skip
            for ticket in sorted(tickets, key=lambda t: t.since)
        ]
