"""Simulated device and channel identities and their catalog items (GB/T 28181 Annex D, A.2.1 g).

Owns the numbering of the simulator: device IDs `<10-digit domain><118|132>0<serial>`
(an NVR when it has several channels, an IPC when it has one) and channel IDs of type 131
derived from the device ID, unique across a fleet whose devices use consecutive serials;
and the catalog items a device reports (reference §4.4): names of a farm's key areas
(场区入口, 药库, 料库, 药品配置间, 饲料投放处, 畜禽舍) with an index, `ParentID` = the device,
`Status` ON, plausible coordinates and `<Info>`. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

from farmwatch.sipserver.gb.catalog_item import CatalogItem, ChannelStatus
from farmwatch.sipserver.gb.ids import GbId

KEY_AREAS = ("场区入口", "药库", "料库", "药品配置间", "饲料投放处", "畜禽舍")
"""The monitored key areas of a farm (the regulation's wording), in catalog order."""

INDOOR_AREAS = frozenset({"药库", "料库", "药品配置间", "畜禽舍"})

MANUFACTURER = "farmwatch"
_BASE_LONGITUDE = 117.2830
_BASE_LATITUDE = 31.8612
_MAX_SERIAL = 999_999


class DeviceType(IntEnum):
    """The type codes (Annex D table D.1) the simulator registers as."""

    NVR = 118
    IPC = 132


CHANNEL_TYPE = 131
"""Camera (摄像机): the type of every simulated channel."""


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """What a simulated device says about itself in DeviceInfo and its catalog."""

    device_id: str
    device_type: DeviceType
    name: str
    model: str
    firmware: str = "V1.0.0"
    manufacturer: str = MANUFACTURER


def id_prefix(domain: str | None, server_id: str) -> str:
    """The 10 digits device IDs start with: `domain` when it is 10 digits, else the server's."""
    if domain is not None and len(domain) == 10 and domain.isascii() and domain.isdigit():
        return domain
    return server_id[:10]


def device_type_for(channels: int) -> DeviceType:
    return DeviceType.IPC if channels == 1 else DeviceType.NVR


def device_ids(prefix: str, count: int, *, first_serial: int = 1, channels: int = 1) -> list[str]:
    """`count` device IDs with consecutive serials from `first_serial`."""
    if len(prefix) != 10 or not prefix.isdigit():
        raise ValueError(f"ID prefix must be 10 digits, got {prefix!r}")
    last = first_serial + count - 1
    if first_serial < 0 or last > _MAX_SERIAL:
        raise ValueError(f"device serials {first_serial}..{last} do not fit in 6 digits")
    type_code = device_type_for(channels).value
    return [f"{prefix}{type_code}0{serial:06d}" for serial in range(first_serial, last + 1)]


def channel_id(device_id: str, index: int, channels_per_device: int) -> str:
    """The ID of channel `index` (0-based): type 131, numbered `serial × channels + index`.

    Devices with consecutive serials and the same channel count get disjoint channel IDs
    (up to 10^7 channels, the network digit holding the seventh digit). A single-channel
    IPC's channel keeps the device's serial, as real IPCs do.
    """
    gb_id = GbId.parse(device_id)
    if not 0 <= index < channels_per_device:
        raise ValueError(f"channel index {index} outside 0..{channels_per_device - 1}")
    number = (int(gb_id.serial) * channels_per_device + index) % 10_000_000
    return f"{gb_id.domain}{CHANNEL_TYPE}{number // 1_000_000}{number % 1_000_000:06d}"


def channel_name(index: int) -> str:
    """`场区入口1号`, `药库1号`, ... cycling over the key areas."""
    area = KEY_AREAS[index % len(KEY_AREAS)]
    return f"{area}{index // len(KEY_AREAS) + 1}号"


def build_channels(device_id: str, count: int, *, model: str = "SIM-CAM") -> list[CatalogItem]:
    """The catalog items of a device with `count` channels, all ON."""
    civil_code = device_id[:6]
    items: list[CatalogItem] = []
    for index in range(count):
        area = KEY_AREAS[index % len(KEY_AREAS)]
        items.append(
            CatalogItem(
                device_id=channel_id(device_id, index, count),
                name=channel_name(index),
                manufacturer=MANUFACTURER,
                model=model,
                owner="Owner",
                civil_code=civil_code,
                address=area,
                parental=False,
                parent_id=device_id,
                safety_way=0,
                register_way=1,
                secrecy=0,
                status=ChannelStatus.ON,
                longitude=round(_BASE_LONGITUDE + (index % 40) * 0.0001, 6),
                latitude=round(_BASE_LATITUDE + (index // 40) * 0.0001, 6),
                ptz_type=3,
                room_type=2 if area in INDOOR_AREAS else 1,
                use_type=3,
                download_speed="1/2/4",
            )
        )
    return items


def device_profile(device_id: str, channels: int) -> DeviceProfile:
    device_type = device_type_for(channels)
    serial = GbId.parse(device_id).serial
    return DeviceProfile(
        device_id=device_id,
        device_type=device_type,
        name=f"模拟{device_type.name}-{serial}",
        model=f"SIM-{device_type.name}",
    )


class ChannelTable:
    """A device's channels in catalog order; the only mutable state is each channel's status."""

    def __init__(self, items: list[CatalogItem]) -> None:
        self._items = list(items)
        self._index = {item.device_id: position for position, item in enumerate(self._items)}

    @property
    def items(self) -> tuple[CatalogItem, ...]:
        return tuple(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, channel_id: object) -> bool:
        return channel_id in self._index

    def set_status(self, channel: int | str, status: ChannelStatus) -> CatalogItem:
        """Set a channel's status by position or ID; returns the updated item."""
        position = channel if isinstance(channel, int) else self._index.get(channel)
        if position is None or not 0 <= position < len(self._items):
            raise KeyError(f"no channel {channel!r}")
        item = replace(self._items[position], status=status)
        self._items[position] = item
        return item
