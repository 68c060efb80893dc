"""Each camera's key area and location number (`camera_placements`), set by an
administrator; kept apart from `channels`, whose rows follow the device's catalog and are
replaced when it changes."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.cameras.key_areas import KeyArea
from farmwatch.platform.models.placement import CameraPlacementRow

__all__ = ["CameraPlace", "PlacementRepository"]

PLACEMENTS: Table = CameraPlacementRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class CameraPlace:
    """Where on its farm a camera looks: the key area and the location number (art. 21:
    every video is labelled with its time and location number)."""

    channel_id: str
    key_area: KeyArea | None
    location: str | None


def _key_area(value: str | None) -> KeyArea | None:
    # A value no longer known (a renamed area) reads as unset rather than failing a list.
    try:
        return None if value is None else KeyArea(value)
    except ValueError:
        return None


class PlacementRepository:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions

    async def places(self, channel_ids: Collection[str] | None = None) -> dict[str, CameraPlace]:
        """The places set, by channel ID (all, or those of `channel_ids`)."""
        statement = select(PLACEMENTS)
        if channel_ids is not None:
            statement = statement.where(PLACEMENTS.c.channel_id.in_(sorted(channel_ids)))
        async with self._read_sessions() as session:
            rows = (await session.execute(statement)).mappings()
            return {
                row["channel_id"]: CameraPlace(
                    row["channel_id"], _key_area(row["key_area"]), row["location"]
                )
                for row in rows
            }

    async def set_place(self, place: CameraPlace, *, at: datetime) -> None:
        """Replace the camera's place (both unset deletes the row)."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(PLACEMENTS).where(PLACEMENTS.c.channel_id == place.channel_id)
            )
            if place.key_area is None and place.location is None:
                return
            await session.execute(
                PLACEMENTS.insert().values(
                    channel_id=place.channel_id,
                    key_area=None if place.key_area is None else place.key_area.value,
                    location=place.location,
                    updated_at=at,
                )
            )
