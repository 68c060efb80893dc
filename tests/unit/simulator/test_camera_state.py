"""The simulated camera's PTZ head and remembered state (issue 12 item 7), in virtual time."""

from __future__ import annotations

from farmwatch.simulator.camera_state import (
    CRUISE_DWELL,
    MAX_CRUISE_POINTS,
    CameraHead,
    CruiseTrack,
    DeviceControlState,
    PtzPoint,
)
from farmwatch.sipserver.gb.device_config import BasicParam, ConfigElement
from farmwatch.sipserver.gb.ptz import (
    CruiseAddPoint,
    CruiseClear,
    CruiseDeletePoint,
    CruiseDwell,
    CruiseSpeed,
    CruiseStart,
    PanDirection,
    Preset,
    PresetOperation,
    PtzMove,
    PtzStop,
    TiltDirection,
    ZoomDirection,
)


def test_the_head_moves_at_the_commanded_speed_until_a_stop() -> None:
    head = CameraHead()
    head.apply(PtzMove(pan=PanDirection.RIGHT, pan_speed=255), now=0.0)
    assert head.position(1.0) == PtzPoint(90.0, 0.0, 1.0)
    head.apply(PtzStop(), now=2.0)
    assert head.position(10.0) == PtzPoint(180.0, 0.0, 1.0)
    head.apply(PtzMove(pan=PanDirection.LEFT, pan_speed=255), now=10.0)
    assert head.position(13.0).pan == 270.0  # wraps around
    head.apply(PtzMove(tilt=TiltDirection.UP, zoom=ZoomDirection.IN, tilt_speed=255,
                       zoom_speed=15), now=13.0)  # fmt: skip
    assert head.position(100.0) == PtzPoint(270.0, 90.0, 30.0)  # clamped at the stops


def test_presets_are_set_called_and_deleted() -> None:
    head = CameraHead()
    head.apply(PtzMove(pan=PanDirection.RIGHT, pan_speed=255), now=0.0)
    head.apply(PtzStop(), now=0.5)
    head.apply(Preset(PresetOperation.SET, 3), now=1.0)
    head.apply(PtzMove(pan=PanDirection.RIGHT, pan_speed=255), now=1.0)
    head.apply(PtzStop(), now=2.0)
    assert head.position(2.0).pan == 135.0
    head.apply(Preset(PresetOperation.CALL, 3), now=3.0)
    assert head.position(3.0) == PtzPoint(45.0, 0.0, 1.0)
    head.apply(Preset(PresetOperation.DELETE, 3), now=4.0)
    head.apply(Preset(PresetOperation.CALL, 3), now=5.0)  # gone: nothing happens
    assert head.presets == {}


def test_cruise_commands_define_tracks_that_go_with_their_last_preset() -> None:
    head = CameraHead()
    head.apply(CruiseSpeed(2, 300), now=0.0)  # before any preset: kept for the track
    for preset in (5, 3, 5):
        head.apply(CruiseAddPoint(2, preset), now=0.0)
    head.apply(CruiseDwell(2, 45), now=0.0)
    head.apply(CruiseAddPoint(0, 1), now=0.0)
    head.apply(CruiseStart(2), now=0.0)  # a cruise is not run: nothing changes
    assert head.cruises == {2: CruiseTrack([5, 3, 5], 300, 45), 0: CruiseTrack([1])}
    assert head.cruises[0].dwell == CRUISE_DWELL
    head.apply(CruiseDeletePoint(2, 5), now=0.0)
    head.apply(CruiseDeletePoint(2, 9), now=0.0)  # not in the track
    assert head.cruises[2].presets == [3, 5]
    head.apply(CruiseClear(2), now=0.0)
    head.apply(CruiseDeletePoint(0, 1), now=0.0)
    assert head.cruises == {}
    for preset in range(1, MAX_CRUISE_POINTS + 5):
        head.apply(CruiseAddPoint(7, preset), now=0.0)
    assert len(head.cruises[7].presets) == MAX_CRUISE_POINTS


def test_basic_param_writes_merge_into_what_the_device_had() -> None:
    state = DeviceControlState()
    state.configure(BasicParam("cam", 3600, 60, 3).to_element())
    state.configure(ConfigElement("basicparam", None, (ConfigElement("HeartBeatInterval", "30"),)))
    assert state.basic_param() == BasicParam("cam", 3600, 30, 3)
