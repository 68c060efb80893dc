"""One catalog entry (`itemType`) of a GB/T 28181 catalog response or notification.

Owns `CatalogItem` with every `itemType` field of GB/T 28181-2016 A.2.1 g (plus the common
2022 `<Info>` additions), the channel `Status` (`ChannelStatus`) and the catalog NOTIFY
`Event` (`CatalogEvent`, 2016 A.2.5 / reference §5.3). Items may be administrative
divisions whose ID is a 2/4/6/8-digit civil code, so `device_id` stays a string and
`node_id`/`gb_id` give the parsed form when there is one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from farmwatch.sipserver.gb.ids import CatalogNodeId, CivilCode, GbId, parse_catalog_node_id


class ChannelStatus(enum.StrEnum):
    """Item `Status`: ON (在线) or OFF (离线); ONLINE/OK and OFFLINE are normalised."""

    ON = "ON"
    OFF = "OFF"

    @classmethod
    def from_wire(cls, text: str | None) -> ChannelStatus | None:
        """ON/ONLINE/OK → ON, OFF/OFFLINE → OFF (any case); anything else → None."""
        if text is None:
            return None
        return _STATUS_WORDS.get(text.strip().upper())


_STATUS_WORDS = {
    "ON": ChannelStatus.ON,
    "ONLINE": ChannelStatus.ON,
    "OK": ChannelStatus.ON,
    "OFF": ChannelStatus.OFF,
    "OFFLINE": ChannelStatus.OFF,
}


class CatalogEvent(enum.StrEnum):
    """`Event` of an item in a catalog NOTIFY (reference §5.3)."""

    ON = "ON"  # went online
    OFF = "OFF"  # went offline
    VLOST = "VLOST"  # video lost
    DEFECT = "DEFECT"  # fault
    ADD = "ADD"  # new item, full fields present
    DEL = "DEL"  # removed
    UPDATE = "UPDATE"  # changed, full fields present

    @classmethod
    def from_wire(cls, text: str | None) -> CatalogEvent | None:
        if text is None:
            return None
        try:
            return cls(text.strip().upper())
        except ValueError:
            return None


def normalise_civil_code(text: str | None) -> str | None:
    """The civil code if it is 2/4/6/8 digits, else None (placeholders, >8-digit codes)."""
    return None if CivilCode.try_parse(text) is None else text


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """One catalog item. Every field but `device_id` is optional (None when absent or invalid).

    `civil_code` (行政区划) is None unless it is a 2/4/6/8-digit code; `civil_code_raw` keeps
    what was sent (placeholders such as "CivilCode", over-long codes). `parent_id` (父设备)
    is kept raw; `parent_ids` splits it on `/`. Numbers that did not parse are None.
    `extra` holds the `<Info>` children this model has no field for, as (name, value).
    """

    device_id: str
    event: CatalogEvent | None = None
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    owner: str | None = None
    civil_code: str | None = None
    civil_code_raw: str | None = None
    block: str | None = None
    address: str | None = None
    parental: bool | None = None
    parent_id: str | None = None
    safety_way: int | None = None
    register_way: int | None = None
    cert_num: str | None = None
    certifiable: bool | None = None
    err_code: int | None = None
    end_time: str | None = None
    secrecy: int | None = None
    ip_address: str | None = None
    port: int | None = None
    password: str | None = None
    status: ChannelStatus | None = None
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
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Built by hand with only `civil_code`: that is also what goes on the wire.
        if self.civil_code_raw is None and self.civil_code is not None:
            object.__setattr__(self, "civil_code_raw", self.civil_code)
        object.__setattr__(self, "civil_code", normalise_civil_code(self.civil_code))

    @property
    def parent_ids(self) -> tuple[str, ...]:
        """`ParentID` split on `/` (parent device and/or virtual organisations), blanks dropped."""
        if self.parent_id is None:
            return ()
        return tuple(part.strip() for part in self.parent_id.split("/") if part.strip())

    @property
    def node_id(self) -> CatalogNodeId | None:
        """The item ID as a `GbId` or `CivilCode`; None when it is neither."""
        return parse_catalog_node_id(self.device_id)

    @property
    def gb_id(self) -> GbId | None:
        """The item ID as a `GbId` when it has 20 digits."""
        return GbId.try_parse(self.device_id)
