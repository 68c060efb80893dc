"""Fault tickets on SQLite and PostgreSQL (issue 11 item 4): one open ticket per camera and
kind, the state machine through the service with who may do what, tickets opened and closed
by the offline timers, live view and the picture diagnosis, reminders and escalation at
chosen moments with the escalation POSTed to a real webhook receiver, statistics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from farmwatch.platform.db import Database
from farmwatch.platform.errors import Conflict, NotFound, PermissionDenied
from farmwatch.platform.records import OfflineReason as StoredOfflineReason
from farmwatch.platform.repositories import DeviceRepository
from farmwatch.platform.supervision.faults.feed import FaultEventKind, FaultFeed
from farmwatch.platform.supervision.faults.records import FaultFilter, NewFault
from farmwatch.platform.supervision.faults.reminders import FaultReminders
from farmwatch.platform.supervision.faults.repository import FaultRepository
from farmwatch.platform.supervision.faults.schedule import FaultDeadlines
from farmwatch.platform.supervision.faults.service import FaultService
from farmwatch.platform.supervision.faults.states import FaultKind, FaultState
from farmwatch.platform.supervision.faults.watch import FaultWatch
from farmwatch.platform.supervision.webhook import Webhook
from farmwatch.sipserver.device_events import (
    DeviceCameOnline,
    DeviceWentOffline,
    OfflineReason,
    Registration,
)
from farmwatch.sipserver.sip.address import Address, Transport
from tests.peers.raw_sip import free_port

from .conftest import T0
from .test_access import CAMERA_1, CAMERA_2, IPC, NVR, Clock, Platform
from .test_access_gate import People
from .test_access_gate import cameras as cameras  # noqa: F401  (fixtures)
from .test_access_gate import people as people  # noqa: F401
from .test_access_gate import platform as platform  # noqa: F401

HOUR = timedelta(hours=1)


def _fault(channel: str, kind: FaultKind, farm: int | None = 1, device: str = NVR) -> NewFault:
    return NewFault(farm, device, channel, kind, T0, "seen", "auto")


async def test_one_open_ticket_per_camera_and_kind_and_a_new_one_after_it_ends(
    database: Database,
) -> None:
    faults = FaultRepository(database.sessions)
    first, is_new = await faults.report(_fault(CAMERA_1, FaultKind.OFFLINE), T0)
    assert is_new and first.state is FaultState.OPEN and first.occurrences == 1
    again, is_new = await faults.report(_fault(CAMERA_1, FaultKind.OFFLINE), T0 + HOUR)
    assert not is_new and again.id == first.id and again.occurrences == 2
    other_kind, is_new = await faults.report(_fault(CAMERA_1, FaultKind.BLACK), T0)
    other_camera, _ = await faults.report(_fault(CAMERA_2, FaultKind.OFFLINE), T0)
    assert is_new and len({first.id, other_kind.id, other_camera.id}) == 3
    assert await faults.open_by_farm(None) == {1: 3}
    assert await faults.open_by_farm([2]) == {}

    moved = await faults.transition(
        first.id, FaultState.OPEN, FaultState.FARM_NOTIFIED, by="pan", at=T0 + HOUR,
        remark="phoned the farm",
    )  # fmt: skip
    assert moved is not None and moved.state is FaultState.FARM_NOTIFIED
    stale = await faults.transition(
        first.id, FaultState.OPEN, FaultState.FIXED, by="other", at=T0 + HOUR, remark=None
    )
    assert stale is None  # it was not open any more: the second mover loses
    closed = await faults.transition(
        first.id, FaultState.FARM_NOTIFIED, FaultState.CLOSED, by="auto", at=T0 + 2 * HOUR,
        remark="device back online",
    )  # fmt: skip
    assert closed is not None and closed.ended_at == T0 + 2 * HOUR
    assert [(s.source, s.target, s.by) for s in closed.history] == [
        (None, FaultState.OPEN, "auto"),
        (FaultState.OPEN, FaultState.FARM_NOTIFIED, "pan"),
        (FaultState.FARM_NOTIFIED, FaultState.CLOSED, "auto"),
    ]
    assert closed.history[1].remark == "phoned the farm"
    assert await faults.open_by_farm(None) == {1: 2}

    reopened, is_new = await faults.report(_fault(CAMERA_1, FaultKind.OFFLINE), T0 + 3 * HOUR)
    assert is_new and reopened.id != first.id
    open_ones = await faults.find(FaultFilter(channel_id=CAMERA_1, is_open=True), limit=10)
    assert {t.id for t in open_ones} == {reopened.id, other_kind.id}
    finished = await faults.find(FaultFilter(is_open=False), limit=10)
    assert [t.id for t in finished] == [first.id]
    by_kind = await faults.find(FaultFilter(kind=FaultKind.OFFLINE, farms=frozenset({1})), limit=10)
    assert [t.id for t in by_kind] == [reopened.id, other_camera.id, first.id]  # newest first
    assert await faults.find(FaultFilter(farms=frozenset()), limit=10) == []

    stats = await faults.for_statistics(None, T0 + HOUR)
    assert {t.id for t in stats} == {first.id, other_kind.id, other_camera.id, reopened.id}
    assert {t.id for t in await faults.for_statistics(None, T0 + 3 * HOUR)} == {
        other_kind.id, other_camera.id, reopened.id,
    }  # fmt: skip


async def test_reports_racing_for_one_camera_and_kind_make_one_ticket(database: Database) -> None:
    faults = FaultRepository(database.sessions)
    results = await asyncio.gather(
        *(faults.report(_fault(CAMERA_1, FaultKind.FROZEN), T0) for _ in range(6))
    )
    assert len({ticket.id for ticket, _ in results}) == 1
    assert sum(is_new for _, is_new in results) == 1
    (ticket,) = await faults.find(FaultFilter(), limit=10)
    assert ticket.occurrences == 6


# -- the service and the automatic triggers ----------------------------------------------


@dataclass
class Presence:
    """Which devices are online, as the registrar would say."""

    online: set[str] = field(default_factory=set)

    def is_online(self, device_id: str) -> bool:
        return device_id in self.online


@dataclass
class Rig:
    platform: Platform
    people: People
    service: FaultService
    faults: FaultRepository
    feed: FaultFeed
    clock: Clock


def _service(platform: Platform, clock: Clock, webhook: Webhook | None = None) -> FaultService:
    access = platform.access
    return FaultService(
        FaultRepository(platform.database.sessions), access.gate, access.directory,
        access.cameras, FaultFeed(), webhook or Webhook(""), clock=clock,
    )  # fmt: skip


@pytest.fixture
async def rig(platform: Platform, people: People) -> Rig:
    service = _service(platform, platform.clock)
    return Rig(platform, people, service, FaultRepository(platform.database.sessions),
               service.feed, platform.clock)  # fmt: skip


async def test_a_monitor_opens_and_moves_a_ticket_and_an_administrator_verifies_it(
    rig: Rig,
) -> None:
    service, people = rig.service, rig.people
    ticket = await service.open_by_hand(people.pan, CAMERA_2, FaultKind.OTHER, "镜头被遮挡")
    assert (ticket.farm_id, ticket.device_id, ticket.opened_by) == (people.farm_id, NVR, "pan")
    with pytest.raises(PermissionDenied):
        await service.open_by_hand(people.pan, CAMERA_1, FaultKind.OTHER, None)  # not granted
    with pytest.raises(PermissionDenied):
        await service.open_by_hand(people.idle, CAMERA_2, FaultKind.OTHER, None)
    with pytest.raises(NotFound):
        await service.open_by_hand(people.chief, "34020000001319999999", FaultKind.OTHER, None)

    notified = await service.change_state(people.pan, ticket.id, FaultState.FARM_NOTIFIED, "电话")
    assert notified.state is FaultState.FARM_NOTIFIED
    with pytest.raises(Conflict):
        await service.change_state(people.pan, ticket.id, FaultState.VERIFIED, None)
    rig.clock.advance(hours=5)
    fixed = await service.change_state(people.pan, ticket.id, FaultState.FIXED, "已擦拭")
    assert fixed.fixed_at == rig.clock.now
    with pytest.raises(PermissionDenied, match="administrator"):
        await service.change_state(people.pan, ticket.id, FaultState.VERIFIED, None)
    with pytest.raises(PermissionDenied):  # another bureau's administrator
        await service.change_state(people.sz, ticket.id, FaultState.VERIFIED, None)
    with pytest.raises(PermissionDenied):
        await service.get(people.idle, ticket.id)
    verified = await service.change_state(people.gz, ticket.id, FaultState.VERIFIED, "画面正常")
    assert verified.state is FaultState.VERIFIED
    assert [(s.target, s.by, s.remark) for s in verified.history] == [
        (FaultState.OPEN, "pan", "镜头被遮挡"),
        (FaultState.FARM_NOTIFIED, "pan", "电话"),
        (FaultState.FIXED, "pan", "已擦拭"),
        (FaultState.VERIFIED, "gz.admin", "画面正常"),
    ]
    with pytest.raises(Conflict):
        await service.change_state(people.chief, ticket.id, FaultState.CLOSED, None)
    with pytest.raises(NotFound):
        await service.get(people.chief, 999_999)

    kinds = [e.kind for e in rig.feed.after(0, lambda _: True)]
    assert kinds == [FaultEventKind.OPENED] + [FaultEventKind.STATE] * 3


async def test_lists_and_the_farm_flag_follow_what_each_caller_may_see(rig: Rig) -> None:
    service, people = rig.service, rig.people
    await service.report(NVR, CAMERA_1, FaultKind.OFFLINE, since=T0, detail=None)
    await service.report(NVR, CAMERA_2, FaultKind.BLACK, since=T0, detail=None)
    await service.report(IPC, IPC, FaultKind.OFFLINE, since=T0, detail=None)  # on no farm
    everything = await service.find(people.chief, FaultFilter())
    assert len(everything) == 3
    assert len(await service.find(people.gz, FaultFilter())) == 2
    assert await service.find(people.sz, FaultFilter()) == []
    # A monitor sees every ticket of the farm his grant touches, not only his camera's.
    pan_sees = {t.channel_id for t in await service.find(people.pan, FaultFilter())}
    assert pan_sees == {CAMERA_1, CAMERA_2}
    assert await service.find(people.idle, FaultFilter()) == []
    black = await service.find(people.gz, FaultFilter(kind=FaultKind.BLACK))
    assert [t.channel_id for t in black] == [CAMERA_2]
    within = await service.find(people.chief, FaultFilter(), organisation_id=people.bureau_id)
    assert len(within) == 2
    assert await service.find(people.chief, FaultFilter(), organisation_id=people.other_id) == []
    assert await service.open_by_farm([people.farm_id]) == {people.farm_id: 2}

    rig.clock.advance(hours=3)
    await service.close_automatically(CAMERA_1, [FaultKind.OFFLINE], "device back online")
    stats = await service.statistics(people.chief, organisation_id=None, since=None, until=None)
    (bureau,) = stats.organisations
    assert bureau.organisation_id == people.bureau_id
    assert stats.names[people.bureau_id] == "广州局"
    assert bureau.open_by_kind == {FaultKind.BLACK: 1}
    assert bureau.repaired == 1 and bureau.mean_repair_seconds == 3 * 3600
    assert (await service.statistics(
        people.sz, organisation_id=None, since=None, until=None
    )).organisations == []  # fmt: skip


async def _until(condition: Any, what: str) -> None:
    """Poll a condition the timers bring about (the database is not an event)."""
    async with asyncio.timeout(5):
        while not await condition():
            await asyncio.sleep(0.02)


def _registration(device_id: str) -> Registration:
    return Registration(device_id, Address("192.0.2.50", 5060, Transport.UDP),
                        f"sip:{device_id}@192.0.2.50", 3600.0, 0.0)  # fmt: skip


async def test_offline_longer_than_the_bound_opens_a_ticket_per_camera_and_online_closes_them(
    rig: Rig,
) -> None:
    presence = Presence({NVR, IPC})
    devices = DeviceRepository(rig.platform.database.sessions)
    access = rig.platform.access
    watch = FaultWatch(rig.service, devices, access.directory, presence, offline_after=0.2)
    await watch.start()
    try:
        presence.online.discard(NVR)
        watch.device_event(DeviceWentOffline(NVR, OfflineReason.KEEPALIVE_TIMEOUT))
        # Back before the bound: no ticket.
        presence.online.add(NVR)
        watch.device_event(DeviceCameOnline(_registration(NVR), is_new_registration=True))
        await watch.settled()
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0.3)  # past the bound the cancelled timer had
        assert await rig.faults.find(FaultFilter(), limit=10) == []

        presence.online.discard(NVR)
        went = loop.time()
        watch.device_event(DeviceWentOffline(NVR, OfflineReason.KEEPALIVE_TIMEOUT))

        async def opened() -> bool:
            return len(await rig.faults.find(FaultFilter(is_open=True), limit=10)) == 2

        await _until(opened, "offline tickets")
        assert loop.time() - went >= 0.2
        tickets = await rig.faults.find(FaultFilter(), limit=10)
        assert {(t.channel_id, t.kind) for t in tickets} == {
            (CAMERA_1, FaultKind.OFFLINE), (CAMERA_2, FaultKind.OFFLINE),
        }  # fmt: skip
        assert await rig.service.open_by_farm(None) == {rig.people.farm_id: 2}

        presence.online.add(NVR)
        watch.device_event(DeviceCameOnline(_registration(NVR), is_new_registration=False))
        await watch.settled()
        closed = await rig.faults.find(FaultFilter(), limit=10)
        assert {t.state for t in closed} == {FaultState.CLOSED}
        full = await rig.faults.get(closed[0].id)
        assert full is not None and full.history[-1].by == "auto"
        assert await rig.service.open_by_farm(None) == {}
    finally:
        await watch.close()


async def test_devices_coming_back_cost_a_lookup_only_when_they_may_have_an_offline_ticket(
    rig: Rig,
) -> None:
    # One ticket from before the start (read from the database), one reported after it.
    await rig.service.report(NVR, CAMERA_1, FaultKind.OFFLINE, since=T0, detail=None)
    devices = DeviceRepository(rig.platform.database.sessions)
    presence = Presence({IPC})
    watch = FaultWatch(
        rig.service, devices, rig.platform.access.directory, presence, offline_after=600
    )
    await watch.start()
    try:
        await watch.settled()
        presence.online.add(NVR)
        await rig.service.report(IPC, IPC, FaultKind.OFFLINE, since=T0, detail=None)
        # A region coming back: thousands of devices with no ticket start no step at all.
        for index in range(2000):
            device_id = f"4402000000132{index:07d}"
            watch.device_event(DeviceCameOnline(_registration(device_id), is_new_registration=True))
        assert watch.pending_steps == 0
        for device_id in (NVR, IPC):
            watch.device_event(DeviceCameOnline(_registration(device_id), is_new_registration=True))
        assert watch.pending_steps == 2
        await watch.settled()
        assert await rig.faults.find(FaultFilter(is_open=True), limit=10) == []
        # Once a lookup finds nothing open, the device is forgotten: coming back again
        # costs nothing.
        watch.device_event(DeviceCameOnline(_registration(NVR), is_new_registration=False))
        assert watch.pending_steps == 1
        await watch.settled()
        watch.device_event(DeviceCameOnline(_registration(NVR), is_new_registration=False))
        assert watch.pending_steps == 0
    finally:
        await watch.close()


async def test_at_start_up_devices_offline_longer_than_the_bound_get_tickets(rig: Rig) -> None:
    devices = DeviceRepository(rig.platform.database.sessions)
    await devices.mark_offline(NVR, reason=StoredOfflineReason.KEEPALIVE_TIMEOUT, at=T0)
    rig.clock.advance(hours=1)
    await devices.mark_offline(
        IPC, reason=StoredOfflineReason.UNREGISTERED, at=rig.clock.now - timedelta(seconds=30)
    )
    access = rig.platform.access
    watch = FaultWatch(rig.service, devices, access.directory, Presence(), offline_after=600)
    await watch.start()
    try:
        await watch.settled()
        tickets = await rig.faults.find(FaultFilter(), limit=10)
        assert {t.channel_id for t in tickets} == {CAMERA_1, CAMERA_2}  # the IPC: 30 s only
        assert {t.since for t in tickets} == {T0}
    finally:
        await watch.close()


async def test_stream_and_picture_faults_open_and_close_with_the_diagnosis(rig: Rig) -> None:
    presence = Presence({NVR})
    access = rig.platform.access
    devices = DeviceRepository(rig.platform.database.sessions)
    sampled: list[str] = []

    async def sample(channel_id: str) -> None:
        sampled.append(channel_id)

    watch = FaultWatch(
        rig.service, devices, access.directory, presence, offline_after=600, picture_check=sample
    )
    try:
        watch.stream_start_failed(NVR, CAMERA_1, "the device refused the INVITE: 488")
        watch.stream_media_stopped(NVR, CAMERA_2)
        await watch.picture_failed(CAMERA_2, "colour-cast", "b/g 1.8")
        await watch.picture_failed(CAMERA_2, "colour_cast", "b/g 1.9")
        await watch.picture_failed(CAMERA_1, "snowstorm", None)  # not a picture kind: other
        await watch.settled()
        tickets = await rig.faults.find(FaultFilter(), limit=10)
        assert sorted((t.channel_id, t.kind.value, t.occurrences) for t in tickets) == [
            (CAMERA_1, "other", 1), (CAMERA_1, "start_failure", 1),
            (CAMERA_2, "colour_cast", 2), (CAMERA_2, "media_timeout", 1),
        ]  # fmt: skip
        start_failure = next(t for t in tickets if t.kind is FaultKind.START_FAILURE)
        assert start_failure.detail == "the device refused the INVITE: 488"

        watch.stream_started(NVR, CAMERA_1)
        await watch.picture_passed(CAMERA_2)
        await watch.settled()
        still_open = await rig.faults.find(FaultFilter(is_open=True), limit=10)
        assert [(t.channel_id, t.kind) for t in still_open] == [(CAMERA_1, FaultKind.OTHER)]

        # With the diagnosis on, an offline ticket waits for a good picture of its camera.
        await rig.service.report(NVR, CAMERA_1, FaultKind.OFFLINE, since=T0, detail=None)
        watch.device_event(DeviceCameOnline(_registration(NVR), is_new_registration=True))
        await watch.settled()
        kinds = {t.kind for t in await rig.faults.find(FaultFilter(is_open=True), limit=10)}
        assert FaultKind.OFFLINE in kinds
        assert sampled == [CAMERA_1]  # its picture is looked at as soon as it is back
        presence.online.clear()
        await watch.picture_passed(CAMERA_1)  # device offline again: not closed
        presence.online.add(NVR)
        kinds = {t.kind for t in await rig.faults.find(FaultFilter(is_open=True), limit=10)}
        assert FaultKind.OFFLINE in kinds
        await watch.picture_passed(CAMERA_1)
        kinds = {t.kind for t in await rig.faults.find(FaultFilter(is_open=True), limit=10)}
        assert kinds == {FaultKind.OTHER}
    finally:
        await watch.close()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook receiver on 127.0.0.1 keeping the JSON bodies it got."""
    received: list[dict[str, Any]] = []

    async def take(request: web.Request) -> web.Response:
        received.append(json.loads(await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", take)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        await runner.cleanup()


async def test_reminders_then_one_escalation_posted_to_the_webhook(
    platform: Platform, people: People, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = receiver
    clock = platform.clock
    service = _service(platform, clock, Webhook(url))
    deadlines = FaultDeadlines(remind_after=24 * HOUR, escalate_after=72 * HOUR)
    reminders = FaultReminders(service, deadlines)
    ticket = await service.report(NVR, CAMERA_1, FaultKind.OFFLINE, since=T0, detail=None)
    assert await reminders.run_once(T0 + 23 * HOUR) == (0, 0)
    assert await reminders.run_once(T0 + 24 * HOUR) == (1, 0)
    assert await reminders.run_once(T0 + 25 * HOUR) == (0, 0)
    await service.change_state(people.pan, ticket.id, FaultState.FARM_NOTIFIED, None)
    assert await reminders.run_once(T0 + 48 * HOUR) == (1, 0)
    assert received == []
    assert await reminders.run_once(T0 + 72 * HOUR) == (1, 1)
    assert await reminders.run_once(T0 + 73 * HOUR) == (0, 0)
    stored = await service.get(people.chief, ticket.id)
    assert stored.reminders_sent == 3 and stored.last_reminded_at == T0 + 72 * HOUR
    assert stored.escalated_at == T0 + 72 * HOUR
    (body,) = received
    assert body["event"] == "fault_escalated"
    assert (body["fault"]["id"], body["fault"]["escalated"]) == (ticket.id, True)

    # Only administrators see the escalation in their feed.
    monitor_feed, _ = await service.events(people.pan, 0, wait=0)
    admin_feed, _ = await service.events(people.gz, 0, wait=0)
    assert FaultEventKind.ESCALATED not in {e.kind for e in monitor_feed}
    assert FaultEventKind.ESCALATED in {e.kind for e in admin_feed}
    assert FaultEventKind.REMINDED in {e.kind for e in monitor_feed}

    await service.change_state(people.pan, ticket.id, FaultState.FIXED, None)
    assert await reminders.run_once(T0 + 200 * HOUR) == (0, 0)


async def test_a_webhook_that_does_not_answer_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()  # nobody listens
    webhook = Webhook(f"http://127.0.0.1:{port}/hook", timeout=1)
    assert await webhook.post({"event": "x"}, about="fault 1") is False
    assert webhook.failed == 1
    assert "not reached" in caplog.text


async def test_a_feed_poll_waits_for_the_next_event_it_may_see(rig: Rig) -> None:
    people, service = rig.people, rig.service
    _, cursor = await service.events(people.pan, None, wait=0)
    waiting = asyncio.create_task(service.events(people.pan, cursor, wait=5))
    await service.report(IPC, IPC, FaultKind.OFFLINE, since=T0, detail=None)  # not his farm
    await asyncio.sleep(0.05)
    assert not waiting.done()
    ticket = await service.report(NVR, CAMERA_2, FaultKind.FROZEN, since=T0, detail=None)
    async with asyncio.timeout(2):
        events, next_cursor = await waiting
    assert [(e.kind, e.ticket.id) for e in events] == [(FaultEventKind.OPENED, ticket.id)]
    assert next_cursor == events[-1].id
