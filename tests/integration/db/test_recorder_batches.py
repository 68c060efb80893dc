"""The recorder writes in batches, also when events trickle in, and never starves keepalives.

A transaction costs about a millisecond of CPU; written one by one, 500 registrations a
second took two thirds of a core. Counted from outside: the engine's own commit events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from farmwatch.platform.db import Database
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository
from farmwatch.platform.services.device_recorder import DeviceRecorder
from farmwatch.sipserver.device_events import (
    CatalogReceived,
    DeviceCameOnline,
    DeviceInfoReceived,
    KeepaliveReceived,
    Registration,
)
from farmwatch.sipserver.gb import CatalogItem, CmdType, QueryKey
from farmwatch.sipserver.gb.catalog_collector import CatalogResult
from farmwatch.sipserver.gb.catalog_item import ChannelStatus
from farmwatch.sipserver.gb.manscdp import DeviceInfoResponse
from farmwatch.sipserver.sip.address import Address, Transport


def device_id(index: int) -> str:
    return f"34020000001320{index:06d}"


def came_online(index: int) -> DeviceCameOnline:
    address = Address("127.0.0.1", 40000 + index, Transport.UDP)
    registration = Registration(
        device_id(index), address, f"<sip:{device_id(index)}@127.0.0.1:5060>", 3600, 0
    )
    return DeviceCameOnline(registration, is_new_registration=True)


@contextmanager
def listening(database: Database, name: str, listener: Callable[..., None]) -> Iterator[None]:
    """`listener` on the engine's event `name` while the block runs."""
    engine = database.engine.sync_engine
    event.listen(engine, name, listener)
    try:
        yield
    finally:
        event.remove(engine, name, listener)


@contextmanager
def counted_commits(database: Database) -> Iterator[list[int]]:
    commits = [0]

    def count(_connection: Any) -> None:
        commits[0] += 1

    with listening(database, "commit", count):
        yield commits


async def test_registrations_arriving_one_by_one_are_written_in_few_transactions(
    database: Database, devices: DeviceRepository, channels: ChannelRepository
) -> None:
    recorder = DeviceRecorder(devices, channels, event_window=0.1)
    await recorder.start()
    try:
        with counted_commits(database) as commits:
            for index in range(1, 61):  # 60 registrations at 200/s
                recorder.device_event(came_online(index))
                await asyncio.sleep(0.005)
            async with asyncio.timeout(10):
                await recorder.drained()
    finally:
        async with asyncio.timeout(10):
            await recorder.close()
    stored = [await devices.get(device_id(index)) for index in range(1, 61)]
    assert all(record is not None and record.is_online for record in stored)
    # 0.3 s of arrivals in windows of 0.1 s: a handful of transactions, not 60.
    assert commits[0] <= 8, commits[0]


async def test_keepalives_are_written_while_registrations_keep_coming(
    devices: DeviceRepository, channels: ChannelRepository
) -> None:
    recorder = DeviceRecorder(devices, channels, event_window=0.05, beat_window=0.2)
    await recorder.start()
    try:
        recorder.device_event(came_online(1))
        async with asyncio.timeout(10):
            await recorder.drained()
        recorder.device_event(
            KeepaliveReceived(device_id(1), Address("127.0.0.1", 40001, Transport.UDP), "OK")
        )
        # A steady stream of other devices registering must not hold the keepalive back.
        for index in range(2, 200):
            recorder.device_event(came_online(index))
            await asyncio.sleep(0.005)
            record = await devices.get(device_id(1))
            assert record is not None
            if record.last_keepalive_at is not None:
                break
        assert record.last_keepalive_at is not None, "the keepalive was never written"
        assert index < 150  # within about 0.2 s + a batch, not after the stream stopped
    finally:
        async with asyncio.timeout(10):
            await recorder.close()


@contextmanager
def counted_statements(database: Database) -> Iterator[list[str]]:
    """The first word of every statement sent to the database (INSERT, UPDATE...)."""
    statements: list[str] = []

    def note(_c: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    with listening(database, "before_cursor_execute", note):
        yield statements


async def test_a_keepalive_right_after_its_registration_is_written_in_the_registration_row(
    database: Database, devices: DeviceRepository, channels: ChannelRepository
) -> None:
    """A storm's registration and first keepalive: one row write per device, not two, and
    the row as the two writes would have left it (the keepalive's time and source)."""
    recorder = DeviceRecorder(devices, channels, event_window=0.2, beat_window=0.2)
    await recorder.start()
    try:
        with counted_statements(database) as statements:
            for index in range(1, 41):
                recorder.device_event(came_online(index))
                # The keepalive from another source port (a NAT mapping renewed).
                beat_from = Address("127.0.0.1", 50000 + index, Transport.UDP)
                recorder.device_event(KeepaliveReceived(device_id(index), beat_from, "OK"))
            async with asyncio.timeout(10):
                await recorder.drained()
        stored = [await devices.get(device_id(index)) for index in range(1, 41)]
        assert all(record is not None for record in stored)
        for index, record in enumerate(stored, start=1):
            assert record is not None and record.last_keepalive_at is not None, index
            assert record.remote_port == 50000 + index
            assert record.is_online
        assert "UPDATE" not in statements, statements
        first_beat = stored[0].last_keepalive_at if stored[0] else None

        # A registration alone (a refresh) keeps the keepalive time stored.
        recorder.device_event(came_online(1))
        async with asyncio.timeout(10):
            await recorder.drained()
        refreshed = await devices.get(device_id(1))
        assert refreshed is not None and refreshed.last_keepalive_at == first_beat
        assert refreshed.remote_port == 40001
    finally:
        async with asyncio.timeout(10):
            await recorder.close()


def device_info(index: int) -> DeviceInfoReceived:
    info = DeviceInfoResponse(
        device_id(index), 1, None, device_name=f"棚舍 {index}", channel_count=2
    )
    return DeviceInfoReceived(device_id(index), info)


def catalog(index: int, channels: int = 2) -> CatalogReceived:
    items = tuple(
        CatalogItem(
            f"340200000013{index:04d}{number:04d}", name=f"通道 {number}", status=ChannelStatus.ON
        )
        for number in range(channels)
    )
    key = QueryKey(device_id(index), CmdType.CATALOG, index)
    return CatalogReceived(device_id(index), CatalogResult(key, items, channels, is_complete=True))


async def test_a_region_registering_stores_every_device_info_and_catalog_in_few_transactions(
    database: Database, devices: DeviceRepository, channels: ChannelRepository
) -> None:
    recorder = DeviceRecorder(devices, channels, event_window=0.1)
    await recorder.start()
    try:
        with counted_commits(database) as commits:
            # As they arrive from 40 devices: registrations, answers, interleaved; one
            # catalog from a device that never registered; one device's catalog twice.
            for index in range(1, 41):
                recorder.device_event(came_online(index))
                if index > 2:
                    recorder.device_event(device_info(index - 2))
                    recorder.device_event(catalog(index - 2))
            recorder.device_event(catalog(999))
            recorder.device_event(catalog(5, channels=3))
            for index in (39, 40):
                recorder.device_event(device_info(index))
                recorder.device_event(catalog(index))
            async with asyncio.timeout(10):
                await recorder.drained()
    finally:
        async with asyncio.timeout(10):
            await recorder.close()
    for index in range(1, 41):
        stored = await devices.get(device_id(index))
        assert stored is not None and stored.name == f"棚舍 {index}", index
        assert stored.is_catalog_complete and stored.catalog_sum_num == (3 if index == 5 else 2)
        items = await channels.list_for_device(device_id(index))
        assert len(items) == (3 if index == 5 else 2), index
    assert await devices.get(device_id(999)) is None
    assert commits[0] <= 6, commits[0]  # not 120
