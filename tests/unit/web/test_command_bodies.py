"""Device command and answered PTZ bodies (issue 12): strict, a 400 naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.services.device_command_service import (
    AlarmResetCommand,
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
from farmwatch.web.command_bodies import command_from_body, home_from_body, precise_from_body

CHANNEL = "34020000001310000001"


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ({"command": "teleboot"}, TeleBootCommand()),
        ({"command": "iframe", "channel_id": CHANNEL}, IFrameCommand()),
        ({"command": "record"}, RecordCommand(start=True)),
        ({"command": "stop_record"}, RecordCommand(start=False)),
        ({"command": "set_guard"}, GuardCommand(arm=True)),
        ({"command": "reset_guard"}, GuardCommand(arm=False)),
        ({"command": "reset_alarm"}, AlarmResetCommand()),
        ({"command": "reset_alarm", "method": 2, "alarm_type": None}, AlarmResetCommand(2)),
        (
            {"command": "drag_zoom_out", "length": 800, "width": 600, "mid_x": 400,
             "mid_y": 300, "length_x": 80, "length_y": 60},
            DragZoomCommand(False, 800, 600, 400, 300, 80, 60),
        ),
    ],
)  # fmt: skip
def test_commands(body: dict[str, Any], command: object) -> None:
    assert command_from_body(body).command == command


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "command: expected one of teleboot, iframe"),
        ({"command": "TeleBoot"}, "command: expected one of"),
        ({"command": "teleboot", "force": True}, "force: not a field of command teleboot"),
        ({"command": "record", "channel_id": "123"}, "channel_id: expected a 20-digit"),
        ({"command": "record", "channel_id": 3402}, "channel_id: expected a 20-digit"),
        ({"command": "reset_alarm", "method": "2"}, "method: expected an integer 0..99"),
        ({"command": "drag_zoom_in", "length": 10, "width": 10, "mid_x": 11, "mid_y": 1,
          "length_x": 1, "length_y": 1}, "mid_x: expected an integer 0..10"),
        ({"command": "drag_zoom_in", "length": 10}, "width: expected an integer 1..65535"),
    ],
)  # fmt: skip
def test_bad_commands_name_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        command_from_body(body)
    assert str(refused.value).startswith(message)


def test_home_and_precise_positions() -> None:
    assert home_from_body({"action": "home", "enabled": True, "preset": 3}) == (
        HomePositionCommand(True, 0, 3)
    )
    assert precise_from_body({"action": "position", "pan": 10, "tilt": -5.5, "zoom": 2}) == (
        PtzPreciseCommand(10.0, -5.5, 2.0)
    )
    for body, message in (
        ({"action": "home", "enabled": 1}, "enabled: expected true or false"),
        ({"action": "home", "enabled": False, "preset": 256}, "preset: expected an integer"),
        ({"action": "position", "pan": 400, "tilt": 0, "zoom": 1}, "pan: expected a number"),
        ({"action": "position", "pan": 1, "tilt": 0, "zoom": float("nan")}, "zoom: expected"),
        ({"action": "position", "pan": 1, "tilt": 0, "zoom": 1, "x": 1}, "x: not a field"),
    ):
        with pytest.raises(InvalidInput) as refused:
            (home_from_body if body["action"] == "home" else precise_from_body)(body)
        assert str(refused.value).startswith(message), body
