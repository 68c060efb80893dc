"""ChannelRepository round trips on SQLite and PostgreSQL, including a 1,000-item catalog."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

import pytest

from farmwatch.platform.records import (
    CatalogDiff,
    ChannelData,
    DeviceNotFound,
    ItemKind,
    Transport,
)
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository

from .conftest import T0

NVR = "34020000001180000001"
LOWER = "34020000002000000002"


def camera(serial: int, **fields: object) -> ChannelData:
    values: dict[str, object] = {
        "name": f"camera {serial}",
        "manufacturer": "Hikvision",
        "model": "DS-2CD",
        "owner": "Owner",
        "civil_code": "340200",
        "address": "pig house 1",
        "parental": 0,
        "parent_id": NVR,
        "register_way": 1,
        "secrecy": 0,
        "status": "ON",
    }
    values.update(fields)
    return ChannelData(f"34020000001310{serial:06d}", **values)  # type: ignore[arg-type]


FULL_ITEM = ChannelData(
    channel_id="34020000001320000077",
    name="西门 IPC",
    manufacturer="Dahua",
    model="IPC-HFW",
    owner="farm 7",
    civil_code="34020000",
    block="block 9",
    address="西门",
    parental=0,
    parent_id=f"{NVR}/34020000002160000001",
    safety_way=0,
    register_way=1,
    cert_num="CERT-1",
    certifiable=1,
    err_code=0,
    end_time="2030-01-01T00:00:00",
    secrecy=0,
    ip_address="192.168.1.64",
    port=8000,
    password="pw",
    status="ON",
    longitude=117.2272,
    latitude=31.8206,
    ptz_type=1,
    position_type=4,
    room_type=1,
    use_type=3,
    supply_light_type=2,
    direction_type=5,
    resolution="6/4",
    business_group_id="34020000002150000001",
    download_speed="1/2/4",
    svc_space_support_mode=1,
    svc_time_support_mode=2,
    stream_number_list="0/1/2",
    extra={"PhotoelectricImagingType": "1/2", "PointType": "1"},
)


@pytest.fixture
async def nvr(devices: DeviceRepository) -> str:
    for device_id in (NVR, LOWER):
        await devices.upsert_registration(
            device_id,
            transport=Transport.UDP,
            remote_host="192.0.2.1",
            remote_port=5060,
            contact_uri=f"sip:{device_id}@192.0.2.1:5060",
            expires=3600,
            gb_version="2.0",
            at=T0,
        )
    return NVR


async def test_every_catalog_field_round_trips(channels: ChannelRepository, nvr: str) -> None:
    diff = await channels.replace_catalog(nvr, [FULL_ITEM], at=T0)

    assert diff == CatalogDiff(added=(FULL_ITEM.channel_id,), updated=(), removed=())
    (record,) = await channels.list_for_device(nvr)
    assert record.data == FULL_ITEM
    assert record.device_id == nvr
    assert record.kind is ItemKind.CHANNEL
    assert record.tree_parent_id == nvr  # neither parent is in this catalog
    assert record.is_online
    assert record.created_at == record.updated_at == T0


async def test_replace_catalog_needs_the_device(channels: ChannelRepository) -> None:
    with pytest.raises(DeviceNotFound):
        await channels.replace_catalog(NVR, [camera(1)], at=T0)


async def test_replace_catalog_stamps_the_device(
    channels: ChannelRepository, devices: DeviceRepository, nvr: str
) -> None:
    items = [camera(1), camera(2), camera(2, name="duplicate: the later copy wins")]
    await channels.replace_catalog(nvr, items, at=T0 + timedelta(seconds=5), sum_num=3)

    device = await devices.get(nvr)
    assert device is not None
    assert device.catalog_sum_num == 3
    assert device.catalog_updated_at == T0 + timedelta(seconds=5)
    stored = await channels.find(nvr, camera(2).channel_id)
    assert stored is not None and stored.name == "duplicate: the later copy wins"
    assert await channels.count(device_id=nvr) == 2


async def test_a_device_is_catalog_complete_only_after_a_complete_catalog(
    channels: ChannelRepository, devices: DeviceRepository, nvr: str
) -> None:
    """What a restarted platform reads to decide whether to ask a device's catalog again."""
    device = await devices.get(nvr)
    assert device is not None and not device.is_catalog_complete
    assert device.catalog_received is None

    await channels.apply_changes(nvr, at=T0, upserted=[camera(1)])  # a NOTIFY is no catalog
    device = await devices.get(nvr)
    assert device is not None and not device.is_catalog_complete

    await channels.replace_catalog(nvr, [camera(1), camera(2)], at=T0, sum_num=2, received=2)
    device = await devices.get(nvr)
    assert device is not None and device.is_catalog_complete
    assert (device.catalog_received, device.catalog_sum_num) == (2, 2)


async def test_a_partial_catalog_keeps_the_items_it_did_not_bring(
    channels: ChannelRepository, devices: DeviceRepository, nvr: str
) -> None:
    """A catalog that stalled (UDP loss, a device that stopped answering) says nothing
    about the items that did not arrive: they stay; what arrived is updated."""
    await channels.replace_catalog(nvr, [camera(1), camera(2), camera(3)], at=T0, received=3)
    later = T0 + timedelta(minutes=1)

    diff = await channels.merge_partial_catalog(
        nvr, [camera(2, name="renamed"), camera(4)], at=later, sum_num=5, received=2
    )

    assert diff == CatalogDiff(
        added=(camera(4).channel_id,), updated=(camera(2).channel_id,), removed=()
    )
    stored = {record.channel_id: record for record in await channels.list_for_device(nvr)}
    assert sorted(stored) == sorted(camera(n).channel_id for n in (1, 2, 3, 4))
    assert stored[camera(2).channel_id].name == "renamed"
    device = await devices.get(nvr)
    assert device is not None and not device.is_catalog_complete
    assert (device.catalog_received, device.catalog_sum_num) == (2, 5)
    assert device.catalog_updated_at == later

    await channels.merge_partial_catalog(nvr, [], at=later, sum_num=None, received=0)
    assert await channels.count(device_id=nvr) == 4


async def test_thousand_item_catalog_replaced_then_re_replaced(
    channels: ChannelRepository, devices: DeviceRepository, nvr: str, database_name: str
) -> None:
    first = [camera(serial, status="ON" if serial % 3 else "OFF") for serial in range(1000)]
    started = time.perf_counter()
    diff = await channels.replace_catalog(nvr, first, at=T0)
    elapsed = time.perf_counter() - started
    print(f"\n[{database_name}] 1,000-item catalog first save: {elapsed * 1000:.1f} ms")
    assert len(diff.added) == 1000 and diff.removed == ()

    removed_ids = {item.channel_id for item in first[100:110]}
    changed = {serial: f"renamed {serial}" for serial in (0, 200, 400, 600, 800)}
    second = [
        dataclasses.replace(item, name=changed.get(serial, item.name), status="OFF")
        if serial in changed
        else item
        for serial, item in enumerate(first)
        if item.channel_id not in removed_ids
    ]
    later = T0 + timedelta(minutes=10)
    started = time.perf_counter()
    diff = await channels.replace_catalog(nvr, second, at=later)
    elapsed = time.perf_counter() - started
    print(
        f"[{database_name}] 1,000-item catalog re-save (10 removed, 5 changed): "
        f"{elapsed * 1000:.1f} ms"
    )

    assert set(diff.removed) == removed_ids
    assert diff.added == () and len(diff.updated) == 990
    stored = {record.channel_id: record for record in await channels.list_for_device(nvr)}
    assert len(stored) == 990 and not removed_ids & stored.keys()
    for serial, name in changed.items():
        record = stored[camera(serial).channel_id]
        assert record.name == name and not record.is_online
        assert record.created_at == T0 and record.updated_at == later
    untouched = stored[camera(1).channel_id]
    assert untouched.data == first[1] and untouched.created_at == T0
    assert await channels.count(device_id=nvr, online=True) == sum(
        1 for item in second if item.status == "ON"
    )
    device = await devices.get(nvr)
    assert device is not None and device.catalog_sum_num == 990


async def test_apply_changes_follows_a_catalog_notify(
    channels: ChannelRepository, nvr: str
) -> None:
    await channels.replace_catalog(nvr, [camera(1), camera(2), camera(3)], at=T0)
    later = T0 + timedelta(minutes=1)

    diff = await channels.apply_changes(
        nvr,
        at=later,
        upserted=[camera(4), camera(2, name="updated")],
        deleted=[camera(3).channel_id, "34020000001319999999"],
        offline=[camera(1).channel_id, "34020000001318888888"],
    )

    assert diff == CatalogDiff(
        added=(camera(4).channel_id,),
        updated=(camera(2).channel_id,),
        removed=(camera(3).channel_id,),
    )
    stored = {record.channel_id: record for record in await channels.list_for_device(nvr)}
    assert sorted(stored) == [camera(n).channel_id for n in (1, 2, 4)]
    assert stored[camera(2).channel_id].name == "updated"
    first = stored[camera(1).channel_id]
    assert not first.is_online and first.data.status == "OFF" and first.updated_at == later
    assert stored[camera(4).channel_id].created_at == later

    await channels.apply_changes(nvr, at=later, online=[camera(1).channel_id])
    back = await channels.find(nvr, camera(1).channel_id)
    assert back is not None and back.is_online and back.data.status == "ON"


async def test_apply_changes_needs_the_device(channels: ChannelRepository) -> None:
    with pytest.raises(DeviceNotFound):
        await channels.apply_changes(NVR, at=T0, online=[camera(1).channel_id])


async def test_set_status_and_set_all_offline(channels: ChannelRepository, nvr: str) -> None:
    await channels.replace_catalog(nvr, [camera(1), camera(2, status="OFF"), camera(3)], at=T0)

    assert await channels.set_status(nvr, camera(2).channel_id, online=True, at=T0)
    assert not await channels.set_status(nvr, "34020000001319999999", online=True, at=T0)
    assert await channels.count(device_id=nvr, online=True) == 3

    assert await channels.set_all_offline(nvr, at=T0 + timedelta(minutes=3)) == 3
    assert await channels.count(device_id=nvr, online=True) == 0
    still_reported = await channels.find(nvr, camera(1).channel_id)
    assert still_reported is not None and still_reported.data.status == "ON"
    assert await channels.set_all_offline(nvr, at=T0) == 0


async def test_get_prefers_the_online_copy_of_a_shared_channel(
    channels: ChannelRepository, nvr: str
) -> None:
    shared = camera(5)
    await channels.replace_catalog(nvr, [dataclasses.replace(shared, status="OFF")], at=T0)
    await channels.replace_catalog(LOWER, [shared], at=T0 - timedelta(days=1))

    found = await channels.get(shared.channel_id)
    assert found is not None and found.device_id == LOWER and found.is_online

    await channels.set_status(LOWER, shared.channel_id, online=False, at=T0)
    newest = await channels.get(shared.channel_id)
    assert newest is not None and newest.device_id in (LOWER, NVR)
    assert await channels.get("34020000001319999999") is None
    assert await channels.count() == 2
    assert await channels.count(online=False) == 2


async def test_list_for_device_filters_by_kind(channels: ChannelRepository, nvr: str) -> None:
    items = [ChannelData("3402", name="合肥"), camera(1), ChannelData(LOWER, name="lower")]
    await channels.replace_catalog(nvr, items, at=T0)

    only_channels = await channels.list_for_device(nvr, kinds=[ItemKind.CHANNEL])
    assert [record.channel_id for record in only_channels] == [camera(1).channel_id]
    kinds = {record.channel_id: record.kind for record in await channels.list_for_device(nvr)}
    assert kinds == {
        "3402": ItemKind.CIVIL_CODE,
        camera(1).channel_id: ItemKind.CHANNEL,
        LOWER: ItemKind.PLATFORM,
    }
