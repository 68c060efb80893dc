"""Device control: PTZ of a channel through its device (gb28181.md §4.8-4.9, §4.14, §11.9;
issue 12 item 1).

`DeviceControlService.ptz(channel_id, action, controller)` finds the device that holds the
channel, encodes the action as PTZCmd (`sipserver.gb.ptz`), and sends a Control/DeviceControl
MESSAGE addressed to the channel (DeviceID and Request-URI both the channel ID) with the
device's charset and a fresh SN. No `<Response>` follows a PTZ command (§11.9): the
device's 200 to the MESSAGE is all there is, so the call returns once it arrives. A
continuous move lasts until a stop, which is just another action. `home_position` (guard
position, answered with a Result), `presets` (PresetQuery), `position` ([2022] PTZPosition)
and `move_to` ([2022] PTZPreciseCtrl) complete it; `queries` asks what the camera keeps
([2022] HomePositionQuery, CruiseTrackListQuery, CruiseTrackQuery, SDCardStatus). Every
steering command first takes the camera's floor (`ControlFloor`: one controller at a time,
a per-camera rate). A device that takes no command in `control_timeout` is a
`DeviceTimeout` naming it (504), one that answers an error status a `DeviceRefused`.
Device-wide commands and configuration are `DeviceCommandService`'s (`commands`). The PTZ
action types are re-exported here so that the web builds them without reaching into the SIP
part.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from farmwatch.platform.errors import ControlLocked, NotSupported
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.services.control_floor import ControlFloor, Controller, FloorSettings
from farmwatch.platform.services.device_command_service import (
    CommandResult,
    DeviceCommandService,
    DeviceTalk,
)
from farmwatch.platform.services.device_state_queries import DeviceStateQueries
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.gb.control_commands import HomePositionCommand, PtzPreciseCommand
from farmwatch.sipserver.gb.manscdp import (
    CmdType,
    PresetEntry,
    PresetQueryResponse,
    PtzCommand,
    PtzPositionResponse,
    ResultCode,
)
from farmwatch.sipserver.gb.manscdp_device import build_preset_query, build_ptz_position_query
from farmwatch.sipserver.gb.ptz import (
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
    encode_ptz_cmd,
)

__all__ = [
    "DEFAULT_CONTROL_PRIORITY",
    "AuxiliarySwitch",
    "CommandResult",
    "Controller",
    "FloorSettings",
    "HomePositionCommand",
    "PresetEntry",
    "PtzPosition",
    "PtzPreciseCommand",
    "CruiseAddPoint",
    "CruiseClear",
    "CruiseDeletePoint",
    "CruiseDwell",
    "CruiseSpeed",
    "CruiseStart",
    "DeviceControlService",
    "FocusDirection",
    "FocusIris",
    "FocusIrisStop",
    "IrisDirection",
    "PanDirection",
    "Preset",
    "PresetOperation",
    "PtzAction",
    "PtzMove",
    "PtzSent",
    "PtzStop",
    "Scan",
    "ScanOperation",
    "ScanSpeed",
    "TiltDirection",
    "ZoomDirection",
]

log = logging.getLogger(__name__)

DEFAULT_CONTROL_PRIORITY = 5  # `<Info><ControlPriority>` as wvp sends it (§4.8, §11.9)


@dataclass(frozen=True, slots=True)
class PtzSent:
    """A PTZ command the device accepted (answered the MESSAGE with 2xx)."""

    channel_id: str
    device_id: str
    ptz_cmd: str  # the 16 hex characters sent in <PTZCmd>


@dataclass(frozen=True, slots=True)
class PtzPosition:
    """[2022] Where the camera points: pan and tilt in degrees, zoom as a factor."""

    channel_id: str
    pan: float | None
    tilt: float | None
    zoom: float | None


class DeviceControlService:
    """Front-end (PTZ) control of channels through their devices."""

    def __init__(
        self,
        access: DeviceAccess,
        channels: ChannelRepository,
        *,
        control_priority: int | None = DEFAULT_CONTROL_PRIORITY,
        answer_timeout: float | None = None,
        floor: ControlFloor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._talk = DeviceTalk(access, channels, answer_timeout=answer_timeout, clock=clock)
        self._control_priority = control_priority
        self.floor = floor or ControlFloor(FloorSettings())
        self._clock = clock
        self.commands = DeviceCommandService(self._talk, control_priority=control_priority)
        self.queries = DeviceStateQueries(self._talk)
        """[2022] What the camera keeps: guard position, cruise tracks, storage cards."""

    def _take(self, channel_id: str, controller: Controller | None, take_over: bool) -> None:
        if controller is not None:
            self.floor.take(channel_id, controller, self._clock(), take_over=take_over)

    async def ptz(
        self,
        channel_id: str,
        action: PtzAction,
        controller: Controller | None = None,
        *,
        take_over: bool = False,
    ) -> PtzSent:
        """Send `action` to the channel: `NotFound` for an unknown channel, `DeviceOffline`
        when its device is offline, `ControlLocked`/`RateLimited` when the camera is held by
        another or steered too fast, `DeviceTimeout`/`DeviceRefused` when the device does
        not take it. `controller` None (the platform itself) skips the floor."""
        device_id = await self._talk.device_of(channel_id)
        self._take(channel_id, controller, take_over)
        code = encode_ptz_cmd(action)
        await self._talk.send_control(
            device_id, channel_id, PtzCommand(code), f"PTZ command {code}",
            control_priority=self._control_priority,
        )  # fmt: skip
        log.info(
            "PTZ %s (%s) sent to channel %s of device %s",
            code, type(action).__name__, channel_id, device_id,
            extra={"device_id": device_id, "channel_id": channel_id, "ptz_cmd": code},
        )  # fmt: skip
        return PtzSent(channel_id, device_id, code)

    async def holder(self, channel_id: str) -> tuple[Controller, float] | None:
        """Who steers the camera now and for how many more seconds (None: free)."""
        await self._talk.channel(channel_id)
        return self.floor.holder(channel_id, self._clock())

    async def release(self, channel_id: str, controller: Controller) -> None:
        """Give the camera back before its hold runs out; `ControlLocked` when another holds
        it (only its holder can give it back)."""
        await self._talk.channel(channel_id)
        held = self.floor.holder(channel_id, self._clock())
        if held is not None and held[0].key != controller.key:
            holder, seconds_left = held
            raise ControlLocked(
                f"camera {channel_id} is being controlled by {holder.name}, not by you",
                holder=holder.name,
                seconds_left=seconds_left,
            )
        self.floor.release(channel_id, controller)

    async def home_position(
        self,
        channel_id: str,
        command: HomePositionCommand,
        controller: Controller | None = None,
        *,
        take_over: bool = False,
    ) -> CommandResult:
        """Set (or switch off) the guard position (看守位); the device answers a Result."""
        device_id = await self._talk.device_of(channel_id)
        self._take(channel_id, controller, take_over)
        return await self._talk.answered_control(
            device_id, channel_id, command, "HomePosition", self._control_priority
        )

    async def presets(self, channel_id: str) -> tuple[PresetEntry, ...]:
        """The channel's presets as its device lists them (PresetQuery, §4.9)."""
        device_id = await self._talk.device_of(channel_id)
        answer: PresetQueryResponse = await self._talk.ask(
            device_id, channel_id, CmdType.PRESET_QUERY,
            lambda sn, charset: build_preset_query(sn, channel_id, charset), "PresetQuery",
        )  # fmt: skip
        return tuple(sorted(answer.presets, key=lambda preset: preset.index))

    async def position(self, channel_id: str) -> PtzPosition:
        """[2022] PTZPosition: `NotSupported` (501) when the device does not answer it (a
        2016 device) or answers it with an error or without a position."""
        device_id = await self._talk.device_of(channel_id)
        answer: PtzPositionResponse = await self._talk.ask_2022(
            device_id, channel_id, CmdType.PTZ_POSITION,
            lambda sn, charset: build_ptz_position_query(sn, channel_id, charset),
            "its PTZ position",
        )  # fmt: skip
        if answer.result is ResultCode.ERROR or answer.pan is None or answer.tilt is None:
            raise NotSupported(
                f"device {device_id} has no precise PTZ position for {channel_id} "
                f"(PTZPosition answered {answer.result or 'without a position'})"
            )
        return PtzPosition(channel_id, answer.pan, answer.tilt, answer.zoom)

    async def move_to(
        self,
        channel_id: str,
        target: PtzPreciseCommand,
        controller: Controller | None = None,
        *,
        take_over: bool = False,
    ) -> PtzPosition:
        """[2022] Absolute positioning: only for a device that reports its position (else
        `NotSupported`), then PTZPreciseCtrl; returns the position it reports after."""
        await self.position(channel_id)
        device_id = await self._talk.device_of(channel_id)
        self._take(channel_id, controller, take_over)
        await self._talk.send_control(
            device_id, channel_id, target, "PTZPreciseCtrl",
            control_priority=self._control_priority,
        )  # fmt: skip
        return await self.position(channel_id)
