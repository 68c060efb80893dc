"""Bodies of device configuration and PTZ queries, built and read (GB/T 28181-2016 A.2.3 b,
A.2.4 f-g, A.2.6 i-k; 2022 A.2.4 PTZPosition; gb28181.md §4.9, §4.14).

Builders (strict, laid out like the standard's examples through `BodyWriter`):
Control/DeviceConfig, Query/ConfigDownload, Query/PresetQuery, Query/PTZPosition and the
device-side answers the simulator sends (Response/ConfigDownload, Response/PresetQuery,
Response/PTZPosition). Readers (lenient: any case, padding, missing fields; an item that
cannot be read is skipped, a number that cannot be read is None) take the parsed root and
the header's device ID and SN; `manscdp_parse` dispatches to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree.ElementTree import Element

from farmwatch.sipserver.gb.device_config import ConfigElement, ConfigType
from farmwatch.sipserver.gb.manscdp import (
    CmdType,
    ConfigDownloadQuery,
    ConfigDownloadResponse,
    DeviceConfigControl,
    PresetEntry,
    PresetQuery,
    PresetQueryResponse,
    PtzPositionQuery,
    PtzPositionResponse,
    ResultCode,
    RootKind,
)
from farmwatch.sipserver.gb.manscdp_build import BodyWriter
from farmwatch.sipserver.gb.manscdp_element import (
    child_text,
    element_text,
    find_child,
    find_children,
    local_name,
    to_float_or_none,
    to_int_or_none,
)
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

__all__ = [
    "build_config_download_query",
    "build_config_download_response",
    "build_device_config",
    "build_preset_query",
    "build_preset_query_response",
    "build_ptz_position_query",
    "build_ptz_position_response",
    "read_config_download_query",
    "read_config_download_response",
    "read_device_config",
    "read_preset_query",
    "read_preset_query_response",
    "read_ptz_position_query",
    "read_ptz_position_response",
]

_GB2312 = ManscdpCharset.GB2312
_HEADER_NAMES = frozenset({"cmdtype", "sn", "deviceid", "result", "reason", "sumnum"})
_MAX_TREE_DEPTH = 8


def _write_tree(writer: BodyWriter, element: ConfigElement) -> None:
    if not element.children:
        writer.element(element.name, element.text if element.text is not None else "")
        return
    writer.raw(f"<{element.name}>")
    for child in element.children:
        _write_tree(writer, child)
    writer.raw(f"</{element.name}>")


def build_device_config(
    device_id: str,
    sn: int,
    blocks: Sequence[ConfigElement],
    *,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    """Control/DeviceConfig carrying each family in `blocks` (address the device ID:
    Dahua refuses a channel here, gb28181.md §10 item 17)."""
    if not blocks:
        raise ValueError("DeviceConfig needs at least one configuration family")
    writer = BodyWriter(RootKind.CONTROL, CmdType.DEVICE_CONFIG, sn, device_id)
    for block in blocks:
        _write_tree(writer, block)
    return writer.finish(charset)


def build_config_download_query(
    sn: int,
    device_id: str,
    config_types: Sequence[ConfigType],
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    """Query/ConfigDownload; several types are joined by `/` (one answer each)."""
    if not config_types:
        raise ValueError("ConfigDownload needs at least one ConfigType")
    writer = BodyWriter(RootKind.QUERY, CmdType.CONFIG_DOWNLOAD, sn, device_id)
    writer.element("ConfigType", "/".join(t.value for t in config_types))
    return writer.finish(charset)


def build_config_download_response(
    device_id: str,
    sn: int,
    blocks: Sequence[ConfigElement],
    *,
    result: ResultCode = ResultCode.OK,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    writer = BodyWriter(RootKind.RESPONSE, CmdType.CONFIG_DOWNLOAD, sn, device_id)
    writer.element("Result", result.value)
    for block in blocks:
        _write_tree(writer, block)
    return writer.finish(charset)


def build_preset_query(sn: int, device_id: str, charset: ManscdpCharset = _GB2312) -> bytes:
    return BodyWriter(RootKind.QUERY, CmdType.PRESET_QUERY, sn, device_id).finish(charset)


def build_preset_query_response(
    device_id: str,
    sn: int,
    presets: Sequence[PresetEntry],
    *,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    writer = BodyWriter(RootKind.RESPONSE, CmdType.PRESET_QUERY, sn, device_id)
    writer.element("SumNum", len(presets))
    writer.raw(f'<PresetList Num="{len(presets)}">')
    for preset in presets:
        writer.raw("<Item>")
        writer.element("PresetID", preset.index)
        writer.element("PresetName", preset.name)
        writer.raw("</Item>")
    writer.raw("</PresetList>")
    return writer.finish(charset)


def build_ptz_position_query(sn: int, device_id: str, charset: ManscdpCharset = _GB2312) -> bytes:
    return BodyWriter(RootKind.QUERY, CmdType.PTZ_POSITION, sn, device_id).finish(charset)


def build_ptz_position_response(
    device_id: str,
    sn: int,
    pan: float,
    tilt: float,
    zoom: float,
    *,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    writer = BodyWriter(RootKind.RESPONSE, CmdType.PTZ_POSITION, sn, device_id)
    writer.element("Result", ResultCode.OK.value)
    writer.element("Pan", f"{pan:.2f}")
    writer.element("Tilt", f"{tilt:.2f}")
    writer.element("Zoom", f"{zoom:.2f}")
    return writer.finish(charset)


# -- readers ------------------------------------------------------------------------------------


def _result(text: str | None) -> ResultCode | None:
    word = None if text is None else text.strip().upper()
    return ResultCode(word) if word in ("OK", "ERROR") else None


def _tree(element: Element, depth: int = 0) -> ConfigElement:
    children = () if depth >= _MAX_TREE_DEPTH else tuple(_tree(c, depth + 1) for c in element)
    return ConfigElement(local_name(element), element_text(element), children)


def _blocks(root: Element) -> tuple[ConfigElement, ...]:
    """Every child that is not a header field, as a tree (known families and vendors' own)."""
    return tuple(
        _tree(child) for child in root if local_name(child).casefold() not in _HEADER_NAMES
    )


def read_device_config(root: Element, device_id: str, sn: int) -> DeviceConfigControl:
    return DeviceConfigControl(device_id, sn, _blocks(root))


def read_config_download_query(root: Element, device_id: str, sn: int) -> ConfigDownloadQuery:
    text = child_text(root, "ConfigType") or ""
    names = tuple(part.strip() for part in text.split("/") if part.strip())
    return ConfigDownloadQuery(device_id, sn, names)


def read_config_download_response(root: Element, device_id: str, sn: int) -> ConfigDownloadResponse:
    return ConfigDownloadResponse(device_id, sn, _result(child_text(root, "Result")), _blocks(root))


def read_preset_query(root: Element, device_id: str, sn: int) -> PresetQuery:
    return PresetQuery(device_id, sn)


def _preset(item: Element) -> PresetEntry | None:
    index = to_int_or_none(child_text(item, "PresetID"))
    if index is None or not 0 < index <= 255:
        return None
    return PresetEntry(index, child_text(item, "PresetName"))


def read_preset_query_response(root: Element, device_id: str, sn: int) -> PresetQueryResponse:
    preset_list = find_child(root, "PresetList")
    if preset_list is None:
        return PresetQueryResponse(device_id, sn, ())
    presets = (_preset(item) for item in find_children(preset_list, "Item"))
    num = next((v for k, v in preset_list.attrib.items() if k.casefold() == "num"), None)
    return PresetQueryResponse(
        device_id,
        sn,
        tuple(preset for preset in presets if preset is not None),
        declared_num=to_int_or_none(num),
    )


def read_ptz_position_query(root: Element, device_id: str, sn: int) -> PtzPositionQuery:
    return PtzPositionQuery(device_id, sn)


def _number_anywhere(root: Element, name: str) -> float | None:
    """`name` as a child of the root, else of any element under it (vendors nest it)."""
    direct = to_float_or_none(child_text(root, name))
    if direct is not None:
        return direct
    folded = name.casefold()
    for element in root.iter():
        if local_name(element).casefold() == folded:
            value = to_float_or_none(element_text(element))
            if value is not None:
                return value
    return None


def read_ptz_position_response(root: Element, device_id: str, sn: int) -> PtzPositionResponse:
    return PtzPositionResponse(
        device_id,
        sn,
        _result(child_text(root, "Result")),
        pan=_number_anywhere(root, "Pan"),
        tilt=_number_anywhere(root, "Tilt"),
        zoom=_number_anywhere(root, "Zoom"),
    )
