"""Each camera's key area, location number, model and access method (`camera_placements`),
set by an administrator; kept apart from `channels`, whose rows follow the device's catalog and are
replaced when it changes."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.cameras.access_methods import AccessMethod
from farmwatch.platform.cameras.key_areas import KeyArea
from farmwatch.platform.models.placement import CameraPlacementRow

__all__ = ["CameraPlace", "PlacementRepository"]

PLACEMENTS: Table = CameraPlacementRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class CameraPlace:
    """Where on its farm a camera looks: the key area and the location number (art. 21:
    every video is labelled with its time and location number); and what it is: its model
    and how it reaches the platform (art. 5–6)."""

    channel_id: str
    key_area: KeyArea | None
    location: str | None
    model: str | None = None
    access_method: AccessMethod | None = None

    @property
    def is_empty(self) -> bool:
        return (self.key_area, self.location, self.model, self.access_method) == (None,) * 4


def _key_area(value: str | None) -> KeyArea | None:
    # A value no longer known (a renamed area) reads as unset rather than failing a list.
    try:
        return None if value is None else KeyArea(value)
    except ValueError:
        return None


def _access_method(value: str | None) -> AccessMethod | None:
    try:
        return None if value is None else AccessMethod(value)
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
                    row["channel_id"],
                    _key_area(row["key_area"]),
                    row["location"],
                    row["model"],
                    _access_method(row["access_method"]),
                )  # fmt: skip
                for row in rows
            }

    async def set_place(self, place: CameraPlace, *, at: datetime) -> None:
        """Replace the camera's place (all unset deletes the row)."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(PLACEMENTS).where(PLACEMENTS.c.channel_id == place.channel_id)
            )
            if place.is_empty:
                return
            await session.execute(
                PLACEMENTS.insert().values(
                    channel_id=place.channel_id,
                    key_area=None if place.key_area is None else place.key_area.value,
                    location=place.location,
                    model=place.model,
                    access_method=None
                    if place.access_method is None
                    else place.access_method.value,
                    updated_at=at,
                )
            )
