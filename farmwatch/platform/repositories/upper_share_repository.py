"""Persistence of what each upper platform may see, as edited through the API
(`upper_shares`; a row wins over the `[[upper]]` table's `share` keys).

One unit of work per method; frozen records out, never rows. Times are passed in (`at=`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.models import UpperShareRow
from farmwatch.platform.repositories.device_repository import dialect_insert

_TABLE = cast(Table, UpperShareRow.__table__)

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
        """Insert or replace the upper's row, in one statement: two administrators saving
        the same upper's first share at once both succeed, the later one's wins."""
        stored = replace(
            share,
            farms=tuple(sorted(share.farms)),
            devices=tuple(sorted(share.devices)),
            channels=tuple(sorted(share.channels)),
        )
        values = {
            "upper_name": stored.upper_name,
            "share_all": stored.share_all,
            "farms": list(stored.farms),
            "devices": list(stored.devices),
            "channels": list(stored.channels),
            "updated_at": stored.updated_at,
            "updated_by": stored.updated_by,
        }
        async with self._sessions() as session, session.begin():
            insert = dialect_insert(session, _TABLE).values(values)
            await session.execute(
                insert.on_conflict_do_update(
                    index_elements=["upper_name"],
                    set_={name: value for name, value in values.items() if name != "upper_name"},
                )
            )
        return stored

    async def delete(self, upper_name: str) -> bool:
        """Remove the upper's row; whether there was one."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(UpperShareRow).where(UpperShareRow.upper_name == upper_name)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]
