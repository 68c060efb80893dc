"""Plain records the persistence layer hands out and takes in (GB/T 28181-2016 §9.1, §9.5).

The repositories return these frozen dataclasses, never SQLAlchemy rows, so nothing above
the repositories depends on the ORM. `DeviceRecord` is what the platform remembers of a
registered or enrolled device (§3 of our gb28181 notes: transport, NAT-visible address,
contact, granted expiry, X-GB-Ver); `ChannelData` is one catalog item (设备目录项, A.2.1 g
itemType) exactly as the device described it, and `ChannelRecord` adds what the platform
derived from it: the item kind, the resolved parent in the device's tree and reachability.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from farmwatch.sipserver.gb.versions import StreamDialect

MAX_ID_LENGTH = 20
CIVIL_CODE_LENGTHS = frozenset({2, 4, 6, 8})
ONLINE_STATUS_VALUES = frozenset({"ON", "ONLINE", "OK"})


class Transport(StrEnum):
    """SIP transport the device registered over (Via transport)."""

    UDP = "UDP"
    TCP = "TCP"


class OfflineReason(StrEnum):
    """Why the platform considers a device offline."""

    UNREGISTERED = "unregistered"  # REGISTER with Expires: 0
    EXPIRED = "expired"  # registration not refreshed in time
    KEEPALIVE_TIMEOUT = "keepalive_timeout"  # heartbeat timeout count reached (§4.3)
    CONNECTION_LOST = "connection_lost"  # its TCP connection closed (2022 §9.1.1 f)
    OPERATOR = "operator"  # forced offline by an operator


class ItemKind(StrEnum):
    """Kind of a catalog item (2016 Annex O / 2022 Annex J)."""

    CIVIL_CODE = "civil_code"  # 行政区划: 2/4/6/8-digit ID
    PLATFORM = "platform"  # 系统, type code 200
    BUSINESS_GROUP = "business_group"  # 业务分组, type code 215
    VIRTUAL_ORGANIZATION = "virtual_organization"  # 虚拟组织, type code 216
    DEVICE = "device"  # front-end main device, type codes 111-130 (DVR, NVR, ...)
    CHANNEL = "channel"  # anything else: cameras, IPCs, alarm and audio peripherals

    @classmethod
    def of(cls, item_id: str) -> ItemKind:
        """Classify an item by its ID alone; unknown shapes count as channels."""
        if not item_id.isdigit():
            return cls.CHANNEL
        if len(item_id) in CIVIL_CODE_LENGTHS:
            return cls.CIVIL_CODE
        if len(item_id) != MAX_ID_LENGTH:
            return cls.CHANNEL
        type_code = int(item_id[10:13])
        if type_code == 200:
            return cls.PLATFORM
        if type_code == 215:
            return cls.BUSINESS_GROUP
        if type_code == 216:
            return cls.VIRTUAL_ORGANIZATION
        if 111 <= type_code <= 130:
            return cls.DEVICE
        return cls.CHANNEL


class DeviceNotFound(LookupError):
    """A write needed an existing device row and there was none."""

    def __init__(self, device_id: str) -> None:
        super().__init__(f"device {device_id} not found")
        self.device_id = device_id


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One device or lower platform as persisted. Times are timezone-aware UTC."""

    device_id: str
    name: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    transport: Transport | None
    remote_host: str | None  # NAT-visible source address of the last REGISTER/keepalive
    remote_port: int | None
    contact_uri: str | None
    expires: int | None  # granted registration lifetime in seconds
    registered_at: datetime | None  # start of the current (or last) registration
    last_register_at: datetime | None  # last REGISTER, including refreshes
    last_keepalive_at: datetime | None
    is_online: bool
    offline_reason: OfflineReason | None
    gb_version: str | None  # X-GB-Ver, e.g. "2.0" or "3.0"
    charset: str  # MANSCDP body charset for this device, GB2312 unless overridden
    password: str | None = field(repr=False)  # None: the platform's default password
    is_enrolled: bool  # pre-enrolled by an operator (not only auto-accepted)
    channel_count: int | None  # from DeviceInfo
    catalog_sum_num: int | None  # SumNum of the last catalog answer
    catalog_updated_at: datetime | None  # last catalog answer or change (NOTIFY)
    catalog_received: int | None  # items that arrived in the last catalog answer
    is_catalog_complete: bool  # the last catalog answer brought every item of its SumNum
    created_at: datetime
    updated_at: datetime  # last change other than a keepalive
    stream_dialect: StreamDialect | None = None
    """How live offers ask it for a sub stream, as an administrator set it; None: as the
    configuration says."""

    @property
    def registration_expires_at(self) -> datetime | None:
        """When the last registration runs out, if the device ever registered."""
        if self.last_register_at is None or self.expires is None:
            return None
        return self.last_register_at + timedelta(seconds=self.expires)


@dataclass(frozen=True, slots=True)
class DevicePage:
    """One page of a device listing plus the number of devices matching the filter."""

    items: tuple[DeviceRecord, ...]
    total: int


@dataclass(frozen=True, slots=True)
class RegistrationData:
    """One successful REGISTER to store (see `DeviceRepository.upsert_registrations`)."""

    device_id: str
    transport: Transport
    remote_host: str
    remote_port: int
    contact_uri: str
    expires: int
    gb_version: str | None
    at: datetime
    keepalive: KeepaliveBeat | None = None
    """A keepalive received after it and written with it (its time, and its source as the
    device's address), as the separate keepalive update would have left the row."""


@dataclass(frozen=True, slots=True)
class DeviceInfoData:
    """A DeviceInfo answer to store (see `DeviceRepository.set_infos`)."""

    device_id: str
    name: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    channel_count: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class CatalogReplacement:
    """A complete catalog answer to store (see `ChannelRepository.replace_catalogs`)."""

    device_id: str
    items: tuple[ChannelData, ...]
    at: datetime
    sum_num: int | None
    """None: the number of distinct items."""
    received: int | None
    """Items that arrived (duplicates included); None: the number of distinct items."""


@dataclass(frozen=True, slots=True)
class KeepaliveBeat:
    """One received keepalive: who, when, and from which source address."""

    device_id: str
    at: datetime
    remote_host: str
    remote_port: int


@dataclass(frozen=True, slots=True)
class ChannelData:
    """One catalog item as the device sent it (A.2.1 g itemType; Info children inlined).

    Free-text values are kept as received; `extra` holds Info children we do not model.
    """

    channel_id: str
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    owner: str | None = None
    civil_code: str | None = None
    block: str | None = None
    address: str | None = None
    parental: int | None = None
    parent_id: str | None = None  # raw: may hold several IDs separated by '/'
    safety_way: int | None = None
    register_way: int | None = None
    cert_num: str | None = None
    certifiable: int | None = None
    err_code: int | None = None
    end_time: str | None = None
    secrecy: int | None = None
    ip_address: str | None = None
    port: int | None = None
    password: str | None = field(default=None, repr=False)
    status: str | None = None  # ON / OFF (some firmwares: ONLINE / OFFLINE / OK)
    longitude: float | None = None
    latitude: float | None = None
    ptz_type: int | None = None
    position_type: int | None = None
    room_type: int | None = None
    use_type: int | None = None
    supply_light_type: int | None = None
    direction_type: int | None = None
    resolution: str | None = None
    business_group_id: str | None = None
    download_speed: str | None = None
    svc_space_support_mode: int | None = None
    svc_time_support_mode: int | None = None
    stream_number_list: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < len(self.channel_id) <= MAX_ID_LENGTH:
            raise ValueError(f"catalog item ID must be 1..20 characters: {self.channel_id!r}")

    @property
    def reports_online(self) -> bool:
        """Whether the item's own Status says it works."""
        return (self.status or "").strip().upper() in ONLINE_STATUS_VALUES


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """A persisted catalog item of one device plus what the platform derived from it."""

    device_id: str
    data: ChannelData
    kind: ItemKind
    tree_parent_id: str  # resolved parent node within the device's tree, else the device ID
    is_online: bool
    created_at: datetime
    updated_at: datetime

    @property
    def channel_id(self) -> str:
        return self.data.channel_id

    @property
    def name(self) -> str | None:
        return self.data.name


@dataclass(frozen=True, slots=True)
class ChannelNode:
    """One node of a device's catalog tree; children are sorted by kind, then ID."""

    record: ChannelRecord
    children: tuple[ChannelNode, ...]


@dataclass(frozen=True, slots=True)
class CatalogDiff:
    """What a catalog write changed: item IDs added, updated and removed."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
