"""Alarm and mobile-position subscriptions between the platform's `DeviceAccess` and a
simulated device (gb28181.md §5): the same machinery as the catalog one, so a device back
from offline still holds one dialog of each kind (refreshed in place, never a second one,
on a device that would keep a leaked one), and each NOTIFY speaks only for its own kind.
"""

from __future__ import annotations

import asyncio

from farmwatch.simulator import SimulatedDevice, running_simulator
from farmwatch.sipserver.device_events import DeviceNotified, DeviceWentOffline
from farmwatch.sipserver.gb.manscdp import AlarmNotify, CmdType, MobilePositionNotify
from tests.integration.simulator.platform import SERVER_ID, Platform, running_platform

KINDS = (CmdType.CATALOG, CmdType.ALARM, CmdType.MOBILE_POSITION)


def _call_ids(device: SimulatedDevice) -> dict[CmdType, list[str]]:
    return {kind: [s.key.call_id for s in device.notifier.live(kind)] for kind in KINDS}


def _platform_call_ids(platform: Platform, device_id: str) -> dict[CmdType, list[str]]:
    found: dict[CmdType, list[str]] = {}
    for subscriptions in platform.access.all_subscriptions:
        dialog = subscriptions.dialog(device_id)
        found[subscriptions.kind.cmd_type] = [dialog.call_id] if dialog is not None else []
    return found


async def test_each_kind_keeps_one_dialog_across_an_absence() -> None:
    async with (
        running_platform(
            keepalive_interval=0.2, keepalive_timeout_count=2, subscribe_alarms=True,
            subscribe_positions=True, position_interval=1,
        ) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=1, keepalive_interval=0.1,
            replaces_older_subscriptions=False,
        ) as fleet,
    ):  # fmt: skip
        device = fleet.devices[0]
        async with asyncio.timeout(10):
            await device.wait_for(lambda d: all(d.notifier.live(kind) for kind in KINDS))
        first = _call_ids(device)
        assert first == _platform_call_ids(platform, device.device_id)

        seen = len(platform.listener.events)
        device.go_silent()
        async with asyncio.timeout(5):
            await platform.listener.wait_for(lambda e: isinstance(e, DeviceWentOffline), since=seen)
        device.come_back()
        refreshed = device.notifier.refreshed_by_kind
        async with asyncio.timeout(10):
            await device.wait_for(
                lambda d: (
                    refreshed.get(CmdType.ALARM, 0) >= 1
                    and refreshed.get(CmdType.MOBILE_POSITION, 0) >= 1
                )
            )
        assert _call_ids(device) == first == _platform_call_ids(platform, device.device_id)
        assert device.notifier.created == len(KINDS)


async def test_alarm_and_position_notifies_reach_the_platform_in_their_own_dialogs() -> None:
    async with (
        running_platform(subscribe_alarms=True, subscribe_positions=True,
                         position_interval=1) as platform,
        running_simulator(server=platform.address, server_id=SERVER_ID, channels=1) as fleet,
    ):  # fmt: skip
        device = fleet.devices[0]
        async with asyncio.timeout(10):
            await device.wait_for(lambda d: all(d.notifier.live(kind) for kind in KINDS))
        before = _platform_call_ids(platform, device.device_id)
        assert await device.send_alarm(0, priority=1, method=2, alarm_type=1) == 200
        async with asyncio.timeout(5):
            alarm = await platform.listener.wait_for(
                lambda e: isinstance(e, DeviceNotified) and isinstance(e.message, AlarmNotify)
            )
            position = await platform.listener.wait_for(
                lambda e: (
                    isinstance(e, DeviceNotified) and isinstance(e.message, MobilePositionNotify)
                )
            )
        assert isinstance(alarm, DeviceNotified) and isinstance(alarm.message, AlarmNotify)
        assert alarm.message.device_id == device.channels.items[0].device_id
        assert isinstance(position, DeviceNotified)
        assert isinstance(position.message, MobilePositionNotify)
        sent, delivered = device.positions_sent[0]
        assert delivered == 1 and position.message.positions == (sent,)
        # No NOTIFY was taken for another kind's dialog (adopted, or ended as a second one).
        assert _platform_call_ids(platform, device.device_id) == before
        assert device.notifier.ended == 0
