"""What a simulated device remembers of the commands it was sent, the way a camera would
(gb28181.md §4.8-4.9; issue 12 item 7): for each channel the PTZ head (pan, tilt and zoom
moving at the commanded speeds until a stop, presets set, called and deleted, the guard
position, [2022] absolute positioning), and for the device its guard (armed or not),
recording state per target, alarm resets, drag zooms, reboots and stored configuration.

[2022] It also keeps what HomePositionQuery, CruiseTrackListQuery, CruiseTrackQuery and
SDCardStatus ask: the guard position, each head's cruise tracks (defined by the PTZCmd
cruise commands: a track per cruise group, numbered by it, its presets in the order added,
one speed and one dwell time for all its points) and the device's storage cards (`sd_cards`,
one healthy card unless a test sets others).

Pure: every change takes `now` (the device's loop time); tests read the state directly
(`SimulatedDevice.control`) as the inspection hook. Four switches make it misbehave on
purpose: `ignores_controls` (take every MESSAGE, act on and answer none),
`answers_ptz_position` (False: a 2016 device that does not know PTZPosition),
`answers_state_queries` (False: likewise for the four queries above) and `refuses_with`
(answer ERROR with that reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from farmwatch.sipserver.gb.control_commands import HomePositionCommand
from farmwatch.sipserver.gb.device_config import BasicParam, ConfigElement, ConfigType
from farmwatch.sipserver.gb.device_state import SdCard, SdCardState
from farmwatch.sipserver.gb.ptz import (
    CruiseAddPoint,
    CruiseClear,
    CruiseDeletePoint,
    CruiseDwell,
    CruiseSpeed,
    FocusIris,
    FocusIrisStop,
    PanDirection,
    Preset,
    PresetOperation,
    PtzAction,
    PtzMove,
    PtzStop,
    TiltDirection,
    ZoomDirection,
)

__all__ = ["CameraHead", "CruiseTrack", "DeviceControlState", "PtzPoint"]

PAN_DEGREES_PER_SECOND = 90.0  # at pan speed 255
TILT_DEGREES_PER_SECOND = 60.0  # at tilt speed 255
ZOOM_PER_SECOND = 4.0  # zoom factor per second at zoom speed 15
TILT_RANGE = (-30.0, 90.0)
ZOOM_RANGE = (1.0, 30.0)
CRUISE_SPEED = 32  # a new track's speed and dwell (seconds), until a PTZCmd sets them
CRUISE_DWELL = 10
MAX_CRUISE_POINTS = 32  # presets one track holds, as cameras limit it


@dataclass(frozen=True, slots=True)
class PtzPoint:
    """Where a head points: pan 0-360°, tilt -30..90°, zoom 1-30×."""

    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 1.0

    def rounded(self) -> PtzPoint:
        return PtzPoint(round(self.pan, 2), round(self.tilt, 2), round(self.zoom, 2))


@dataclass(slots=True)
class CruiseTrack:
    """One cruise track (巡航轨迹): presets in the order added, one speed and dwell for all."""

    presets: list[int] = field(default_factory=list)
    speed: int = CRUISE_SPEED
    dwell: int = CRUISE_DWELL
    """Seconds at each preset."""


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


@dataclass(slots=True)
class CameraHead:
    """One channel's PTZ head: a point at `since`, moving at constant rates from there."""

    point: PtzPoint = field(default_factory=PtzPoint)
    since: float = 0.0
    pan_rate: float = 0.0
    tilt_rate: float = 0.0
    zoom_rate: float = 0.0
    presets: dict[int, PtzPoint] = field(default_factory=dict)
    home: HomePositionCommand | None = None
    focus_iris_moving: bool = False
    cruises: dict[int, CruiseTrack] = field(default_factory=dict)
    """Cruise tracks by group number (PTZCmd byte 5); listed once they hold a preset, gone
    (speed and dwell with them) when their last preset goes."""

    @property
    def is_moving(self) -> bool:
        return bool(self.pan_rate or self.tilt_rate or self.zoom_rate)

    def position(self, now: float) -> PtzPoint:
        elapsed = max(0.0, now - self.since)
        point = self.point
        return PtzPoint(
            (point.pan + self.pan_rate * elapsed) % 360.0,
            _clamp(point.tilt + self.tilt_rate * elapsed, TILT_RANGE),
            _clamp(point.zoom + self.zoom_rate * elapsed, ZOOM_RANGE),
        ).rounded()

    def _settle(self, now: float) -> None:
        self.point = self.position(now)
        self.since = now

    def move_to(self, point: PtzPoint, now: float) -> None:
        self.point = PtzPoint(
            point.pan % 360.0, _clamp(point.tilt, TILT_RANGE), _clamp(point.zoom, ZOOM_RANGE)
        ).rounded()
        self.since = now
        self.pan_rate = self.tilt_rate = self.zoom_rate = 0.0

    def apply(self, action: PtzAction, now: float) -> None:
        """Act on a decoded PTZCmd (cruise commands define tracks; a cruise or scan is not
        run, and auxiliary switches are only taken)."""
        self._settle(now)
        if isinstance(action, CruiseAddPoint | CruiseDeletePoint | CruiseClear):
            self._edit_cruise(action)
            return
        match action:
            case PtzStop():
                self.pan_rate = self.tilt_rate = self.zoom_rate = 0.0
            case PtzMove():
                self._start_move(action)
            case FocusIris():
                self.focus_iris_moving = True
            case FocusIrisStop():
                self.focus_iris_moving = False
            case Preset(operation=PresetOperation.SET, index=index):
                self.presets[index] = self.position(now)
            case Preset(operation=PresetOperation.CALL, index=index):
                if index in self.presets:
                    self.move_to(self.presets[index], now)
            case Preset(operation=PresetOperation.DELETE, index=index):
                self.presets.pop(index, None)
            case CruiseSpeed(group=group, speed=speed):
                self.cruises.setdefault(group, CruiseTrack()).speed = speed
            case CruiseDwell(group=group, seconds=seconds):
                self.cruises.setdefault(group, CruiseTrack()).dwell = seconds
            case _:
                pass

    def _edit_cruise(self, action: CruiseAddPoint | CruiseDeletePoint | CruiseClear) -> None:
        track = self.cruises.setdefault(action.group, CruiseTrack())
        match action:
            case CruiseAddPoint(preset=preset) if len(track.presets) < MAX_CRUISE_POINTS:
                track.presets.append(preset)
            case CruiseDeletePoint(preset=preset) if preset in track.presets:
                track.presets.remove(preset)
            case CruiseClear():
                track.presets.clear()
        if not track.presets:
            del self.cruises[action.group]  # an empty track is no track (speed forgotten)

    def _start_move(self, move: PtzMove) -> None:
        pan = PAN_DEGREES_PER_SECOND * move.pan_speed / 255
        tilt = TILT_DEGREES_PER_SECOND * move.tilt_speed / 255
        zoom = ZOOM_PER_SECOND * move.zoom_speed / 15
        self.pan_rate = {PanDirection.RIGHT: pan, PanDirection.LEFT: -pan, None: 0.0}[move.pan]
        self.tilt_rate = {TiltDirection.UP: tilt, TiltDirection.DOWN: -tilt, None: 0.0}[move.tilt]
        self.zoom_rate = {ZoomDirection.IN: zoom, ZoomDirection.OUT: -zoom, None: 0.0}[move.zoom]


@dataclass(slots=True)
class DeviceControlState:
    """Everything the device was told, for tests to read (and two misbehaviour switches)."""

    heads: dict[str, CameraHead] = field(default_factory=dict)
    guard_armed: bool = False
    recording: dict[str, bool] = field(default_factory=dict)
    """Per target (device or channel): started by RecordCmd Record, stopped by StopRecord."""
    alarm_resets: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    drag_zooms: list[tuple[str, bool, int, int]] = field(default_factory=list)
    """(channel, zoom in, centre x, centre y) of each DragZoomIn/Out."""
    reboots: int = 0
    config: dict[str, ConfigElement] = field(default_factory=dict)
    """Each configuration family as last written (ConfigType value → tree)."""
    received: list[tuple[str, str]] = field(default_factory=list)
    """(target, command name) of every DeviceControl and DeviceConfig, in order."""
    sd_cards: list[SdCard] = field(
        default_factory=lambda: [
            SdCard(1, "SD卡1", SdCardState.OK, capacity_mb=59640, free_mb=31880)
        ]
    )
    """What SDCardStatus reports."""
    ignores_controls: bool = False
    answers_ptz_position: bool = True
    answers_state_queries: bool = True
    refuses_with: str | None = None
    """When set, every answered control and DeviceConfig is refused: `Result` ERROR with this
    `Reason`, and nothing changes."""

    def head(self, channel_id: str) -> CameraHead:
        return self.heads.setdefault(channel_id, CameraHead())

    def configure(self, block: ConfigElement) -> None:
        """Store a family; BasicParam fields merge into what the device had."""
        config_type = ConfigType.from_wire(block.name)
        name = config_type.value if config_type is not None else block.name
        if config_type is ConfigType.BASIC_PARAM and name in self.config:
            merged = {c.name.casefold(): c for c in self.config[name].children}
            merged.update({c.name.casefold(): c for c in block.children})
            block = ConfigElement(name, None, tuple(merged.values()))
        self.config[name] = ConfigElement(name, block.text, block.children)

    def basic_param(self) -> BasicParam:
        stored = self.config.get(ConfigType.BASIC_PARAM.value)
        return BasicParam() if stored is None else BasicParam.from_element(stored)
