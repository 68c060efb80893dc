"""Persistence of catalog items (channels) per device (GB/T 28181-2016 §9.5, A.2.6 c, Annex O).

`ChannelRepository` is built with the injected `async_sessionmaker`; every public method is
one unit of work and returns frozen records. A catalog is written in bulk: one executemany
`INSERT ... ON CONFLICT (device_id, channel_id) DO UPDATE` for all items, one executemany
`DELETE` for the items that left the catalog, so a 1,000-item catalog costs a handful of
round trips. The derived columns are computed here: `kind` from the item ID, `is_online`
from the reported Status, `tree_parent_id` by `catalog_tree.resolve_tree_parents` over the
whole catalog (recomputed after incremental changes, since adding or deleting a group
moves its members). Writing a catalog also stamps the device's `catalog_sum_num` and
`catalog_updated_at` in the same transaction, and for a catalog answer how it ended
(`catalog_received`, `is_catalog_complete`): a complete answer replaces the stored
catalog, a partial one (stalled) only adds and updates, since it says nothing about
the items that did not arrive.

`is_online` is the platform's view of reachability: it follows the catalog Status and
NOTIFY ON/OFF events, and `set_all_offline` clears it when the device goes offline while
`status` keeps the last value the device reported.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.catalog_tree import CatalogLink, build_tree, resolve_tree_parents
from farmwatch.platform.models import ChannelRow, DeviceRow
from farmwatch.platform.records import (
    CatalogDiff,
    CatalogReplacement,
    ChannelData,
    ChannelNode,
    ChannelRecord,
    DeviceNotFound,
    ItemKind,
)
from farmwatch.platform.repositories.device_repository import dialect_name, insert_for

CHANNELS: Table = ChannelRow.__table__  # type: ignore[assignment]
DEVICES: Table = DeviceRow.__table__  # type: ignore[assignment]
DATA_FIELDS = tuple(field.name for field in fields(ChannelData))
UPSERT_COLUMNS = (*DATA_FIELDS, "kind", "tree_parent_id", "is_online", "updated_at")
DELETE_CHUNK = 500


@functools.cache
def _channel_upsert(name: str) -> Any:
    """The catalog upsert, built once per database (building the `excluded` alias of every
    column cost more than writing a few devices' catalogs)."""
    insert = insert_for(name, CHANNELS)
    return insert.on_conflict_do_update(
        index_elements=[CHANNELS.c.device_id, CHANNELS.c.channel_id],
        set_={column: insert.excluded[column] for column in UPSERT_COLUMNS},
    )


def _to_record(row: RowMapping) -> ChannelRecord:
    data = ChannelData(**{name: row[name] for name in DATA_FIELDS})
    return ChannelRecord(
        device_id=row["device_id"],
        data=data,
        kind=row["kind"],
        tree_parent_id=row["tree_parent_id"],
        is_online=row["is_online"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _row_values(
    device_id: str, item: ChannelData, tree_parent_id: str, at: datetime
) -> dict[str, Any]:
    values = {name: getattr(item, name) for name in DATA_FIELDS}
    values["extra"] = dict(item.extra)
    values.update(
        device_id=device_id,
        kind=ItemKind.of(item.channel_id),
        tree_parent_id=tree_parent_id,
        is_online=item.reports_online,
        created_at=at,
        updated_at=at,
    )
    return values


def _latest_by_id(items: Iterable[ChannelData]) -> dict[str, ChannelData]:
    """De-duplicate by item ID; a later duplicate (a retransmitted message) wins."""
    return {item.channel_id: item for item in items}


def _links(items: Iterable[ChannelData]) -> list[CatalogLink]:
    return [CatalogLink(item.channel_id, item.parent_id, item.business_group_id) for item in items]


class ChannelRepository:
    """Catalog items as stored; see the module docstring for the contract."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions

    async def replace_catalog(
        self,
        device_id: str,
        items: Sequence[ChannelData],
        *,
        at: datetime,
        sum_num: int | None = None,
        received: int | None = None,
    ) -> CatalogDiff:
        """Make `items`, a complete catalog answer, the device's whole catalog: upsert
        them all, delete the rest, and mark the device's catalog complete.

        `sum_num` is the SumNum the device announced and `received` the number of items
        that arrived (both default to the number of distinct items). Raises
        `DeviceNotFound` when the device has no row.
        """
        replacement = CatalogReplacement(device_id, tuple(items), at, sum_num, received)
        diffs = await self.replace_catalogs([replacement])
        if device_id not in diffs:
            raise DeviceNotFound(device_id)
        return diffs[device_id]

    async def replace_catalogs(
        self, catalogs: Sequence[CatalogReplacement]
    ) -> dict[str, CatalogDiff]:
        """Several complete catalog answers, each as `replace_catalog` stores it, in one
        transaction and a few statements (a region whose devices all register at once).

        When a device appears twice the later answer wins. Answers of devices that have no
        row are skipped: the result (what changed, per device) leaves them out.
        """
        latest = {catalog.device_id: catalog for catalog in catalogs}
        diffs: dict[str, CatalogDiff] = {}
        if not latest:
            return diffs
        async with self._sessions.begin() as session:
            known: set[str] = set()
            existing: dict[str, set[str]] = {}
            wanted = sorted(latest)
            for start in range(0, len(wanted), DELETE_CHUNK):
                chunk = wanted[start : start + DELETE_CHUNK]
                known.update(
                    (
                        await session.scalars(
                            select(DEVICES.c.device_id).where(DEVICES.c.device_id.in_(chunk))
                        )
                    ).all()
                )
                result = await session.execute(
                    select(CHANNELS.c.device_id, CHANNELS.c.channel_id).where(
                        CHANNELS.c.device_id.in_(chunk)
                    )
                )
                for device_id, channel_id in result.all():
                    existing.setdefault(device_id, set()).add(channel_id)
            stamps: list[dict[str, Any]] = []
            rows: list[dict[str, Any]] = []
            removals: dict[str, list[str]] = {}
            for device_id in sorted(known):
                replacement = latest[device_id]
                catalog = _latest_by_id(replacement.items)
                parents = resolve_tree_parents(device_id, _links(catalog.values()))
                rows.extend(
                    _row_values(device_id, item, parents[key], replacement.at)
                    for key, item in catalog.items()
                )
                stamps.append(
                    {
                        "stamp_device_id": device_id,
                        "stamp_at": replacement.at,
                        "stamp_sum_num": (
                            len(catalog) if replacement.sum_num is None else replacement.sum_num
                        ),
                        "stamp_received": (
                            len(catalog) if replacement.received is None else replacement.received
                        ),
                    }
                )
                before = existing.get(device_id, set())
                removed = sorted(before - catalog.keys())
                if removed:
                    removals[device_id] = removed
                diffs[device_id] = CatalogDiff(
                    added=tuple(sorted(catalog.keys() - before)),
                    updated=tuple(sorted(catalog.keys() & before)),
                    removed=tuple(removed),
                )
            if stamps:
                await session.execute(
                    update(DEVICES)
                    .where(DEVICES.c.device_id == bindparam("stamp_device_id"))
                    .values(
                        catalog_updated_at=bindparam("stamp_at"),
                        updated_at=bindparam("stamp_at"),
                        catalog_sum_num=bindparam("stamp_sum_num"),
                        catalog_received=bindparam("stamp_received"),
                        is_catalog_complete=True,
                    ),
                    stamps,
                )
            await self._upsert(session, rows)
            for device_id, removed in removals.items():
                await self._delete(session, device_id, removed)
        return diffs

    async def merge_partial_catalog(
        self,
        device_id: str,
        items: Sequence[ChannelData],
        *,
        at: datetime,
        sum_num: int | None,
        received: int,
    ) -> CatalogDiff:
        """Store a catalog answer that stalled: upsert what arrived, keep the other items,
        and mark the device's catalog not complete (it is asked again after a restart).

        Raises `DeviceNotFound` when the device has no row.
        """
        catalog = _latest_by_id(items)
        outcome: dict[str, Any] = {"catalog_received": received, "is_catalog_complete": False}
        if sum_num is not None:
            outcome["catalog_sum_num"] = sum_num
        async with self._sessions.begin() as session:
            await self._stamp_device(session, device_id, at, outcome)
            existing = await self._existing_ids(session, device_id)
            rows = [_row_values(device_id, item, device_id, at) for item in catalog.values()]
            await self._upsert(session, rows)
            await self._refresh_tree(session, device_id)
        return CatalogDiff(
            added=tuple(sorted(catalog.keys() - existing)),
            updated=tuple(sorted(catalog.keys() & existing)),
            removed=(),
        )

    async def apply_changes(
        self,
        device_id: str,
        *,
        at: datetime,
        upserted: Sequence[ChannelData] = (),
        deleted: Collection[str] = (),
        online: Collection[str] = (),
        offline: Collection[str] = (),
    ) -> CatalogDiff:
        """Apply a catalog NOTIFY (§5.3): ADD/UPDATE → `upserted`, DEL → `deleted`,
        ON → `online`, OFF/VLOST/DEFECT → `offline`.

        Order within one call: upserts, then status changes, then deletes. Status changes
        for unknown items are ignored. Tree parents of the whole catalog are recomputed.
        Raises `DeviceNotFound` when the device has no row.
        """
        changed = _latest_by_id(upserted)
        async with self._sessions.begin() as session:
            await self._stamp_device(session, device_id, at, {})
            existing = await self._existing_ids(session, device_id)
            rows = [_row_values(device_id, item, device_id, at) for item in changed.values()]
            await self._upsert(session, rows)
            await self._set_online(session, device_id, online, True, at)
            await self._set_online(session, device_id, offline, False, at)
            removed = sorted(set(deleted) & (existing | changed.keys()))
            await self._delete(session, device_id, removed)
            await self._refresh_tree(session, device_id)
        return CatalogDiff(
            added=tuple(sorted(changed.keys() - existing)),
            updated=tuple(sorted(changed.keys() & existing)),
            removed=tuple(removed),
        )

    async def set_status(
        self, device_id: str, channel_id: str, *, online: bool, at: datetime
    ) -> bool:
        """Set one item online or offline; False if the device has no such item."""
        async with self._sessions.begin() as session:
            return await self._set_online(session, device_id, (channel_id,), online, at) > 0

    async def set_all_offline(self, device_id: str, *, at: datetime) -> int:
        """Mark every item of the device unreachable; returns how many changed."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(CHANNELS)
                .where(CHANNELS.c.device_id == device_id, CHANNELS.c.is_online == True)  # noqa: E712
                .values(is_online=False, updated_at=at)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def list_for_device(
        self, device_id: str, *, kinds: Collection[ItemKind] | None = None
    ) -> tuple[ChannelRecord, ...]:
        """The device's items ordered by item ID, optionally only some kinds."""
        statement = select(CHANNELS).where(CHANNELS.c.device_id == device_id)
        if kinds is not None:
            statement = statement.where(CHANNELS.c.kind.in_([ItemKind(kind) for kind in kinds]))
        async with self._read_sessions() as session:
            result = await session.execute(statement.order_by(CHANNELS.c.channel_id))
            return tuple(_to_record(row) for row in result.mappings())

    async def list_all(self) -> tuple[ChannelRecord, ...]:
        """Every item of every device, ordered by device and item ID (a catalog export)."""
        statement = select(CHANNELS).order_by(CHANNELS.c.device_id, CHANNELS.c.channel_id)
        async with self._read_sessions() as session:
            result = await session.execute(statement)
            return tuple(_to_record(row) for row in result.mappings())

    async def tree_for_device(self, device_id: str) -> tuple[ChannelNode, ...]:
        """The device's catalog as a tree; returns the nodes directly under the device."""
        return build_tree(device_id, await self.list_for_device(device_id))

    async def get(self, channel_id: str) -> ChannelRecord | None:
        """An item by ID across devices, preferring an online one, then the newest."""
        async with self._read_sessions() as session:
            result = await session.execute(
                select(CHANNELS)
                .where(CHANNELS.c.channel_id == channel_id)
                .order_by(CHANNELS.c.is_online.desc(), CHANNELS.c.updated_at.desc())
                .limit(1)
            )
            row = result.mappings().one_or_none()
            return None if row is None else _to_record(row)

    async def find(self, device_id: str, channel_id: str) -> ChannelRecord | None:
        """An item of one device."""
        async with self._read_sessions() as session:
            result = await session.execute(
                select(CHANNELS).where(
                    CHANNELS.c.device_id == device_id, CHANNELS.c.channel_id == channel_id
                )
            )
            row = result.mappings().one_or_none()
            return None if row is None else _to_record(row)

    async def count(self, *, device_id: str | None = None, online: bool | None = None) -> int:
        """Number of items, optionally of one device and/or only online or offline ones."""
        statement = select(func.count()).select_from(CHANNELS)
        if device_id is not None:
            statement = statement.where(CHANNELS.c.device_id == device_id)
        if online is not None:
            statement = statement.where(CHANNELS.c.is_online == online)
        async with self._read_sessions() as session:
            return int(await session.scalar(statement) or 0)

    @staticmethod
    async def _stamp_device(
        session: AsyncSession, device_id: str, at: datetime, outcome: dict[str, Any]
    ) -> None:
        values: dict[str, Any] = {"catalog_updated_at": at, "updated_at": at, **outcome}
        result = await session.execute(
            update(DEVICES).where(DEVICES.c.device_id == device_id).values(values)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise DeviceNotFound(device_id)

    @staticmethod
    async def _existing_ids(session: AsyncSession, device_id: str) -> set[str]:
        result = await session.scalars(
            select(CHANNELS.c.channel_id).where(CHANNELS.c.device_id == device_id)
        )
        return set(result.all())

    @staticmethod
    async def _upsert(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        await session.execute(_channel_upsert(dialect_name(session)), list(rows))

    @staticmethod
    async def _delete(session: AsyncSession, device_id: str, channel_ids: Sequence[str]) -> None:
        for start in range(0, len(channel_ids), DELETE_CHUNK):
            chunk = channel_ids[start : start + DELETE_CHUNK]
            await session.execute(
                CHANNELS.delete().where(
                    CHANNELS.c.device_id == device_id, CHANNELS.c.channel_id.in_(chunk)
                )
            )

    @staticmethod
    async def _set_online(
        session: AsyncSession,
        device_id: str,
        channel_ids: Collection[str],
        online: bool,
        at: datetime,
    ) -> int:
        if not channel_ids:
            return 0
        status = "ON" if online else "OFF"
        statement = (
            update(CHANNELS)
            .where(
                CHANNELS.c.device_id == device_id,
                CHANNELS.c.channel_id == bindparam("item_id"),
            )
            .values(is_online=online, status=status, updated_at=at)
        )
        if len(channel_ids) == 1:  # a single execute reports a reliable rowcount
            (only,) = channel_ids
            result = await session.execute(statement, {"item_id": only})
            return int(result.rowcount)  # type: ignore[attr-defined]
        await session.execute(statement, [{"item_id": key} for key in sorted(channel_ids)])
        return len(channel_ids)

    @staticmethod
    async def _refresh_tree(session: AsyncSession, device_id: str) -> None:
        result = await session.execute(
            select(
                CHANNELS.c.channel_id,
                CHANNELS.c.parent_id,
                CHANNELS.c.business_group_id,
                CHANNELS.c.tree_parent_id,
            ).where(CHANNELS.c.device_id == device_id)
        )
        rows = result.all()
        links = [CatalogLink(row.channel_id, row.parent_id, row.business_group_id) for row in rows]
        parents = resolve_tree_parents(device_id, links)
        moved = [
            {"item_id": row.channel_id, "new_parent": parents[row.channel_id]}
            for row in rows
            if parents[row.channel_id] != row.tree_parent_id
        ]
        if moved:
            await session.execute(
                update(CHANNELS)
                .where(
                    CHANNELS.c.device_id == device_id,
                    CHANNELS.c.channel_id == bindparam("item_id"),
                )
                .values(tree_parent_id=bindparam("new_parent")),
                moved,
            )
