"""Request bodies of device commands and the answered PTZ actions, checked strictly into the
platform's typed commands (unknown fields and out-of-range values are `InvalidInput`
naming the field; gb28181.md §4.8; issue 12 items 1-2).

`POST /api/devices/{id}/commands`: `{"command": name, "channel_id"?: a channel of the
device, ...}` with name one of `teleboot`, `iframe`, `record`, `stop_record`, `set_guard`,
`reset_guard`, `reset_alarm` (`method`?, `alarm_type`?), `drag_zoom_in` / `drag_zoom_out`
(`length`, `width`, `mid_x`, `mid_y`, `length_x`, `length_y`: pixels of the viewing window).

PTZ actions answered by the device: `{"action": "home", "enabled": bool, "reset_time"?:
0-86400 s, "preset"?: 0-255}` and `{"action": "position", "pan": 0-360, "tilt": -90..90,
"zoom": ≥ 1}`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.services.device_command_service import (
    AlarmResetCommand,
    DeviceCommand,
    DragZoomCommand,
    GuardCommand,
    IFrameCommand,
    RecordCommand,
    TeleBootCommand,
)
from farmwatch.platform.services.device_control_service import (
    HomePositionCommand,
    PtzPreciseCommand,
)

__all__ = ["DeviceCommandRequest", "command_from_body", "home_from_body", "precise_from_body"]

_Body = Mapping[str, Any]


def _only(body: _Body, what: str, *fields: str) -> None:
    for name in body:
        if name not in fields:
            raise InvalidInput(f"{name}: not a field of {what}")


def _integer(body: _Body, name: str, low: int, high: int, default: int | None = None) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name}: expected an integer {low}..{high}")
    return value


def _optional_integer(body: _Body, name: str, low: int, high: int) -> int | None:
    return None if body.get(name) is None else _integer(body, name, low, high)


def _number(body: _Body, name: str, low: float, high: float) -> float:
    value = body.get(name)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise InvalidInput(f"{name}: expected a number {low:g}..{high:g}")
    return float(value)


def _boolean(body: _Body, name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise InvalidInput(f"{name}: expected true or false")
    return value


def _drag_zoom(zoom_in: bool) -> Callable[[_Body], DeviceCommand]:
    def build(body: _Body) -> DeviceCommand:
        length = _integer(body, "length", 1, 65535)
        width = _integer(body, "width", 1, 65535)
        return DragZoomCommand(
            zoom_in=zoom_in,
            length=length,
            width=width,
            mid_x=_integer(body, "mid_x", 0, length),
            mid_y=_integer(body, "mid_y", 0, width),
            length_x=_integer(body, "length_x", 0, length),
            length_y=_integer(body, "length_y", 0, width),
        )

    return build


_DRAG_FIELDS = ("length", "width", "mid_x", "mid_y", "length_x", "length_y")

_COMMANDS: dict[str, tuple[tuple[str, ...], Callable[[_Body], DeviceCommand]]] = {
    "teleboot": ((), lambda _b: TeleBootCommand()),
    "iframe": ((), lambda _b: IFrameCommand()),
    "record": ((), lambda _b: RecordCommand(start=True)),
    "stop_record": ((), lambda _b: RecordCommand(start=False)),
    "set_guard": ((), lambda _b: GuardCommand(arm=True)),
    "reset_guard": ((), lambda _b: GuardCommand(arm=False)),
    "reset_alarm": (
        ("method", "alarm_type"),
        lambda b: AlarmResetCommand(
            _optional_integer(b, "method", 0, 99), _optional_integer(b, "alarm_type", 0, 999)
        ),
    ),
    "drag_zoom_in": (_DRAG_FIELDS, _drag_zoom(True)),
    "drag_zoom_out": (_DRAG_FIELDS, _drag_zoom(False)),
}


@dataclass(frozen=True, slots=True)
class DeviceCommandRequest:
    command: DeviceCommand
    channel_id: str | None


def command_from_body(body: _Body) -> DeviceCommandRequest:
    """The command a `POST /devices/{id}/commands` body asks for."""
    name = body.get("command")
    if not isinstance(name, str) or name not in _COMMANDS:
        raise InvalidInput(f"command: expected one of {', '.join(_COMMANDS)}")
    fields, build = _COMMANDS[name]
    _only(body, f"command {name}", "command", "channel_id", *fields)
    channel_id = body.get("channel_id")
    if channel_id is not None and (
        not isinstance(channel_id, str) or not channel_id.isascii() or not channel_id.isdigit()
        or len(channel_id) != 20
    ):  # fmt: skip
        raise InvalidInput("channel_id: expected a 20-digit channel ID")
    return DeviceCommandRequest(build(body), channel_id)


def home_from_body(body: _Body) -> HomePositionCommand:
    """`{"action": "home", "enabled", "reset_time"?, "preset"?}` (take_over already read)."""
    _only(body, "action home", "action", "take_over", "enabled", "reset_time", "preset")
    return HomePositionCommand(
        enabled=_boolean(body, "enabled"),
        reset_time=_integer(body, "reset_time", 0, 86400, default=0),
        preset_index=_integer(body, "preset", 0, 255, default=0),
    )


def precise_from_body(body: _Body) -> PtzPreciseCommand:
    """`{"action": "position", "pan", "tilt", "zoom"}`."""
    _only(body, "action position", "action", "take_over", "pan", "tilt", "zoom")
    return PtzPreciseCommand(
        _number(body, "pan", 0.0, 360.0),
        _number(body, "tilt", -90.0, 90.0),
        _number(body, "zoom", 1.0, 1000.0),
    )
