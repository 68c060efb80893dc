"""Registered devices and their online state (GB/T 28181-2016 §9.1, §9.6; gb28181.md §3, §4.3).

A pure table driven by `now`: REGISTER, keepalive and unregister inputs update it,
`tick(now)` reports devices whose keepalives stopped or whose registration expired.
A device is offline after `keepalive_timeout_count` missed keepalives (default 3 × 60 s)
or when its registration expires, whichever comes first (what wvp does too), and at once
when the TCP connection it registered over closes (GB/T 28181-2022 §9.1.1 f).

Only a REGISTER moves a device's address (the registrar authenticated it). A keepalive or
any other request naming a registered device but sent from elsewhere is not the device's:
it neither moves the binding nor proves the device alive (`SenderStatus.ELSEWHERE`), and
the device is told to register again, which costs a NATed device whose mapping changed
one re-registration. `SourceCheck` says what "elsewhere" means.

Keepalives cost O(1): they only move the device's last-seen time. The heap holds at
most one entry per device; when an entry comes due and the device was seen since,
it is pushed again at its new deadline instead.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace
from enum import StrEnum

from farmwatch.sipserver.sip.address import Address, Transport


class OfflineReason(StrEnum):
    """Why a device went offline; carried by `DeviceWentOffline`."""

    KEEPALIVE_TIMEOUT = "keepalive-timeout"
    REGISTRATION_EXPIRED = "registration-expired"
    UNREGISTERED = "unregistered"
    CONNECTION_LOST = "connection-lost"
    """The TCP connection the device registered over closed."""


class SourceCheck(StrEnum):
    """Which requests count as coming from a registered device (`[registrar]
    message_source_check`)."""

    ADDRESS = "address"
    """Only those from its registered transport, host and port."""
    HOST = "host"
    """Those from its registered host, any port or transport (devices that send from
    another socket than they registered from)."""


class SenderStatus(StrEnum):
    """Who sent a request naming a device, as far as the table can tell."""

    REGISTERED = "registered"
    """The device, at its registered address: it is (again) online."""
    NOT_REGISTERED = "not-registered"
    """No live registration: answer so that the device registers again."""
    ELSEWHERE = "elsewhere"
    """Registered, but the request came from another address: not proof of anything;
    answer so that the device registers again (only a REGISTER moves it)."""


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    keepalive_interval: float = 60.0
    keepalive_timeout_count: int = 3
    source_check: SourceCheck = SourceCheck.ADDRESS

    @property
    def keepalive_timeout(self) -> float:
        return self.keepalive_interval * self.keepalive_timeout_count


@dataclass(frozen=True, slots=True)
class Registration:
    """What a successful REGISTER binds: how to reach the device and until when."""

    device_id: str
    address: Address
    contact: str
    expires_at: float
    registered_at: float
    call_id: str = ""
    gb_version: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceCameOnline:
    registration: Registration
    is_new_registration: bool
    """True for a REGISTER; False when a keepalive brought a known device back."""


@dataclass(frozen=True, slots=True)
class RegistrationRefreshed:
    """A REGISTER from a device that was online already: new expiry, maybe new address."""

    registration: Registration


@dataclass(frozen=True, slots=True)
class DeviceWentOffline:
    device_id: str
    reason: OfflineReason


PresenceEvent = DeviceCameOnline | RegistrationRefreshed | DeviceWentOffline


@dataclass(slots=True)
class _Entry:
    registration: Registration
    last_seen: float
    is_online: bool = True
    queued_at: float | None = field(default=None)


class RegistrationTable:
    """Every device's current registration, last keepalive and online state."""

    def __init__(self, settings: PresenceSettings | None = None) -> None:
        self._settings = settings or PresenceSettings()
        self._entries: dict[str, _Entry] = {}
        # Devices by the TCP connection they registered over, so that a closing
        # connection finds its devices without a scan of the whole table.
        self._by_connection: dict[Address, set[str]] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def online_count(self) -> int:
        return sum(1 for entry in self._entries.values() if entry.is_online)

    def get(self, device_id: str) -> Registration | None:
        entry = self._entries.get(device_id)
        return entry.registration if entry is not None else None

    def note_version(self, device_id: str, version: str) -> list[PresenceEvent]:
        """The `X-GB-Ver` a registered device's request carried: a changed value replaces the
        registration's (to be stored: `RegistrationRefreshed`)."""
        entry = self._entries.get(device_id)
        version = version.strip()[:16]
        if entry is None or not version or entry.registration.gb_version == version:
            return []
        entry.registration = replace(entry.registration, gb_version=version)
        return [RegistrationRefreshed(entry.registration)]

    def is_online(self, device_id: str) -> bool:
        entry = self._entries.get(device_id)
        return entry is not None and entry.is_online

    def register(self, registration: Registration, now: float) -> list[PresenceEvent]:
        entry = self._drop(registration.device_id)
        new = self._put(_Entry(registration, last_seen=now))
        if entry is not None:
            new.queued_at = entry.queued_at
        self._schedule(new)
        if entry is not None and entry.is_online:
            return [RegistrationRefreshed(registration)]
        return [DeviceCameOnline(registration, is_new_registration=True)]

    def restore(self, registration: Registration, now: float) -> None:
        """A registration persisted before a restart: known again, online until proven gone.

        The device gets one keepalive timeout to show it is still there.
        """
        if registration.expires_at <= now:
            return
        self._drop(registration.device_id)
        entry = self._put(_Entry(registration, last_seen=now))
        self._schedule(entry)

    def unregister(self, device_id: str) -> list[PresenceEvent]:
        entry = self._drop(device_id)
        if entry is None or not entry.is_online:
            return []
        return [DeviceWentOffline(device_id, OfflineReason.UNREGISTERED)]

    def connection_closed(self, remote: Address) -> list[PresenceEvent]:
        """The TCP connection from `remote` closed: devices registered over it are offline.

        Only a registration bound to exactly that connection (host, port and TCP) goes:
        a UDP registration from the same host and port, or one the device renewed over a
        newer connection before the old one closed, is not this connection's. The binding
        is dropped, not kept for a keepalive to revive: the platform can no longer reach
        the device there (its port was the connection's), and a keepalive on a new
        connection is answered 403 so the device registers again (GB/T 28181-2022 §9.1.1 f).
        """
        events: list[PresenceEvent] = []
        for device_id in sorted(self._by_connection.get(remote, ())):
            entry = self._drop(device_id)  # its heap entry is skipped when it surfaces
            if entry is not None and entry.is_online:
                events.append(DeviceWentOffline(device_id, OfflineReason.CONNECTION_LOST))
        return events

    def sender(self, device_id: str, source: Address, now: float) -> SenderStatus:
        """Whether a request naming `device_id` from `source` is the registered device's."""
        entry = self._entries.get(device_id)
        if entry is None or entry.registration.expires_at <= now:
            return SenderStatus.NOT_REGISTERED
        registered = entry.registration.address
        if registered == source or (
            self._settings.source_check is SourceCheck.HOST and registered.host == source.host
        ):
            return SenderStatus.REGISTERED
        return SenderStatus.ELSEWHERE

    def keepalive(
        self, device_id: str, source: Address, now: float
    ) -> tuple[SenderStatus, list[PresenceEvent]]:
        """A keepalive from `source`; only the registered device's counts (see `sender`)."""
        status = self.sender(device_id, source, now)
        if status is not SenderStatus.REGISTERED:
            return status, []
        entry = self._entries[device_id]
        entry.last_seen = now
        if entry.is_online:
            return status, []
        entry.is_online = True
        self._schedule(entry)
        return status, [DeviceCameOnline(entry.registration, is_new_registration=False)]

    def seen(self, device_id: str, now: float) -> None:
        """Any request from the device proves it alive, like a keepalive does.

        The caller checked the sender first (`sender`)."""
        entry = self._entries.get(device_id)
        if entry is not None and entry.is_online:
            entry.last_seen = now

    def next_deadline(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def tick(self, now: float) -> list[PresenceEvent]:
        events: list[PresenceEvent] = []
        while self._heap and self._heap[0][0] <= now:
            due, device_id = heapq.heappop(self._heap)
            entry = self._entries.get(device_id)
            if entry is None or entry.queued_at != due:
                continue  # superseded by a newer registration
            entry.queued_at = None
            if not entry.is_online:
                if entry.registration.expires_at <= now:
                    self._drop(device_id)
                continue
            deadline = self._offline_at(entry)
            if deadline > now:
                self._schedule(entry)
                continue
            entry.is_online = False
            expired = entry.registration.expires_at <= now
            reason = (
                OfflineReason.REGISTRATION_EXPIRED if expired else OfflineReason.KEEPALIVE_TIMEOUT
            )
            events.append(DeviceWentOffline(device_id, reason))
            if expired:
                self._drop(device_id)
            else:
                self._push(entry, entry.registration.expires_at)
        return events

    def _put(self, entry: _Entry) -> _Entry:
        registration = entry.registration
        self._entries[registration.device_id] = entry
        if registration.address.transport is Transport.TCP:
            self._by_connection.setdefault(registration.address, set()).add(registration.device_id)
        return entry

    def _drop(self, device_id: str) -> _Entry | None:
        entry = self._entries.pop(device_id, None)
        if entry is not None:
            address = entry.registration.address
            devices = self._by_connection.get(address)
            if devices is not None:
                devices.discard(device_id)
                if not devices:
                    del self._by_connection[address]
        return entry

    def _offline_at(self, entry: _Entry) -> float:
        return min(
            entry.registration.expires_at, entry.last_seen + self._settings.keepalive_timeout
        )

    def _schedule(self, entry: _Entry) -> None:
        deadline = self._offline_at(entry) if entry.is_online else entry.registration.expires_at
        if entry.queued_at is not None and entry.queued_at <= deadline:
            return  # the queued entry fires first and re-checks
        self._push(entry, deadline)

    def _push(self, entry: _Entry, deadline: float) -> None:
        entry.queued_at = deadline
        heapq.heappush(self._heap, (deadline, entry.registration.device_id))
