"""A device's stream dialect stored with it (migration 0017), on SQLite and PostgreSQL: kept
across re-registration and enrolment, cleared by null, and resolved by `DeviceService` before
the configuration's entry and default, from the database at each ask (no restart)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from farmwatch.platform.db import Database
from farmwatch.platform.errors import NotFound
from farmwatch.platform.records import Transport
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository
from farmwatch.platform.services.device_service import (
    DeviceService,
    DialectSource,
    Edition,
    EffectiveDialect,
    EnrolmentPolicy,
    StreamDialect,
)
from farmwatch.sipserver.gb.versions import StreamDialects

from .conftest import T0

NVR = "34020000001180000002"
CONFIGURED = "34020000001320000003"
POLICY = EnrolmentPolicy(default_password="12345678", accept_unknown_devices=True)


async def register(devices: DeviceRepository, device_id: str, gb_version: str | None) -> None:
    await devices.upsert_registration(
        device_id, transport=Transport.UDP, remote_host="192.0.2.10", remote_port=5060,
        contact_uri=f"sip:{device_id}@192.0.2.10:5060", expires=3600, gb_version=gb_version,
        at=T0,
    )  # fmt: skip


def service(database: Database, devices: DeviceRepository) -> DeviceService:
    return DeviceService(
        devices,
        ChannelRepository(database.sessions),
        POLICY,
        StreamDialects.from_settings("auto", (f"{CONFIGURED}=stream", f"{NVR}=streamMode")),
    )


async def test_the_setting_is_stored_kept_and_cleared(devices: DeviceRepository) -> None:
    await register(devices, NVR, None)
    stored = await devices.get(NVR)
    assert stored is not None and stored.stream_dialect is None
    later = T0 + timedelta(minutes=5)
    assert await devices.set_stream_dialect(NVR, StreamDialect.STREAM_MODE, at=later)
    stored = await devices.get(NVR)
    assert stored is not None
    assert (stored.stream_dialect, stored.updated_at) == (StreamDialect.STREAM_MODE, later)
    # A REGISTER refresh and an enrolment update leave it as it is.
    await register(devices, NVR, "3.0")
    await devices.enroll(NVR, password="Nvr-Pass-01", at=later, name="NVR")
    stored = await devices.get(NVR)
    assert stored is not None and stored.stream_dialect is StreamDialect.STREAM_MODE
    page = await devices.list()
    assert [record.stream_dialect for record in page.items] == [StreamDialect.STREAM_MODE]
    assert await devices.set_stream_dialect(NVR, None, at=later)
    stored = await devices.get(NVR)
    assert stored is not None and stored.stream_dialect is None
    assert not await devices.set_stream_dialect(CONFIGURED, StreamDialect.STREAM, at=later)


async def test_a_stored_value_this_version_does_not_know_follows_the_configuration(
    database: Database, devices: DeviceRepository
) -> None:
    await register(devices, NVR, None)
    async with database.sessions.begin() as session:
        await session.execute(
            text("UPDATE devices SET stream_dialect = 'dahua-v9' WHERE device_id = :id"),
            {"id": NVR},
        )
    stored = await devices.get(NVR)
    assert stored is not None and stored.stream_dialect is None
    assert await service(database, devices).stream_dialect_for(NVR) is StreamDialect.STREAM_MODE


async def test_the_device_setting_wins_and_applies_without_a_restart(
    database: Database, devices: DeviceRepository
) -> None:
    platform = service(database, devices)
    # Another platform process (or the same one before a restart) sees every change at once.
    other = service(database, DeviceRepository(database.sessions, database.read_sessions))
    for device_id, version in ((NVR, None), (CONFIGURED, "3.0"), ("34020000001320000004", "3.0")):
        await register(devices, device_id, version)
    languages = {
        record.device_id: platform.language_of(record) for record in (await devices.list()).items
    }
    assert languages[NVR].edition is Edition.V2016
    assert languages[NVR].stream_dialect == EffectiveDialect(
        StreamDialect.STREAM_MODE, DialectSource.CONFIGURATION
    )
    assert languages[CONFIGURED].edition is Edition.V2022
    assert languages["34020000001320000004"].stream_dialect == EffectiveDialect(
        StreamDialect.AUTO, DialectSource.DEFAULT
    )
    assert await other.stream_dialect_for(NVR) is StreamDialect.STREAM_MODE

    record = await platform.set_stream_dialect(NVR, StreamDialect.STREAMPROFILE)
    assert platform.language_of(record).stream_dialect == EffectiveDialect(
        StreamDialect.STREAMPROFILE, DialectSource.DEVICE
    )
    assert await other.stream_dialect_for(NVR) is StreamDialect.STREAMPROFILE
    await platform.set_stream_dialect(NVR, None)
    assert await other.stream_dialect_for(NVR) is StreamDialect.STREAM_MODE
    # A device not stored (yet) follows the configuration; one cannot be set.
    assert await other.stream_dialect_for("34020000001320000099") is StreamDialect.AUTO
    with pytest.raises(NotFound):
        await platform.set_stream_dialect("34020000001320000099", StreamDialect.STREAM)
