"""Persistence of what each upper platform may see, as edited through the API
(`upper_shares`; a row wins over the `[[upper]]` table's `share` keys).

One unit of work per method; frozen records out, never rows. Times are passed in (`at=`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.models import UpperShareRow

__all__ = ["StoredShare", "UpperShareRepository"]


@dataclass(frozen=True, slots=True)
class StoredShare:
    upper_name: str
    share_all: bool
    farms: tuple[str, ...]
    """Farm filing numbers, sorted."""
    devices: tuple[str, ...]
    channels: tuple[str, ...]
    updated_at: datetime
    updated_by: str | None


def _stored(row: UpperShareRow) -> StoredShare:
    return StoredShare(
        upper_name=row.upper_name,
        share_all=row.share_all,
        farms=tuple(row.farms or ()),
        devices=tuple(row.devices or ()),
        channels=tuple(row.channels or ()),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


class UpperShareRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, upper_name: str) -> StoredShare | None:
        async with self._sessions() as session:
            row = await session.get(UpperShareRow, upper_name)
            return None if row is None else _stored(row)

    async def all(self) -> list[StoredShare]:
        async with self._sessions() as session:
            rows = await session.execute(select(UpperShareRow).order_by(UpperShareRow.upper_name))
            return [_stored(row) for row in rows.scalars()]

    async def put(self, share: StoredShare) -> StoredShare:
        """Insert or replace the upper's row."""
        async with self._sessions() as session, session.begin():
            row = await session.get(UpperShareRow, share.upper_name)
            if row is None:
                row = UpperShareRow(upper_name=share.upper_name)
                session.add(row)
            row.share_all = share.share_all
            row.farms = sorted(share.farms)
            row.devices = sorted(share.devices)
            row.channels = sorted(share.channels)
            row.updated_at = share.updated_at
            row.updated_by = share.updated_by
        return StoredShare(
            share.upper_name, share.share_all, tuple(sorted(share.farms)),
            tuple(sorted(share.devices)), tuple(sorted(share.channels)), share.updated_at,
            share.updated_by,
        )  # fmt: skip

    async def delete(self, upper_name: str) -> bool:
        """Remove the upper's row; whether there was one."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(UpperShareRow).where(UpperShareRow.upper_name == upper_name)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]
