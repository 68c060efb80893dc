"""Device control over HTTP: `POST /api/channels/{id}/ptz` (gb28181.md §4.8; issue 12).

One JSON object per command, checked strictly (unknown fields and out-of-range values are a
400 naming the field); the answer is 202 `{"channel_id", "device_id", "ptz_cmd"}` once the
device accepted the MESSAGE (a PTZ command has no other answer). Bodies:

- `{"action": "move", "pan": "left"|"right"|null, "tilt": "up"|"down"|null,
  "zoom": "in"|"out"|null, "speed": 0-255, "zoom_speed"?: 0-15}`: moves until a stop;
  `speed` drives the moving axes; the zoom speed defaults to `speed` / 16, at least 1 (wvp);
- `{"action": "stop"}`: stops pan, tilt, zoom, cruise and scan;
- `{"action": "focus_iris", "focus": "near"|"far"|null, "iris": "open"|"close"|null,
  "speed": 0-255}` and `{"action": "focus_iris_stop"}`;
- `{"action": "preset", "op": "set"|"call"|"delete", "index": 1-255}`;
- `{"action": "cruise", "op": "add"|"delete", "group": 0-255, "preset": 1-255}`,
  `{"action": "cruise", "op": "clear"|"start", "group"}`,
  `{"action": "cruise", "op": "speed", "group", "speed": 0-4095}`,
  `{"action": "cruise", "op": "dwell", "group", "seconds": 0-4095}`;
- `{"action": "scan", "op": "start"|"left"|"right", "group": 0-255}`,
  `{"action": "scan", "op": "speed", "group", "speed": 0-4095}`;
- `{"action": "aux", "switch": 0-255 (1 = wiper), "on": true|false}`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.services.device_control_service import (
    AuxiliarySwitch,
    CruiseAddPoint,
    CruiseClear,
    CruiseDeletePoint,
    CruiseDwell,
    CruiseSpeed,
    CruiseStart,
    FocusDirection,
    FocusIris,
    FocusIrisStop,
    IrisDirection,
    PanDirection,
    Preset,
    PresetOperation,
    PtzAction,
    PtzMove,
    PtzStop,
    Scan,
    ScanOperation,
    ScanSpeed,
    TiltDirection,
    ZoomDirection,
)
from farmwatch.web.bodies import json_object
from farmwatch.web.keys import DEVICE_CONTROL

__all__ = ["ptz_action_from_body", "routes"]

# Here rather than in web/keys.py until the service is wired into the application.

routes = web.RouteTableDef()

_E = TypeVar("_E", bound=enum.Enum)
_Body = Mapping[str, Any]

_PRESET_OPERATIONS = {
    "set": PresetOperation.SET,
    "call": PresetOperation.CALL,
    "delete": PresetOperation.DELETE,
}
_SCAN_OPERATIONS = {
    "start": ScanOperation.START,
    "left": ScanOperation.SET_LEFT_LIMIT,
    "right": ScanOperation.SET_RIGHT_LIMIT,
}


def _only(body: _Body, action: str, *fields: str) -> None:
    for name in body:
        if name != "action" and name not in fields:
            raise InvalidInput(f"{name}: not a field of action {action}")


def _integer(body: _Body, name: str, low: int, high: int, default: int | None = None) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name}: expected an integer {low}..{high}")
    return value


def _choice(body: _Body, name: str, choices: Mapping[str, _E]) -> _E:
    value = body.get(name)
    if not isinstance(value, str) or value not in choices:
        raise InvalidInput(f"{name}: expected one of {', '.join(choices)}")
    return choices[value]


def _direction(body: _Body, name: str, kind: type[_E]) -> _E | None:
    """An optional direction: absent or null is none."""
    value = body.get(name)
    if value is None:
        return None
    return _choice(body, name, {member.value: member for member in kind})


def _move(body: _Body) -> PtzAction:
    _only(body, "move", "pan", "tilt", "zoom", "speed", "zoom_speed")
    pan = _direction(body, "pan", PanDirection)
    tilt = _direction(body, "tilt", TiltDirection)
    zoom = _direction(body, "zoom", ZoomDirection)
    if pan is None and tilt is None and zoom is None:
        raise InvalidInput("pan, tilt, zoom: a move needs at least one (else action stop)")
    speed = _integer(body, "speed", 0, 0xFF)
    zoom_speed = _integer(body, "zoom_speed", 0, 0xF, default=max(speed, 0x10) >> 4)
    return PtzMove(
        pan=pan,
        tilt=tilt,
        zoom=zoom,
        pan_speed=speed if pan is not None else 0,
        tilt_speed=speed if tilt is not None else 0,
        zoom_speed=zoom_speed if zoom is not None else 0,
    )


def _stop(body: _Body) -> PtzAction:
    _only(body, "stop")
    return PtzStop()


def _focus_iris(body: _Body) -> PtzAction:
    _only(body, "focus_iris", "focus", "iris", "speed")
    focus = _direction(body, "focus", FocusDirection)
    iris = _direction(body, "iris", IrisDirection)
    if focus is None and iris is None:
        raise InvalidInput("focus, iris: needs at least one (else action focus_iris_stop)")
    speed = _integer(body, "speed", 0, 0xFF)
    return FocusIris(
        focus=focus,
        iris=iris,
        focus_speed=speed if focus is not None else 0,
        iris_speed=speed if iris is not None else 0,
    )


def _focus_iris_stop(body: _Body) -> PtzAction:
    _only(body, "focus_iris_stop")
    return FocusIrisStop()


def _preset(body: _Body) -> PtzAction:
    _only(body, "preset", "op", "index")
    return Preset(_choice(body, "op", _PRESET_OPERATIONS), _integer(body, "index", 1, 0xFF))


_CRUISE_OPERATIONS: dict[str, tuple[tuple[str, ...], Callable[[_Body, int], PtzAction]]] = {
    "add": (("preset",), lambda b, group: CruiseAddPoint(group, _integer(b, "preset", 1, 0xFF))),
    "delete": (
        ("preset",),
        lambda b, group: CruiseDeletePoint(group, _integer(b, "preset", 1, 0xFF)),
    ),
    "clear": ((), lambda _b, group: CruiseClear(group)),
    "speed": (("speed",), lambda b, group: CruiseSpeed(group, _integer(b, "speed", 0, 0xFFF))),
    "dwell": (
        ("seconds",),
        lambda b, group: CruiseDwell(group, _integer(b, "seconds", 0, 0xFFF)),
    ),
    "start": ((), lambda _b, group: CruiseStart(group)),
}


def _cruise(body: _Body) -> PtzAction:
    operation = body.get("op")
    if not isinstance(operation, str) or operation not in _CRUISE_OPERATIONS:
        raise InvalidInput(f"op: expected one of {', '.join(_CRUISE_OPERATIONS)}")
    fields, build = _CRUISE_OPERATIONS[operation]
    _only(body, f"cruise {operation}", "op", "group", *fields)
    return build(body, _integer(body, "group", 0, 0xFF))


def _scan(body: _Body) -> PtzAction:
    if body.get("op") == "speed":
        _only(body, "scan speed", "op", "group", "speed")
        return ScanSpeed(_integer(body, "group", 0, 0xFF), _integer(body, "speed", 0, 0xFFF))
    operation = body.get("op")
    if not isinstance(operation, str) or operation not in _SCAN_OPERATIONS:
        raise InvalidInput(f"op: expected one of {', '.join(_SCAN_OPERATIONS)}, speed")
    _only(body, f"scan {operation}", "op", "group")
    return Scan(_SCAN_OPERATIONS[operation], _integer(body, "group", 0, 0xFF))


def _aux(body: _Body) -> PtzAction:
    _only(body, "aux", "switch", "on")
    is_on = body.get("on")
    if not isinstance(is_on, bool):
        raise InvalidInput("on: expected true or false")
    return AuxiliarySwitch(_integer(body, "switch", 0, 0xFF), is_on=is_on)


_ACTIONS: dict[str, Callable[[_Body], PtzAction]] = {
    "move": _move,
    "stop": _stop,
    "focus_iris": _focus_iris,
    "focus_iris_stop": _focus_iris_stop,
    "preset": _preset,
    "cruise": _cruise,
    "scan": _scan,
    "aux": _aux,
}


def ptz_action_from_body(body: _Body) -> PtzAction:
    """The PTZ action a request body asks for; `InvalidInput` naming the first bad field."""
    action = body.get("action")
    if not isinstance(action, str) or action not in _ACTIONS:
        raise InvalidInput(f"action: expected one of {', '.join(_ACTIONS)}")
    return _ACTIONS[action](body)


@routes.post("/channels/{channel_id}/ptz")
async def ptz(request: web.Request) -> web.Response:
    body = await json_object(request, '{"action", ...}')
    action = ptz_action_from_body(body)
    sent = await request.app[DEVICE_CONTROL].ptz(request.match_info["channel_id"], action)
    return web.json_response(
        {"channel_id": sent.channel_id, "device_id": sent.device_id, "ptz_cmd": sent.ptz_cmd},
        status=202,
    )
