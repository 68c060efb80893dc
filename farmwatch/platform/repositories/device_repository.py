"""Persistence of devices: registration, keepalive, DeviceInfo, enrolment (GB/T 28181 §9.1, §9.6).

`DeviceRepository` is built with the injected `async_sessionmaker`; every public method is
one unit of work (its own session and transaction) and returns frozen records, never rows,
so callers need no SQLAlchemy. Times are timezone-aware UTC datetimes passed in by the
caller (`at=`); the repository reads no clock. Writes are single statements where the
database allows it: a REGISTER is one `INSERT ... ON CONFLICT DO UPDATE`, a batch of
keepalives one executemany `UPDATE`. `updated_at` tracks every change except keepalives.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from farmwatch.platform.models import DeviceRow
from farmwatch.platform.records import (
    DeviceInfoData,
    DevicePage,
    DeviceRecord,
    KeepaliveBeat,
    OfflineReason,
    RegistrationData,
    Transport,
)
from farmwatch.sipserver.gb.versions import StreamDialect

log = logging.getLogger(__name__)

DEVICES: Table = DeviceRow.__table__  # type: ignore[assignment]


def _registration_values(data: RegistrationData) -> dict[str, Any]:
    beat = data.keepalive
    return {
        "device_id": data.device_id,
        "transport": data.transport,
        "remote_host": data.remote_host if beat is None else beat.remote_host,
        "remote_port": data.remote_port if beat is None else beat.remote_port,
        "contact_uri": data.contact_uri,
        "expires": data.expires,
        "gb_version": data.gb_version,
        "at": data.at,
        "keepalive_at": None if beat is None else beat.at,
    }


# Every timestamp of a fresh registration is its time: bound once per row, not four times
# (converting timestamps was a fifth of a registration storm's CPU), and the constants
# are part of the statement.
_REGISTRATION_CONSTANTS: dict[str, Any] = {
    "is_online": true(),
    "offline_reason": null(),
    "registered_at": bindparam("at"),
    "last_register_at": bindparam("at"),
    "created_at": bindparam("at"),
    "updated_at": bindparam("at"),
    "last_keepalive_at": bindparam("keepalive_at"),
}
_REGISTRATION_REFRESHED = (
    "transport", "remote_host", "remote_port", "contact_uri", "expires", "gb_version",
    "is_online", "offline_reason", "last_register_at", "updated_at",
)  # fmt: skip


def dialect_insert(session: AsyncSession, table: Table) -> Any:
    """`INSERT` with `on_conflict_do_update` for the session's database (SQLite, PostgreSQL)."""
    return insert_for(dialect_name(session), table)


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_for(name: str, table: Table) -> Any:
    """`INSERT` with `on_conflict_do_update` for the database `name` (SQLite, PostgreSQL)."""
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"upsert is not implemented for {name}")


@functools.cache
def _registration_upsert(name: str) -> Any:
    """The registration storm's upsert, built once per database: building it (the
    `excluded` alias of every column, the `CASE`) cost milliseconds, more than writing a
    batch of a few rows."""
    insert = insert_for(name, DEVICES).values(_REGISTRATION_CONSTANTS)
    refreshed: dict[str, Any] = {key: insert.excluded[key] for key in _REGISTRATION_REFRESHED}
    refreshed["registered_at"] = func.coalesce(
        case((DEVICES.c.is_online, DEVICES.c.registered_at)),
        insert.excluded.registered_at,
    )
    # No keepalive with the registration: the one stored stays.
    refreshed["last_keepalive_at"] = func.coalesce(
        insert.excluded.last_keepalive_at, DEVICES.c.last_keepalive_at
    )
    return insert.on_conflict_do_update(index_elements=[DEVICES.c.device_id], set_=refreshed)


def _stream_dialect(device_id: str, text: str | None) -> StreamDialect | None:
    """The stored dialect; one this version does not know (a database written by another
    version, or by hand) counts as none, so the device follows the configuration."""
    if text is None:
        return None
    try:
        return StreamDialect.from_text(text)
    except ValueError:
        log.warning("device %s: stored stream dialect %r unknown, ignored", device_id, text)
        return None


def _to_record(row: RowMapping) -> DeviceRecord:
    values = dict(row)
    values["stream_dialect"] = _stream_dialect(row["device_id"], row["stream_dialect"])
    return DeviceRecord(**values)


class DeviceRepository:
    """Devices as stored; see the module docstring for the transaction contract."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read_sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions

    async def upsert_registration(
        self,
        device_id: str,
        *,
        transport: Transport,
        remote_host: str,
        remote_port: int,
        contact_uri: str,
        expires: int,
        gb_version: str | None,
        at: datetime,
    ) -> DeviceRecord:
        """Record a successful REGISTER (new or refresh): the device is online from `at`.

        `registered_at` moves to `at` only when the device was offline (a new
        registration); a refresh keeps it and only moves `last_register_at`.
        """
        data = RegistrationData(
            device_id, transport, remote_host, remote_port, contact_uri, expires, gb_version, at
        )
        await self.upsert_registrations([data])
        record = await self.get(device_id)
        assert record is not None
        return record

    async def upsert_registrations(self, registrations: Sequence[RegistrationData]) -> None:
        """Many REGISTERs in one transaction and one executemany upsert (registration storms).

        When a device appears twice the later registration wins.
        """
        latest = {data.device_id: data for data in registrations}
        if not latest:
            return
        rows = [_registration_values(data) for data in latest.values()]
        async with self._sessions.begin() as session:
            await session.execute(_registration_upsert(dialect_name(session)), rows)

    async def mark_keepalive(
        self, device_id: str, *, at: datetime, remote_host: str, remote_port: int
    ) -> bool:
        """Note one keepalive and its source address; False if the device is unknown."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(DEVICES)
                .where(DEVICES.c.device_id == device_id)
                .values(last_keepalive_at=at, remote_host=remote_host, remote_port=remote_port)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def mark_keepalives(self, beats: Sequence[KeepaliveBeat]) -> None:
        """Note many keepalives in one transaction and one executemany round trip.

        Beats for unknown devices are ignored; when a device appears twice the latest
        beat wins.
        """
        latest: dict[str, KeepaliveBeat] = {}
        for beat in beats:
            known = latest.get(beat.device_id)
            if known is None or beat.at >= known.at:
                latest[beat.device_id] = beat
        if not latest:
            return
        statement = (
            update(DEVICES)
            .where(DEVICES.c.device_id == bindparam("beat_device_id"))
            .values(
                last_keepalive_at=bindparam("beat_at"),
                remote_host=bindparam("beat_host"),
                remote_port=bindparam("beat_port"),
            )
        )
        parameters = [
            {
                "beat_device_id": beat.device_id,
                "beat_at": beat.at,
                "beat_host": beat.remote_host,
                "beat_port": beat.remote_port,
            }
            for beat in sorted(latest.values(), key=lambda beat: beat.device_id)
        ]
        async with self._sessions.begin() as session:
            await session.execute(statement, parameters)

    async def mark_offline(self, device_id: str, *, reason: OfflineReason, at: datetime) -> bool:
        """Mark a device offline with a reason; False if the device is unknown."""
        return await self._update(device_id, is_online=False, offline_reason=reason, updated_at=at)

    async def set_info(
        self,
        device_id: str,
        *,
        name: str | None,
        manufacturer: str | None,
        model: str | None,
        firmware: str | None,
        channel_count: int | None,
        at: datetime,
    ) -> bool:
        """Store a DeviceInfo answer (A.2.6 f); False if the device is unknown."""
        return await self._update(
            device_id,
            name=name,
            manufacturer=manufacturer,
            model=model,
            firmware=firmware,
            channel_count=channel_count,
            updated_at=at,
        )

    async def set_infos(self, infos: Sequence[DeviceInfoData]) -> None:
        """Many DeviceInfo answers in one transaction and one executemany UPDATE.

        Answers of unknown devices are ignored; when a device appears twice the later
        answer wins.
        """
        latest = {info.device_id: info for info in infos}
        if not latest:
            return
        statement = (
            update(DEVICES)
            .where(DEVICES.c.device_id == bindparam("info_device_id"))
            .values(
                name=bindparam("info_name"),
                manufacturer=bindparam("info_manufacturer"),
                model=bindparam("info_model"),
                firmware=bindparam("info_firmware"),
                channel_count=bindparam("info_channel_count"),
                updated_at=bindparam("info_at"),
            )
        )
        parameters = [
            {
                "info_device_id": info.device_id,
                "info_name": info.name,
                "info_manufacturer": info.manufacturer,
                "info_model": info.model,
                "info_firmware": info.firmware,
                "info_channel_count": info.channel_count,
                "info_at": info.at,
            }
            for info in sorted(latest.values(), key=lambda info: info.device_id)
        ]
        async with self._sessions.begin() as session:
            await session.execute(statement, parameters)

    async def enroll(
        self,
        device_id: str,
        *,
        password: str | None,
        at: datetime,
        name: str | None = None,
        charset: str | None = None,
    ) -> DeviceRecord:
        """Pre-enrol a device (operator action), or update an existing one's settings.

        `password` None means the platform default; `name`/`charset` None keep the
        current value (or the defaults for a new device).
        """
        values: dict[str, Any] = {
            "device_id": device_id,
            "is_enrolled": True,
            "password": password,
            "created_at": at,
            "updated_at": at,
        }
        if name is not None:
            values["name"] = name
        if charset is not None:
            values["charset"] = charset
        async with self._sessions.begin() as session:
            insert = dialect_insert(session, DEVICES).values(values)
            statement = insert.on_conflict_do_update(
                index_elements=[DEVICES.c.device_id],
                set_={key: insert.excluded[key] for key in values if key != "created_at"},
            ).returning(*DEVICES.c)
            return _to_record((await session.execute(statement)).mappings().one())

    async def set_stream_dialect(
        self, device_id: str, dialect: StreamDialect | None, *, at: datetime
    ) -> bool:
        """Store how live offers ask the device for a sub stream (None: as configured);
        False if the device is unknown."""
        value = None if dialect is None else dialect.value
        return await self._update(device_id, stream_dialect=value, updated_at=at)

    async def delete(self, device_id: str) -> bool:
        """Delete a device and, by cascade, its channels; False if it did not exist."""
        async with self._sessions.begin() as session:
            result = await session.execute(delete(DEVICES).where(DEVICES.c.device_id == device_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def get(self, device_id: str) -> DeviceRecord | None:
        async with self._read_sessions() as session:
            result = await session.execute(select(DEVICES).where(DEVICES.c.device_id == device_id))
            row = result.mappings().one_or_none()
            return None if row is None else _to_record(row)

    async def list(
        self,
        *,
        online: bool | None = None,
        offset: int = 0,
        limit: int = 100,
        device_ids: Collection[str] | None = None,
    ) -> DevicePage:
        """One page of devices ordered by ID, optionally only online or offline ones, and
        only those of `device_ids` when given."""
        condition: ColumnElement[bool] = true() if online is None else DEVICES.c.is_online == online
        if device_ids is not None:
            condition = and_(condition, DEVICES.c.device_id.in_(sorted(device_ids)))
        async with self._read_sessions() as session:
            total = await session.scalar(select(func.count()).select_from(DEVICES).where(condition))
            result = await session.execute(
                select(DEVICES)
                .where(condition)
                .order_by(DEVICES.c.device_id)
                .offset(offset)
                .limit(limit)
            )
            items = tuple(_to_record(row) for row in result.mappings())
        return DevicePage(items=items, total=total or 0)

    async def list_registered_for_restore(self) -> tuple[DeviceRecord, ...]:
        """Devices that were online when the platform stopped, with their registration.

        Each record carries transport, NAT address, contact and `registration_expires_at`
        so a restarted registrar can take them back; deciding what has expired meanwhile
        is the caller's business.
        """
        async with self._read_sessions() as session:
            result = await session.execute(
                select(DEVICES)
                .where(and_(DEVICES.c.is_online == True, DEVICES.c.transport.is_not(None)))  # noqa: E712
                .order_by(DEVICES.c.device_id)
            )
            return tuple(_to_record(row) for row in result.mappings())

    async def _update(self, device_id: str, **values: Any) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(DEVICES).where(DEVICES.c.device_id == device_id).values(**values)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]
