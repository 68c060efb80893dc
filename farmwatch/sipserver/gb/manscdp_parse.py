"""MANSCDP bytes → typed message, dispatched by (root, CmdType) through one table.

Owns `parse_manscdp` and the per-message readers (GB/T 28181-2016 Annex A; reference
§4.1-4.6 keepalive, catalog, DeviceInfo, DeviceStatus; §4.7 RecordInfo; §4.8 DeviceControl; §4.12
MediaStatus; §5.3 catalog NOTIFY; §4.9, §4.14 through `manscdp_device` and
`manscdp_device_state`). Readers are lenient about content (padding, case,
missing optional fields, garbage numbers) and strict only about structure: undecodable or
malformed XML, a DTD, an unknown root element or a missing `CmdType` raise `ManscdpError`.
An unknown `CmdType` is an `UnknownMessage`, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from farmwatch.sipserver.gb import manscdp_device as device
from farmwatch.sipserver.gb import manscdp_device_state as kept
from farmwatch.sipserver.gb.catalog_item import CatalogEvent, CatalogItem, ChannelStatus
from farmwatch.sipserver.gb.control_commands import read_control_command
from farmwatch.sipserver.gb.manscdp import (
    MISSING_SN,
    AlarmNotify,
    AlarmStatusItem,
    BroadcastNotify,
    CatalogNotify,
    CatalogQuery,
    CatalogResponse,
    CmdType,
    ControlCommand,
    ControlResponse,
    DeviceControl,
    DeviceInfoQuery,
    DeviceInfoResponse,
    DeviceStatusQuery,
    DeviceStatusResponse,
    DutyStatus,
    IFrameCommand,
    Keepalive,
    ManscdpMessage,
    MediaStatus,
    OtherControlCommand,
    PtzCommand,
    RecordInfoQuery,
    RecordInfoResponse,
    RecordItem,
    ResultCode,
    RootKind,
    TeleBootCommand,
    UnknownMessage,
)
from farmwatch.sipserver.gb.manscdp_element import (
    child_text,
    element_text,
    find_child,
    find_children,
    local_name,
    parse_xml,
    to_flag_or_none,
    to_float_or_none,
    to_int_or_none,
)
from farmwatch.sipserver.gb.manscdp_event_query import read_alarm_query, read_mobile_position_query
from farmwatch.sipserver.gb.manscdp_position import read_mobile_position_notify
from farmwatch.sipserver.gb.manscdp_snapshot import read_upload_snapshot_finished
from farmwatch.sipserver.gb.manscdp_text import (
    ManscdpError,
    declared_encoding,
    decode_manscdp,
    reads_ascii_as_ascii,
)


@dataclass(frozen=True, slots=True)
class _Header:
    """The fields every MANSCDP body has (A.1): root, CmdType, SN, DeviceID."""

    root: RootKind
    cmd_type: str
    sn: int
    device_id: str


_Reader = Callable[[Element, _Header], ManscdpMessage]

_ROOTS = {kind.value.casefold(): kind for kind in RootKind}


# The keepalive as nearly every device sends it, every minute: ASCII, no entities, no
# comments, no <Info>. Matched whole, it needs no XML parser; anything else, or anything
# odd about it, takes the full (defused) path below, which gives the same result.
_PLAIN_KEEPALIVE = re.compile(
    rb"\s*(<\?xml[^<>&]{0,80}\?>)?\s*<Notify>\s*"
    rb"<CmdType>\s*Keepalive\s*</CmdType>\s*"
    rb"<SN>\s*(\d{1,10})\s*</SN>\s*"
    rb"<DeviceID>\s*(\d{1,20})\s*</DeviceID>\s*"
    rb"<Status>\s*(OK|ERROR)\s*</Status>\s*"
    rb"</Notify>\s*"
)


def plain_keepalive(body: bytes, *, charset_override: str | None = None) -> Keepalive | None:
    """The keepalive in `body` when it has the plain shape; None means: use `parse_manscdp`.

    The shape is ASCII and read as ASCII, so the shortcut steps aside wherever the XML
    path would decode the bytes otherwise: a declared encoding or a `charset_override`
    outside the GB and UTF-8 families (UTF-16 turns the same bytes into other characters).
    """
    if len(body) > 512 or not body.isascii():
        return None
    if charset_override is not None and not reads_ascii_as_ascii(charset_override):
        return None
    match = _PLAIN_KEEPALIVE.fullmatch(body)
    if match is None:
        return None
    declaration, sn, device_id, status = match.groups()
    if declaration is not None and not reads_ascii_as_ascii(declared_encoding(body)):
        return None
    return Keepalive(device_id.decode(), int(sn), ResultCode(status.decode()), ())


def parse_manscdp(body: bytes, *, charset_override: str | None = None) -> ManscdpMessage:
    """Decode, sanitise and parse a MANSCDP body; raises only `ManscdpError`."""
    keepalive = plain_keepalive(body, charset_override=charset_override)
    if keepalive is not None:
        return keepalive
    return parse_manscdp_xml(body, charset_override=charset_override)


def parse_manscdp_xml(body: bytes, *, charset_override: str | None = None) -> ManscdpMessage:
    """`parse_manscdp` without the keepalive shortcut: always the XML parser."""
    root = parse_xml(decode_manscdp(body, charset_override=charset_override))
    header = _read_header(root)
    known = CmdType.from_wire(header.cmd_type)
    reader = None if known is None else _READERS.get((header.root, known))
    if reader is None:
        return UnknownMessage(header.root, header.cmd_type, header.sn, header.device_id)
    return reader(root, header)


def _read_header(root: Element) -> _Header:
    kind = _ROOTS.get(local_name(root).casefold())
    if kind is None:
        raise ManscdpError(f"root element <{local_name(root)[:40]}> is not a MANSCDP root")
    cmd_type = child_text(root, "CmdType")
    if cmd_type is None:
        raise ManscdpError(f"<{kind.value}> without CmdType")
    sn = to_int_or_none(child_text(root, "SN"))
    return _Header(
        root=kind,
        cmd_type=cmd_type,
        sn=MISSING_SN if sn is None or sn < 0 else sn,
        device_id=child_text(root, "DeviceID") or "",
    )


def _result(text: str | None) -> ResultCode | None:
    word = None if text is None else text.strip().upper()
    return ResultCode(word) if word in ("OK", "ERROR") else None


def _read_keepalive(root: Element, header: _Header) -> Keepalive:
    info_ids = tuple(
        text
        for info in find_children(root, "Info")
        for element in find_children(info, "DeviceID")
        if (text := element_text(element)) is not None
    )
    return Keepalive(header.device_id, header.sn, _result(child_text(root, "Status")), info_ids)


def _read_catalog_query(root: Element, header: _Header) -> CatalogQuery:
    return CatalogQuery(
        header.device_id,
        header.sn,
        start_time=child_text(root, "StartTime"),
        end_time=child_text(root, "EndTime"),
    )


def _read_item_list(root: Element) -> tuple[tuple[CatalogItem, ...], int | None]:
    """Items of `DeviceList` (items without a DeviceID are skipped) and its `Num`."""
    device_list = find_child(root, "DeviceList")
    if device_list is None:
        return (), None
    items = (read_catalog_item(element) for element in find_children(device_list, "Item"))
    return tuple(item for item in items if item is not None), _declared_num(device_list)


def _declared_num(item_list: Element) -> int | None:
    """The `Num` attribute of a `DeviceList`/`RecordList` (any case), None if unreadable."""
    num_text = next((v for k, v in item_list.attrib.items() if k.casefold() == "num"), None)
    return to_int_or_none(num_text)


def _read_sum_num(root: Element) -> int | None:
    sum_num = to_int_or_none(child_text(root, "SumNum"))
    return sum_num if sum_num is None or sum_num >= 0 else None


def _read_catalog_response(root: Element, header: _Header) -> CatalogResponse:
    items, declared_num = _read_item_list(root)
    return CatalogResponse(
        header.device_id,
        header.sn,
        sum_num=_read_sum_num(root),
        items=items,
        declared_num=declared_num,
        result=_result(child_text(root, "Result")),
    )


def _read_catalog_notify(root: Element, header: _Header) -> CatalogNotify:
    items, _ = _read_item_list(root)
    return CatalogNotify(header.device_id, header.sn, _read_sum_num(root), items)


_INFO_FIELDS = frozenset(
    {"ptztype", "positiontype", "roomtype", "usetype", "supplylighttype", "directiontype"}
    | {"resolution", "businessgroupid", "downloadspeed", "svcspacesupportmode"}
    | {"svctimesupportmode", "streamnumberlist"}
)


@dataclass(slots=True)
class _ItemTexts:
    """Stripped texts of one `<Item>`: own children, `<Info>` children, unknown Info extras."""

    own: dict[str, str]
    info: dict[str, str]
    extra: list[tuple[str, str]]

    @classmethod
    def collect(cls, item: Element) -> _ItemTexts:
        texts = cls({}, {}, [])
        for child in item:
            name = local_name(child).casefold()
            if name == "info":
                texts.add_info(child)
            elif (text := element_text(child)) is not None:
                texts.own.setdefault(name, text)
        return texts

    def add_info(self, info: Element) -> None:
        for child in info:
            name = local_name(child)
            text = element_text(child)
            if name.casefold() not in _INFO_FIELDS:
                self.extra.append((name, text or ""))
            elif text is not None:
                self.info.setdefault(name.casefold(), text)


def read_catalog_item(element: Element) -> CatalogItem | None:
    """One `<Item>` of a catalog list; None when it has no DeviceID to key it by."""
    texts = _ItemTexts.collect(element)
    own, info = texts.own.get, texts.info.get
    device_id = own("deviceid")
    if device_id is None:
        return None
    return CatalogItem(
        device_id=device_id,
        event=CatalogEvent.from_wire(own("event")),
        name=own("name"),
        manufacturer=own("manufacturer"),
        model=own("model"),
        owner=own("owner"),
        civil_code=own("civilcode"),
        civil_code_raw=own("civilcode"),
        block=own("block"),
        address=own("address"),
        parental=to_flag_or_none(own("parental")),
        parent_id=own("parentid"),
        safety_way=to_int_or_none(own("safetyway")),
        register_way=to_int_or_none(own("registerway")),
        cert_num=own("certnum"),
        certifiable=to_flag_or_none(own("certifiable")),
        err_code=to_int_or_none(own("errcode")),
        end_time=own("endtime"),
        secrecy=to_int_or_none(own("secrecy")),
        ip_address=own("ipaddress"),
        port=_port(own("port")),
        password=own("password"),
        status=ChannelStatus.from_wire(own("status")),
        longitude=_coordinate(own("longitude"), 180.0),
        latitude=_coordinate(own("latitude"), 90.0),
        ptz_type=to_int_or_none(info("ptztype")),
        position_type=to_int_or_none(info("positiontype")),
        room_type=to_int_or_none(info("roomtype")),
        use_type=to_int_or_none(info("usetype")),
        supply_light_type=to_int_or_none(info("supplylighttype")),
        direction_type=to_int_or_none(info("directiontype")),
        resolution=info("resolution"),
        business_group_id=info("businessgroupid") or own("businessgroupid"),
        download_speed=info("downloadspeed"),
        svc_space_support_mode=to_int_or_none(info("svcspacesupportmode")),
        svc_time_support_mode=to_int_or_none(info("svctimesupportmode")),
        stream_number_list=info("streamnumberlist"),
        extra=tuple(texts.extra),
    )


def _port(text: str | None) -> int | None:
    port = to_int_or_none(text)
    return port if port is not None and 0 <= port <= 65535 else None


def _coordinate(text: str | None, limit: float) -> float | None:
    value = to_float_or_none(text)
    return value if value is not None and -limit <= value <= limit else None


def _read_device_info_query(root: Element, header: _Header) -> DeviceInfoQuery:
    return DeviceInfoQuery(header.device_id, header.sn)


def _read_device_info_response(root: Element, header: _Header) -> DeviceInfoResponse:
    info = tuple(
        (local_name(child), element_text(child) or "")
        for element in find_children(root, "Info")
        for child in element
    )
    return DeviceInfoResponse(
        header.device_id,
        header.sn,
        result=_result(child_text(root, "Result")),
        device_name=child_text(root, "DeviceName"),
        manufacturer=child_text(root, "Manufacturer"),
        model=child_text(root, "Model"),
        firmware=child_text(root, "Firmware"),
        channel_count=to_int_or_none(child_text(root, "Channel")),
        info=info,
    )


def _read_device_status_query(root: Element, header: _Header) -> DeviceStatusQuery:
    return DeviceStatusQuery(header.device_id, header.sn)


_DUTY_STATUSES = {status.value: status for status in DutyStatus}


def _read_alarm_status(root: Element) -> tuple[AlarmStatusItem, ...]:
    alarm_status = find_child(root, "Alarmstatus")
    if alarm_status is None:
        return ()
    items: list[AlarmStatusItem] = []
    for item in find_children(alarm_status, "Item"):
        raw = child_text(item, "DutyStatus")
        duty = None if raw is None else _DUTY_STATUSES.get(raw.upper())
        items.append(AlarmStatusItem(child_text(item, "DeviceID") or "", duty, raw))
    return tuple(items)


def _read_device_status_response(root: Element, header: _Header) -> DeviceStatusResponse:
    return DeviceStatusResponse(
        header.device_id,
        header.sn,
        result=_result(child_text(root, "Result")),
        online=to_flag_or_none(child_text(root, "Online"), true="ONLINE", false="OFFLINE"),
        status=_result(child_text(root, "Status")),
        reason=child_text(root, "Reason"),
        encode=to_flag_or_none(child_text(root, "Encode"), true="ON", false="OFF"),
        record=to_flag_or_none(child_text(root, "Record"), true="ON", false="OFF"),
        device_time=child_text(root, "DeviceTime"),
        alarm_status=_read_alarm_status(root),
    )


_CONTROL_HEADER_NAMES = frozenset({"cmdtype", "sn", "deviceid", "info"})


def _texts(element: Element | None) -> dict[str, str]:
    if element is None:
        return {}
    return {local_name(c).casefold(): element_text(c) or "" for c in element}


def _read_control_command(root: Element) -> ControlCommand | None:
    for child in root:
        name = local_name(child)
        folded = name.casefold()
        if folded == "ptzcmd":
            return PtzCommand(element_text(child) or "")
        if folded in ("ifamecmd", "iframecmd"):
            return IFrameCommand()
        if folded == "teleboot":
            return TeleBootCommand()
    info = _texts(find_child(root, "Info"))
    for child in root:
        name = local_name(child)
        if name.casefold() not in _CONTROL_HEADER_NAMES:
            typed = read_control_command(name, element_text(child), _texts(child), info)
            return (
                typed if typed is not None else OtherControlCommand(name, element_text(child) or "")
            )
    return None


def _read_device_control(root: Element, header: _Header) -> DeviceControl:
    info = find_child(root, "Info")
    priority = None if info is None else to_int_or_none(child_text(info, "ControlPriority"))
    return DeviceControl(header.device_id, header.sn, _read_control_command(root), priority)


def _read_record_info_query(root: Element, header: _Header) -> RecordInfoQuery:
    return RecordInfoQuery(
        header.device_id,
        header.sn,
        start_time=child_text(root, "StartTime"),
        end_time=child_text(root, "EndTime"),
        file_path=child_text(root, "FilePath"),
        address=child_text(root, "Address"),
        secrecy=to_int_or_none(child_text(root, "Secrecy")),
        record_type=child_text(root, "Type"),
        recorder_id=child_text(root, "RecorderID"),
        indistinct_query=to_int_or_none(child_text(root, "IndistinctQuery")),
    )


def _read_record_item(item: Element, default_device_id: str) -> RecordItem:
    """One record; an item without its own DeviceID belongs to the queried channel."""
    return RecordItem(
        device_id=child_text(item, "DeviceID") or default_device_id,
        start_time=child_text(item, "StartTime"),
        end_time=child_text(item, "EndTime"),
        name=child_text(item, "Name"),
        file_path=child_text(item, "FilePath"),
        address=child_text(item, "Address"),
        secrecy=to_int_or_none(child_text(item, "Secrecy")),
        record_type=child_text(item, "Type"),
        recorder_id=child_text(item, "RecorderID"),
        file_size=to_int_or_none(child_text(item, "FileSize")),
        record_location=child_text(item, "RecordLocation"),
        stream_number=to_int_or_none(child_text(item, "StreamNumber")),
    )


def _read_record_info_response(root: Element, header: _Header) -> RecordInfoResponse:
    record_list = find_child(root, "RecordList")
    items: tuple[RecordItem, ...] = ()
    declared_num = None
    if record_list is not None:
        declared_num = _declared_num(record_list)
        items = tuple(
            _read_record_item(element, header.device_id)
            for element in find_children(record_list, "Item")
        )
    return RecordInfoResponse(
        header.device_id,
        header.sn,
        sum_num=_read_sum_num(root),
        items=items,
        name=child_text(root, "Name"),
        declared_num=declared_num,
    )


def _read_media_status(root: Element, header: _Header) -> MediaStatus:
    return MediaStatus(header.device_id, header.sn, child_text(root, "NotifyType"))


def _read_alarm_notify(root: Element, header: _Header) -> AlarmNotify:
    info = find_child(root, "Info")
    return AlarmNotify(
        header.device_id,
        header.sn,
        priority=to_int_or_none(child_text(root, "AlarmPriority")),
        method=to_int_or_none(child_text(root, "AlarmMethod")),
        alarm_time=child_text(root, "AlarmTime"),
        description=child_text(root, "AlarmDescription"),
        longitude=to_float_or_none(child_text(root, "Longitude")),
        latitude=to_float_or_none(child_text(root, "Latitude")),
        alarm_type=None if info is None else to_int_or_none(child_text(info, "AlarmType")),
    )


def _read_broadcast_notify(root: Element, header: _Header) -> BroadcastNotify:
    return BroadcastNotify(
        header.device_id,
        header.sn,
        source_id=child_text(root, "SourceID") or "",
        target_id=child_text(root, "TargetID") or "",
    )


def _control_response_reader(cmd_type: CmdType) -> _Reader:
    def read(root: Element, header: _Header) -> ControlResponse:
        result = _result(child_text(root, "Result"))
        info = find_child(root, "Info")
        reason = child_text(root, "Reason") or (
            None if info is None else child_text(info, "Reason")
        )
        return ControlResponse(header.device_id, header.sn, cmd_type, result, reason)

    return read


def _device(read: Callable[[Element, str, int], ManscdpMessage]) -> _Reader:
    return lambda root, header: read(root, header.device_id, header.sn)


_READERS: dict[tuple[RootKind, CmdType], _Reader] = {
    (RootKind.NOTIFY, CmdType.KEEPALIVE): _read_keepalive,
    (RootKind.QUERY, CmdType.CATALOG): _read_catalog_query,
    (RootKind.RESPONSE, CmdType.CATALOG): _read_catalog_response,
    (RootKind.NOTIFY, CmdType.CATALOG): _read_catalog_notify,
    (RootKind.QUERY, CmdType.DEVICE_INFO): _read_device_info_query,
    (RootKind.RESPONSE, CmdType.DEVICE_INFO): _read_device_info_response,
    (RootKind.QUERY, CmdType.DEVICE_STATUS): _read_device_status_query,
    (RootKind.RESPONSE, CmdType.DEVICE_STATUS): _read_device_status_response,
    (RootKind.QUERY, CmdType.RECORD_INFO): _read_record_info_query,
    (RootKind.RESPONSE, CmdType.RECORD_INFO): _read_record_info_response,
    (RootKind.CONTROL, CmdType.DEVICE_CONTROL): _read_device_control,
    (RootKind.NOTIFY, CmdType.MEDIA_STATUS): _read_media_status,
    (RootKind.NOTIFY, CmdType.ALARM): _read_alarm_notify,
    (RootKind.NOTIFY, CmdType.MOBILE_POSITION): _device(read_mobile_position_notify),
    (RootKind.QUERY, CmdType.ALARM): _device(read_alarm_query),
    (RootKind.QUERY, CmdType.MOBILE_POSITION): _device(read_mobile_position_query),
    (RootKind.RESPONSE, CmdType.ALARM): _control_response_reader(CmdType.ALARM),
    (RootKind.RESPONSE, CmdType.DEVICE_CONTROL): _control_response_reader(CmdType.DEVICE_CONTROL),
    (RootKind.RESPONSE, CmdType.DEVICE_CONFIG): _control_response_reader(CmdType.DEVICE_CONFIG),
    (RootKind.RESPONSE, CmdType.BROADCAST): _control_response_reader(CmdType.BROADCAST),
    (RootKind.NOTIFY, CmdType.BROADCAST): _read_broadcast_notify,
    (RootKind.CONTROL, CmdType.DEVICE_CONFIG): _device(device.read_device_config),
    (RootKind.QUERY, CmdType.CONFIG_DOWNLOAD): _device(device.read_config_download_query),
    (RootKind.RESPONSE, CmdType.CONFIG_DOWNLOAD): _device(device.read_config_download_response),
    (RootKind.QUERY, CmdType.PRESET_QUERY): _device(device.read_preset_query),
    (RootKind.RESPONSE, CmdType.PRESET_QUERY): _device(device.read_preset_query_response),
    (RootKind.QUERY, CmdType.PTZ_POSITION): _device(device.read_ptz_position_query),
    (RootKind.RESPONSE, CmdType.PTZ_POSITION): _device(device.read_ptz_position_response),
    (RootKind.NOTIFY, CmdType.UPLOAD_SNAPSHOT_FINISHED): _device(read_upload_snapshot_finished),
    (RootKind.QUERY, CmdType.HOME_POSITION_QUERY): _device(kept.read_home_position_query),
    (RootKind.RESPONSE, CmdType.HOME_POSITION_QUERY): _device(kept.read_home_position_response),
    (RootKind.QUERY, CmdType.CRUISE_TRACK_LIST_QUERY): _device(kept.read_cruise_track_list_query),
    (RootKind.RESPONSE, CmdType.CRUISE_TRACK_LIST_QUERY): _device(
        kept.read_cruise_track_list_response
    ),
    (RootKind.QUERY, CmdType.CRUISE_TRACK_QUERY): _device(kept.read_cruise_track_query),
    (RootKind.RESPONSE, CmdType.CRUISE_TRACK_QUERY): _device(kept.read_cruise_track_response),
    (RootKind.QUERY, CmdType.SD_CARD_STATUS): _device(kept.read_sd_card_status_query),
    (RootKind.RESPONSE, CmdType.SD_CARD_STATUS): _device(kept.read_sd_card_status_response),
}
