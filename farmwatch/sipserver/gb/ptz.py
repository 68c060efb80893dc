"""PTZCmd: the 8-byte front-end control command of DeviceControl (GB/T 28181-2016 A.3,
unchanged in 2022; gb28181.md §4.8).

A command is one of the typed actions below (pan/tilt/zoom, stop, focus/iris, presets,
cruise, scan, auxiliary switch); `encode_ptz_cmd` writes it as the 16 uppercase hex
characters that `PtzCommand(hex_code)` carries in `<PTZCmd>`, and `decode_ptz_cmd` reads
such characters back into an action for tests and logs. Byte layout: `A5`, `0F` (version
0 and the nibble check), address low 8 bits, instruction, data 1, data 2, data 3 in the high
nibble of byte 7 with the address's high 4 bits in its low nibble, and the sum of the seven
bytes mod 256. The address is not used by GB (the XML DeviceID selects the camera); we send
`01` as wvp does. Opposite directions cannot be expressed by an action; a decoded
instruction carrying both bits of a pair is refused. Pure: values in, text out.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "DEFAULT_ADDRESS",
    "AuxiliarySwitch",
    "CruiseAddPoint",
    "CruiseClear",
    "CruiseDeletePoint",
    "CruiseDwell",
    "CruiseSpeed",
    "CruiseStart",
    "DecodedPtzCmd",
    "FocusDirection",
    "FocusIris",
    "FocusIrisStop",
    "IrisDirection",
    "PanDirection",
    "Preset",
    "PresetOperation",
    "PtzAction",
    "PtzCmdError",
    "PtzMove",
    "PtzStop",
    "Scan",
    "ScanOperation",
    "ScanSpeed",
    "TiltDirection",
    "ZoomDirection",
    "decode_ptz_cmd",
    "encode_ptz_cmd",
]

DEFAULT_ADDRESS = 0x001  # wvp's; libgb28181 sends 0 (gb28181.md §4.8)
_HEADER = 0xA5
_VERSION_AND_CHECK = 0x0F  # version 0, (0xA + 0x5 + 0) mod 16
_FI = 0x40
_MAX_12_BITS = 0xFFF

_D = TypeVar("_D", bound=enum.StrEnum)


class PtzCmdError(ValueError):
    """Text that is not a well-formed PTZCmd (length, header, checksum, instruction)."""


class PanDirection(enum.StrEnum):
    LEFT = "left"
    RIGHT = "right"


class TiltDirection(enum.StrEnum):
    UP = "up"
    DOWN = "down"


class ZoomDirection(enum.StrEnum):
    IN = "in"  # tele
    OUT = "out"  # wide


class FocusDirection(enum.StrEnum):
    NEAR = "near"
    FAR = "far"


class IrisDirection(enum.StrEnum):
    OPEN = "open"
    CLOSE = "close"


class PresetOperation(enum.IntEnum):
    """Instruction codes of the preset commands (A.3.4)."""

    SET = 0x81
    CALL = 0x82
    DELETE = 0x83


class ScanOperation(enum.IntEnum):
    """Data 2 of instruction 0x89 (A.3.6)."""

    START = 0x00
    SET_LEFT_LIMIT = 0x01
    SET_RIGHT_LIMIT = 0x02


# Instruction bits of a PTZ move (A.3.2) and of focus/iris (A.3.3).
_PAN_BITS = {PanDirection.RIGHT: 0x01, PanDirection.LEFT: 0x02}
_TILT_BITS = {TiltDirection.DOWN: 0x04, TiltDirection.UP: 0x08}
_ZOOM_BITS = {ZoomDirection.IN: 0x10, ZoomDirection.OUT: 0x20}
_FOCUS_BITS = {FocusDirection.FAR: 0x01, FocusDirection.NEAR: 0x02}
_IRIS_BITS = {IrisDirection.OPEN: 0x04, IrisDirection.CLOSE: 0x08}

_CRUISE_ADD = 0x84
_CRUISE_DELETE = 0x85
_CRUISE_SPEED = 0x86
_CRUISE_DWELL = 0x87
_CRUISE_START = 0x88
_SCAN = 0x89
_SCAN_SPEED = 0x8A
_AUX_ON = 0x8C
_AUX_OFF = 0x8D


def _check(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name}: expected an integer {low}..{high}, got {value!r}")


@dataclass(frozen=True, slots=True)
class PtzStop:
    """Stop every pan, tilt and zoom movement; also ends a cruise or a scan."""


@dataclass(frozen=True, slots=True)
class PtzMove:
    """Pan, tilt and/or zoom until a stop; speeds 0-255 (pan, tilt) and 0-15 (zoom)."""

    pan: PanDirection | None = None
    tilt: TiltDirection | None = None
    zoom: ZoomDirection | None = None
    pan_speed: int = 0
    tilt_speed: int = 0
    zoom_speed: int = 0

    def __post_init__(self) -> None:
        if self.pan is None and self.tilt is None and self.zoom is None:
            raise ValueError("a PTZ move needs a pan, tilt or zoom direction (else: PtzStop)")
        _check("pan_speed", self.pan_speed, 0, 0xFF)
        _check("tilt_speed", self.tilt_speed, 0, 0xFF)
        _check("zoom_speed", self.zoom_speed, 0, 0xF)


@dataclass(frozen=True, slots=True)
class FocusIrisStop:
    """Stop focus and iris (instruction 0x40)."""


@dataclass(frozen=True, slots=True)
class FocusIris:
    """Drive focus and/or iris until a `FocusIrisStop`; speeds 0-255."""

    focus: FocusDirection | None = None
    iris: IrisDirection | None = None
    focus_speed: int = 0
    iris_speed: int = 0

    def __post_init__(self) -> None:
        if self.focus is None and self.iris is None:
            raise ValueError("a focus/iris command needs a direction (else: FocusIrisStop)")
        _check("focus_speed", self.focus_speed, 0, 0xFF)
        _check("iris_speed", self.iris_speed, 0, 0xFF)


@dataclass(frozen=True, slots=True)
class Preset:
    """Set, call or delete preset `index` (1-255; 0 is reserved)."""

    operation: PresetOperation
    index: int

    def __post_init__(self) -> None:
        _check("index", self.index, 1, 0xFF)


@dataclass(frozen=True, slots=True)
class CruiseAddPoint:
    """Add preset `preset` (1-255) to cruise track `group` (0-255)."""

    group: int
    preset: int

    def __post_init__(self) -> None:
        _check("group", self.group, 0, 0xFF)
        _check("preset", self.preset, 1, 0xFF)


@dataclass(frozen=True, slots=True)
class CruiseDeletePoint:
    """Remove preset `preset` (1-255) from cruise track `group`."""

    group: int
    preset: int

    def __post_init__(self) -> None:
        _check("group", self.group, 0, 0xFF)
        _check("preset", self.preset, 1, 0xFF)


@dataclass(frozen=True, slots=True)
class CruiseClear:
    """Delete the whole cruise track `group` (instruction 0x85 with preset 0)."""

    group: int

    def __post_init__(self) -> None:
        _check("group", self.group, 0, 0xFF)


@dataclass(frozen=True, slots=True)
class CruiseSpeed:
    """The cruise track's speed, 12 bits (0-4095)."""

    group: int
    speed: int

    def __post_init__(self) -> None:
        _check("group", self.group, 0, 0xFF)
        _check("speed", self.speed, 0, _MAX_12_BITS)


@dataclass(frozen=True, slots=True)
class CruiseDwell:
    """How long the cruise stays at each point, seconds in 12 bits (0-4095)."""

    group: int
    seconds: int

    def __post_init__(self) -> None:
        _check("group", self.group, 0, 0xFF)
        _check("seconds", self.seconds, 0, _MAX_12_BITS)


@dataclass(frozen=True, slots=True)
class CruiseStart:
    """Start cruise track `group`; `PtzStop` ends it."""

    group: int

    def __post_init__(self) -> None:
        _check("group", self.group, 0, 0xFF)


@dataclass(frozen=True, slots=True)
class Scan:
    """Start auto-scan, or set its left or right limit, for scan group `group`."""

    operation: ScanOperation
    group: int

    def __post_init__(self) -> None:
        _check("group", self.group, 0, 0xFF)


@dataclass(frozen=True, slots=True)
class ScanSpeed:
    """The scan group's speed, 12 bits (0-4095)."""

    group: int
    speed: int

    def __post_init__(self) -> None:
        _check("group", self.group, 0, 0xFF)
        _check("speed", self.speed, 0, _MAX_12_BITS)


@dataclass(frozen=True, slots=True)
class AuxiliarySwitch:
    """Switch auxiliary device `number` (1 = wiper) on or off."""

    number: int
    is_on: bool

    def __post_init__(self) -> None:
        _check("number", self.number, 0, 0xFF)


PtzAction = (
    PtzStop
    | PtzMove
    | FocusIrisStop
    | FocusIris
    | Preset
    | CruiseAddPoint
    | CruiseDeletePoint
    | CruiseClear
    | CruiseSpeed
    | CruiseDwell
    | CruiseStart
    | Scan
    | ScanSpeed
    | AuxiliarySwitch
)


@dataclass(frozen=True, slots=True)
class DecodedPtzCmd:
    """What a PTZCmd says: the action and the (unused by GB) 12-bit address."""

    action: PtzAction
    address: int


# -- encoding ---------------------------------------------------------------------------

_Fields = tuple[int, int, int, int]  # instruction, data 1, data 2, data 3 (4 bits)


def _bit(table: Mapping[_D, int], direction: _D | None) -> int:
    return 0 if direction is None else table[direction]


def _twelve_bits(instruction: int, group: int, value: int) -> _Fields:
    return instruction, group, value & 0xFF, value >> 8


def _fields(action: PtzAction) -> _Fields:
    match action:
        case PtzStop():
            return 0x00, 0, 0, 0
        case PtzMove():
            bits = (
                _bit(_PAN_BITS, action.pan)
                | _bit(_TILT_BITS, action.tilt)
                | _bit(_ZOOM_BITS, action.zoom)
            )
            return bits, action.pan_speed, action.tilt_speed, action.zoom_speed
        case FocusIrisStop():
            return _FI, 0, 0, 0
        case FocusIris():
            bits = _FI | _bit(_FOCUS_BITS, action.focus) | _bit(_IRIS_BITS, action.iris)
            return bits, action.focus_speed, action.iris_speed, 0
        case Preset(operation=operation, index=index):
            return operation.value, 0, index, 0
        case CruiseAddPoint(group=group, preset=preset):
            return _CRUISE_ADD, group, preset, 0
        case CruiseDeletePoint(group=group, preset=preset):
            return _CRUISE_DELETE, group, preset, 0
        case CruiseClear(group=group):
            return _CRUISE_DELETE, group, 0, 0
        case CruiseSpeed(group=group, speed=speed):
            return _twelve_bits(_CRUISE_SPEED, group, speed)
        case CruiseDwell(group=group, seconds=seconds):
            return _twelve_bits(_CRUISE_DWELL, group, seconds)
        case CruiseStart(group=group):
            return _CRUISE_START, group, 0, 0
        case Scan(operation=operation, group=group):
            return _SCAN, group, operation.value, 0
        case ScanSpeed(group=group, speed=speed):
            return _twelve_bits(_SCAN_SPEED, group, speed)
        case AuxiliarySwitch(number=number, is_on=is_on):
            return (_AUX_ON if is_on else _AUX_OFF), number, 0, 0
    raise TypeError(f"not a PTZ action: {action!r}")  # pragma: no cover - exhaustive


def encode_ptz_cmd(action: PtzAction, *, address: int = DEFAULT_ADDRESS) -> str:
    """The action as the 16 uppercase hex characters of `<PTZCmd>`."""
    _check("address", address, 0, _MAX_12_BITS)
    instruction, data1, data2, data3 = _fields(action)
    frame = [
        _HEADER,
        _VERSION_AND_CHECK,
        address & 0xFF,
        instruction,
        data1,
        data2,
        ((data3 & 0xF) << 4) | (address >> 8),
    ]
    frame.append(sum(frame) & 0xFF)
    return bytes(frame).hex().upper()


# -- decoding ---------------------------------------------------------------------------


def _direction(bits: int, table: Mapping[_D, int], pair: str) -> _D | None:
    found = [direction for direction, bit in table.items() if bits & bit]
    if len(found) > 1:
        raise PtzCmdError(f"opposite {pair} directions both set in 0x{bits:02X}")
    return found[0] if found else None


def _decode_move(instruction: int, data1: int, data2: int, data3: int) -> PtzAction:
    if instruction == 0:
        return PtzStop()
    return PtzMove(
        pan=_direction(instruction, _PAN_BITS, "pan"),
        tilt=_direction(instruction, _TILT_BITS, "tilt"),
        zoom=_direction(instruction, _ZOOM_BITS, "zoom"),
        pan_speed=data1,
        tilt_speed=data2,
        zoom_speed=data3,
    )


def _decode_focus_iris(instruction: int, data1: int, data2: int, data3: int) -> PtzAction:
    if instruction == _FI:
        return FocusIrisStop()
    return FocusIris(
        focus=_direction(instruction, _FOCUS_BITS, "focus"),
        iris=_direction(instruction, _IRIS_BITS, "iris"),
        focus_speed=data1,
        iris_speed=data2,
    )


def _decode_preset(instruction: int, data1: int, data2: int, data3: int) -> PtzAction:
    return Preset(PresetOperation(instruction), data2)


def _decode_cruise_delete(instruction: int, data1: int, data2: int, data3: int) -> PtzAction:
    return CruiseClear(data1) if data2 == 0 else CruiseDeletePoint(data1, data2)


def _decode_scan(instruction: int, data1: int, data2: int, data3: int) -> PtzAction:
    try:
        operation = ScanOperation(data2)
    except ValueError:
        raise PtzCmdError(f"unknown scan operation 0x{data2:02X}") from None
    return Scan(operation, data1)


_Decoder = Callable[[int, int, int, int], PtzAction]

_DECODERS: dict[int, _Decoder] = {
    **dict.fromkeys(range(0x00, 0x40), _decode_move),
    **dict.fromkeys(range(0x40, 0x50), _decode_focus_iris),
    **dict.fromkeys(PresetOperation, _decode_preset),
    _CRUISE_ADD: lambda _i, d1, d2, _d3: CruiseAddPoint(d1, d2),
    _CRUISE_DELETE: _decode_cruise_delete,
    _CRUISE_SPEED: lambda _i, d1, d2, d3: CruiseSpeed(d1, d3 << 8 | d2),
    _CRUISE_DWELL: lambda _i, d1, d2, d3: CruiseDwell(d1, d3 << 8 | d2),
    _CRUISE_START: lambda _i, d1, _d2, _d3: CruiseStart(d1),
    _SCAN: _decode_scan,
    _SCAN_SPEED: lambda _i, d1, d2, d3: ScanSpeed(d1, d3 << 8 | d2),
    _AUX_ON: lambda _i, d1, _d2, _d3: AuxiliarySwitch(d1, is_on=True),
    _AUX_OFF: lambda _i, d1, _d2, _d3: AuxiliarySwitch(d1, is_on=False),
}


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def decode_ptz_cmd(hex_code: str) -> DecodedPtzCmd:
    """Read `<PTZCmd>` text (either case); `PtzCmdError` unless it is a valid command.

    Data bytes an instruction does not use are ignored (a stop sent with speeds is a stop).
    """
    text = hex_code.strip()
    if len(text) != 16:
        raise PtzCmdError(f"expected 16 hex characters, got {len(text)}")
    if not all(character in _HEX_DIGITS for character in text):  # fromhex skips spaces
        raise PtzCmdError(f"not hexadecimal: {text!r}")
    frame = bytes.fromhex(text)
    if frame[0] != _HEADER or frame[1] != _VERSION_AND_CHECK:
        raise PtzCmdError(f"expected A50F at the start, got {frame[:2].hex().upper()}")
    if sum(frame[:7]) & 0xFF != frame[7]:
        expected = sum(frame[:7]) & 0xFF
        raise PtzCmdError(f"checksum 0x{frame[7]:02X}, expected 0x{expected:02X}")
    instruction, data1, data2 = frame[3], frame[4], frame[5]
    decoder = _DECODERS.get(instruction)
    if decoder is None:
        raise PtzCmdError(f"unknown instruction 0x{instruction:02X}")
    try:
        action = decoder(instruction, data1, data2, frame[6] >> 4)
    except ValueError as error:  # a value the action refuses, e.g. preset 0
        raise PtzCmdError(str(error)) from None
    return DecodedPtzCmd(action, address=(frame[6] & 0xF) << 8 | frame[2])
