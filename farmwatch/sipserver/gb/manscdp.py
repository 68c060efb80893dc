"""Typed MANSCDP messages: what the XML bodies of GB/T 28181 MESSAGE/NOTIFY requests mean.

Owns the root kinds (`Query`/`Control`/`Notify`/`Response`), the `CmdType` names and one
frozen dataclass per understood message (GB/T 28181-2016 Annex A: A.2.3 control, A.2.4
query, A.2.5 notify, A.2.6 response; reference §4.1-4.8, §4.12, §5.3; the [2022] queries
of §4.14). Anything else becomes an `UnknownMessage`. Parsing lives in `manscdp_parse`,
building in `manscdp_build`.

`sn` is the message's `SN`; a missing or non-numeric `SN` is reported as `MISSING_SN` (0,
never a valid SN). `device_id` is the `DeviceID` text, "" when absent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from farmwatch.sipserver.gb.catalog_item import CatalogItem
from farmwatch.sipserver.gb.control_commands import TypedControlCommand
from farmwatch.sipserver.gb.device_config import ConfigElement
from farmwatch.sipserver.gb.device_state import CruisePoint, CruiseTrackEntry, HomePosition, SdCard

MISSING_SN = 0


class RootKind(enum.StrEnum):
    """The root element: requests are Query/Control/Notify, answers are Response."""

    QUERY = "Query"
    CONTROL = "Control"
    NOTIFY = "Notify"
    RESPONSE = "Response"


class CmdType(enum.StrEnum):
    """`CmdType` values (reference §4.15). Unknown ones are kept as text in `UnknownMessage`."""

    KEEPALIVE = "Keepalive"
    CATALOG = "Catalog"
    DEVICE_INFO = "DeviceInfo"
    DEVICE_STATUS = "DeviceStatus"
    RECORD_INFO = "RecordInfo"
    DEVICE_CONTROL = "DeviceControl"
    DEVICE_CONFIG = "DeviceConfig"
    CONFIG_DOWNLOAD = "ConfigDownload"
    PRESET_QUERY = "PresetQuery"
    ALARM = "Alarm"
    MOBILE_POSITION = "MobilePosition"
    MEDIA_STATUS = "MediaStatus"
    BROADCAST = "Broadcast"
    HOME_POSITION_QUERY = "HomePositionQuery"
    CRUISE_TRACK_LIST_QUERY = "CruiseTrackListQuery"
    CRUISE_TRACK_QUERY = "CruiseTrackQuery"
    PTZ_POSITION = "PTZPosition"
    SD_CARD_STATUS = "SDCardStatus"
    UPLOAD_SNAPSHOT_FINISHED = "UploadSnapShotFinished"
    DEVICE_UPGRADE_RESULT = "DeviceUpgradeResult"

    @classmethod
    def from_wire(cls, text: str) -> CmdType | None:
        """Case-insensitive lookup of a stripped `CmdType` text; None when unknown."""
        return _CMD_TYPES_FOLDED.get(text.strip().casefold())


_CMD_TYPES_FOLDED = {member.value.casefold(): member for member in CmdType}


class ResultCode(enum.StrEnum):
    """`Result` of a response and `Status` of a keepalive: OK or ERROR."""

    OK = "OK"
    ERROR = "ERROR"


class DutyStatus(enum.StrEnum):
    """`DutyStatus` of an alarm input in a DeviceStatus response."""

    ONDUTY = "ONDUTY"
    OFFDUTY = "OFFDUTY"
    ALARM = "ALARM"


@dataclass(frozen=True, slots=True)
class Keepalive:
    """Notify/Keepalive (状态信息报送): the device is alive; `info_device_ids` are faulty."""

    device_id: str
    sn: int
    status: ResultCode | None
    info_device_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    """Query/Catalog, also the body of a catalog SUBSCRIBE. Times are kept as sent."""

    device_id: str
    sn: int
    start_time: str | None = None
    end_time: str | None = None


@dataclass(frozen=True, slots=True)
class CatalogResponse:
    """Response/Catalog: one of possibly several messages sharing the query's SN.

    `sum_num` is the total across all messages, None when `SumNum` is missing or not a
    number (the collector then cannot know when it is done and waits for inactivity).
    `declared_num` is this message's `DeviceList Num`, None when missing. `result` is only
    set on the subscription answer form (`<Result>OK</Result>` and no list).
    """

    device_id: str
    sn: int
    sum_num: int | None
    items: tuple[CatalogItem, ...]
    declared_num: int | None = None
    result: ResultCode | None = None


@dataclass(frozen=True, slots=True)
class CatalogNotify:
    """Notify/Catalog (subscription change notification): items carry an `event`."""

    device_id: str
    sn: int
    sum_num: int | None
    items: tuple[CatalogItem, ...]


@dataclass(frozen=True, slots=True)
class DeviceInfoQuery:
    device_id: str
    sn: int


@dataclass(frozen=True, slots=True)
class DeviceInfoResponse:
    """Response/DeviceInfo; `channel_count` is `Channel`, the number of video inputs."""

    device_id: str
    sn: int
    result: ResultCode | None
    device_name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    channel_count: int | None = None
    info: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceStatusQuery:
    device_id: str
    sn: int


@dataclass(frozen=True, slots=True)
class AlarmStatusItem:
    """One `Alarmstatus/Item`: an alarm input and its duty status (raw text kept if unknown)."""

    device_id: str
    duty_status: DutyStatus | None
    duty_status_raw: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceStatusResponse:
    """Response/DeviceStatus. `online`/`encode`/`record` are ONLINE/ON → True, else False."""

    device_id: str
    sn: int
    result: ResultCode | None
    online: bool | None = None
    status: ResultCode | None = None
    reason: str | None = None
    encode: bool | None = None
    record: bool | None = None
    device_time: str | None = None
    alarm_status: tuple[AlarmStatusItem, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordInfoQuery:
    """Query/RecordInfo (§4.7): records of a channel between two device-local times.

    Times are kept as sent (`YYYY-MM-DDTHH:MM:SS`, local time of the device, no zone);
    `record_type` is `time|alarm|manual|all` as text, `indistinct_query` 0 or 1.
    """

    device_id: str
    sn: int
    start_time: str | None
    end_time: str | None
    file_path: str | None = None
    address: str | None = None
    secrecy: int | None = None
    record_type: str | None = None
    recorder_id: str | None = None
    indistinct_query: int | None = None


@dataclass(frozen=True, slots=True)
class RecordItem:
    """One `RecordList/Item` of a RecordInfo response, 2016 and 2022 fields alike.

    Times and `record_type` are kept as sent (the platform converts them with its one
    configured zone); numbers that are missing or not numbers are None.
    """

    device_id: str
    start_time: str | None
    end_time: str | None
    name: str | None = None
    file_path: str | None = None
    address: str | None = None
    secrecy: int | None = None
    record_type: str | None = None
    recorder_id: str | None = None
    file_size: int | None = None
    record_location: str | None = None
    """[2022] where the file is: 0 central storage, 1 the device."""
    stream_number: int | None = None
    """[2022] 0 main stream, 1 sub stream..."""


@dataclass(frozen=True, slots=True)
class RecordInfoResponse:
    """Response/RecordInfo: one of possibly several messages sharing the query's SN.

    `sum_num` is the total over all messages (None when missing or not a number),
    `declared_num` this message's `RecordList Num`.
    """

    device_id: str
    sn: int
    sum_num: int | None
    items: tuple[RecordItem, ...]
    name: str | None = None
    declared_num: int | None = None


@dataclass(frozen=True, slots=True)
class IFrameCommand:
    """`IFameCmd` = `Send` (the standard's spelling; `IFrameCmd` is accepted too)."""


@dataclass(frozen=True, slots=True)
class TeleBootCommand:
    """`TeleBoot` = `Boot`: remote restart."""


@dataclass(frozen=True, slots=True)
class PtzCommand:
    """`PTZCmd`: the 8-byte command as 16 hex characters, passed through unchanged."""

    hex_code: str


@dataclass(frozen=True, slots=True)
class OtherControlCommand:
    """Any other DeviceControl sub-command (RecordCmd, GuardCmd, ...), name and text kept."""

    name: str
    value: str


ControlCommand = (
    IFrameCommand | TeleBootCommand | PtzCommand | TypedControlCommand | OtherControlCommand
)


@dataclass(frozen=True, slots=True)
class DeviceControl:
    """Control/DeviceControl with one sub-command; `command` is None if none was recognised."""

    device_id: str
    sn: int
    command: ControlCommand | None
    control_priority: int | None = None


@dataclass(frozen=True, slots=True)
class MediaStatus:
    """Notify/MediaStatus, sent inside a playback dialog; NotifyType 121 = file sent."""

    device_id: str
    sn: int
    notify_type: str | None

    @property
    def is_file_end(self) -> bool:
        return self.notify_type == "121"


@dataclass(frozen=True, slots=True)
class ControlResponse:
    """Response with a `Result` to DeviceControl, DeviceConfig or Broadcast."""

    device_id: str
    sn: int
    cmd_type: CmdType
    result: ResultCode | None
    reason: str | None = None
    """`Reason` (or `Info/Reason`) some devices give with an ERROR."""


@dataclass(frozen=True, slots=True)
class AlarmNotify:
    """Notify/Alarm (2016 9.4, A.2.5 b; gb28181.md §4.10): `device_id` is the alarm's source
    (a channel or alarm input). Numbers and time are kept as sent (None when missing or not
    numbers); `alarm_time` is device-local `YYYY-MM-DDTHH:MM:SS`."""

    device_id: str
    sn: int
    priority: int | None
    """1..4: level-1 (most severe) .. level-4."""
    method: int | None
    """1 telephone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other."""
    alarm_time: str | None
    description: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    alarm_type: int | None = None
    """`Info/AlarmType`: its meaning depends on `method`."""


@dataclass(frozen=True, slots=True)
class AlarmQuery:
    """Query/Alarm (2016 A.2.4 i; gb28181.md §4.10, §5.1): the body of an alarm
    subscription, filtering by priority (1 most severe .. 4), method (digits combined,
    "0" all), type and device-local time; None fields were not sent."""

    device_id: str
    sn: int
    start_priority: int | None = None
    end_priority: int | None = None
    method: str | None = None
    alarm_type: str | None = None
    start_time: str | None = None
    end_time: str | None = None


@dataclass(frozen=True, slots=True)
class MobilePositionQuery:
    """Query/MobilePosition (2016 A.2.4 h; gb28181.md §4.11): one position, or in a
    subscription a position every `interval` seconds (None: not sent, 5 by default)."""

    device_id: str
    sn: int
    interval: int | None = None


@dataclass(frozen=True, slots=True)
class MobilePosition:
    """One position of a mobile device (gb28181.md §4.11): numbers as sent (None when
    missing or not numbers); `time` device-local `YYYY-MM-DDTHH:MM:SS`."""

    device_id: str
    time: str | None
    longitude: float | None
    latitude: float | None
    speed: float | None = None
    """km/h."""
    direction: float | None = None
    """Degrees clockwise from north."""
    altitude: float | None = None
    """Metres."""


@dataclass(frozen=True, slots=True)
class MobilePositionNotify:
    """Notify/MobilePosition: the 2016 flat form (one position, of `device_id`) or the
    [2022] `DeviceList/Item` form (one per item), as MESSAGE or in a subscription NOTIFY."""

    device_id: str
    sn: int
    positions: tuple[MobilePosition, ...]


@dataclass(frozen=True, slots=True)
class DeviceConfigControl:
    """Control/DeviceConfig (§4.9): one or more configuration families to write."""

    device_id: str
    sn: int
    blocks: tuple[ConfigElement, ...]


@dataclass(frozen=True, slots=True)
class ConfigDownloadQuery:
    """Query/ConfigDownload: `ConfigType` names as sent (several joined by `/`)."""

    device_id: str
    sn: int
    config_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConfigDownloadResponse:
    """Response/ConfigDownload: the families the device reported (one per message, often)."""

    device_id: str
    sn: int
    result: ResultCode | None
    blocks: tuple[ConfigElement, ...]


@dataclass(frozen=True, slots=True)
class PresetQuery:
    """Query/PresetQuery for a channel."""

    device_id: str
    sn: int


@dataclass(frozen=True, slots=True)
class PresetEntry:
    """One `PresetList/Item`: `PresetID` (1-255) and `PresetName` (None when not sent)."""

    index: int
    name: str | None = None


@dataclass(frozen=True, slots=True)
class PresetQueryResponse:
    """Response/PresetQuery; items with a missing or unreadable PresetID are skipped."""

    device_id: str
    sn: int
    presets: tuple[PresetEntry, ...]
    declared_num: int | None = None


@dataclass(frozen=True, slots=True)
class PtzPositionQuery:
    """[2022] Query/PTZPosition for a channel."""

    device_id: str
    sn: int


@dataclass(frozen=True, slots=True)
class PtzPositionResponse:
    """[2022] Response/PTZPosition: pan and tilt in degrees, zoom as a factor (None when
    missing or unreadable)."""

    device_id: str
    sn: int
    result: ResultCode | None
    pan: float | None = None
    tilt: float | None = None
    zoom: float | None = None


@dataclass(frozen=True, slots=True)
class HomePositionQuery:
    """[2022] Query/HomePositionQuery for a channel: its guard position (看守位)."""

    device_id: str
    sn: int


@dataclass(frozen=True, slots=True)
class HomePositionResponse:
    """[2022] Response/HomePositionQuery; `home` None when the device sent no position."""

    device_id: str
    sn: int
    result: ResultCode | None
    home: HomePosition | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CruiseTrackListQuery:
    """[2022] Query/CruiseTrackListQuery for a channel: its cruise tracks (巡航轨迹)."""

    device_id: str
    sn: int


@dataclass(frozen=True, slots=True)
class CruiseTrackListResponse:
    """[2022] Response/CruiseTrackListQuery; tracks without a readable Number are skipped."""

    device_id: str
    sn: int
    result: ResultCode | None
    sum_num: int | None
    tracks: tuple[CruiseTrackEntry, ...]
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CruiseTrackQuery:
    """[2022] Query/CruiseTrackQuery: the points of track `number` (None: not sent)."""

    device_id: str
    sn: int
    number: int | None


@dataclass(frozen=True, slots=True)
class CruiseTrackResponse:
    """[2022] Response/CruiseTrackQuery; points without a readable PresetIndex are skipped."""

    device_id: str
    sn: int
    result: ResultCode | None
    number: int | None
    name: str | None
    sum_num: int | None
    points: tuple[CruisePoint, ...]
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SdCardStatusQuery:
    """[2022] Query/SDCardStatus for a device: its storage cards (存储卡)."""

    device_id: str
    sn: int


@dataclass(frozen=True, slots=True)
class SdCardStatusResponse:
    """[2022] Response/SDCardStatus; cards without a readable ID are skipped."""

    device_id: str
    sn: int
    result: ResultCode | None
    sum_num: int | None
    cards: tuple[SdCard, ...]
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class UploadSnapShotFinished:
    """[2022] Notify/UploadSnapShotFinished (gb28181.md §4.14): the device uploaded the
    pictures a SnapShotConfig asked for; `device_id` is the camera, `file_ids` the
    `SnapShotList/SnapShotFileID` it named (possibly none)."""

    device_id: str
    sn: int
    session_id: str | None
    file_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BroadcastNotify:
    """Notify/Broadcast (2016 9.12, A.2.5 d; gb28181.md §4.13): the platform `source_id` asks
    the device to take voice from it on its audio output `target_id` (the channel, or an
    audio-output ID of type 137). `device_id` is the `DeviceID` some platforms add, "" if
    none (the standard's body has none)."""

    device_id: str
    sn: int
    source_id: str
    target_id: str


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A well-formed MANSCDP body this layer does not model; `cmd_type` is the text sent."""

    root: RootKind
    cmd_type: str
    sn: int
    device_id: str


ManscdpMessage = (
    Keepalive
    | CatalogQuery
    | CatalogResponse
    | CatalogNotify
    | DeviceInfoQuery
    | DeviceInfoResponse
    | DeviceStatusQuery
    | DeviceStatusResponse
    | RecordInfoQuery
    | RecordInfoResponse
    | DeviceControl
    | MediaStatus
    | ControlResponse
    | AlarmNotify
    | AlarmQuery
    | MobilePositionNotify
    | MobilePositionQuery
    | DeviceConfigControl
    | ConfigDownloadQuery
    | ConfigDownloadResponse
    | PresetQuery
    | PresetQueryResponse
    | PtzPositionQuery
    | PtzPositionResponse
    | HomePositionQuery
    | HomePositionResponse
    | CruiseTrackListQuery
    | CruiseTrackListResponse
    | CruiseTrackQuery
    | CruiseTrackResponse
    | SdCardStatusQuery
    | SdCardStatusResponse
    | UploadSnapShotFinished
    | BroadcastNotify
    | UnknownMessage
)
