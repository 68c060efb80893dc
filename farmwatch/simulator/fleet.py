"""A fleet of simulated devices, and `running_simulator` for tests (STYLE B10, aioice-style peer).

`SimulatorFleet` numbers N devices (`channels.device_ids`), starts each on its own
endpoint, and stops them all (each unregisters; one device's failure never stops the
others). `running_simulator(...)` is the async context manager other tests use:

    async with running_simulator(server=("127.0.0.1", port), server_id=..., devices=3,
                                 channels=4, transport="udp") as fleet:
        fleet.devices[0].go_silent()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from farmwatch.simulator.broadcast_receiver import BroadcastSettings
from farmwatch.simulator.channels import device_ids, id_prefix
from farmwatch.simulator.device import DeviceSettings, SimulatedDevice
from farmwatch.simulator.media_cache import MediaCache
from farmwatch.simulator.record_settings import RecordSettings
from farmwatch.simulator.session import SessionTimers
from farmwatch.simulator.stream_settings import StreamSettings
from farmwatch.simulator.talk_responder import TalkSettings
from farmwatch.sipserver.sip.address import Address, Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FleetSettings:
    """What `farmwatch simulate` takes on its command line."""

    server: Address
    server_id: str
    domain: str | None = None
    """SIP domain; default the first 10 digits of `server_id`."""
    password: str = "12345678"
    devices: int = 1
    channels: int = 4
    first_serial: int = 1
    items_per_message: int = 20
    timers: SessionTimers = field(default_factory=SessionTimers)
    request_timeout: float = 10.0
    host: str = "127.0.0.1"
    ramp: float = 0.0
    """Spread the first registrations evenly over this many seconds."""
    gb_version: str | None = "3.0"
    media: StreamSettings = field(default_factory=StreamSettings)
    """What every device streams when invited (and how it misbehaves)."""
    replaces_older_subscriptions: bool = True
    """A platform's new catalog subscription replaces its older one (False: both live)."""
    records: RecordSettings = field(default_factory=RecordSettings)
    """What every channel has recorded (each with its own gaps), and playback quirks."""
    broadcast: BroadcastSettings = field(default_factory=BroadcastSettings)
    """How every device takes a voice broadcast."""
    talk: TalkSettings = field(default_factory=TalkSettings)
    """How every device takes two-way talk (`s=Talk`)."""

    @property
    def sip_domain(self) -> str:
        return self.domain or self.server_id[:10]

    def device_settings(self) -> list[DeviceSettings]:
        ids = device_ids(
            id_prefix(self.domain, self.server_id),
            self.devices,
            first_serial=self.first_serial,
            channels=self.channels,
        )
        step = self.ramp / len(ids) if ids else 0.0
        return [
            DeviceSettings(
                device_id=device_id,
                server=self.server,
                server_id=self.server_id,
                domain=self.sip_domain,
                password=self.password,
                channels=self.channels,
                items_per_message=self.items_per_message,
                timers=self.timers,
                request_timeout=self.request_timeout,
                gb_version=self.gb_version,
                host=self.host,
                start_delay=index * step,
                media=self.media,
                replaces_older_subscriptions=self.replaces_older_subscriptions,
                records=self.records,
                broadcast=self.broadcast,
                talk=self.talk,
            )
            for index, device_id in enumerate(ids)
        ]


class SimulatorFleet:
    def __init__(self, settings: FleetSettings) -> None:
        self.settings = settings
        self.media_cache = MediaCache()
        """One encoded loop per channel and spec, shared by all devices' streams."""
        self.devices = [
            SimulatedDevice(s, media_cache=self.media_cache) for s in settings.device_settings()
        ]
        self._by_id = {device.device_id: device for device in self.devices}

    def device(self, device_id: str) -> SimulatedDevice:
        return self._by_id[device_id]

    @property
    def device_ids(self) -> list[str]:
        return [device.device_id for device in self.devices]

    @property
    def registered_count(self) -> int:
        return sum(1 for device in self.devices if device.is_registered)

    async def start(self) -> None:
        """Bind every device's endpoint and start registering; all or nothing."""
        started: list[SimulatedDevice] = []
        try:
            for device in self.devices:
                await device.start()
                started.append(device)
        except BaseException:
            await asyncio.gather(*(d.stop() for d in started), return_exceptions=True)
            raise
        log.info("simulator: %d devices with %d channels each → %s (%s)", len(self.devices),
                 self.settings.channels, self.settings.server, self.settings.server_id)  # fmt: skip

    async def prepare_media(self) -> None:
        """Encode every channel's main-stream loop now, off the event loop. A first INVITE
        otherwise waits for that encode (seconds for H.265 on a slow machine), where a
        camera answers at once."""
        media = self.settings.media
        for device in self.devices:
            for channel in device.channels.items:
                await asyncio.to_thread(self.media_cache.get, media.spec_for(channel.device_id))

    async def stop(self) -> None:
        """Stop every device (each unregisters); a failing device does not stop the rest."""
        results = await asyncio.gather(
            *(device.stop() for device in self.devices), return_exceptions=True
        )
        for device, result in zip(self.devices, results, strict=True):
            if isinstance(result, Exception):
                log.error("device %s failed to stop", device.device_id, exc_info=result)

    async def wait_registered(self) -> None:
        """Return once every device is registered; bound it with `asyncio.timeout`."""
        await asyncio.gather(*(d.wait_for(lambda d: d.is_registered) for d in self.devices))


@asynccontextmanager
async def running_simulator(
    *,
    server: tuple[str, int],
    server_id: str,
    devices: int = 1,
    channels: int = 4,
    transport: str = "udp",
    domain: str | None = None,
    password: str = "12345678",
    keepalive_interval: float = 60.0,
    items_per_message: int = 20,
    device_id_base: int = 1,
    expires: int = 3600,
    request_timeout: float = 5.0,
    wait_registered: bool = True,
    register_timeout: float = 10.0,
    media: StreamSettings | None = None,
    replaces_older_subscriptions: bool = True,
    records: RecordSettings | None = None,
    host: str = "127.0.0.1",
    gb_version: str | None = "3.0",
) -> AsyncIterator[SimulatorFleet]:
    """Run a fleet on `host` (a loopback address) for the duration of the block; stopped
    (unregistered) after.

    With `wait_registered` the block starts once every device is registered (TimeoutError
    after `register_timeout` seconds). `media` is what the devices stream when invited.
    With `replaces_older_subscriptions=False` a platform's every catalog subscription
    stays live until it ends or expires, so a platform that leaks them shows.
    `records` is what the channels have recorded (default: 7 days of 1-hour files).
    `gb_version` is the `X-GB-Ver` the devices send (None: none, a 2016 device).
    """
    settings = FleetSettings(
        server=Address(server[0], server[1], Transport(transport.upper())),
        server_id=server_id,
        domain=domain,
        password=password,
        devices=devices,
        channels=channels,
        first_serial=device_id_base,
        items_per_message=items_per_message,
        timers=SessionTimers(expires=expires, keepalive_interval=keepalive_interval,
                             retry_min=0.5, retry_max=5.0),
        request_timeout=request_timeout,
        media=media or StreamSettings(),
        replaces_older_subscriptions=replaces_older_subscriptions,
        records=records or RecordSettings(),
        host=host,
        gb_version=gb_version,
    )  # fmt: skip
    fleet = SimulatorFleet(settings)
    await fleet.start()
    try:
        if wait_registered:
            async with asyncio.timeout(register_timeout):
                await fleet.wait_registered()
        yield fleet
    finally:
        await fleet.stop()
