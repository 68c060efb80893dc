"""DeviceRepository round trips on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from farmwatch.platform.records import (
    ChannelData,
    DeviceRecord,
    KeepaliveBeat,
    OfflineReason,
    Transport,
)
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository

from .conftest import T0

IPC = "34020000001320000001"
NVR = "34020000001180000002"
LOWER = "34020000002000000003"


async def register(
    devices: DeviceRepository, device_id: str, at: datetime, *, port: int = 5060
) -> DeviceRecord:
    return await devices.upsert_registration(
        device_id,
        transport=Transport.UDP,
        remote_host="192.0.2.10",
        remote_port=port,
        contact_uri=f"sip:{device_id}@192.0.2.10:{port}",
        expires=3600,
        gb_version="3.0",
        at=at,
    )


async def test_first_registration_creates_an_online_device(devices: DeviceRepository) -> None:
    returned = await register(devices, IPC, T0)

    stored = await devices.get(IPC)
    assert stored == returned
    assert stored is not None
    assert stored.is_online
    assert (stored.transport, stored.remote_host, stored.remote_port) == (
        Transport.UDP,
        "192.0.2.10",
        5060,
    )
    assert stored.contact_uri == f"sip:{IPC}@192.0.2.10:5060"
    assert (stored.expires, stored.gb_version, stored.charset) == (3600, "3.0", "GB2312")
    assert stored.registered_at == stored.last_register_at == stored.created_at == T0
    assert stored.registered_at is not None and stored.registered_at.tzinfo is not None
    assert stored.registration_expires_at == T0 + timedelta(hours=1)
    assert not stored.is_enrolled and stored.password is None


async def test_refresh_keeps_registered_at_and_new_session_moves_it(
    devices: DeviceRepository,
) -> None:
    await register(devices, IPC, T0)
    refreshed = await register(devices, IPC, T0 + timedelta(minutes=50), port=5070)
    assert refreshed.registered_at == T0
    assert refreshed.last_register_at == T0 + timedelta(minutes=50)
    assert refreshed.remote_port == 5070
    assert refreshed.created_at == T0

    await devices.mark_offline(IPC, reason=OfflineReason.UNREGISTERED, at=T0 + timedelta(hours=1))
    again = await register(devices, IPC, T0 + timedelta(hours=2))
    assert again.registered_at == T0 + timedelta(hours=2)
    assert again.is_online and again.offline_reason is None


async def test_keepalive_updates_time_and_nat_address(devices: DeviceRepository) -> None:
    await register(devices, IPC, T0)
    assert await devices.mark_keepalive(
        IPC, at=T0 + timedelta(seconds=60), remote_host="198.51.100.7", remote_port=40000
    )
    assert not await devices.mark_keepalive(
        NVR, at=T0, remote_host="198.51.100.7", remote_port=40000
    )

    stored = await devices.get(IPC)
    assert stored is not None
    assert stored.last_keepalive_at == T0 + timedelta(seconds=60)
    assert (stored.remote_host, stored.remote_port) == ("198.51.100.7", 40000)
    assert stored.updated_at == T0
    assert await devices.get(NVR) is None


async def test_keepalive_batch_updates_known_devices_latest_beat_wins(
    devices: DeviceRepository,
) -> None:
    ids = [f"340200000013200{n:05d}" for n in range(200)]
    for device_id in ids:
        await register(devices, device_id, T0)
    later = T0 + timedelta(seconds=60)
    beats = [KeepaliveBeat(device_id, later, "203.0.113.1", 6000) for device_id in ids]
    beats.append(KeepaliveBeat(ids[0], later + timedelta(seconds=5), "203.0.113.9", 6001))
    beats.append(KeepaliveBeat(ids[0], later - timedelta(seconds=5), "203.0.113.8", 6002))
    beats.append(KeepaliveBeat("34020000001329999999", later, "203.0.113.1", 6000))

    await devices.mark_keepalives(beats)
    await devices.mark_keepalives([])

    first = await devices.get(ids[0])
    last = await devices.get(ids[-1])
    assert first is not None and last is not None
    assert (first.last_keepalive_at, first.remote_host, first.remote_port) == (
        later + timedelta(seconds=5),
        "203.0.113.9",
        6001,
    )
    assert (last.last_keepalive_at, last.remote_host) == (later, "203.0.113.1")
    assert await devices.get("34020000001329999999") is None


async def test_mark_offline_records_the_reason(devices: DeviceRepository) -> None:
    await register(devices, IPC, T0)
    assert await devices.mark_offline(
        IPC, reason=OfflineReason.KEEPALIVE_TIMEOUT, at=T0 + timedelta(minutes=3)
    )
    assert not await devices.mark_offline(NVR, reason=OfflineReason.EXPIRED, at=T0)

    stored = await devices.get(IPC)
    assert stored is not None
    assert not stored.is_online
    assert stored.offline_reason is OfflineReason.KEEPALIVE_TIMEOUT
    assert stored.updated_at == T0 + timedelta(minutes=3)


async def test_set_info_stores_device_info(devices: DeviceRepository) -> None:
    await register(devices, NVR, T0)
    assert await devices.set_info(
        NVR,
        name="猪舍 NVR",
        manufacturer="Hikvision",
        model="DS-7608N",
        firmware="V4.30",
        channel_count=8,
        at=T0 + timedelta(seconds=1),
    )
    stored = await devices.get(NVR)
    assert stored is not None
    assert (stored.name, stored.manufacturer, stored.model, stored.firmware) == (
        "猪舍 NVR",
        "Hikvision",
        "DS-7608N",
        "V4.30",
    )
    assert stored.channel_count == 8
    assert not await devices.set_info(
        IPC, name=None, manufacturer=None, model=None, firmware=None, channel_count=None, at=T0
    )


async def test_enroll_creates_then_updates_and_registration_keeps_it(
    devices: DeviceRepository,
) -> None:
    enrolled = await devices.enroll(IPC, password="s3cret", name="gate", charset="UTF-8", at=T0)
    assert enrolled.is_enrolled and not enrolled.is_online
    assert (enrolled.password, enrolled.name, enrolled.charset) == ("s3cret", "gate", "UTF-8")
    assert enrolled.transport is None

    registered = await register(devices, IPC, T0 + timedelta(minutes=1))
    assert registered.is_enrolled and registered.password == "s3cret"
    assert registered.name == "gate" and registered.created_at == T0

    updated = await devices.enroll(IPC, password=None, at=T0 + timedelta(minutes=2))
    assert updated.password is None
    assert (updated.name, updated.charset) == ("gate", "UTF-8")
    assert updated.is_online


async def test_delete_removes_the_device_and_its_channels(
    devices: DeviceRepository, channels: ChannelRepository
) -> None:
    await register(devices, NVR, T0)
    await channels.replace_catalog(NVR, [ChannelData("34020000001310000001")], at=T0)

    assert await devices.delete(NVR)
    assert not await devices.delete(NVR)
    assert await devices.get(NVR) is None
    assert await channels.count() == 0


async def test_list_filters_pages_and_counts(devices: DeviceRepository) -> None:
    ids = [f"340200000013200{n:05d}" for n in range(25)]
    for device_id in ids:
        await register(devices, device_id, T0)
    for device_id in ids[::5]:
        await devices.mark_offline(device_id, reason=OfflineReason.EXPIRED, at=T0)

    everything = await devices.list(offset=0, limit=10)
    assert everything.total == 25
    assert [record.device_id for record in everything.items] == ids[:10]

    online_page = await devices.list(online=True, offset=10, limit=10)
    online_ids = [device_id for n, device_id in enumerate(ids) if n % 5]
    assert online_page.total == 20
    assert [record.device_id for record in online_page.items] == online_ids[10:20]

    offline = await devices.list(online=False, offset=0, limit=100)
    assert [record.device_id for record in offline.items] == ids[::5]
    assert offline.total == 5


async def test_restore_list_has_the_devices_online_at_shutdown(
    devices: DeviceRepository,
) -> None:
    await register(devices, IPC, T0)
    await devices.upsert_registration(
        LOWER,
        transport=Transport.TCP,
        remote_host="192.0.2.20",
        remote_port=15060,
        contact_uri=f"sip:{LOWER}@192.0.2.20:15060",
        expires=86400,
        gb_version=None,
        at=T0,
    )
    await register(devices, NVR, T0)
    await devices.mark_offline(NVR, reason=OfflineReason.UNREGISTERED, at=T0)
    await devices.enroll("34020000001320000009", password=None, at=T0)

    restored = await devices.list_registered_for_restore()

    assert [record.device_id for record in restored] == [IPC, LOWER]
    lower = restored[1]
    assert (lower.transport, lower.remote_host, lower.remote_port) == (
        Transport.TCP,
        "192.0.2.20",
        15060,
    )
    assert lower.registration_expires_at == T0 + timedelta(days=1)


async def test_naive_datetimes_are_refused(devices: DeviceRepository) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        await register(devices, IPC, datetime(2025, 3, 1, 8, 0))  # noqa: DTZ001


async def test_times_come_back_as_utc_whatever_zone_went_in(devices: DeviceRepository) -> None:
    beijing = T0.astimezone(ZoneInfo("Asia/Shanghai"))
    stored = await register(devices, IPC, beijing)
    assert stored.registered_at == T0
    assert stored.registered_at is not None and stored.registered_at.utcoffset() == timedelta(0)


async def test_concurrent_writers_all_succeed(
    devices: DeviceRepository, channels: ChannelRepository
) -> None:
    ids = [f"340200000013200{n:05d}" for n in range(30)]
    await asyncio.gather(*(register(devices, device_id, T0) for device_id in ids))
    beats = [
        KeepaliveBeat(device_id, T0 + timedelta(seconds=60), "192.0.2.1", 1) for device_id in ids
    ]
    catalogs = [
        channels.replace_catalog(device_id, [ChannelData(f"3402000000131{n:07d}")], at=T0)
        for n, device_id in enumerate(ids)
    ]
    await asyncio.gather(devices.mark_keepalives(beats), *catalogs, devices.mark_keepalives(beats))

    page = await devices.list(online=True, limit=100)
    assert page.total == 30
    assert {record.last_keepalive_at for record in page.items} == {T0 + timedelta(seconds=60)}
    assert await channels.count() == 30
