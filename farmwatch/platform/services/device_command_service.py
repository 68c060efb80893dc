"""Device commands and configuration (gb28181.md §4.8-4.9; issue 12 item 2).

`DeviceCommandService.send(device_id, command, target_id)` sends one DeviceControl
sub-command (TeleBoot, IFameCmd, RecordCmd, GuardCmd, AlarmCmd reset, DragZoomIn/Out) to the
device or one of its channels; the commands the standard answers (Record, Guard, Alarm)
return the device's `Result` and reason, the others return once the device took the
MESSAGE. `write_config` sends Control/DeviceConfig (to the device ID, as Dahua requires)
and returns its Result; `read_config` asks ConfigDownload one family per query (each its
own SN, all at once) and returns what the device reported.

`DeviceTalk` is the one way both this service and PTZ control reach a device: a bounded
wait (`control_timeout`), a device that takes nothing in time is a `DeviceTimeout` naming
the command (504), an error status a `DeviceRefused` (502), an unregistered device a
`DeviceOffline` (503).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from farmwatch.platform.errors import (
    DeviceOffline,
    DeviceRefused,
    DeviceTimeout,
    InvalidInput,
    NotFound,
    NotSupported,
    PlatformError,
)
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.sipserver.device_access import DeviceAccess, DeviceUnavailable, QueryTimeout
from farmwatch.sipserver.errors import SipError, TransactionFailed, TransactionTimeout
from farmwatch.sipserver.gb.control_commands import (
    AlarmResetCommand,
    DragZoomCommand,
    GuardCommand,
    RecordCommand,
    answers_with_result,
)
from farmwatch.sipserver.gb.device_config import (
    BasicParam,
    ConfigElement,
    ConfigError,
    ConfigType,
    config_from_mapping,
    config_to_mapping,
)
from farmwatch.sipserver.gb.manscdp import (
    CmdType,
    ConfigDownloadResponse,
    ControlCommand,
    ControlResponse,
    IFrameCommand,
    TeleBootCommand,
)
from farmwatch.sipserver.gb.manscdp_build import build_device_control
from farmwatch.sipserver.gb.manscdp_device import build_config_download_query, build_device_config
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

__all__ = [
    "AlarmResetCommand",
    "BasicParam",
    "CommandResult",
    "ConfigElement",
    "ConfigType",
    "DeviceCommand",
    "DeviceCommandService",
    "DeviceTalk",
    "DragZoomCommand",
    "GuardCommand",
    "IFrameCommand",
    "RecordCommand",
    "TeleBootCommand",
    "config_blocks",
    "config_to_mapping",
]

log = logging.getLogger(__name__)

DeviceCommand = (
    TeleBootCommand
    | IFrameCommand
    | RecordCommand
    | GuardCommand
    | AlarmResetCommand
    | DragZoomCommand
)

UNANSWERED_MEMORY = 60.0
"""Seconds a device that took a [2022] query and never answered it is answered 501 for that
query without being asked."""

SENT = "sent"
"""`CommandResult.result` of a command the standard does not answer: the device took it."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What the device said: `result` is its `Result` (OK or ERROR), or `sent` for a
    command without an answer; `reason` what it gave with an ERROR."""

    command: str
    device_id: str
    target_id: str
    result: str
    reason: str | None = None

    @property
    def is_ok(self) -> bool:
        return self.result != "ERROR"


class DeviceTalk:
    """Sends controls and queries to a device with one bounded wait and one error mapping."""

    def __init__(
        self,
        access: DeviceAccess,
        channels: ChannelRepository,
        *,
        answer_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.access = access
        self.channels = channels
        self._answer_timeout = answer_timeout
        self._clock = clock
        self._unanswered_2022: dict[tuple[str, CmdType], float] = {}
        """(device, CmdType) → until when a 2022 query it took and never answered is
        answered 501 without asking it again."""

    @property
    def timeout(self) -> float:
        return self._answer_timeout or self.access.settings.control_timeout

    def require_online(self, device_id: str, what: str = "") -> None:
        if not self.access.is_online(device_id):
            raise DeviceOffline(f"device {device_id}{what} is offline")

    def require_2022(self, device_id: str, what: str) -> None:
        """`NotSupported` (501) at once, nothing sent, when the forms we use with the device
        are GB/T 28181-2016 (the lower of its X-GB-Ver and ours): `what` is 2022 only."""
        if not self.access.edition(device_id).has_2022_commands:
            raise NotSupported(
                f"device {device_id} speaks GB/T 28181-2016 (X-GB-Ver below 3.0, or none; "
                f"[registrar] default_gb_version): {what} is GB/T 28181-2022"
            )

    async def channel(self, channel_id: str) -> str:
        """The device holding `channel_id` (online or not); `NotFound` for no such channel."""
        record = await self.channels.get(channel_id)
        if record is None:
            raise NotFound(f"no channel {channel_id}")
        return record.device_id

    async def device_of(self, channel_id: str) -> str:
        """The device holding `channel_id`: `NotFound`, or `DeviceOffline` when offline."""
        device_id = await self.channel(channel_id)
        self.require_online(device_id, f" of channel {channel_id}")
        return device_id

    def _failure(self, error: SipError, device_id: str, target_id: str, what: str) -> PlatformError:
        if isinstance(error, DeviceUnavailable):
            return DeviceOffline(f"device {device_id} is offline ({what} not sent)")
        if isinstance(error, TransactionFailed):
            status = error.response.status
            return DeviceRefused(
                f"device {device_id} refused {what} for {target_id}: "
                f"{status} {error.response.reason}"
            )
        if isinstance(error, QueryTimeout | TransactionTimeout):
            return self._timeout(device_id, target_id, what)
        return DeviceRefused(f"device {device_id}: {what} for {target_id} failed: {error}")

    def _timeout(self, device_id: str, target_id: str, what: str) -> DeviceTimeout:
        return DeviceTimeout(
            f"device {device_id} did not answer {what} for {target_id} within {self.timeout:g} s"
        )

    async def send_control(
        self,
        device_id: str,
        target_id: str,
        command: ControlCommand,
        what: str,
        *,
        control_priority: int | None = None,
    ) -> None:
        """A DeviceControl without an answer: done when the device takes the MESSAGE."""
        body = build_device_control(
            target_id,
            self.access.next_sn(),
            command,
            control_priority=control_priority,
            charset=self.access.charset_for(device_id),
        )
        try:
            async with asyncio.timeout(self.timeout):
                await self.access.send_manscdp(device_id, body, target_id=target_id)
        except TimeoutError:
            log.warning("device %s did not take %s for %s", device_id, what, target_id)
            raise self._timeout(device_id, target_id, what) from None
        except SipError as error:
            raise self._failure(error, device_id, target_id, what) from error

    async def ask(
        self,
        device_id: str,
        target_id: str,
        cmd_type: CmdType,
        body_for_sn: Callable[[int, ManscdpCharset], bytes],
        what: str,
        *,
        unanswered: PlatformError | None = None,
    ) -> Any:
        """A query or answered control; `unanswered` replaces the `DeviceTimeout`."""
        try:
            return await self.access.query(
                device_id, cmd_type, body_for_sn, target_id=target_id, answer_within=self.timeout
            )
        except QueryTimeout as error:
            log.warning("device %s did not answer %s for %s", device_id, what, target_id)
            if unanswered is not None:
                raise unanswered from error
            raise self._timeout(device_id, target_id, what) from error
        except SipError as error:
            raise self._failure(error, device_id, target_id, what) from error

    async def ask_2022(
        self,
        device_id: str,
        target_id: str,
        cmd_type: CmdType,
        body_for_sn: Callable[[int, ManscdpCharset], bytes],
        what: str,
    ) -> Any:
        """A [2022] query (gb28181.md §4.14). `NotSupported` (501): at once when the device
        speaks 2016 (nothing sent), or when it took the MESSAGE and never answered (a device
        that does not know the CmdType), which is then remembered `UNANSWERED_MEMORY`
        seconds so that nobody waits for it again meanwhile. A device that does not even
        take the MESSAGE is a `DeviceTimeout` (504) like any other command."""
        self.require_2022(device_id, cmd_type.value)
        key = (device_id, cmd_type)
        silent_until = self._unanswered_2022.get(key)
        if silent_until is not None and silent_until > self._clock():
            raise NotSupported(
                f"device {device_id} does not answer {cmd_type.value} ({what} of {target_id}; "
                f"{cmd_type.value} is GB/T 28181-2022; it did not answer the last time)"
            )
        try:
            answer = await self.access.query(
                device_id, cmd_type, body_for_sn, target_id=target_id, answer_within=self.timeout
            )
        except QueryTimeout as error:
            log.warning("device %s did not answer %s for %s (MESSAGE taken: %s)",
                        device_id, cmd_type.value, target_id, error.was_taken)  # fmt: skip
            if not error.was_taken:
                raise self._timeout(device_id, target_id, cmd_type.value) from error
            # Asked again at once, such a device would keep every caller waiting.
            self._unanswered_2022[key] = self._clock() + UNANSWERED_MEMORY
            raise NotSupported(
                f"device {device_id} took {cmd_type.value} for {target_id} but did not "
                f"answer it within {self.timeout:g} s: it does not report {what} "
                f"({cmd_type.value} is GB/T 28181-2022)"
            ) from error
        except SipError as error:
            raise self._failure(error, device_id, target_id, cmd_type.value) from error
        self._unanswered_2022.pop(key, None)
        return answer

    async def answered_control(
        self,
        device_id: str,
        target_id: str,
        command: ControlCommand,
        what: str,
        control_priority: int | None,
    ) -> CommandResult:
        answer: ControlResponse = await self.ask(
            device_id, target_id, CmdType.DEVICE_CONTROL,
            lambda sn, charset: build_device_control(
                target_id, sn, command, control_priority=control_priority, charset=charset
            ),
            what,
        )  # fmt: skip
        return _result(what, device_id, target_id, answer)


def _result(what: str, device_id: str, target_id: str, answer: ControlResponse) -> CommandResult:
    result = answer.result.value if answer.result is not None else "ERROR"
    reason = answer.reason if answer.result is not None else "no Result in the answer"
    log.info("device %s answered %s for %s: %s%s", device_id, what, target_id, result,
             f" ({reason})" if reason else "")  # fmt: skip
    return CommandResult(what, device_id, target_id, result, reason)


_COMMAND_NAMES: dict[type, str] = {
    TeleBootCommand: "TeleBoot",
    IFrameCommand: "IFameCmd",
    RecordCommand: "RecordCmd",
    GuardCommand: "GuardCmd",
    AlarmResetCommand: "AlarmCmd",
}


def command_name(command: DeviceCommand) -> str:
    if isinstance(command, DragZoomCommand):
        return "DragZoomIn" if command.zoom_in else "DragZoomOut"
    return _COMMAND_NAMES[type(command)]


def config_blocks(config: Mapping[str, object]) -> list[ConfigElement]:
    """`{"BasicParam": {...}, "FrameMirror": {...}}` as DeviceConfig families, strictly
    (`InvalidInput` naming the field)."""
    if not config:
        raise InvalidInput("expected at least one configuration family")
    try:
        return [config_from_mapping(family, value) for family, value in config.items()]
    except ConfigError as error:
        raise InvalidInput(str(error)) from None


class DeviceCommandService:
    """Device-wide commands and configuration, answered with the device's Result."""

    def __init__(self, talk: DeviceTalk, *, control_priority: int | None = None) -> None:
        self._talk = talk
        self._control_priority = control_priority

    async def send(
        self, device_id: str, command: DeviceCommand, target_id: str | None = None
    ) -> CommandResult:
        """Send `command` to the device, or to `target_id`, one of its channels."""
        talk = self._talk
        talk.require_online(device_id)
        target = target_id or device_id
        if target != device_id:
            record = await talk.channels.get(target)
            if record is None or record.device_id != device_id:
                raise NotFound(f"device {device_id} has no channel {target}")
        what = command_name(command)
        if answers_with_result(command):
            return await talk.answered_control(
                device_id, target, command, what, self._control_priority
            )
        await talk.send_control(
            device_id, target, command, what, control_priority=self._control_priority
        )
        log.info("%s sent to %s of device %s", what, target, device_id)
        return CommandResult(what, device_id, target, SENT)

    async def write_config(self, device_id: str, blocks: Sequence[ConfigElement]) -> CommandResult:
        """Control/DeviceConfig with `blocks`; the device's Result."""
        talk = self._talk
        talk.require_online(device_id)
        names = "/".join(block.name for block in blocks)
        newer = [block.name for block in blocks if not _is_2016_family(block.name)]
        if newer:
            talk.require_2022(device_id, f"DeviceConfig {'/'.join(newer)}")
        answer: ControlResponse = await talk.ask(
            device_id, device_id, CmdType.DEVICE_CONFIG,
            lambda sn, charset: build_device_config(device_id, sn, blocks, charset=charset),
            f"DeviceConfig ({names})",
        )  # fmt: skip
        return _result(f"DeviceConfig ({names})", device_id, device_id, answer)

    async def read_config(
        self, device_id: str, types: Sequence[ConfigType]
    ) -> dict[ConfigType, ConfigElement | None]:
        """ConfigDownload of each family (None: the device answered without it or ERROR)."""
        self._talk.require_online(device_id)
        newer = [t.value for t in types if t not in FAMILIES_2016]
        if newer:
            self._talk.require_2022(device_id, f"ConfigDownload {'/'.join(newer)}")
        answers = await asyncio.gather(*(self._download(device_id, t) for t in types))
        return dict(zip(types, answers, strict=True))

    async def _download(self, device_id: str, config_type: ConfigType) -> ConfigElement | None:
        answer: ConfigDownloadResponse = await self._talk.ask(
            device_id, device_id, CmdType.CONFIG_DOWNLOAD,
            lambda sn, charset: build_config_download_query(sn, device_id, [config_type], charset),
            f"ConfigDownload ({config_type.value})",
        )  # fmt: skip
        wanted = config_type.value.casefold()
        return next((b for b in answer.blocks if b.name.casefold() == wanted), None)


FAMILIES_2016 = frozenset(
    {
        ConfigType.BASIC_PARAM,
        ConfigType.VIDEO_PARAM_OPT,
        ConfigType.SVAC_ENCODE_CONFIG,
        ConfigType.SVAC_DECODE_CONFIG,
    }
)
"""Configuration families of GB/T 28181-2016 (A.2.3 b, A.2.4 f); the others are 2022."""


def _is_2016_family(name: str) -> bool:
    return ConfigType.from_wire(name) in FAMILIES_2016
