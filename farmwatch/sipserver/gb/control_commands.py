"""Typed DeviceControl sub-commands beyond PTZCmd (GB/T 28181-2016 A.2.3 a; 2022 A.2.3;
gb28181.md §4.8): RecordCmd, GuardCmd, AlarmCmd, DragZoomIn/Out, HomePosition and the 2022
PTZPreciseCtrl, each a frozen dataclass that checks its own values when built.

`command_fields(command)` gives the element name and either the text or the child elements
a builder writes; `read_control_command(name, text, children)` reads one back from what a
device or an upper sent (element names matched ignoring case, every value stripped; numbers
that do not parse make the command unreadable, i.e. None). Which of them the device answers
with `Response/DeviceControl` is `answers_with_result` (§4.1: Record, Guard, Alarm reset,
HomePosition). Pure: values in, values out.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "AlarmResetCommand",
    "DragZoomCommand",
    "GuardCommand",
    "HomePositionCommand",
    "PtzPreciseCommand",
    "RecordCommand",
    "TypedControlCommand",
    "alarm_info",
    "answers_with_result",
    "command_fields",
    "read_control_command",
]


class _Word(enum.StrEnum):
    RECORD = "Record"
    STOP_RECORD = "StopRecord"
    SET_GUARD = "SetGuard"
    RESET_GUARD = "ResetGuard"
    RESET_ALARM = "ResetAlarm"


def _check(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name}: expected an integer {low}..{high}, got {value!r}")


def _check_float(name: str, value: float, low: float, high: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise ValueError(f"{name}: expected a number {low:g}..{high:g}, got {value!r}")


@dataclass(frozen=True, slots=True)
class RecordCommand:
    """`RecordCmd` = `Record` (start recording on the device) or `StopRecord`."""

    start: bool


@dataclass(frozen=True, slots=True)
class GuardCommand:
    """`GuardCmd` = `SetGuard` (arm, 布防) or `ResetGuard` (disarm, 撤防)."""

    arm: bool


@dataclass(frozen=True, slots=True)
class AlarmResetCommand:
    """`AlarmCmd` = `ResetAlarm`, optionally for one alarm method and type (`Info`)."""

    method: int | None = None
    alarm_type: int | None = None

    def __post_init__(self) -> None:
        if self.method is not None:
            _check("method", self.method, 0, 99)
        if self.alarm_type is not None:
            _check("alarm_type", self.alarm_type, 0, 999)


@dataclass(frozen=True, slots=True)
class DragZoomCommand:
    """`DragZoomIn`/`DragZoomOut`: zoom onto (or out of) a rectangle drawn on the picture.

    `length` × `width` is the viewing window in pixels, (`mid_x`, `mid_y`) the rectangle's
    centre and `length_x` × `length_y` its size, all in that window's pixels.
    """

    zoom_in: bool
    length: int
    width: int
    mid_x: int
    mid_y: int
    length_x: int
    length_y: int

    def __post_init__(self) -> None:
        _check("length", self.length, 1, 65535)
        _check("width", self.width, 1, 65535)
        _check("mid_x", self.mid_x, 0, self.length)
        _check("mid_y", self.mid_y, 0, self.width)
        _check("length_x", self.length_x, 0, self.length)
        _check("length_y", self.length_y, 0, self.width)


@dataclass(frozen=True, slots=True)
class HomePositionCommand:
    """`HomePosition` (看守位): return to preset `preset_index` after `reset_time` seconds
    without control, when `enabled`."""

    enabled: bool
    reset_time: int = 0
    preset_index: int = 0

    def __post_init__(self) -> None:
        _check("reset_time", self.reset_time, 0, 86400)
        _check("preset_index", self.preset_index, 0, 255)


@dataclass(frozen=True, slots=True)
class PtzPreciseCommand:
    """[2022] `PTZPreciseCtrl`: absolute pan (0-360°), tilt (-90..90°) and zoom (≥ 1)."""

    pan: float
    tilt: float
    zoom: float

    def __post_init__(self) -> None:
        _check_float("pan", self.pan, 0.0, 360.0)
        _check_float("tilt", self.tilt, -90.0, 90.0)
        _check_float("zoom", self.zoom, 1.0, 1000.0)


TypedControlCommand = (
    RecordCommand
    | GuardCommand
    | AlarmResetCommand
    | DragZoomCommand
    | HomePositionCommand
    | PtzPreciseCommand
)

Fields = tuple[tuple[str, str], ...]


def _number(value: float) -> str:
    return f"{value:.2f}"


def command_fields(command: TypedControlCommand) -> tuple[str, str | Fields]:
    """The element name and its text, or its child elements (name, text) in order.

    The Alarm reset's method and type go under `Info`, which the caller writes: they are
    returned by `alarm_info`.
    """
    match command:
        case RecordCommand(start=start):
            return "RecordCmd", (_Word.RECORD if start else _Word.STOP_RECORD).value
        case GuardCommand(arm=arm):
            return "GuardCmd", (_Word.SET_GUARD if arm else _Word.RESET_GUARD).value
        case AlarmResetCommand():
            return "AlarmCmd", _Word.RESET_ALARM.value
        case DragZoomCommand():
            return ("DragZoomIn" if command.zoom_in else "DragZoomOut"), (
                ("Length", str(command.length)),
                ("Width", str(command.width)),
                ("MidPointX", str(command.mid_x)),
                ("MidPointY", str(command.mid_y)),
                ("LengthX", str(command.length_x)),
                ("LengthY", str(command.length_y)),
            )
        case HomePositionCommand():
            return "HomePosition", (
                ("Enabled", "1" if command.enabled else "0"),
                ("ResetTime", str(command.reset_time)),
                ("PresetIndex", str(command.preset_index)),
            )
        case PtzPreciseCommand():
            return "PTZPreciseCtrl", (
                ("Pan", _number(command.pan)),
                ("Tilt", _number(command.tilt)),
                ("Zoom", _number(command.zoom)),
            )


def alarm_info(command: TypedControlCommand) -> Fields:
    """What an alarm reset puts under `Info` (nothing for other commands)."""
    if not isinstance(command, AlarmResetCommand):
        return ()
    fields = (("AlarmMethod", command.method), ("AlarmType", command.alarm_type))
    return tuple((name, str(value)) for name, value in fields if value is not None)


def answers_with_result(command: object) -> bool:
    """Whether the device answers the command with `Response/DeviceControl` (§4.1)."""
    return isinstance(
        command, RecordCommand | GuardCommand | AlarmResetCommand | HomePositionCommand
    )


def _int(texts: Mapping[str, str], name: str) -> int:
    text = texts.get(name.casefold(), "").strip()
    if not text.lstrip("+-").isascii() or not text.lstrip("+-").isdigit():
        raise ValueError(f"{name}: not an integer")
    return int(text)


def _float(texts: Mapping[str, str], name: str) -> float:
    return float(texts.get(name.casefold(), "").strip())


def _optional_int(texts: Mapping[str, str], name: str) -> int | None:
    return _int(texts, name) if name.casefold() in texts else None


def _words(name: str, text: str) -> TypedControlCommand | None:
    word = text.strip().casefold()
    table: dict[tuple[str, str], TypedControlCommand] = {
        ("recordcmd", "record"): RecordCommand(start=True),
        ("recordcmd", "stoprecord"): RecordCommand(start=False),
        ("guardcmd", "setguard"): GuardCommand(arm=True),
        ("guardcmd", "resetguard"): GuardCommand(arm=False),
    }
    return table.get((name, word))


def read_control_command(
    name: str, text: str | None, children: Mapping[str, str], info: Mapping[str, str]
) -> TypedControlCommand | None:
    """The typed command an element holds; None when it is not one of these or unreadable.

    `children` and `info` map the lower-cased names of the element's children and of the
    body's `Info` children to their stripped texts.
    """
    folded = name.casefold()
    try:
        if folded in ("recordcmd", "guardcmd"):
            return _words(folded, text or "")
        if folded == "alarmcmd":
            if (text or "").strip().casefold() != "resetalarm":
                return None
            return AlarmResetCommand(
                _optional_int(info, "AlarmMethod"), _optional_int(info, "AlarmType")
            )
        if folded in ("dragzoomin", "dragzoomout"):
            return DragZoomCommand(
                zoom_in=folded == "dragzoomin",
                length=_int(children, "Length"),
                width=_int(children, "Width"),
                mid_x=_int(children, "MidPointX"),
                mid_y=_int(children, "MidPointY"),
                length_x=_int(children, "LengthX"),
                length_y=_int(children, "LengthY"),
            )
        if folded == "homeposition":
            return HomePositionCommand(
                enabled=_int(children, "Enabled") == 1,
                reset_time=_optional_int(children, "ResetTime") or 0,
                preset_index=_optional_int(children, "PresetIndex") or 0,
            )
        if folded == "ptzprecisectrl":
            return PtzPreciseCommand(
                _float(children, "Pan"), _float(children, "Tilt"), _float(children, "Zoom")
            )
    except ValueError:
        return None
    return None
