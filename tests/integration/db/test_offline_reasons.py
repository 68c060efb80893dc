"""Every reason the SIP part gives for a device going offline is stored and read back.

Through the real `DeviceRecorder` into SQLite and PostgreSQL: a reason the recorder does
not map would fail the write (KeyError), one the column cannot hold would fail the read.
"""

from __future__ import annotations

import asyncio

import pytest

from farmwatch.platform.records import OfflineReason
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository
from farmwatch.platform.services.device_recorder import DeviceRecorder
from farmwatch.sipserver.device_events import DeviceCameOnline, DeviceWentOffline, Registration
from farmwatch.sipserver.device_events import OfflineReason as SipOfflineReason
from farmwatch.sipserver.sip.address import Address, Transport

DEVICE = "34020000001320000001"
EXPECTED = {
    SipOfflineReason.UNREGISTERED: OfflineReason.UNREGISTERED,
    SipOfflineReason.REGISTRATION_EXPIRED: OfflineReason.EXPIRED,
    SipOfflineReason.KEEPALIVE_TIMEOUT: OfflineReason.KEEPALIVE_TIMEOUT,
    SipOfflineReason.CONNECTION_LOST: OfflineReason.CONNECTION_LOST,
}


def test_every_sip_side_reason_has_an_expected_platform_reason() -> None:
    # A new SIP-side reason must be given its platform meaning here too.
    assert set(EXPECTED) == set(SipOfflineReason)


@pytest.mark.parametrize("reason", list(SipOfflineReason))
async def test_an_offline_reason_is_recorded(
    devices: DeviceRepository, channels: ChannelRepository, reason: SipOfflineReason
) -> None:
    recorder = DeviceRecorder(devices, channels)
    await recorder.start()
    try:
        address = Address("127.0.0.1", 40001, Transport.TCP)
        registration = Registration(DEVICE, address, f"<sip:{DEVICE}@127.0.0.1:5060>", 3600, 0)
        recorder.device_event(DeviceCameOnline(registration, is_new_registration=True))
        recorder.device_event(DeviceWentOffline(DEVICE, reason))
        async with asyncio.timeout(10):
            await recorder.drained()
    finally:
        async with asyncio.timeout(10):  # a writer that crashed never drains
            await recorder.close()
    stored = await devices.get(DEVICE)
    assert stored is not None
    assert (stored.is_online, stored.offline_reason) == (False, EXPECTED[reason])
    assert stored.transport is not None and stored.transport.value == "TCP"
