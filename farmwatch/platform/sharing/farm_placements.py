"""Which farm each device is on, read for the catalog an upper platform sees."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.models import FarmDeviceRow, FarmRow

__all__ = ["FarmPlacement", "FarmPlacements"]


@dataclass(frozen=True, slots=True)
class FarmPlacement:
    farm_id: int
    name: str
    filing_number: str
    device_ids: frozenset[str]


class FarmPlacements:
    def __init__(self, read_sessions: async_sessionmaker[AsyncSession]) -> None:
        self._read_sessions = read_sessions

    async def all(self) -> list[FarmPlacement]:
        """Every farm with the devices placed on it, ordered by farm."""
        async with self._read_sessions() as session:
            farms = (await session.execute(select(FarmRow).order_by(FarmRow.id))).scalars()
            placed = (await session.execute(select(FarmDeviceRow))).scalars()
            by_farm: dict[int, set[str]] = {}
            for row in placed:
                by_farm.setdefault(row.farm_id, set()).add(row.device_id)
            return [
                FarmPlacement(
                    farm.id, farm.name, farm.filing_number, frozenset(by_farm.get(farm.id, ()))
                )  # fmt: skip
                for farm in farms
            ]
