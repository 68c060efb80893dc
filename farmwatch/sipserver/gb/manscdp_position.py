"""Notify/MobilePosition read and written (GB/T 28181-2016 A.2.5 e; gb28181.md §4.11).

Both forms are read: the 2016 flat one (`DeviceID`, `Time`, `Longitude`, `Latitude`,
`Speed`, `Direction`, `Altitude` under the root) and the [2022] one (libgb28181:
`DeviceList/Item` with `DeviceID`, `CaptureTime`, the same numbers, `Height`). Numbers that
are not finite decimals are None; whether a position is on the earth is the platform's
decision, not the reader's.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from farmwatch.sipserver.gb.manscdp import CmdType, MobilePosition, MobilePositionNotify, RootKind
from farmwatch.sipserver.gb.manscdp_build import BodyWriter
from farmwatch.sipserver.gb.manscdp_element import (
    child_text,
    find_child,
    find_children,
    to_float_or_none,
)
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

__all__ = ["build_mobile_position_notify", "read_mobile_position_notify"]

MAX_ITEMS = 1000
"""Items read from one [2022] DeviceList (a body is bounded by its size anyway)."""


def _position(element: Element, device_id: str, time_names: tuple[str, ...]) -> MobilePosition:
    time = next((t for t in (child_text(element, n) for n in time_names) if t), None)
    return MobilePosition(
        device_id=child_text(element, "DeviceID") or device_id,
        time=time,
        longitude=to_float_or_none(child_text(element, "Longitude")),
        latitude=to_float_or_none(child_text(element, "Latitude")),
        speed=to_float_or_none(child_text(element, "Speed")),
        direction=to_float_or_none(child_text(element, "Direction")),
        altitude=to_float_or_none(child_text(element, "Altitude")),
    )


def read_mobile_position_notify(root: Element, device_id: str, sn: int) -> MobilePositionNotify:
    device_list = find_child(root, "DeviceList")
    if device_list is None:
        return MobilePositionNotify(device_id, sn, (_position(root, device_id, ("Time",)),))
    items = find_children(device_list, "Item")[:MAX_ITEMS]
    return MobilePositionNotify(
        device_id,
        sn,
        tuple(_position(item, device_id, ("CaptureTime", "Time")) for item in items),
    )


def _number(value: float | None) -> str | None:
    return None if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def build_mobile_position_notify(
    notify: MobilePositionNotify,
    *,
    is_2022: bool = False,
    charset: ManscdpCharset = ManscdpCharset.GB2312,
) -> bytes:
    """The 2016 flat form (the first position only), or the [2022] DeviceList form."""
    writer = BodyWriter(RootKind.NOTIFY, CmdType.MOBILE_POSITION, notify.sn, notify.device_id)
    if not is_2022:
        if notify.positions:
            _write_numbers(writer, notify.positions[0], "Time")
        return writer.finish(charset)
    writer.element("SumNum", len(notify.positions))
    writer.raw(f'<DeviceList Num="{len(notify.positions)}">')
    for position in notify.positions:
        writer.raw("<Item>")
        writer.element("DeviceID", position.device_id)
        _write_numbers(writer, position, "CaptureTime")
        writer.raw("</Item>")
    writer.raw("</DeviceList>")
    return writer.finish(charset)


def _write_numbers(writer: BodyWriter, position: MobilePosition, time_name: str) -> None:
    writer.element(time_name, position.time)
    writer.element("Longitude", _number(position.longitude))
    writer.element("Latitude", _number(position.latitude))
    writer.element("Speed", _number(position.speed))
    writer.element("Direction", _number(position.direction))
    writer.element("Altitude", _number(position.altitude))
