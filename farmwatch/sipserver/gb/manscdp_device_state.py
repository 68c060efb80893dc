"""Bodies of the [2022] queries of what a device keeps, built and read (GB/T 28181-2022 A.2.4
HomePositionQuery, CruiseTrackListQuery, CruiseTrackQuery, SDCardStatus; A.2.6 their
answers; gb28181.md §4.14, shaped as libgb28181 and the standard's schema have them).

Builders (strict, laid out like the standard's examples through `BodyWriter`): the four
queries the platform sends and the answers the simulator sends, with `<Result>` (OK, or
ERROR and a `<Reason>`) as libgb28181 expects it. Readers (lenient): any case, the fields of
the guard position under `<HomePosition>` or straight under the root, list items called as
the standard calls them or `Item`, `DwellTime` for `StayTime`, numbers that cannot be read
None, an item without its key (track Number, point PresetIndex, card ID) skipped, and at
most `MAX_ITEMS` items of any list read, whatever a device claims. `manscdp_parse`
dispatches to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree.ElementTree import Element

from farmwatch.sipserver.gb.device_state import (
    CruisePoint,
    CruiseTrackEntry,
    HomePosition,
    SdCard,
    SdCardState,
)
from farmwatch.sipserver.gb.manscdp import (
    CmdType,
    CruiseTrackListQuery,
    CruiseTrackListResponse,
    CruiseTrackQuery,
    CruiseTrackResponse,
    HomePositionQuery,
    HomePositionResponse,
    ResultCode,
    RootKind,
    SdCardStatusQuery,
    SdCardStatusResponse,
)
from farmwatch.sipserver.gb.manscdp_build import BodyWriter
from farmwatch.sipserver.gb.manscdp_element import (
    child_text,
    find_child,
    local_name,
    to_float_or_none,
    to_int_or_none,
)
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

__all__ = [
    "MAX_ITEMS",
    "MAX_TRACK_NUMBER",
    "build_cruise_track_list_query",
    "build_cruise_track_list_response",
    "build_cruise_track_query",
    "build_cruise_track_response",
    "build_home_position_query",
    "build_home_position_response",
    "build_sd_card_status_query",
    "build_sd_card_status_response",
    "read_cruise_track_list_query",
    "read_cruise_track_list_response",
    "read_cruise_track_query",
    "read_cruise_track_response",
    "read_home_position_query",
    "read_home_position_response",
    "read_sd_card_status_query",
    "read_sd_card_status_response",
]

_GB2312 = ManscdpCharset.GB2312
MAX_ITEMS = 256
"""Items read from one list: a track number and a preset are one byte each (PTZCmd), the
standard allows 8 cards; anything past this is a device's garbage."""
MAX_TRACK_NUMBER = 255
"""A cruise track is a PTZCmd cruise group, one byte."""


# -- builders -----------------------------------------------------------------------------------


def build_home_position_query(sn: int, device_id: str, charset: ManscdpCharset = _GB2312) -> bytes:
    return BodyWriter(RootKind.QUERY, CmdType.HOME_POSITION_QUERY, sn, device_id).finish(charset)


def build_cruise_track_list_query(
    sn: int, device_id: str, charset: ManscdpCharset = _GB2312
) -> bytes:
    writer = BodyWriter(RootKind.QUERY, CmdType.CRUISE_TRACK_LIST_QUERY, sn, device_id)
    return writer.finish(charset)


def build_cruise_track_query(
    sn: int, device_id: str, number: int, charset: ManscdpCharset = _GB2312
) -> bytes:
    """Query/CruiseTrackQuery for track `number` (0-255, as the track list numbers it)."""
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 255:
        raise ValueError(f"Number: expected an integer 0..{MAX_TRACK_NUMBER}, got {number!r}")
    writer = BodyWriter(RootKind.QUERY, CmdType.CRUISE_TRACK_QUERY, sn, device_id)
    writer.element("Number", number)
    return writer.finish(charset)


def build_sd_card_status_query(sn: int, device_id: str, charset: ManscdpCharset = _GB2312) -> bytes:
    return BodyWriter(RootKind.QUERY, CmdType.SD_CARD_STATUS, sn, device_id).finish(charset)


def _answer(cmd_type: CmdType, device_id: str, sn: int, reason: str | None) -> BodyWriter:
    """A Response with `Result` OK, or ERROR and `Reason` when `reason` is given."""
    writer = BodyWriter(RootKind.RESPONSE, cmd_type, sn, device_id)
    writer.element("Result", (ResultCode.OK if reason is None else ResultCode.ERROR).value)
    writer.element("Reason", reason)
    return writer


def build_home_position_response(
    device_id: str,
    sn: int,
    home: HomePosition | None,
    *,
    reason: str | None = None,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    """The guard position under `<HomePosition>` (none: left out, as a device without one)."""
    writer = _answer(CmdType.HOME_POSITION_QUERY, device_id, sn, reason)
    if home is not None and reason is None:
        writer.raw("<HomePosition>")
        writer.element("Enabled", None if home.enabled is None else int(home.enabled))
        writer.element("ResetTime", home.reset_time)
        writer.element("PresetIndex", home.preset_index)
        writer.raw("</HomePosition>")
    return writer.finish(charset)


def build_cruise_track_list_response(
    device_id: str,
    sn: int,
    tracks: Sequence[CruiseTrackEntry],
    *,
    reason: str | None = None,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    writer = _answer(CmdType.CRUISE_TRACK_LIST_QUERY, device_id, sn, reason)
    writer.element("SumNum", len(tracks))
    writer.raw(f'<CruiseTrackList Num="{len(tracks)}">')
    for track in tracks:
        writer.raw("<CruiseTrack>")
        writer.element("Number", track.number)
        writer.element("Name", track.name)
        writer.raw("</CruiseTrack>")
    writer.raw("</CruiseTrackList>")
    return writer.finish(charset)


def build_cruise_track_response(
    device_id: str,
    sn: int,
    number: int,
    name: str | None,
    points: Sequence[CruisePoint],
    *,
    reason: str | None = None,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    writer = _answer(CmdType.CRUISE_TRACK_QUERY, device_id, sn, reason)
    writer.element("Number", number)
    writer.element("Name", name)
    writer.element("SumNum", len(points))
    writer.raw(f'<CruisePointList Num="{len(points)}">')
    for point in points:
        writer.raw("<CruisePoint>")
        writer.element("PresetIndex", point.preset_index)
        writer.element("StayTime", point.stay_time)
        writer.element("Speed", point.speed)
        writer.raw("</CruisePoint>")
    writer.raw("</CruisePointList>")
    return writer.finish(charset)


def build_sd_card_status_response(
    device_id: str,
    sn: int,
    cards: Sequence[SdCard],
    *,
    reason: str | None = None,
    charset: ManscdpCharset = _GB2312,
) -> bytes:
    writer = _answer(CmdType.SD_CARD_STATUS, device_id, sn, reason)
    writer.element("SumNum", len(cards))
    writer.raw(f'<SDCardStatusInfo Num="{len(cards)}">')
    for card in cards:
        writer.raw("<Item>")
        writer.element("ID", card.card_id)
        writer.element("HddName", card.name)
        status = card.status.value if card.status is not None else card.status_raw
        writer.element("Status", status)
        writer.element("FormatProgress", card.format_progress)
        writer.element("Capacity", card.capacity_mb)
        writer.element("FreeSpace", card.free_mb)
        writer.raw("</Item>")
    writer.raw("</SDCardStatusInfo>")
    return writer.finish(charset)


# -- readers ------------------------------------------------------------------------------------


def _result(root: Element) -> ResultCode | None:
    word = (child_text(root, "Result") or "").upper()
    return ResultCode(word) if word in ("OK", "ERROR") else None


def _reason(root: Element) -> str | None:
    info = find_child(root, "Info")
    return child_text(root, "Reason") or (None if info is None else child_text(info, "Reason"))


def _whole(text: str | None) -> int | None:
    """An integer, or a decimal some devices send for one (`31914.0` MB), rounded."""
    number = to_int_or_none(text)
    if number is not None:
        return number
    decimal = to_float_or_none(text)
    return None if decimal is None or abs(decimal) >= 2**62 else round(decimal)


def _first(parent: Element, *names: str) -> str | None:
    return next((text for name in names if (text := child_text(parent, name)) is not None), None)


def _items(root: Element, list_names: tuple[str, ...], item_name: str) -> list[Element]:
    """The items of the first list present (each `item_name` or `Item`), bounded."""
    holder = next((e for name in list_names if (e := find_child(root, name)) is not None), None)
    if holder is None:
        return []
    wanted = (item_name.casefold(), "item")
    return [child for child in holder if local_name(child).casefold() in wanted][:MAX_ITEMS]


def _flag(text: str | None) -> bool | None:
    word = (text or "").strip().lower()
    return {"1": True, "0": False, "true": True, "false": False}.get(word)


def read_home_position_query(root: Element, device_id: str, sn: int) -> HomePositionQuery:
    return HomePositionQuery(device_id, sn)


def read_home_position_response(root: Element, device_id: str, sn: int) -> HomePositionResponse:
    """The fields under `<HomePosition>`, else straight under the root (devices flatten it);
    none of the three anywhere: `home` None."""
    holder = find_child(root, "HomePosition")
    fields = holder if holder is not None else root
    texts = [child_text(fields, name) for name in ("Enabled", "ResetTime", "PresetIndex")]
    home = None
    if holder is not None or any(text is not None for text in texts):
        home = HomePosition(_flag(texts[0]), _whole(texts[1]), _whole(texts[2]))
    return HomePositionResponse(device_id, sn, _result(root), home, _reason(root))


def read_cruise_track_list_query(root: Element, device_id: str, sn: int) -> CruiseTrackListQuery:
    return CruiseTrackListQuery(device_id, sn)


def _track(item: Element) -> CruiseTrackEntry | None:
    number = to_int_or_none(child_text(item, "Number"))
    if number is None or not 0 <= number <= MAX_TRACK_NUMBER:
        return None
    return CruiseTrackEntry(number, child_text(item, "Name"))


def read_cruise_track_list_response(
    root: Element, device_id: str, sn: int
) -> CruiseTrackListResponse:
    tracks = (_track(item) for item in _items(root, ("CruiseTrackList",), "CruiseTrack"))
    return CruiseTrackListResponse(
        device_id,
        sn,
        _result(root),
        to_int_or_none(child_text(root, "SumNum")),
        tuple(track for track in tracks if track is not None),
        _reason(root),
    )


def read_cruise_track_query(root: Element, device_id: str, sn: int) -> CruiseTrackQuery:
    return CruiseTrackQuery(device_id, sn, to_int_or_none(child_text(root, "Number")))


def _point(item: Element) -> CruisePoint | None:
    preset = to_int_or_none(_first(item, "PresetIndex", "PresetID"))
    if preset is None or not 0 <= preset <= 255:
        return None
    return CruisePoint(
        preset,
        stay_time=_whole(_first(item, "StayTime", "DwellTime")),
        speed=_whole(child_text(item, "Speed")),
    )


def read_cruise_track_response(root: Element, device_id: str, sn: int) -> CruiseTrackResponse:
    points = (_point(item) for item in _items(root, ("CruisePointList",), "CruisePoint"))
    return CruiseTrackResponse(
        device_id,
        sn,
        _result(root),
        number=to_int_or_none(child_text(root, "Number")),
        name=child_text(root, "Name"),
        sum_num=to_int_or_none(child_text(root, "SumNum")),
        points=tuple(point for point in points if point is not None),
        reason=_reason(root),
    )


def read_sd_card_status_query(root: Element, device_id: str, sn: int) -> SdCardStatusQuery:
    return SdCardStatusQuery(device_id, sn)


def _card(item: Element) -> SdCard | None:
    card_id = to_int_or_none(child_text(item, "ID"))
    if card_id is None or card_id < 0:
        return None
    raw = child_text(item, "Status")
    status = SdCardState.from_wire(raw)
    progress = _whole(child_text(item, "FormatProgress"))
    return SdCard(
        card_id,
        name=_first(item, "HddName", "Name"),
        status=status,
        status_raw=raw if status is None else None,
        format_progress=progress if progress is not None and 0 <= progress <= 100 else None,
        capacity_mb=_whole(child_text(item, "Capacity")),
        free_mb=_whole(child_text(item, "FreeSpace")),
    )


def read_sd_card_status_response(root: Element, device_id: str, sn: int) -> SdCardStatusResponse:
    items = _items(root, ("SDCardStatusInfo", "SDCardList"), "SDCard")
    cards = (_card(item) for item in items)
    return SdCardStatusResponse(
        device_id,
        sn,
        _result(root),
        to_int_or_none(child_text(root, "SumNum")),
        tuple(card for card in cards if card is not None),
        _reason(root),
    )
