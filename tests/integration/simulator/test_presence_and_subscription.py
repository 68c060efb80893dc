"""Keepalive presence and catalog subscriptions between simulated devices and the platform.

gb28181.md §4.3 (three missed keepalives → offline), §5 and §11.10 (catalog SUBSCRIBE,
NOTIFY on a channel's status change, unsubscribe).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from farmwatch.simulator import SimulatedDevice, running_simulator
from farmwatch.sipserver.device_access import QueryTimeout
from farmwatch.sipserver.device_events import (
    CatalogChanged,
    DeviceCameOnline,
    DeviceNotified,
    DeviceWentOffline,
    OfflineReason,
)
from farmwatch.sipserver.device_requests import MANSCDP_CONTENT_TYPE
from farmwatch.sipserver.gb.catalog_item import CatalogEvent, ChannelStatus
from farmwatch.sipserver.gb.manscdp import AlarmNotify, CmdType
from farmwatch.sipserver.gb.manscdp_build import build_alarm_notify
from farmwatch.sipserver.gb.manscdp_device_state import build_sd_card_status_query
from farmwatch.sipserver.sip.message import SipResponse
from farmwatch.sipserver.sip.request_builder import build_request, new_call_id, new_tag
from tests.integration.simulator.platform import SERVER_ID, Platform, running_platform


async def test_a_silent_device_goes_offline_and_comes_back_online() -> None:
    async with (
        running_platform(
            catalog_on_register=False, keepalive_interval=0.2, keepalive_timeout_count=2
        ) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, devices=2, channels=1,
            keepalive_interval=0.1,
        ) as fleet,
    ):  # fmt: skip
        silent, chatty = fleet.devices
        silent.go_silent()
        async with asyncio.timeout(5):
            offline = await platform.listener.wait_for(
                lambda e: isinstance(e, DeviceWentOffline) and e.device_id == silent.device_id
            )
        assert isinstance(offline, DeviceWentOffline)
        assert offline.reason is OfflineReason.KEEPALIVE_TIMEOUT
        assert platform.access.is_online(chatty.device_id)  # the other one is unaffected
        seen = len(platform.listener.events)

        silent.come_back()
        async with asyncio.timeout(5):
            back = await platform.listener.wait_for(
                lambda e: (
                    isinstance(e, DeviceCameOnline) and e.registration.device_id == silent.device_id
                ),
                since=seen,
            )
        assert isinstance(back, DeviceCameOnline)
        assert not back.is_new_registration  # its keepalive brought it back
        assert platform.access.is_online(silent.device_id)


async def test_a_silent_device_does_not_answer_queries() -> None:
    async with (
        running_platform(catalog_on_register=False, query_timeout=0.5) as platform,
        running_simulator(server=platform.address, server_id=SERVER_ID, channels=1) as fleet,
    ):
        device = fleet.devices[0]
        device.go_silent()
        with pytest.raises(QueryTimeout) as silent:
            await platform.access.query_device_info(device.device_id)
        assert not silent.value.was_taken  # not even a 200 to the MESSAGE
        device.come_back()
        info = await platform.access.query_device_info(device.device_id)
        assert info.channel_count == 1
        # A device that takes a query it does not know (a 200 OK) and answers nothing.
        device.control.answers_state_queries = False
        with pytest.raises(QueryTimeout) as unanswered:
            await platform.access.query(
                device.device_id, CmdType.SD_CARD_STATUS,
                lambda sn, charset: build_sd_card_status_query(sn, device.device_id, charset),
            )  # fmt: skip
        assert unanswered.value.was_taken


async def test_channel_status_changes_reach_the_platform_as_catalog_notifications() -> None:
    async with (
        running_platform() as platform,
        running_simulator(server=platform.address, server_id=SERVER_ID, channels=4) as fleet,
    ):
        device = fleet.devices[0]
        async with asyncio.timeout(5):
            await device.wait_for(lambda d: d.subscription_count == 1)
        channel = device.channels.items[2].device_id

        assert await device.set_channel_status(2, online=False) == 1
        async with asyncio.timeout(5):
            changed = await platform.listener.wait_for(lambda e: isinstance(e, CatalogChanged))
        assert isinstance(changed, CatalogChanged)
        assert changed.device_id == device.device_id
        assert [(i.device_id, i.event) for i in changed.items] == [(channel, CatalogEvent.OFF)]
        assert device.channels.items[2].status is ChannelStatus.OFF

        assert await device.set_channel_status(channel, online=True) == 1
        async with asyncio.timeout(5):
            await platform.listener.wait_for(
                lambda e: isinstance(e, CatalogChanged) and e.items[0].event is CatalogEvent.ON
            )
        # The catalog answers reflect the status too.
        result = await platform.access.query_catalog(device.device_id)
        assert {item.status for item in result.items} == {ChannelStatus.ON}

        await platform.access.subscriptions.unsubscribe(device.device_id)
        assert device.subscription_count == 0
        assert await device.set_channel_status(0, online=False) == 0


async def _offline_and_back(platform: Platform, device: SimulatedDevice) -> int:
    """Silence the device until the platform declares it offline, then bring it back.

    Returns how many SUBSCRIBEs the device had received before it came back.
    """
    seen = len(platform.listener.events)
    device.go_silent()
    async with asyncio.timeout(5):
        await platform.listener.wait_for(
            lambda e: isinstance(e, DeviceWentOffline) and e.device_id == device.device_id,
            since=seen,
        )
    before = device.notifier.subscribes_received
    device.come_back()  # its keepalive brings it back; the platform's first contact follows
    return before


async def _settled(platform: Platform, device: SimulatedDevice, before: int) -> None:
    """Wait until the platform's subscription work for the device since `before` is done.

    The device seeing a new SUBSCRIBE means the first contact's subscription turn has
    begun; a subscribe of ours queues behind that turn, so when it returns every
    SUBSCRIBE the first contact meant to send has been sent and answered.
    """
    async with asyncio.timeout(10):
        await device.wait_for(lambda d: d.notifier.subscribes_received > before)
        await platform.access.subscriptions.subscribe(device.device_id)


def _live_call_ids(device: SimulatedDevice) -> list[str]:
    return [s.key.call_id for s in device.notifier.live()]


def _platform_call_id(platform: Platform, device: SimulatedDevice) -> str | None:
    dialog = platform.access.subscriptions.dialog(device.device_id)
    return dialog.call_id if dialog is not None else None


async def test_a_device_back_from_offline_holds_exactly_one_subscription() -> None:
    async with (
        running_platform(keepalive_interval=0.2, keepalive_timeout_count=2) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=2, keepalive_interval=0.1,
            replaces_older_subscriptions=False,
        ) as fleet,
    ):  # fmt: skip
        device = fleet.devices[0]
        async with asyncio.timeout(5):
            await device.wait_for(lambda d: d.subscription_count == 1)
        [first] = _live_call_ids(device)

        before = await _offline_and_back(platform, device)
        await _settled(platform, device, before)

        # The device (which keeps every dialog until it is ended) holds one subscription:
        # the platform refreshed the one it had instead of adding a second.
        assert _live_call_ids(device) == [first] == [_platform_call_id(platform, device)]
        assert device.notifier.created == 1
        assert device.notifier.refreshed >= 1
        assert await device.set_channel_status(1, online=False) == 1
        async with asyncio.timeout(5):
            await platform.listener.wait_for(lambda e: isinstance(e, CatalogChanged))


async def test_without_a_first_contact_the_kept_subscription_is_refreshed_on_return() -> None:
    async with (
        running_platform(
            catalog_on_register=False, keepalive_interval=0.2, keepalive_timeout_count=2
        ) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=2, keepalive_interval=0.1,
            replaces_older_subscriptions=False,
        ) as fleet,
    ):  # fmt: skip
        device = fleet.devices[0]
        await platform.access.subscriptions.subscribe(device.device_id)
        [first] = _live_call_ids(device)

        await _offline_and_back(platform, device)
        async with asyncio.timeout(5):
            await device.wait_for(lambda d: d.notifier.refreshed == 1)
        assert _live_call_ids(device) == [first] == [_platform_call_id(platform, device)]
        assert device.notifier.created == 1


async def test_a_device_that_lost_its_subscription_while_offline_is_subscribed_afresh() -> None:
    async with (
        running_platform(keepalive_interval=0.2, keepalive_timeout_count=2) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=2, keepalive_interval=0.1,
            replaces_older_subscriptions=False,
        ) as fleet,
    ):  # fmt: skip
        device = fleet.devices[0]
        async with asyncio.timeout(5):
            await device.wait_for(lambda d: d.subscription_count == 1)
        [first] = _live_call_ids(device)
        device.notifier.forget_all()  # rebooted while away: the refresh gets 481

        before = await _offline_and_back(platform, device)
        await _settled(platform, device, before)

        [current] = _live_call_ids(device)
        assert current != first
        assert current == _platform_call_id(platform, device)
        assert device.notifier.created == 2
        assert device.notifier.ended == 0  # the device had none left to end
        assert await device.set_channel_status(1, online=False) == 1


async def test_an_unanswered_refresh_ends_the_old_dialog_and_subscribes_afresh() -> None:
    # T1 = 50 ms: the unanswered refresh times out after 64 × T1 = 3.2 s.
    async with (
        running_platform(t1=0.05, keepalive_interval=0.2, keepalive_timeout_count=2) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=2, keepalive_interval=0.1,
            replaces_older_subscriptions=False,
        ) as fleet,
    ):  # fmt: skip
        device = fleet.devices[0]
        async with asyncio.timeout(5):
            await device.wait_for(lambda d: d.subscription_count == 1)
        [first] = _live_call_ids(device)
        device.notifier.drop_refreshes(1)

        before = await _offline_and_back(platform, device)
        async with asyncio.timeout(15):
            # The old dialog ended (best effort, not awaited) and a new one took its place.
            await device.wait_for(lambda d: d.notifier.ended == 1 and d.notifier.created == 2)
        await _settled(platform, device, before)

        [current] = _live_call_ids(device)
        assert current != first
        assert current == _platform_call_id(platform, device)
        assert await device.set_channel_status(1, online=False) == 1


async def test_a_subscription_left_by_a_platform_restart_is_ended() -> None:
    async with AsyncExitStack() as first_run:
        first = await first_run.enter_async_context(
            running_platform(keepalive_interval=0.2, keepalive_timeout_count=2)
        )
        async with running_simulator(
            server=first.address, server_id=SERVER_ID, channels=2, keepalive_interval=0.1,
            replaces_older_subscriptions=False,
        ) as fleet:  # fmt: skip
            device = fleet.devices[0]
            async with asyncio.timeout(5):
                await device.wait_for(lambda d: d.subscription_count == 1)
            [old] = _live_call_ids(device)
            port = first.endpoint.port
            await first_run.aclose()  # the platform stops; its dialogs are forgotten

            async with running_platform(
                port=port, keepalive_interval=0.2, keepalive_timeout_count=2
            ) as second:
                # The device's keepalive is refused, it registers again, and the new
                # platform subscribes: for now the device holds both subscriptions.
                async with asyncio.timeout(10):
                    await device.wait_for(lambda d: d.subscription_count == 2)
                new = _platform_call_id(second, device)
                assert new is not None and new != old

                # The next change is notified in both; the old dialog reveals itself.
                assert await device.set_channel_status(1, online=False) == 2
                async with asyncio.timeout(5):
                    await device.wait_for(lambda d: d.subscription_count == 1)
                assert _live_call_ids(device) == [new]
                assert device.notifier.ended == 1
                assert await device.set_channel_status(1, online=True) == 1


async def test_a_restored_platform_adopts_the_subscription_it_finds_alive() -> None:
    async with AsyncExitStack() as first_run:
        first = await first_run.enter_async_context(running_platform())
        async with running_simulator(
            server=first.address, server_id=SERVER_ID, channels=2,
            replaces_older_subscriptions=False,
        ) as fleet:  # fmt: skip
            device = fleet.devices[0]
            async with asyncio.timeout(5):
                await device.wait_for(lambda d: d.subscription_count == 1)
            [old] = _live_call_ids(device)
            registration = first.access.registration(device.device_id)
            assert registration is not None
            port = first.endpoint.port
            await first_run.aclose()

            async with running_platform(port=port) as second:
                # Restored from storage: known and online, no first contact, no dialog.
                second.access.restore(registration)
                assert _platform_call_id(second, device) is None

                assert await device.set_channel_status(1, online=False) == 1
                async with asyncio.timeout(5):
                    await device.wait_for(lambda d: d.notifier.refreshed == 1)
                # The platform took the live subscription over and refreshed it in its
                # own dialog: still exactly one, the old one.
                assert _live_call_ids(device) == [old] == [_platform_call_id(second, device)]
                assert device.notifier.created == 1


async def test_a_restored_device_is_subscribed_again_at_its_first_keepalive() -> None:
    """After a restart the registration is restored from storage (no first contact runs),
    but the subscription dialog is gone: the device's next keepalive brings it back."""
    async with AsyncExitStack() as first_run:
        first = await first_run.enter_async_context(running_platform())
        async with running_simulator(
            server=first.address, server_id=SERVER_ID, channels=2, keepalive_interval=0.2,
        ) as fleet:  # fmt: skip
            device = fleet.devices[0]
            async with asyncio.timeout(5):
                await device.wait_for(lambda d: d.subscription_count == 1)
            registration = first.access.registration(device.device_id)
            assert registration is not None
            port = first.endpoint.port
            await first_run.aclose()

            async with running_platform(port=port) as second:
                second.access.restore(registration)
                assert _platform_call_id(second, device) is None
                async with asyncio.timeout(5):
                    await device.wait_for(lambda d: d.notifier.created == 2)
                # The device holds the platform's new subscription (the simulator's default
                # notifier lets a new subscription from the same platform replace the old).
                new = _platform_call_id(second, device)
                assert new is not None and _live_call_ids(device) == [new]
                assert await device.set_channel_status(1, online=False) == 1


async def test_an_alarm_notify_is_never_taken_for_the_catalog_subscription() -> None:
    """Devices send alarms as NOTIFY too, in a dialog of their own (§4.10). A restored
    platform, holding no catalog dialog yet, answers and reads it and does not adopt it as
    the catalog subscription; the device's real catalog NOTIFY is adopted afterwards."""
    async with AsyncExitStack() as first_run:
        first = await first_run.enter_async_context(running_platform())
        async with running_simulator(
            server=first.address, server_id=SERVER_ID, channels=1,
            replaces_older_subscriptions=False,
        ) as fleet:  # fmt: skip
            device = fleet.devices[0]
            async with asyncio.timeout(5):
                await device.wait_for(lambda d: d.subscription_count == 1)
            [old] = _live_call_ids(device)
            registration = first.access.registration(device.device_id)
            assert registration is not None
            port = first.endpoint.port
            await first_run.aclose()

            async with running_platform(port=port) as second:
                second.access.restore(registration)
                answer = await _send_alarm_notify(device)
                assert answer.status == 200
                async with asyncio.timeout(5):
                    await second.listener.wait_for(
                        lambda e: (
                            isinstance(e, DeviceNotified) and isinstance(e.message, AlarmNotify)
                        )
                    )
                assert _platform_call_id(second, device) is None  # not taken for the catalog's

                assert await device.set_channel_status(0, online=False) == 1
                async with asyncio.timeout(5):
                    await device.wait_for(lambda d: d.notifier.refreshed == 1)
                assert _live_call_ids(device) == [old] == [_platform_call_id(second, device)]


async def _send_alarm_notify(device: SimulatedDevice) -> SipResponse:
    """An alarm NOTIFY in a dialog of the device's own, as some cameras send them."""
    channel = device.channels.items[0].device_id
    alarm = AlarmNotify(channel, 7, priority=1, method=5, alarm_time="2026-12-05T08:00:00",
                        description="移动侦测", alarm_type=2)  # fmt: skip
    identity = device.identity
    target = f"sip:{identity.server_id}@{identity.domain}"
    notify = build_request(
        "NOTIFY", target, from_=f"<{identity.device_uri}>;tag={new_tag()}",
        to=f"<{target}>;tag={new_tag()}", call_id=new_call_id("127.0.0.1"), cseq=1,
        extra=(("Event", "Alarm"), ("Subscription-State", "active;expires=3600")),
        body=build_alarm_notify(alarm), content_type=MANSCDP_CONTENT_TYPE,
    )  # fmt: skip
    return await device.endpoint.request(notify, identity.server)
