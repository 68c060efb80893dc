"""GB/T 28181 identifiers: the 20-digit code (国标编码) and civil codes (行政区划代码).

Owns `GbId` (coding rule A: centre code, industry code, type code, network code, serial),
the `DeviceKind` derived from its type code, and `CivilCode` (the 2/4/6/8-digit
administrative division codes that appear as catalog item IDs). GB/T 28181-2016 Annex D.1,
table D.1 (type codes), and the `deviceIDType` pattern `\\d{2}|\\d{4}|\\d{6}|\\d{8}|\\d{20}`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

GB_ID_LENGTH = 20
CIVIL_CODE_LENGTHS = frozenset({2, 4, 6, 8})


class GbIdError(ValueError):
    """A string that is not a valid GB/T 28181 identifier; the message says why."""


class DeviceKind(enum.Enum):
    """What a 20-digit ID names, from its type code (digits 11-13, table D.1)."""

    DVR = "dvr"  # 111
    VIDEO_SERVER = "video_server"  # 112
    ENCODER = "encoder"  # 113
    DECODER = "decoder"  # 114
    ALARM_CONTROLLER = "alarm_controller"  # 117
    NVR = "nvr"  # 118
    OTHER_DEVICE = "other_device"  # 115, 116, 119-130 (extended front-end main devices)
    CAMERA = "camera"  # 131: camera, the usual code of NVR/DVR channels
    IPC = "ipc"  # 132
    DISPLAY = "display"  # 133
    ALARM_INPUT = "alarm_input"  # 134
    ALARM_OUTPUT = "alarm_output"  # 135
    AUDIO_INPUT = "audio_input"  # 136
    AUDIO_OUTPUT = "audio_output"  # 137: target of voice broadcast
    MOBILE = "mobile"  # 138: body cams, vehicles
    OTHER_PERIPHERAL = "other_peripheral"  # 139-199
    PLATFORM = "platform"  # 200: central signalling control server (a SIP platform)
    BUSINESS_GROUP = "business_group"  # 215 业务分组
    VIRTUAL_ORGANISATION = "virtual_organisation"  # 216 虚拟组织
    PLATFORM_SERVER = "platform_server"  # 201-214, 217-299
    USER = "user"  # 300-499: centre and terminal users
    APPLICATION_PLATFORM = "application_platform"  # 500-599
    OTHER = "other"  # anything else (000-110, 600-999)


_EXACT_KINDS: dict[int, DeviceKind] = {
    111: DeviceKind.DVR,
    112: DeviceKind.VIDEO_SERVER,
    113: DeviceKind.ENCODER,
    114: DeviceKind.DECODER,
    117: DeviceKind.ALARM_CONTROLLER,
    118: DeviceKind.NVR,
    131: DeviceKind.CAMERA,
    132: DeviceKind.IPC,
    133: DeviceKind.DISPLAY,
    134: DeviceKind.ALARM_INPUT,
    135: DeviceKind.ALARM_OUTPUT,
    136: DeviceKind.AUDIO_INPUT,
    137: DeviceKind.AUDIO_OUTPUT,
    138: DeviceKind.MOBILE,
    200: DeviceKind.PLATFORM,
    215: DeviceKind.BUSINESS_GROUP,
    216: DeviceKind.VIRTUAL_ORGANISATION,
}

# (first, last, kind) for the type codes not listed one by one above.
_RANGE_KINDS: tuple[tuple[int, int, DeviceKind], ...] = (
    (111, 130, DeviceKind.OTHER_DEVICE),
    (131, 199, DeviceKind.OTHER_PERIPHERAL),
    (200, 299, DeviceKind.PLATFORM_SERVER),
    (300, 499, DeviceKind.USER),
    (500, 599, DeviceKind.APPLICATION_PLATFORM),
)

# Strict mode accepts the type codes table D.1 assigns (111-599); 000-110 are unassigned and
# 600-999 are "extension".
_STRICT_TYPE_CODES = range(111, 600)


def device_kind_of(type_code: int) -> DeviceKind:
    """The kind of entity a type code names; unassigned codes give `DeviceKind.OTHER`."""
    exact = _EXACT_KINDS.get(type_code)
    if exact is not None:
        return exact
    for first, last, kind in _RANGE_KINDS:
        if first <= type_code <= last:
            return kind
    return DeviceKind.OTHER


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


@dataclass(frozen=True, slots=True)
class GbId:
    """A 20-digit GB/T 28181 ID such as `34020000001320000001`.

    Layout: centre code (1-8) | industry code (9-10) | type code (11-13) | network code (14) |
    serial (15-20). `str(gb_id)` gives the digits back.
    """

    digits: str

    def __post_init__(self) -> None:
        if len(self.digits) != GB_ID_LENGTH or not _is_ascii_digits(self.digits):
            raise GbIdError(f"GB ID must be exactly 20 ASCII digits, got {self.digits[:40]!r}")

    @classmethod
    def parse(cls, text: str, *, strict: bool = False) -> GbId:
        """Validate exactly 20 ASCII digits; `strict` also requires an assigned type code."""
        gb_id = cls(text)
        if strict and gb_id.type_code not in _STRICT_TYPE_CODES:
            raise GbIdError(f"GB ID {text} has unassigned type code {gb_id.type_code:03d}")
        return gb_id

    @classmethod
    def try_parse(cls, text: str | None) -> GbId | None:
        """The non-strict parse, or None when `text` is not a 20-digit ID."""
        if text is None or len(text) != GB_ID_LENGTH or not _is_ascii_digits(text):
            return None
        return cls(text)

    def __str__(self) -> str:
        return self.digits

    @property
    def centre_code(self) -> str:
        """Digits 1-8: the owning monitoring centre's administrative division (GB/T 2260)."""
        return self.digits[:8]

    @property
    def industry_code(self) -> str:
        """Digits 9-10: industry code (table D.3)."""
        return self.digits[8:10]

    @property
    def type_code(self) -> int:
        """Digits 11-13 as a number, e.g. 132 for an IPC."""
        return int(self.digits[10:13])

    @property
    def network_code(self) -> str:
        """Digit 14: the network the entity sits on."""
        return self.digits[13]

    @property
    def serial(self) -> str:
        """Digits 15-20: the 6-digit serial."""
        return self.digits[14:]

    @property
    def domain(self) -> str:
        """The SIP domain derived from this ID: its first 10 digits (GB/T 28181 §6.1.2)."""
        return self.digits[:10]

    @property
    def kind(self) -> DeviceKind:
        return device_kind_of(self.type_code)

    @property
    def is_platform(self) -> bool:
        """Type 200: a central signalling control server, i.e. a SIP platform."""
        return self.type_code == 200

    @property
    def is_device(self) -> bool:
        """Types 111-130: front-end main devices (DVR, NVR, encoder, ...)."""
        return 111 <= self.type_code <= 130

    @property
    def is_channel_like(self) -> bool:
        """Types 131-199: front-end peripherals, i.e. what a device lists as channels."""
        return 131 <= self.type_code <= 199


@dataclass(frozen=True, slots=True)
class CivilCode:
    """An administrative division code of 2, 4, 6 or 8 digits (province/city/district/unit)."""

    digits: str

    def __post_init__(self) -> None:
        if len(self.digits) not in CIVIL_CODE_LENGTHS or not _is_ascii_digits(self.digits):
            raise GbIdError(
                f"civil code must be 2, 4, 6 or 8 ASCII digits, got {self.digits[:40]!r}"
            )

    @classmethod
    def parse(cls, text: str) -> CivilCode:
        return cls(text)

    @classmethod
    def try_parse(cls, text: str | None) -> CivilCode | None:
        if text is None or len(text) not in CIVIL_CODE_LENGTHS or not _is_ascii_digits(text):
            return None
        return cls(text)

    def __str__(self) -> str:
        return self.digits

    @property
    def level(self) -> int:
        """1 province, 2 city, 3 district/county, 4 grass-roots unit."""
        return len(self.digits) // 2


CatalogNodeId = GbId | CivilCode


def parse_catalog_node_id(text: str | None) -> CatalogNodeId | None:
    """A catalog item ID as a `GbId` or a `CivilCode`; None for anything else (never raises)."""
    return GbId.try_parse(text) or CivilCode.try_parse(text)
