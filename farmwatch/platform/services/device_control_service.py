"""Device control: PTZ commands to a channel's device (gb28181.md §4.8, §11.9; issue 12).

`DeviceControlService.ptz(channel_id, action)` finds the device that holds the channel,
encodes the action as PTZCmd (`sipserver.gb.ptz`), and sends a Control/DeviceControl
MESSAGE addressed to the channel (DeviceID and Request-URI both the channel ID) with the
device's charset and a fresh SN. No `<Response>` follows a PTZ command (§11.9): the
device's 200 to the MESSAGE is all there is, so the call returns once it arrives. A
continuous move lasts until a stop, which is just another action. The PTZ action types are
re-exported here so that the web builds them without reaching into the SIP part.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from farmwatch.platform.errors import DeviceOffline, NotFound
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.manscdp import PtzCommand
from farmwatch.sipserver.gb.manscdp_build import build_device_control
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
    "DEFAULT_ANSWER_TIMEOUT",
    "DEFAULT_CONTROL_PRIORITY",
    "AuxiliarySwitch",
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
# A PTZ press is interactive: a device that has not answered in this long is reported to the
# caller instead of holding the request for the whole transaction (64 x T1).
DEFAULT_ANSWER_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class PtzSent:
    """A PTZ command the device accepted (answered the MESSAGE with 2xx)."""

    channel_id: str
    device_id: str
    ptz_cmd: str  # the 16 hex characters sent in <PTZCmd>


class DeviceControlService:
    """Front-end (PTZ) control of channels through their devices."""

    def __init__(
        self,
        access: DeviceAccess,
        channels: ChannelRepository,
        *,
        control_priority: int | None = DEFAULT_CONTROL_PRIORITY,
        answer_timeout: float = DEFAULT_ANSWER_TIMEOUT,
    ) -> None:
        self._access = access
        self._channels = channels
        self._control_priority = control_priority
        self._answer_timeout = answer_timeout

    async def ptz(self, channel_id: str, action: PtzAction) -> PtzSent:
        """Send `action` to the channel; `NotFound` for an unknown channel, `DeviceOffline`
        when its device is offline, refuses the MESSAGE or does not answer in time."""
        record = await self._channels.get(channel_id)
        if record is None:
            raise NotFound(f"no channel {channel_id}")
        device_id = record.device_id
        if not self._access.is_online(device_id):
            raise DeviceOffline(f"device {device_id} of channel {channel_id} is offline")
        code = encode_ptz_cmd(action)
        body = build_device_control(
            channel_id,
            self._access.next_sn(),
            PtzCommand(code),
            control_priority=self._control_priority,
            charset=self._access.charset_for(device_id),
        )
        context = {"device_id": device_id, "channel_id": channel_id, "ptz_cmd": code}
        try:
            async with asyncio.timeout(self._answer_timeout):
                await self._access.send_manscdp(device_id, body, target_id=channel_id)
        except (SipError, TimeoutError) as error:
            reason = str(error) or f"no answer in {self._answer_timeout:g} s"
            log.warning(
                "PTZ %s to channel %s of device %s failed: %s",
                code, channel_id, device_id, reason, extra=context,
            )  # fmt: skip
            raise DeviceOffline(
                f"device {device_id} did not take the PTZ command for {channel_id}: {reason}"
            ) from error
        log.info(
            "PTZ %s (%s) sent to channel %s of device %s",
            code, type(action).__name__, channel_id, device_id, extra=context,
        )  # fmt: skip
        return PtzSent(channel_id, device_id, code)
