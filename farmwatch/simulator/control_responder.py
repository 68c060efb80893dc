"""How a simulated device acts on and answers control and configuration (gb28181.md §4.8-4.9,
§4.14; issue 12 item 7).

`ControlResponder.answer(message, reply_to)` takes what `QueryResponder` parsed (after its
200 OK) and, like a camera: moves the PTZ head of the addressed channel (PTZCmd, [2022]
PTZPreciseCtrl), keeps presets and the guard position, arms or disarms, starts or stops
recording, counts alarm resets and drag zooms, answers those the standard answers with
`Response/DeviceControl` Result OK; stores DeviceConfig families and answers `Result OK`;
answers ConfigDownload one family per message (same SN), PresetQuery from the head's
presets, PTZPosition from its position, [2022] HomePositionQuery, CruiseTrackListQuery,
CruiseTrackQuery and SDCardStatus from the guard position, cruise tracks and storage cards it
keeps (tracks named 巡航轨迹N, N their cruise group); TeleBoot asks the device to reboot.
Everything lands in `DeviceControlState`; a SnapShotConfig also goes to `on_snapshot` (the
pictures are taken and uploaded by `SnapshotUploader`). Returns False for messages that are
not its business.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from farmwatch.simulator.camera_state import DeviceControlState, PtzPoint
from farmwatch.sipserver.gb.control_commands import (
    AlarmResetCommand,
    DragZoomCommand,
    GuardCommand,
    HomePositionCommand,
    PtzPreciseCommand,
    RecordCommand,
    answers_with_result,
)
from farmwatch.sipserver.gb.device_config import BasicParam, ConfigElement, ConfigType
from farmwatch.sipserver.gb.device_state import CruisePoint, CruiseTrackEntry, HomePosition
from farmwatch.sipserver.gb.manscdp import (
    CmdType,
    ConfigDownloadQuery,
    CruiseTrackListQuery,
    CruiseTrackQuery,
    DeviceConfigControl,
    DeviceControl,
    HomePositionQuery,
    ManscdpMessage,
    PresetEntry,
    PresetQuery,
    PtzCommand,
    PtzPositionQuery,
    ResultCode,
    SdCardStatusQuery,
    TeleBootCommand,
)
from farmwatch.sipserver.gb.manscdp_build import build_control_response
from farmwatch.sipserver.gb.manscdp_device import (
    build_config_download_response,
    build_preset_query_response,
    build_ptz_position_response,
)
from farmwatch.sipserver.gb.manscdp_device_state import (
    build_cruise_track_list_response,
    build_cruise_track_response,
    build_home_position_response,
    build_sd_card_status_response,
)
from farmwatch.sipserver.gb.manscdp_snapshot import SnapShotConfig
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset
from farmwatch.sipserver.gb.ptz import PtzCmdError, decode_ptz_cmd

log = logging.getLogger(__name__)

_2022 = ManscdpCharset.GB18030  # the 2022 answers, as a 2022 device writes them


def _track_name(number: int) -> str:
    return f"巡航轨迹{number}"


Send = Callable[[bytes, str | None, str], Coroutine[Any, Any, bool]]
Spawn = Callable[[Coroutine[Any, Any, Any]], object]


class ControlResponder:
    """The device side of DeviceControl, DeviceConfig, ConfigDownload, PresetQuery and
    PTZPosition for one simulated device."""

    def __init__(
        self,
        device_id: str,
        state: DeviceControlState,
        send: Send,
        spawn: Spawn,
        *,
        clock: Callable[[], float],
        on_reboot: Callable[[], object],
        default_basic: BasicParam,
        on_snapshot: Callable[[str, SnapShotConfig], object] | None = None,
    ) -> None:
        self._device_id = device_id
        self.state = state
        self._send = send
        self._spawn = spawn
        self._clock = clock
        self._on_reboot = on_reboot
        self._on_snapshot = on_snapshot
        state.configure(default_basic.to_element())

    def answer(self, message: ManscdpMessage, reply_to: str | None) -> bool:
        match message:
            case DeviceControl() | DeviceConfigControl() if self.state.ignores_controls:
                log.info("device %s: ignoring %s", self._device_id, type(message).__name__)
                self.state.received.append((message.device_id, "ignored"))
            case DeviceControl(device_id=target, sn=sn, command=command):
                return self._control(target, sn, command, reply_to)
            case DeviceConfigControl(device_id=target, sn=sn, blocks=blocks):
                for block in blocks:
                    if self.state.refuses_with is None:
                        self.state.configure(block)
                    self.state.received.append((target, f"DeviceConfig/{block.name}"))
                self._answer_result(target, sn, CmdType.DEVICE_CONFIG, reply_to)
                self._take_snapshots(target, blocks)
            case ConfigDownloadQuery():
                self._spawn(self._send_config(message, reply_to))
            case PresetQuery(device_id=channel, sn=sn):
                head = self.state.head(channel)
                presets = [PresetEntry(i, f"预置点{i}") for i in sorted(head.presets)]
                body = build_preset_query_response(channel, sn, presets)
                self._spawn(self._send(body, reply_to, "PresetQuery"))
            case (
                HomePositionQuery()
                | CruiseTrackListQuery()
                | CruiseTrackQuery()
                | SdCardStatusQuery()
            ):
                if self.state.answers_state_queries:  # else a 2016 device: the 200 OK only
                    what = type(message).__name__.removesuffix("Query")
                    self._spawn(self._send(self._kept_state(message), reply_to, what))
            case PtzPositionQuery(device_id=channel, sn=sn):
                if not self.state.answers_ptz_position:
                    return True  # a 2016 device: the 200 OK and nothing more
                point = self.state.head(channel).position(self._clock())
                body = build_ptz_position_response(channel, sn, point.pan, point.tilt, point.zoom)
                self._spawn(self._send(body, reply_to, "PTZPosition"))
            case _:
                return False
        return True

    def _kept_state(
        self,
        query: HomePositionQuery | CruiseTrackListQuery | CruiseTrackQuery | SdCardStatusQuery,
    ) -> bytes:
        """[2022] The answer from what the device keeps (GB 18030, as a 2022 device writes);
        ERROR with the reason while `refuses_with` is set."""
        reason, target, sn = self.state.refuses_with, query.device_id, query.sn
        if isinstance(query, SdCardStatusQuery):
            cards = [] if reason else self.state.sd_cards
            return build_sd_card_status_response(target, sn, cards, reason=reason, charset=_2022)
        head = self.state.head(target)
        match query:
            case HomePositionQuery():
                home = None if head.home is None else HomePosition(
                    head.home.enabled, head.home.reset_time, head.home.preset_index
                )  # fmt: skip
                return build_home_position_response(target, sn, home, reason=reason, charset=_2022)
            case CruiseTrackListQuery():
                tracks = [
                    CruiseTrackEntry(number, _track_name(number))
                    for number, track in sorted(head.cruises.items())
                    if track.presets and not reason
                ]
                return build_cruise_track_list_response(
                    target, sn, tracks, reason=reason, charset=_2022
                )
        number = query.number if query.number is not None else 0
        track = head.cruises.get(number)
        points = [] if track is None or reason else [
            CruisePoint(preset, track.dwell, track.speed) for preset in track.presets
        ]  # fmt: skip
        return build_cruise_track_response(
            target, sn, number, _track_name(number), points, reason=reason, charset=_2022
        )

    def _take_snapshots(self, target: str, blocks: tuple[ConfigElement, ...]) -> None:
        """A SnapShotConfig among the families: take and upload the pictures (after the
        answer, as a camera does)."""
        if self.state.refuses_with is not None or self._on_snapshot is None:
            return
        for block in blocks:
            if ConfigType.from_wire(block.name) is ConfigType.SNAPSHOT_CONFIG:
                config = SnapShotConfig.from_element(block)
                if config is None:
                    log.warning("device %s: unreadable SnapShotConfig", self._device_id)
                    continue
                self._on_snapshot(target, config)

    def _control(self, target: str, sn: int, command: object, reply_to: str | None) -> bool:
        state, now = self.state, self._clock()
        if state.refuses_with is not None and answers_with_result(command):
            state.received.append((target, f"refused {type(command).__name__}"))
            self._answer_result(target, sn, CmdType.DEVICE_CONTROL, reply_to)
            return True
        match command:
            case PtzCommand(hex_code=code):
                try:
                    action = decode_ptz_cmd(code).action
                except PtzCmdError as error:
                    log.warning("device %s: bad PTZCmd %s: %s", self._device_id, code, error)
                    return True
                state.head(target).apply(action, now)
                state.received.append((target, f"PTZCmd/{type(action).__name__}"))
                return False  # the query responder keeps its own list of PTZ codes
            case TeleBootCommand():
                state.reboots += 1
                state.received.append((target, "TeleBoot"))
                self._on_reboot()
                return True
            case PtzPreciseCommand(pan=pan, tilt=tilt, zoom=zoom):
                state.head(target).move_to(PtzPoint(pan, tilt, zoom), now)
                state.received.append((target, "PTZPreciseCtrl"))
                return True
            case DragZoomCommand():
                state.drag_zooms.append((target, command.zoom_in, command.mid_x, command.mid_y))
                state.received.append((target, "DragZoom"))
                return True
            case RecordCommand(start=start):
                state.recording[target] = start
            case GuardCommand(arm=arm):
                state.guard_armed = arm
            case AlarmResetCommand(method=method, alarm_type=alarm_type):
                state.alarm_resets.append((target, method, alarm_type))
            case HomePositionCommand():
                state.head(target).home = command
            case _:
                return False
        state.received.append((target, type(command).__name__))
        self._answer_result(target, sn, CmdType.DEVICE_CONTROL, reply_to)
        return True

    def _answer_result(self, target: str, sn: int, cmd_type: CmdType, reply_to: str | None) -> None:
        """Response with Result OK, or ERROR and the reason while `refuses_with` is set."""
        reason = self.state.refuses_with
        result = ResultCode.OK if reason is None else ResultCode.ERROR
        body = build_control_response(target, sn, cmd_type, result, reason=reason)
        self._spawn(self._send(body, reply_to, cmd_type.value))

    async def _send_config(self, query: ConfigDownloadQuery, reply_to: str | None) -> None:
        """One answer per asked family, sharing the query's SN, sent one after another."""
        for name in query.config_types:
            config_type = ConfigType.from_wire(name)
            if config_type is None:
                continue  # a family this device does not know: no answer for it
            block = self.state.config.get(config_type.value) or ConfigElement(config_type.value)
            body = build_config_download_response(query.device_id, query.sn, [block])
            if not await self._send(body, reply_to, f"ConfigDownload {name}"):
                return
