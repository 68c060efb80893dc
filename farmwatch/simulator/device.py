"""One simulated GB/T 28181 device: the asyncio shell around its session (ref. §3-§5).

`SimulatedDevice` owns a `SipEndpoint` of its own (its own port, so the platform sees a
distinct source like a real camera), a pure `DeviceSession` (registration, refresh,
keepalives, backoff) driven by one `loop.call_at`, a `RegisterClient`, the
`QueryResponder` for MESSAGEs and the `CatalogNotifier` for SUBSCRIBE/NOTIFY. Every
task it starts is kept and cancelled by `stop()`, which unregisters first. A failure of
one exchange is logged and fed to the session as an outcome; it never escapes.

Controls for tests and demos: `go_silent()` / `come_back()`, `send_malformed(kind)`,
`drop_catalog_message(index)`, `set_channel_status(channel, online)`, and
`wait_for(predicate)` to wait on the device's observable state without sleeping.

Live video (ref. §6, §8): the `CallHandler` answers INVITE/ACK/BYE/CANCEL and streams the
cached test pattern per `settings.media`; controls `refuse_invites(status)`,
`ignore_invites()`, `accept_invites()`, `hang_up(channel_id)`, `set_media(settings)`;
counters `invites_received`, `byes_received`, `active_calls`, `packets_sent`; `calls`.

Voice broadcast (ref. §4.13): `broadcast` (`BroadcastState`) sets how the device answers
Notify/Broadcast and INVITEs for audio (PCMA or PS, UDP or TCP) and counts the G.711 it
receives; `hang_up_broadcast()` BYEs from the device. Two-way talk (§4.13 item 3): `talk`
(`TalkState`) sets whether and how it answers an `s=Talk` INVITE, says a tone back and
counts what it hears; `hang_up_talk()` BYEs from the device.

Recordings (ref. §4.7, §6.8-§7): each channel keeps a `record_index(channel_id)` per
`settings.records`; RecordInfo is answered from it (`drop_record_message(index)` loses one
message of the next answer), Playback and Download INVITEs stream it, INFO controls them;
`set_playback_quirks(...)` switches field misbehaviour on and off.

Snapshots ([2022] SnapShotConfig): the `SnapshotUploader` takes the test pattern as a JPEG
at the asked interval, uploads each picture by HTTP and sends UploadSnapShotFinished;
`snapshots.runs` records each request.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

from farmwatch.simulator.broadcast_receiver import (
    BroadcastReceiver,
    BroadcastSettings,
    BroadcastState,
)
from farmwatch.simulator.call_handler import CallHandler, CallInfo
from farmwatch.simulator.camera_state import DeviceControlState
from farmwatch.simulator.channels import ChannelTable, build_channels, device_profile
from farmwatch.simulator.control_responder import ControlResponder
from farmwatch.simulator.malformed import (
    BROKEN_XML,
    GARBAGE,
    MalformedKind,
    open_udp,
    send_raw,
    with_wrong_content_length,
)
from farmwatch.simulator.media_cache import MediaCache
from farmwatch.simulator.outbox import Outbox
from farmwatch.simulator.position_track import PositionTrack
from farmwatch.simulator.record_index import RecordIndex
from farmwatch.simulator.record_settings import PlaybackQuirks, RecordSettings
from farmwatch.simulator.responder import QueryResponder
from farmwatch.simulator.session import (
    Command,
    DeviceSession,
    KeepaliveOutcome,
    SendKeepalive,
    SendRegister,
    SessionState,
    SessionTimers,
)
from farmwatch.simulator.snapshot_uploader import SnapshotUploader
from farmwatch.simulator.stream_settings import StreamSettings
from farmwatch.simulator.talk_responder import TalkResponder, TalkSettings, TalkState
from farmwatch.simulator.test_pattern import PictureMode
from farmwatch.sipserver.catalog_notifier import CatalogNotifier, CatalogSubscription
from farmwatch.sipserver.endpoint import IncomingRequest, RequestHandler, SipEndpoint
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.catalog_item import CatalogEvent, CatalogItem, ChannelStatus
from farmwatch.sipserver.gb.device_config import BasicParam
from farmwatch.sipserver.gb.manscdp import (
    AlarmNotify,
    CmdType,
    MobilePosition,
    MobilePositionNotify,
)
from farmwatch.sipserver.gb.manscdp_build import build_alarm_notify, build_keepalive
from farmwatch.sipserver.gb.manscdp_event_query import DEFAULT_POSITION_INTERVAL
from farmwatch.sipserver.gb.manscdp_position import build_mobile_position_notify
from farmwatch.sipserver.register_client import (
    DeviceIdentity,
    RegisterClient,
    RegisterFailed,
    RegisterFailure,
)
from farmwatch.sipserver.settings import SipSettings
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import new_tag

log = logging.getLogger(__name__)

SUBSCRIBABLE = frozenset({CmdType.CATALOG, CmdType.ALARM, CmdType.MOBILE_POSITION})
"""What a platform may subscribe to on a simulated device."""

REBOOT_SECONDS = 0.5
"""How long a TeleBoot keeps the simulated device away before it registers again."""

BIND_ATTEMPTS = 8

DeviceHandler = Callable[[IncomingRequest], Coroutine[Any, Any, SipResponse | None]]


@dataclass(frozen=True, slots=True)
class DeviceSettings:
    """One device; `server` carries the transport (UDP or TCP) it registers over."""

    device_id: str
    server: Address
    server_id: str
    domain: str
    password: str = "12345678"
    channels: int = 4
    items_per_message: int = 20
    timers: SessionTimers = field(default_factory=SessionTimers)
    request_timeout: float = 10.0
    gb_version: str | None = "3.0"
    host: str = "127.0.0.1"
    start_delay: float = 0.0
    seed: int | None = None
    media: StreamSettings = field(default_factory=StreamSettings)
    replaces_older_subscriptions: bool = True
    """A platform's new catalog subscription replaces its older one (False: both live)."""
    records: RecordSettings = field(default_factory=RecordSettings)
    """What each channel has recorded, and how its playback misbehaves."""
    broadcast: BroadcastSettings = field(default_factory=BroadcastSettings)
    """How it answers a voice broadcast (tests may change it: `device.broadcast.settings`)."""
    talk: TalkSettings = field(default_factory=TalkSettings)
    """How it answers two-way talk (tests may change it: `device.talk.settings`)."""


class SimulatedDevice:
    def __init__(self, settings: DeviceSettings, *, media_cache: MediaCache | None = None) -> None:
        self.settings = settings
        self.identity = DeviceIdentity(
            settings.device_id, settings.domain, settings.server_id, settings.server
        )
        self.profile = device_profile(settings.device_id, settings.channels)
        self.channels = ChannelTable(build_channels(settings.device_id, settings.channels))
        self.endpoint = SipEndpoint(
            SipSettings(host=settings.host, port=0, id=settings.device_id, domain=settings.domain,
                        user_agent=self.identity.user_agent)
        )  # fmt: skip
        seed = settings.seed if settings.seed is not None else secrets.randbits(32)
        self._session = DeviceSession(settings.timers, random.Random(seed))
        self._register = RegisterClient(
            self.endpoint,
            self.identity,
            password=settings.password,
            request_timeout=settings.request_timeout,
            gb_version=settings.gb_version,
        )
        self._alarm_sn = 0
        self.outbox = Outbox(
            self.endpoint, self.identity, request_timeout=settings.request_timeout,
            gb_version=settings.gb_version,
        )  # fmt: skip
        self.responder = QueryResponder(
            self.endpoint, self.profile, self.channels, self.outbox, self._spawn,
            items_per_message=settings.items_per_message,
            on_key_frame_request=lambda channel_id: self.call_handler.send_key_frame(channel_id),
            record_index=self.record_index,
            bytes_per_second=lambda: self.call_handler.media.bitrate // 8,
            records_per_message=settings.records.items_per_message,
            device_time=self.local_time,
        )  # fmt: skip
        self.control = DeviceControlState()
        """What the device was told (PTZ heads, presets, guard, recording, configuration):
        the inspection hook of tests, and its `ignores_controls`/`answers_ptz_position`."""
        self.snapshots = SnapshotUploader(
            lambda channel_id: self.call_handler.media.spec_for(channel_id),
            self._send_status, self._next_sn, clock=self._now, on_change=self._touch,
        )  # fmt: skip
        """Pictures asked by SnapShotConfig: `snapshots.runs` (uploads, file IDs, statuses)."""
        self.responder.control = ControlResponder(
            settings.device_id, self.control, self.responder.send_answer, self._spawn,
            clock=self._now, on_reboot=self._reboot,
            on_snapshot=lambda channel, config: self._spawn(self.snapshots.run(channel, config)),
            default_basic=BasicParam(
                name=self.profile.name, expiration=3600,
                heartbeat_interval=max(1, round(settings.timers.keepalive_interval)),
                heartbeat_count=settings.timers.keepalive_lost_count,
            ),
        )  # fmt: skip
        self.broadcasts = BroadcastReceiver(
            self.endpoint, self.identity, self.outbox, self._spawn, host=settings.host,
            on_change=self._touch, request_timeout=settings.request_timeout,
        )  # fmt: skip
        self.broadcasts.state.settings = settings.broadcast
        self.responder.on_broadcast = self.broadcasts.notified
        self.talks = TalkResponder(
            self.endpoint, self.channels, host=settings.host, on_change=self._touch,
            request_timeout=settings.request_timeout,
        )  # fmt: skip
        self.talks.state.settings = settings.talk
        self.notifier = CatalogNotifier(
            self.endpoint, self.identity, clock=self._now, request_timeout=settings.request_timeout,
            replaces_older=settings.replaces_older_subscriptions, kinds=SUBSCRIBABLE,
            on_subscribed=self._on_subscribed,
        )  # fmt: skip
        self.track = PositionTrack()
        """Where the device goes while a position subscription asks it (set before it)."""
        self.positions_sent: list[tuple[MobilePosition, int]] = []
        """Each position NOTIFYed in the position subscriptions, and how many took it."""
        self._position_task: asyncio.Task[None] | None = None
        self.call_handler = CallHandler(
            self.endpoint, self.channels, media_cache if media_cache is not None else MediaCache(),
            settings.media,
            rng=random.Random(seed ^ 0x5EED), on_change=self._touch,
            request_timeout=settings.request_timeout, record_index=self.record_index,
            quirks=settings.records.quirks,
        )  # fmt: skip
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._register_task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._keepalive_sn = 0
        self._is_closed = False
        self.last_failure: RegisterFailure | None = None
        self.registrations = 0
        self.keepalives_acknowledged = 0

    # -- observable state ----------------------------------------------------------------

    @property
    def device_id(self) -> str:
        return self.settings.device_id

    @property
    def state(self) -> SessionState:
        return self._session.state

    @property
    def is_registered(self) -> bool:
        return self._session.state is SessionState.REGISTERED

    @property
    def is_silent(self) -> bool:
        return self._session.is_silent

    @property
    def subscription_count(self) -> int:
        return len(self.notifier.live())

    @property
    def invites_received(self) -> int:
        return self.call_handler.invites_received

    @property
    def byes_received(self) -> int:
        return self.call_handler.byes_received

    @property
    def active_calls(self) -> int:
        return self.call_handler.active_calls

    @property
    def packets_sent(self) -> int:
        """RTP packets put on the wire by every call so far (dropped ones not counted)."""
        return self.call_handler.packets_sent

    @property
    def calls(self) -> tuple[CallInfo, ...]:
        return self.call_handler.calls

    async def set_picture(self, channel: int | str, mode: PictureMode) -> None:
        """Make a channel (by position or ID) show `mode` (a picture fault or the normal
        test pattern); running streams switch at their next key frame."""
        channel_id = self.channels.items[channel].device_id if isinstance(channel, int) else channel
        await self.call_handler.set_picture(channel_id, mode)

    def picture(self, channel: int | str) -> PictureMode:
        channel_id = self.channels.items[channel].device_id if isinstance(channel, int) else channel
        return self.call_handler.picture(channel_id)

    @property
    def broadcast(self) -> BroadcastState:
        """Voice broadcast: how the device answers (`settings`) and what it heard."""
        return self.broadcasts.state

    @property
    def talk(self) -> TalkState:
        """Two-way talk: how the camera answers (`settings`), what it heard and said."""
        return self.talks.state

    async def wait_for(self, predicate: Callable[[SimulatedDevice], bool]) -> None:
        """Return once `predicate(self)` holds; bound it with `asyncio.timeout`."""
        while not predicate(self):
            await self._changed.wait()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._bind()
        for method, handler in (
            ("MESSAGE", self.responder.handle_message),
            ("SUBSCRIBE", self.notifier.handle_subscribe),
            ("OPTIONS", self._on_options),
            ("INVITE", self._on_invite),
            ("BYE", self._on_bye),
            ("CANCEL", self.call_handler.handle_cancel),
            ("INFO", self.call_handler.handle_info),
        ):
            self.endpoint.add_handler(method, self._unless_silent(handler))
        self.endpoint.set_ack_handler(self._on_ack)
        log.info("device %s on %s:%d (%d channels) → %s", self.device_id, self.settings.host,
                 self.endpoint.port, len(self.channels), self.settings.server)  # fmt: skip
        self._feed(self._session.start(self._now(), delay=self.settings.start_delay))

    async def _bind(self) -> None:
        """Start the endpoint; with port 0 the TCP twin of the UDP port may be taken: retry."""
        for attempt in range(BIND_ATTEMPTS):
            try:
                await self.endpoint.start()
                return
            except OSError as error:
                if error.errno != errno.EADDRINUSE or attempt == BIND_ATTEMPTS - 1:
                    raise
                log.debug("device %s: port in use, binding again", self.device_id)

    async def stop(self) -> None:
        """Unregister (bounded by the request timeout), then release everything."""
        if self._is_closed or self._loop is None:
            return
        self._is_closed = True
        if self._timer is not None:
            self._timer.cancel()
        await self._cancel_tasks()
        await self.call_handler.close()
        await self.broadcasts.close()
        await self.talks.close()
        commands = self._session.stop(self._now())
        if any(isinstance(c, SendRegister) for c in commands):
            try:
                await self._register.register(0)
                log.info("device %s unregistered", self.device_id)
            except RegisterFailed as failed:
                log.warning("device %s: unregister failed: %s", self.device_id, failed.failure)
        self._session.unregister_finished()
        await self.endpoint.close()
        self._touch()

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- controls -------------------------------------------------------------------------

    def go_silent(self) -> None:
        """Stop keepalives and every answer: incoming requests are dropped unanswered."""
        log.info("device %s goes silent", self.device_id)
        self._feed(self._session.set_silent(True, self._now()))

    def come_back(self) -> None:
        log.info("device %s comes back", self.device_id)
        self._feed(self._session.set_silent(False, self._now()))

    def refuse_invites(self, status: int = 488) -> None:
        """Answer every INVITE with `status` (488, 486, 403...) until `accept_invites()`."""
        self.call_handler.refuse(status)

    def ignore_invites(self) -> None:
        """Leave INVITEs unanswered (not even 100 Trying) until `accept_invites()`."""
        self.call_handler.ignore()

    def accept_invites(self) -> None:
        self.call_handler.accept()

    def set_media(self, media: StreamSettings) -> None:
        """Media behaviour of calls set up from now on (running calls keep theirs)."""
        self.call_handler.media = media

    async def hang_up_broadcast(self) -> int:
        """BYE every voice broadcast audio dialog from the device; how many ended."""
        return await self.broadcasts.hang_up()

    async def hang_up_talk(self) -> int:
        """BYE every two-way talk from the device; how many ended."""
        return await self.talks.hang_up()

    async def hang_up(self, channel_id: str) -> int:
        """Send BYE for every call of `channel_id`; returns how many calls ended."""
        return await self.call_handler.hang_up(channel_id)

    def drop_catalog_message(self, index: int) -> None:
        self.responder.drop_catalog_message(index)

    def drop_record_message(self, index: int) -> None:
        """Lose message `index` (0-based) of the next RecordInfo answer."""
        self.responder.drop_record_message(index)

    def record_index(self, channel_id: str, now: float | None = None) -> RecordIndex:
        """What `channel_id` has recorded as of `now` (Unix seconds; default the wall clock)."""
        return RecordIndex(channel_id, self.settings.records, time.time() if now is None else now)

    @property
    def playback_quirks(self) -> PlaybackQuirks:
        return self.call_handler.quirks

    def set_playback_quirks(
        self,
        *,
        ignores_scale: bool | None = None,
        refuses_control: bool | None = None,
        omits_media_status: bool | None = None,
        one_playback_per_channel: bool | None = None,
        unknown_file_size: bool | None = None,
    ) -> PlaybackQuirks:
        """Switch playback misbehaviour on or off (None: unchanged); returns the result.

        INFO answers and MediaStatus follow at once, also in running calls; the others
        apply to INVITEs from now on.
        """
        changes = {
            "ignores_scale": ignores_scale,
            "refuses_control": refuses_control,
            "omits_media_status": omits_media_status,
            "one_playback_per_channel": one_playback_per_channel,
            "unknown_file_size": unknown_file_size,
        }
        quirks = replace(
            self.call_handler.quirks,
            **{name: value for name, value in changes.items() if value is not None},
        )
        self.call_handler.quirks = quirks
        log.info("device %s: playback quirks %s", self.device_id, quirks)
        return quirks

    async def set_channel_status(self, channel: int | str, online: bool) -> int:
        """Change a channel's status and NOTIFY subscribers; returns the NOTIFYs acknowledged."""
        status = ChannelStatus.ON if online else ChannelStatus.OFF
        item = self.channels.set_status(channel, status)
        event = CatalogEvent.ON if online else CatalogEvent.OFF
        log.info("device %s: channel %s %s", self.device_id, item.device_id, event.value)
        delivered = await self.notifier.notify([CatalogItem(device_id=item.device_id, event=event)])
        self._touch()
        return delivered

    async def send_alarm(
        self,
        channel: int | str,
        *,
        priority: int = 1,
        method: int = 5,
        alarm_type: int | None = 2,
        description: str | None = "移动侦测",
    ) -> int:
        """Notify/Alarm (§4.10) for a channel (index or ID), now: as a NOTIFY in the alarm
        subscriptions when the platform holds one (200 when one took it, else 0), else as a
        MESSAGE (the platform's status)."""
        source = channel if isinstance(channel, str) else self.channels.items[channel].device_id
        self._alarm_sn += 1
        alarm = AlarmNotify(
            source, self._alarm_sn, priority=priority, method=method,
            alarm_time=self.local_time(), description=description,
            alarm_type=alarm_type,
        )  # fmt: skip
        if self.notifier.live(CmdType.ALARM):
            body = build_alarm_notify(alarm)
            delivered = await self.notifier.notify_event(CmdType.ALARM, lambda _: body)
            return 200 if delivered else 0
        return (await self.outbox.send(build_alarm_notify(alarm))).status

    def local_time(self) -> str:
        """Now on the device's clock: local time in its zone (`records.time_zone`), as a
        camera set up for its site sends every time (alarms, positions, DeviceStatus)."""
        return datetime.now(self.settings.records.zone).strftime("%Y-%m-%dT%H:%M:%S")

    def _position_body(self, position: MobilePosition, sn: int) -> bytes:
        return build_mobile_position_notify(MobilePositionNotify(self.device_id, sn, (position,)))

    def _on_subscribed(self, dialog: CatalogSubscription) -> None:
        """A position subscription starts the reports (one task for all of them)."""
        if dialog.cmd_type is not CmdType.MOBILE_POSITION or self._is_closed:
            return
        if self._position_task is None or self._position_task.done():
            self._position_task = self._spawn(self._report_positions())

    async def _report_positions(self) -> None:
        """A position along `track` every Interval (the shortest asked) while a position
        subscription lives; none while the device is silent."""
        started = self._now()
        while dialogs := self.notifier.live(CmdType.MOBILE_POSITION):
            interval = min(d.interval or DEFAULT_POSITION_INTERVAL for d in dialogs)
            if not self._session.is_silent:
                track = self.track
                longitude, latitude = track.at(self._now() - started)
                position = MobilePosition(
                    self.device_id, self.local_time(), longitude, latitude,
                    speed=track.speed, direction=track.direction, altitude=track.altitude,
                )  # fmt: skip
                delivered = await self.notifier.notify_event(
                    CmdType.MOBILE_POSITION, partial(self._position_body, position)
                )
                self.positions_sent.append((position, delivered))
                self._touch()
            await asyncio.sleep(interval)  # the device's own reporting pace

    def _next_sn(self) -> int:
        self._alarm_sn += 1
        return self._alarm_sn

    async def _send_status(self, body: bytes) -> int:
        """One MESSAGE to the platform; its status."""
        return (await self.outbox.send(body)).status

    async def send_position(
        self,
        longitude: float,
        latitude: float,
        *,
        speed: float | None = None,
        direction: float | None = None,
        altitude: float | None = None,
        at: str | None = None,
        is_2022: bool = False,
    ) -> int:
        """Notify/MobilePosition (§4.11) of the device, as a MESSAGE, in the 2016 flat form
        or the [2022] DeviceList form; `at` the device time (now by default); the
        platform's status."""
        self._alarm_sn += 1
        position = MobilePosition(
            self.device_id, at or self.local_time(), longitude, latitude,
            speed=speed, direction=direction, altitude=altitude,
        )  # fmt: skip
        body = build_mobile_position_notify(
            MobilePositionNotify(self.device_id, self._alarm_sn, (position,)), is_2022=is_2022
        )
        return (await self.outbox.send(body)).status

    async def send_malformed(self, kind: MalformedKind, *, wait: float = 1.0) -> int | None:
        """Send misbehaving traffic; returns the status the platform answered, if any."""
        if kind is MalformedKind.BROKEN_XML:
            try:
                return (await self.outbox.send(BROKEN_XML)).status
            except SipError:
                return None
        server = self.settings.server
        udp, port = (None, self.endpoint.port)
        if server.transport is Transport.UDP:
            udp, port = await open_udp(self.settings.host, server)
        if kind is MalformedKind.GARBAGE:
            return await send_raw(GARBAGE, server, wait=wait, udp=udp)
        self._keepalive_sn += 1
        request = self.outbox.build(build_keepalive(self.device_id, self._keepalive_sn))
        via = f"SIP/2.0/{server.transport.value} {self.settings.host}:{port};rport"
        data = with_wrong_content_length(request, f"{via};branch=z9hG4bK{new_tag()}")
        return await send_raw(data, server, wait=wait, udp=udp)

    # -- the session shell ------------------------------------------------------------------

    def _now(self) -> float:
        assert self._loop is not None, "device not started"
        return self._loop.time()

    def _feed(self, commands: list[Command]) -> None:
        """Carry out the session's commands, re-arm the one timer, wake the waiters."""
        if self._is_closed:
            return
        for command in commands:
            match command:
                case SendRegister(expires=expires):
                    if self._register_task is not None:
                        self._register_task.cancel()
                    self._register_task = self._spawn(self._run_register(expires))
                case SendKeepalive():
                    self._spawn(self._run_keepalive())
        self._arm()
        self._touch()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._session.next_deadline()
        if deadline is not None and self._loop is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._feed(self._session.tick(self._now()))

    def _reboot(self) -> None:
        """TeleBoot: like a camera restarting, register afresh after `REBOOT_SECONDS`."""
        log.info("device %s: TeleBoot, registering again in %g s", self.device_id, REBOOT_SECONDS)
        self._register.forget()
        self._feed(self._session.reboot(self._now(), REBOOT_SECONDS))

    async def _run_register(self, expires: int) -> None:
        try:
            granted = await self._register.register(expires)
        except RegisterFailed as failed:
            self.last_failure = failed.failure
            self._register.forget()
            log.warning("device %s: registration failed (%s); retry %d", self.device_id,
                        failed.failure, self._session.failures + 1)  # fmt: skip
            self._feed(self._session.register_failed(self._now()))
            return
        self.last_failure = None
        self.registrations += 1
        log.info("device %s registered for %d s", self.device_id, granted)
        self._feed(self._session.register_succeeded(granted, self._now()))

    async def _run_keepalive(self) -> None:
        self._keepalive_sn += 1
        outcome = KeepaliveOutcome.LOST
        try:
            response = await self.outbox.send(build_keepalive(self.device_id, self._keepalive_sn))
        except SipError as error:
            log.info("device %s: keepalive lost: %s", self.device_id, error)
        else:
            if response.is_success:
                outcome = KeepaliveOutcome.ACCEPTED
                self.keepalives_acknowledged += 1
            elif response.status in (403, 404):
                log.info("device %s: keepalive answered %d, registering again",
                         self.device_id, response.status)  # fmt: skip
                outcome = KeepaliveOutcome.REJECTED
                self._register.forget()
        self._feed(self._session.keepalive_answered(outcome, self._now()))

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._touch()  # an answer finished sending: `wait_for` callers look again
        if not task.cancelled() and task.exception() is not None:
            # Isolation boundary: one exchange of one device.
            log.error("device %s: task failed", self.device_id, exc_info=task.exception())

    # -- incoming requests ------------------------------------------------------------------

    def _unless_silent(self, handler: DeviceHandler) -> RequestHandler:
        """Drop requests while silent; wake `wait_for` callers after each handled one."""

        async def guarded(incoming: IncomingRequest) -> SipResponse | None:
            if self._session.is_silent or self._is_closed:
                return None  # dropped: a silent device answers nothing
            try:
                return await handler(incoming)
            finally:
                self._touch()

        return guarded

    async def _on_invite(self, incoming: IncomingRequest) -> SipResponse | None:
        """`s=Talk` is two-way talk's; every other INVITE a video call's."""
        if self.talks.is_talk(incoming.request):
            return await self.talks.handle_invite(incoming)
        return await self.call_handler.handle_invite(incoming)

    def _on_ack(self, request: SipRequest, source: Address) -> None:
        if self.talks.owns(request.call_id):
            self.talks.handle_ack(request)
        else:
            self.call_handler.handle_ack(request, source)

    async def _on_bye(self, incoming: IncomingRequest) -> SipResponse:
        """A BYE ends a voice broadcast's audio dialog, a talk or a video call."""
        if self.broadcasts.owns(incoming.request.call_id):
            return await self.broadcasts.handle_bye(incoming)
        if self.talks.owns(incoming.request.call_id):
            return await self.talks.handle_bye(incoming)
        return await self.call_handler.handle_bye(incoming)

    async def _on_options(self, incoming: IncomingRequest) -> SipResponse:
        return build_response(incoming.request, 200, to_tag=new_tag())
