"""Typed values → MANSCDP body bytes, laid out like the standard's examples.

Owns the builders of the bodies this platform, its simulator and its cascade link send:
queries (Catalog, DeviceInfo, DeviceStatus, RecordInfo), Keepalive, catalog and RecordInfo
responses split over several messages (GB/T 28181-2016 Annex N), catalog NOTIFY,
DeviceInfo/DeviceStatus responses, DeviceControl (`IFameCmd`, `PTZCmd`, `TeleBoot`),
MediaStatus and the `Result` response (2016 Annex A; reference §4.3-4.8, §4.12, §5.3,
§11.8). One element per line, CRLF line ends, text escaped, the prolog and byte encoding
from `encode_manscdp`.

Argument order follows the call sites: queries take `(sn, device_id)`, everything else
`(device_id, sn)`; the rest is keyword-only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from farmwatch.sipserver.gb.catalog_item import CatalogItem
from farmwatch.sipserver.gb.control_commands import alarm_info, command_fields
from farmwatch.sipserver.gb.manscdp import (
    AlarmNotify,
    AlarmStatusItem,
    CmdType,
    ControlCommand,
    IFrameCommand,
    OtherControlCommand,
    PtzCommand,
    RecordItem,
    ResultCode,
    RootKind,
    TeleBootCommand,
)
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset, encode_manscdp, escape_text

DEFAULT_ITEMS_PER_MESSAGE = 20
_GB2312 = ManscdpCharset.GB2312
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,63}")

Value = str | int | float | bool | None


def _format(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return escape_text(value) if isinstance(value, str) else str(value)


class BodyWriter:
    """Accumulates the lines of one body; `None` values are left out."""

    def __init__(self, root: RootKind, cmd_type: CmdType, sn: int, device_id: str) -> None:
        self._root = root
        self._lines = [f"<{root.value}>"]
        self.element("CmdType", cmd_type.value)
        self.element("SN", sn)
        self.element("DeviceID", device_id)

    def element(self, name: str, value: Value) -> None:
        if value is not None:
            self._lines.append(f"<{name}>{_format(value)}</{name}>")

    def raw(self, line: str) -> None:
        self._lines.append(line)

    def finish(self, charset: ManscdpCharset) -> bytes:
        lines = [*self._lines, f"</{self._root.value}>", ""]
        return encode_manscdp("\r\n".join(lines), charset)


def _query(cmd_type: CmdType, sn: int, device_id: str, charset: ManscdpCharset) -> bytes:
    return BodyWriter(RootKind.QUERY, cmd_type, sn, device_id).finish(charset)


def build_catalog_query(
    sn: int,
    device_id: str,
    charset: ManscdpCharset = _GB2312,
    *,
    start_time: str | None = None,
    end_time: str | None = None,
) -> bytes:
    """Query/Catalog (also the body of a catalog SUBSCRIBE)."""
    writer = BodyWriter(RootKind.QUERY, CmdType.CATALOG, sn, device_id)
    writer.element("StartTime", start_time)
    writer.element("EndTime", end_time)
    return writer.finish(charset)


def build_device_info_query(sn: int, device_id: str, charset: ManscdpCharset = _GB2312) -> bytes:
    return _query(CmdType.DEVICE_INFO, sn, device_id, charset)


def build_device_status_query(sn: int, device_id: str, charset: ManscdpCharset = _GB2312) -> bytes:
    return _query(CmdType.DEVICE_STATUS, sn, device_id, charset)


def build_record_info_query(
    sn: int,
    device_id: str,
    start_time: str,
    end_time: str,
    charset: ManscdpCharset = _GB2312,
    *,
    record_type: str = "all",
    secrecy: int = 0,
    indistinct_query: int | None = None,
) -> bytes:
    """Query/RecordInfo (§4.7, §11.8). `Type` is always sent: Dahua NVRs require it."""
    writer = BodyWriter(RootKind.QUERY, CmdType.RECORD_INFO, sn, device_id)
    writer.element("StartTime", start_time)
    writer.element("EndTime", end_time)
    writer.element("Secrecy", secrecy)
    writer.element("Type", record_type)
    writer.element("IndistinctQuery", indistinct_query)
    return writer.finish(charset)


def build_keepalive(
    device_id: str,
    sn: int,
    status: ResultCode = ResultCode.OK,
    *,
    info_device_ids: Sequence[str] = (),
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    """Notify/Keepalive; `info_device_ids` lists faulty sub-devices under `<Info>`."""
    writer = BodyWriter(RootKind.NOTIFY, CmdType.KEEPALIVE, sn, device_id)
    writer.element("Status", status.value)
    if info_device_ids:
        writer.raw("<Info>")
        for faulty_id in info_device_ids:
            writer.element("DeviceID", faulty_id)
        writer.raw("</Info>")
    return writer.finish(charset)


def _write_info(writer: BodyWriter, item: CatalogItem) -> None:
    info: list[tuple[str, Value]] = [
        ("PTZType", item.ptz_type),
        ("PositionType", item.position_type),
        ("RoomType", item.room_type),
        ("UseType", item.use_type),
        ("SupplyLightType", item.supply_light_type),
        ("DirectionType", item.direction_type),
        ("Resolution", item.resolution),
        ("BusinessGroupID", item.business_group_id),
        ("DownloadSpeed", item.download_speed),
        ("SVCSpaceSupportMode", item.svc_space_support_mode),
        ("SVCTimeSupportMode", item.svc_time_support_mode),
        ("StreamNumberList", item.stream_number_list),
        *((name, value) for name, value in item.extra if _XML_NAME.fullmatch(name)),
    ]
    if all(value is None for _, value in info):
        return
    writer.raw("<Info>")
    for name, value in info:
        writer.element(name, value)
    writer.raw("</Info>")


def _write_item(writer: BodyWriter, item: CatalogItem) -> None:
    """One `<Item>` in the element order of itemType (2016 A.2.1 g)."""
    writer.raw("<Item>")
    fields: tuple[tuple[str, Value], ...] = (
        ("DeviceID", item.device_id),
        ("Event", None if item.event is None else item.event.value),
        ("Name", item.name),
        ("Manufacturer", item.manufacturer),
        ("Model", item.model),
        ("Owner", item.owner),
        ("CivilCode", item.civil_code_raw),
        ("Block", item.block),
        ("Address", item.address),
        ("Parental", item.parental),
        ("ParentID", item.parent_id),
        ("SafetyWay", item.safety_way),
        ("RegisterWay", item.register_way),
        ("CertNum", item.cert_num),
        ("Certifiable", item.certifiable),
        ("ErrCode", item.err_code),
        ("EndTime", item.end_time),
        ("Secrecy", item.secrecy),
        ("IPAddress", item.ip_address),
        ("Port", item.port),
        ("Password", item.password),
        ("Status", None if item.status is None else item.status.value),
        ("Longitude", item.longitude),
        ("Latitude", item.latitude),
    )
    for name, value in fields:
        writer.element(name, value)
    _write_info(writer, item)
    writer.raw("</Item>")


def _write_item_list(writer: BodyWriter, items: Sequence[CatalogItem]) -> None:
    writer.raw(f'<DeviceList Num="{len(items)}">')
    for item in items:
        _write_item(writer, item)
    writer.raw("</DeviceList>")


def build_catalog_response(
    device_id: str,
    sn: int,
    sum_num: int,
    items: Sequence[CatalogItem],
    *,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    """One Response/Catalog message carrying `items` out of `sum_num` in total."""
    writer = BodyWriter(RootKind.RESPONSE, CmdType.CATALOG, sn, device_id)
    writer.element("SumNum", sum_num)
    _write_item_list(writer, items)
    return writer.finish(charset)


def build_catalog_responses(
    items: Sequence[CatalogItem],
    sn: int,
    device_id: str,
    sum_num: int | None = None,
    items_per_message: int = DEFAULT_ITEMS_PER_MESSAGE,
    *,
    charset: ManscdpCharset = _GB2312,
) -> list[bytes]:
    """The whole catalog as consecutive messages sharing `sn` (Annex N).

    `sum_num` defaults to `len(items)`. No items gives one message with SumNum 0 and an
    empty `DeviceList`.
    """
    if items_per_message < 1:
        raise ValueError(f"items_per_message must be at least 1, got {items_per_message}")
    total = len(items) if sum_num is None else sum_num
    chunks = [items[i : i + items_per_message] for i in range(0, len(items), items_per_message)]
    return [
        build_catalog_response(device_id, sn, total, chunk, charset=charset)
        for chunk in chunks or [()]
    ]


def _write_record_item(writer: BodyWriter, item: RecordItem) -> None:
    writer.raw("<Item>")
    for name, value in (
        ("DeviceID", item.device_id),
        ("Name", item.name),
        ("FilePath", item.file_path),
        ("Address", item.address),
        ("StartTime", item.start_time),
        ("EndTime", item.end_time),
        ("Secrecy", item.secrecy),
        ("Type", item.record_type),
        ("RecorderID", item.recorder_id),
        ("FileSize", item.file_size),
        ("RecordLocation", item.record_location),
        ("StreamNumber", item.stream_number),
    ):
        writer.element(name, value)
    writer.raw("</Item>")


def build_record_info_responses(
    device_id: str,
    sn: int,
    items: Sequence[RecordItem],
    *,
    name: str | None = None,
    sum_num: int | None = None,
    items_per_message: int = DEFAULT_ITEMS_PER_MESSAGE,
    charset: ManscdpCharset = _GB2312,
) -> list[bytes]:
    """The records as consecutive Response/RecordInfo messages sharing `sn` (§4.7, Annex N).

    `sum_num` defaults to `len(items)`; no items gives one message with SumNum 0 and no
    `RecordList`, as the standard says.
    """
    if items_per_message < 1:
        raise ValueError(f"items_per_message must be at least 1, got {items_per_message}")
    total = len(items) if sum_num is None else sum_num
    chunks = [items[i : i + items_per_message] for i in range(0, len(items), items_per_message)]
    bodies = []
    for chunk in chunks or [()]:
        writer = BodyWriter(RootKind.RESPONSE, CmdType.RECORD_INFO, sn, device_id)
        writer.element("Name", name)
        writer.element("SumNum", total)
        if chunk:
            writer.raw(f'<RecordList Num="{len(chunk)}">')
            for item in chunk:
                _write_record_item(writer, item)
            writer.raw("</RecordList>")
        bodies.append(writer.finish(charset))
    return bodies


def build_catalog_notify(
    device_id: str,
    sn: int,
    items: Sequence[CatalogItem],
    *,
    sum_num: int | None = None,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    """Notify/Catalog for a catalog subscription; each item should carry its `event`."""
    writer = BodyWriter(RootKind.NOTIFY, CmdType.CATALOG, sn, device_id)
    writer.element("SumNum", len(items) if sum_num is None else sum_num)
    _write_item_list(writer, items)
    return writer.finish(charset)


def build_device_info_response(
    device_id: str,
    sn: int,
    *,
    result: ResultCode = ResultCode.OK,
    device_name: str | None = None,
    manufacturer: str | None = None,
    model: str | None = None,
    firmware: str | None = None,
    channel_count: int | None = None,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    writer = BodyWriter(RootKind.RESPONSE, CmdType.DEVICE_INFO, sn, device_id)
    writer.element("DeviceName", device_name)
    writer.element("Result", result.value)
    writer.element("Manufacturer", manufacturer)
    writer.element("Model", model)
    writer.element("Firmware", firmware)
    writer.element("Channel", channel_count)
    return writer.finish(charset)


def _on_off(value: bool | None, on: str = "ON", off: str = "OFF") -> str | None:
    return None if value is None else (on if value else off)


def build_device_status_response(
    device_id: str,
    sn: int,
    *,
    result: ResultCode = ResultCode.OK,
    online: bool | None = True,
    status: ResultCode | None = ResultCode.OK,
    reason: str | None = None,
    encode: bool | None = None,
    record: bool | None = None,
    device_time: str | None = None,
    alarm_status: Sequence[AlarmStatusItem] = (),
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    writer = BodyWriter(RootKind.RESPONSE, CmdType.DEVICE_STATUS, sn, device_id)
    writer.element("Result", result.value)
    writer.element("Online", _on_off(online, "ONLINE", "OFFLINE"))
    writer.element("Status", None if status is None else status.value)
    writer.element("Reason", reason)
    writer.element("Encode", _on_off(encode))
    writer.element("Record", _on_off(record))
    writer.element("DeviceTime", device_time)
    if alarm_status:
        writer.raw(f'<Alarmstatus Num="{len(alarm_status)}">')
        for alarm in alarm_status:
            writer.raw("<Item>")
            writer.element("DeviceID", alarm.device_id)
            duty = alarm.duty_status.value if alarm.duty_status else alarm.duty_status_raw
            writer.element("DutyStatus", duty)
            writer.raw("</Item>")
        writer.raw("</Alarmstatus>")
    return writer.finish(charset)


def _write_command(writer: BodyWriter, command: ControlCommand) -> tuple[tuple[str, str], ...]:
    """Write the sub-command; return what it adds under `Info`."""
    match command:
        case IFrameCommand():
            writer.element("IFameCmd", "Send")  # sic: the standard's spelling
        case TeleBootCommand():
            writer.element("TeleBoot", "Boot")
        case PtzCommand(hex_code=hex_code):
            writer.element("PTZCmd", hex_code)
        case OtherControlCommand(name=name, value=value):
            if not _XML_NAME.fullmatch(name):
                raise ValueError(f"not an XML element name: {name!r}")
            writer.element(name, value)
        case _:
            name, content = command_fields(command)
            if isinstance(content, str):
                writer.element(name, content)
            else:
                writer.raw(f"<{name}>")
                for child, text in content:
                    writer.element(child, text)
                writer.raw(f"</{name}>")
            return alarm_info(command)
    return ()


def build_device_control(
    device_id: str,
    sn: int,
    command: ControlCommand,
    *,
    control_priority: int | None = None,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    """Control/DeviceControl with one sub-command and optional `Info/ControlPriority`
    (an alarm reset's method and type go under `Info` too)."""
    writer = BodyWriter(RootKind.CONTROL, CmdType.DEVICE_CONTROL, sn, device_id)
    info = _write_command(writer, command)
    if control_priority is not None or info:
        writer.raw("<Info>")
        writer.element("ControlPriority", control_priority)
        for name, text in info:
            writer.element(name, text)
        writer.raw("</Info>")
    return writer.finish(charset)


def build_device_control_iframe(
    device_id: str, sn: int, charset: ManscdpCharset = _GB2312
) -> bytes:
    """Force a key frame: `<IFameCmd>Send</IFameCmd>` (the standard's spelling)."""
    return build_device_control(device_id, sn, IFrameCommand(), charset=charset)


def build_alarm_notify(alarm: AlarmNotify, *, charset: ManscdpCharset = _GB2312) -> bytes:
    """Notify/Alarm (§4.10) with the fields of `alarm` that are set."""
    writer = BodyWriter(RootKind.NOTIFY, CmdType.ALARM, alarm.sn, alarm.device_id)
    writer.element("AlarmPriority", alarm.priority)
    writer.element("AlarmMethod", alarm.method)
    writer.element("AlarmTime", alarm.alarm_time)
    writer.element("AlarmDescription", alarm.description)
    writer.element("Longitude", alarm.longitude)
    writer.element("Latitude", alarm.latitude)
    if alarm.alarm_type is not None:
        writer.raw("<Info>")
        writer.element("AlarmType", alarm.alarm_type)
        writer.raw("</Info>")
    return writer.finish(charset)


def build_media_status(
    device_id: str, sn: int, notify_type: str = "121", *, charset: ManscdpCharset = _GB2312
) -> bytes:
    """Notify/MediaStatus; NotifyType 121 = historical media file sent completely."""
    writer = BodyWriter(RootKind.NOTIFY, CmdType.MEDIA_STATUS, sn, device_id)
    writer.element("NotifyType", notify_type)
    return writer.finish(charset)


def build_broadcast_notify(
    sn: int, source_id: str, target_id: str, *, charset: ManscdpCharset = _GB2312
) -> bytes:
    """Notify/Broadcast (2016 A.2.5 d, gb28181.md §4.13): `source_id` our platform ID (the
    device INVITEs it for the audio), `target_id` the device's audio output or channel.
    The standard's body has no DeviceID."""
    lines = [
        f"<{RootKind.NOTIFY.value}>",
        f"<CmdType>{CmdType.BROADCAST.value}</CmdType>",
        f"<SN>{sn}</SN>",
        f"<SourceID>{_format(source_id)}</SourceID>",
        f"<TargetID>{_format(target_id)}</TargetID>",
        f"</{RootKind.NOTIFY.value}>",
        "",
    ]
    return encode_manscdp("\r\n".join(lines), charset)


def build_control_response(
    device_id: str,
    sn: int,
    cmd_type: CmdType = CmdType.DEVICE_CONTROL,
    result: ResultCode = ResultCode.OK,
    *,
    reason: str | None = None,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    """Response with `Result` to DeviceControl/DeviceConfig/Broadcast (or a subscription);
    `reason` says why an ERROR."""
    writer = BodyWriter(RootKind.RESPONSE, cmd_type, sn, device_id)
    writer.element("Result", result.value)
    writer.element("Reason", reason)
    return writer.finish(charset)
