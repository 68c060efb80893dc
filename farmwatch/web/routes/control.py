"""Device control over HTTP (gb28181.md §4.8-4.9; issue 12 items 1-2).

Cameras (signed-in users with the camera's grant): `POST /api/channels/{id}/ptz`,
`GET|DELETE /api/channels/{id}/ptz` (who holds the camera; give it back),
`GET /api/channels/{id}/presets` (PresetQuery), `GET /api/channels/{id}/ptz/position`
([2022] PTZPosition; 501 when the device does not report it). Devices (administrators):
`POST /api/devices/{id}/commands` (`web/command_bodies.py`), `GET /api/devices/{id}/config
?types=BasicParam,...` (ConfigDownload) and `PUT /api/devices/{id}/config` (DeviceConfig).
A device that takes nothing in `registrar.control_timeout` is a 504 naming the command; an
answered command gives the device's `result` (OK, or ERROR with its `reason` as a 502).

PTZ: one JSON object per command, checked strictly (unknown fields and out-of-range values
are a 400 naming the field); any body may add `"take_over": true` (an administrator takes
the camera from its current controller). The camera stays with whoever sent the last
command for 30 s: anyone else gets 409 `{"error", "holder", "seconds_left"}`; more than 10
commands a second per camera get 429 with `Retry-After`. A PTZCmd is answered 202
`{"channel_id", "device_id", "ptz_cmd"}` once the device accepted the MESSAGE (a PTZ command
has no other answer). Bodies:

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
- `{"action": "aux", "switch": 0-255 (1 = wiper), "on": true|false}`;
- `{"action": "home", "enabled": bool, "reset_time"?: s, "preset"?: 0-255}`: the guard
  position (HomePosition), answered `{"result", "reason"}`;
- `{"action": "position", "pan": 0-360, "tilt": -90..90, "zoom": >= 1}`: [2022] absolute
  positioning (PTZPreciseCtrl), 501 for a device that does not report its position, else
  the position it reports after.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from farmwatch.platform.access import Principal
from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.services.device_command_service import (
    CommandResult,
    ConfigType,
    config_blocks,
    config_to_mapping,
)
from farmwatch.platform.services.device_control_service import (
    AuxiliarySwitch,
    Controller,
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
from farmwatch.web.authorization import PRINCIPAL
from farmwatch.web.bodies import json_object
from farmwatch.web.command_bodies import command_from_body, home_from_body, precise_from_body
from farmwatch.web.keys import DEVICE_CONTROL, DEVICE_SERVICE

__all__ = ["ptz_action_from_body", "routes"]

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


def _controller(request: web.Request) -> Controller | None:
    """Who steers: the signed-in principal (None where no authorisation runs: tests)."""
    principal: Principal | None = request.get(PRINCIPAL)
    if principal is None:
        return None
    key = (
        f"token:{principal.token_id}"
        if principal.token_id is not None
        else (f"user:{principal.user_id}")
    )
    return Controller(key, principal.name, principal.is_administrator)


def _result_response(result: CommandResult, **extra: object) -> web.Response:
    body: dict[str, object] = {
        "command": result.command,
        "device_id": result.device_id,
        "target_id": result.target_id,
        "result": result.result,
        "reason": result.reason,
        **extra,
    }
    if result.is_ok:
        return web.json_response(body)
    reason = f": {result.reason}" if result.reason else ""
    body["error"] = f"device {result.device_id} answered {result.command} with ERROR{reason}"
    return web.json_response(body, status=502)


@routes.post("/channels/{channel_id}/ptz")
async def ptz(request: web.Request) -> web.Response:
    body = await json_object(request, '{"action", ...}')
    take_over = body.pop("take_over", False)
    if not isinstance(take_over, bool):
        raise InvalidInput("take_over: expected true or false")
    channel_id = request.match_info["channel_id"]
    control = request.app[DEVICE_CONTROL]
    controller = _controller(request)
    if body.get("action") == "home":
        command = home_from_body(body)
        result = await control.home_position(channel_id, command, controller, take_over=take_over)
        return _result_response(result, channel_id=channel_id)
    if body.get("action") == "position":
        target = precise_from_body(body)
        position = await control.move_to(channel_id, target, controller, take_over=take_over)
        return web.json_response(
            {"channel_id": channel_id, "pan": position.pan, "tilt": position.tilt,
             "zoom": position.zoom}
        )  # fmt: skip
    action = ptz_action_from_body(body)
    sent = await control.ptz(channel_id, action, controller, take_over=take_over)
    return web.json_response(
        {"channel_id": sent.channel_id, "device_id": sent.device_id, "ptz_cmd": sent.ptz_cmd},
        status=202,
    )


@routes.get("/channels/{channel_id}/ptz")
async def ptz_holder(request: web.Request) -> web.Response:
    """Who steers the camera now: `{"holder": name or null, "seconds_left", "is_mine"}`."""
    channel_id = request.match_info["channel_id"]
    held = await request.app[DEVICE_CONTROL].holder(channel_id)
    controller = _controller(request)
    if held is None:
        return web.json_response(
            {"channel_id": channel_id, "holder": None, "seconds_left": None, "is_mine": False}
        )
    holder, seconds_left = held
    return web.json_response(
        {"channel_id": channel_id, "holder": holder.name, "seconds_left": round(seconds_left, 1),
         "is_mine": controller is not None and controller.key == holder.key}
    )  # fmt: skip


@routes.delete("/channels/{channel_id}/ptz")
async def ptz_release(request: web.Request) -> web.Response:
    """Give the camera back now (204); 409 when someone else holds it."""
    controller = _controller(request)
    if controller is not None:
        await request.app[DEVICE_CONTROL].release(request.match_info["channel_id"], controller)
    return web.Response(status=204)


@routes.get("/channels/{channel_id}/presets")
async def presets(request: web.Request) -> web.Response:
    channel_id = request.match_info["channel_id"]
    found = await request.app[DEVICE_CONTROL].presets(channel_id)
    return web.json_response(
        {"channel_id": channel_id,
         "presets": [{"index": preset.index, "name": preset.name} for preset in found]}
    )  # fmt: skip


@routes.get("/channels/{channel_id}/ptz/position")
async def ptz_position(request: web.Request) -> web.Response:
    position = await request.app[DEVICE_CONTROL].position(request.match_info["channel_id"])
    return web.json_response(
        {"channel_id": position.channel_id, "pan": position.pan, "tilt": position.tilt,
         "zoom": position.zoom}
    )  # fmt: skip


async def _known_device(request: web.Request) -> str:
    """The path's device; `NotFound` (404) for one the platform does not know, which is not
    an offline one (503)."""
    device_id = request.match_info["device_id"]
    await request.app[DEVICE_SERVICE].get_device(device_id)
    return device_id


@routes.post("/devices/{device_id}/commands")
async def device_command(request: web.Request) -> web.Response:
    body = await json_object(request, '{"command", "channel_id"?, ...}')
    wanted = command_from_body(body)
    commands = request.app[DEVICE_CONTROL].commands
    result = await commands.send(await _known_device(request), wanted.command, wanted.channel_id)
    return _result_response(result)


def _config_types(text: str) -> list[ConfigType]:
    types: list[ConfigType] = []
    for name in (part.strip() for part in text.split(",")):
        config_type = ConfigType.from_wire(name)
        if config_type is None:
            known = ", ".join(member.value for member in ConfigType)
            raise InvalidInput(f"types: {name[:40]!r} is not a configuration family ({known})")
        if config_type not in types:
            types.append(config_type)
    return types


@routes.get("/devices/{device_id}/config")
async def read_config(request: web.Request) -> web.Response:
    device_id = await _known_device(request)
    types = _config_types(request.query.get("types", ConfigType.BASIC_PARAM.value))
    found = await request.app[DEVICE_CONTROL].commands.read_config(device_id, types)
    config = {
        config_type.value: None if element is None else config_to_mapping(element)
        for config_type, element in found.items()
    }
    return web.json_response({"device_id": device_id, "config": config})


@routes.put("/devices/{device_id}/config")
async def write_config(request: web.Request) -> web.Response:
    body = await json_object(request, '{"BasicParam": {...}, ...}')
    blocks = config_blocks(body)
    device_id = await _known_device(request)
    result = await request.app[DEVICE_CONTROL].commands.write_config(device_id, blocks)
    return _result_response(result, families=[block.name for block in blocks])
