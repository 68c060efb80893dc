"""Devices as the operators and the SIP part see them (issue: device access).

`DeviceService` answers the registrar's questions (`DeviceDirectory`: may this device
register, with which password and charset) from memory, so a registration storm never
queries the database; it lists devices and channel trees for the API, triggers catalog
refreshes and reports their progress, and, at start-up, makes the SIP part know again
the devices that were registered before a restart. It keeps each device's stream dialect
(how live offers ask it for a sub stream, gb28181.md §6.2): an administrator's setting
stored with the device wins over the configuration's (`StreamDialects.effective`), and is
read from the database at every stream start, so a change needs no restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from farmwatch.platform.errors import DeviceOffline, NotFound
from farmwatch.platform.records import ChannelNode, DevicePage, DeviceRecord
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.repositories.device_repository import DeviceRepository
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.device_passwords import DevicePasswords
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.catalog_collector import CatalogResult, CollectionState
from farmwatch.sipserver.gb.registrations import Registration
from farmwatch.sipserver.gb.versions import (
    DialectSource,
    Edition,
    EffectiveDialect,
    StreamDialect,
    StreamDialects,
    edition_of,
)
from farmwatch.sipserver.sip.address import Address, Transport

__all__ = [
    "CatalogProgress",
    "DeviceLanguage",
    "DeviceService",
    "DeviceStatus",
    "DialectSource",
    "Edition",
    "EffectiveDialect",
    "EnrolmentPolicy",
    "StreamDialect",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EnrolmentPolicy:
    default_password: str
    accept_unknown_devices: bool


@dataclass(frozen=True, slots=True)
class CatalogProgress:
    """How far the latest catalog query of a device got."""

    device_id: str
    state: str  # running | complete | partial | none
    received: int
    expected: int | None


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device's own account of itself (DeviceStatus answer)."""

    device_id: str
    result: str | None
    online: bool | None
    status: str | None
    reason: str | None
    encode: bool | None
    record: bool | None
    device_time: str | None
    alarms: tuple[tuple[str, str | None], ...]  # (alarm input ID, duty status)


@dataclass(frozen=True, slots=True)
class DeviceLanguage:
    """How the platform speaks to a device: the edition of GB/T 28181 its `X-GB-Ver` says
    (none: 2016), and the dialect its live offers ask for a sub stream in."""

    edition: Edition
    stream_dialect: EffectiveDialect


def _text(value: object) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


class DeviceService:
    def __init__(
        self,
        devices: DeviceRepository,
        channels: ChannelRepository,
        policy: EnrolmentPolicy,
        dialects: StreamDialects | None = None,
    ) -> None:
        self._devices = devices
        self._channels = channels
        self._dialects = dialects or StreamDialects()
        self.passwords = DevicePasswords(policy.default_password, policy.accept_unknown_devices)
        """The enrolled devices' passwords (what the registrar and the SIP fronts ask)."""
        self._charsets: dict[str, str] = {}
        self._access: DeviceAccess | None = None

    def attach(self, access: DeviceAccess) -> None:
        """Wire the SIP side in (it needs this service as its directory first)."""
        self._access = access

    async def start(self) -> None:
        """Load enrolment data and know again the registrations that survive a restart."""
        page_size, offset = 1000, 0
        while True:
            page = await self._devices.list(offset=offset, limit=page_size)
            for record in page.items:
                self._remember(record)
            offset += page_size
            if offset >= page.total:
                break
        await self._restore_registrations()

    def _remember(self, record: DeviceRecord) -> None:
        if record.is_enrolled or record.password is not None:
            self.passwords.load({record.device_id: record.password})
        if record.charset:
            self._charsets[record.device_id] = record.charset

    async def _restore_registrations(self) -> None:
        access = self._require_access()
        now_wall = datetime.now(UTC)
        now_loop = access.now()
        restored = 0
        for record in await self._devices.list_registered_for_restore():
            expires_at = record.registration_expires_at
            if expires_at is None or record.remote_host is None or record.remote_port is None:
                continue
            remaining = (expires_at - now_wall).total_seconds()
            if remaining <= 0:
                continue
            transport = Transport(record.transport.value) if record.transport else Transport.UDP
            access.restore(
                Registration(
                    device_id=record.device_id,
                    address=Address(record.remote_host, record.remote_port, transport),
                    contact=record.contact_uri or "",
                    expires_at=now_loop + remaining,
                    registered_at=now_loop,
                    gb_version=record.gb_version,
                ),
                catalog_complete=record.is_catalog_complete,
            )
            restored += 1
        log.info("restored %d registrations from before the restart", restored)

    # -- DeviceDirectory ---------------------------------------------------------

    def password_for(self, device_id: str) -> str | None:
        return self.passwords.password_for(device_id)

    def charset_for(self, device_id: str) -> str | None:
        return self._charsets.get(device_id)

    # -- operations for the API ------------------------------------------------------

    async def enroll(
        self, device_id: str, *, password: str | None, name: str | None, charset: str | None
    ) -> DeviceRecord:
        record = await self._devices.enroll(
            device_id, password=password, name=name, charset=charset, at=datetime.now(UTC)
        )
        self.passwords.set(device_id, password)
        if charset:
            self._charsets[device_id] = charset
        return record

    async def list_devices(
        self,
        *,
        online: bool | None = None,
        offset: int = 0,
        limit: int = 100,
        device_ids: Collection[str] | None = None,
    ) -> DevicePage:
        """A page of devices; only those of `device_ids` when given (what a user may see)."""
        return await self._devices.list(
            online=online, offset=offset, limit=limit, device_ids=device_ids
        )

    async def get_device(self, device_id: str) -> DeviceRecord:
        record = await self._devices.get(device_id)
        if record is None:
            raise NotFound(f"no device {device_id}")
        return record

    # -- stream dialects ---------------------------------------------------------------

    def language_of(self, record: DeviceRecord) -> DeviceLanguage:
        """The device's edition (its stored X-GB-Ver, else `[registrar] default_gb_version`,
        as the SIP part decides), and its stream dialect with where it comes from."""
        default = None if self._access is None else self._access.settings.default_gb_version
        return DeviceLanguage(
            edition_of(record.gb_version or default),
            self._dialects.effective(record.device_id, record.stream_dialect),
        )

    async def stream_dialect_for(self, device_id: str) -> StreamDialect:
        """What the next live offer to the device uses (as stored now: no restart needed);
        a device not stored follows the configuration."""
        record = await self._devices.get(device_id)
        setting = None if record is None else record.stream_dialect
        return self._dialects.effective(device_id, setting).dialect

    async def set_stream_dialect(
        self, device_id: str, dialect: StreamDialect | None
    ) -> DeviceRecord:
        """Store the device's own dialect (None: follow the configuration again)."""
        if not await self._devices.set_stream_dialect(device_id, dialect, at=datetime.now(UTC)):
            raise NotFound(f"no device {device_id}")
        log.info("device %s: stream dialect set to %s", device_id,
                 "the configuration's" if dialect is None else dialect.value)  # fmt: skip
        return await self.get_device(device_id)

    async def channel_tree(self, device_id: str) -> tuple[ChannelNode, ...]:
        await self.get_device(device_id)
        return await self._channels.tree_for_device(device_id)

    async def refresh_catalog(self, device_id: str) -> CatalogProgress:
        """Start a catalog query; follow it with `catalog_progress`."""
        access = self._require_access()
        await self.get_device(device_id)
        if not access.is_online(device_id):
            raise DeviceOffline(f"device {device_id} is offline")
        future = access.start_catalog_query(device_id)
        future.add_done_callback(self._log_catalog_failure)
        return await self.catalog_progress(device_id)

    @staticmethod
    def _log_catalog_failure(future: asyncio.Future[CatalogResult]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.warning("catalog refresh failed: %s", future.exception())

    async def query_status(self, device_id: str) -> DeviceStatus:
        """Ask the device for its DeviceStatus now (GB/T 28181 §A.2.4 a)."""
        access = self._require_access()
        await self.get_device(device_id)
        if not access.is_online(device_id):
            raise DeviceOffline(f"device {device_id} is offline")
        try:
            answer = await access.query_device_status(device_id)
        except SipError as error:
            raise DeviceOffline(f"device {device_id} did not answer: {error}") from error
        return DeviceStatus(
            device_id=device_id,
            result=_text(answer.result),
            online=answer.online,
            status=_text(answer.status),
            reason=answer.reason,
            encode=answer.encode,
            record=answer.record,
            device_time=answer.device_time,
            alarms=tuple((a.device_id, _text(a.duty_status)) for a in answer.alarm_status),
        )

    async def catalog_progress(self, device_id: str) -> CatalogProgress:
        """The latest catalog query: running or just finished (the SIP side knows it for
        `catalog_timeout` seconds), else how the last stored catalog answer ended."""
        record = await self.get_device(device_id)
        progress = self._require_access().catalog_progress(device_id)
        if progress is None:
            if record.catalog_received is None:
                return CatalogProgress(device_id, "none", 0, None)
            state = "complete" if record.is_catalog_complete else "partial"
            return CatalogProgress(
                device_id, state, record.catalog_received, record.catalog_sum_num
            )
        state = {
            CollectionState.RUNNING: "running",
            CollectionState.COMPLETE: "complete",
            CollectionState.PARTIAL: "partial",
            CollectionState.REJECTED: "rejected",
        }[progress.state]
        return CatalogProgress(device_id, state, progress.received, progress.expected)

    def _require_access(self) -> DeviceAccess:
        if self._access is None:
            raise RuntimeError("DeviceService used before attach()")
        return self._access
