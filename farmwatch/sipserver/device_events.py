"""What the device side of the SIP part reports upward, and what it asks of the platform.

Events are small frozen dataclasses delivered to a `DeviceListener` on the event loop;
the listener must not block (the platform queues them and writes in batches), so a
registration storm never waits on the database. `DeviceDirectory` is the platform's
answer to "may this device register, with which password, in which charset".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from farmwatch.sipserver.gb.catalog_collector import CatalogResult
from farmwatch.sipserver.gb.catalog_item import CatalogItem
from farmwatch.sipserver.gb.manscdp import DeviceInfoResponse, ManscdpMessage
from farmwatch.sipserver.gb.registrations import (
    DeviceCameOnline,
    DeviceWentOffline,
    OfflineReason,
    Registration,
    RegistrationRefreshed,
)
from farmwatch.sipserver.sip.address import Address

__all__ = [
    "CatalogChanged",
    "CatalogReceived",
    "DeviceCameOnline",
    "DeviceDirectory",
    "DeviceEvent",
    "DeviceInfoReceived",
    "DeviceListener",
    "DeviceNotified",
    "DeviceWentOffline",
    "KeepaliveReceived",
    "OfflineReason",
    "Registration",
    "RegistrationRefreshed",
]


@dataclass(frozen=True, slots=True)
class KeepaliveReceived:
    device_id: str
    source: Address
    status: str | None
    """`OK` or `ERROR` as the device reported itself."""


@dataclass(frozen=True, slots=True)
class CatalogReceived:
    """A catalog query finished, complete or (after the inactivity timeout) partial."""

    device_id: str
    result: CatalogResult


@dataclass(frozen=True, slots=True)
class CatalogChanged:
    """A catalog NOTIFY: items carry their `event` (ON/OFF/VLOST/DEFECT/ADD/DEL/UPDATE)."""

    device_id: str
    items: tuple[CatalogItem, ...]


@dataclass(frozen=True, slots=True)
class DeviceInfoReceived:
    device_id: str
    info: DeviceInfoResponse


@dataclass(frozen=True, slots=True)
class DeviceNotified:
    """Any other request MESSAGE a device sent (alarm, media status, position...)."""

    device_id: str
    message: ManscdpMessage


DeviceEvent = (
    DeviceCameOnline
    | RegistrationRefreshed
    | DeviceWentOffline
    | KeepaliveReceived
    | CatalogReceived
    | CatalogChanged
    | DeviceInfoReceived
    | DeviceNotified
)


class DeviceListener(Protocol):
    def device_event(self, event: DeviceEvent) -> None:
        """Called on the event loop for every event; must return quickly."""
        ...


class DeviceDirectory(Protocol):
    def password_for(self, device_id: str) -> str | None:
        """The device's password; None when it may not register (not enrolled)."""
        ...

    def charset_for(self, device_id: str) -> str | None:
        """The device's MANSCDP charset override, or None for the platform default."""
        ...
