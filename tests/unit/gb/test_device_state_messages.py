"""[2022] HomePositionQuery, CruiseTrackListQuery, CruiseTrackQuery and SDCardStatus bodies
(gb28181.md §4.14): the standard's shapes read (GB 18030 text beyond GBK included), the
shapes devices send tolerated (GBK under a GB2312 label, no prolog, case, padding, flattened
fields, `Item` lists, `DwellTime`, garbage numbers, missing keys), an answer that says
nothing read as nothing, what we write read back the same (hypothesis), and what we will
not write refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.sipserver.gb.device_state import (
    CruisePoint,
    CruiseTrackEntry,
    HomePosition,
    SdCard,
    SdCardState,
)
from farmwatch.sipserver.gb.manscdp import (
    CruiseTrackListQuery,
    CruiseTrackListResponse,
    CruiseTrackQuery,
    CruiseTrackResponse,
    HomePositionQuery,
    HomePositionResponse,
    ResultCode,
    SdCardStatusQuery,
    SdCardStatusResponse,
)
from farmwatch.sipserver.gb.manscdp_device_state import (
    MAX_ITEMS,
    build_cruise_track_list_query,
    build_cruise_track_list_response,
    build_cruise_track_query,
    build_cruise_track_response,
    build_home_position_query,
    build_home_position_response,
    build_sd_card_status_query,
    build_sd_card_status_response,
)
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

DATA = Path(__file__).resolve().parents[2] / "data" / "manscdp"
CHANNEL = "34020000001310000001"
DEVICE = "34020000001320000001"
GB18030 = ManscdpCharset.GB18030


def _load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _bare(cmd_type: str, sn: int = 9, device_id: str = CHANNEL) -> bytes:
    return (
        f"<Response><CmdType>{cmd_type}</CmdType><SN>{sn}</SN>"
        f"<DeviceID>{device_id}</DeviceID></Response>"
    ).encode()


# -- the standard's shapes ------------------------------------------------------------------


def test_the_standards_answers_are_read() -> None:
    assert parse_manscdp(_load("home_position_response_2022.xml")) == HomePositionResponse(
        CHANNEL, 81, ResultCode.OK, HomePosition(True, 120, 3)
    )
    assert parse_manscdp(_load("cruise_track_list_response_2022.xml")) == CruiseTrackListResponse(
        CHANNEL, 82, ResultCode.OK, 2,
        (CruiseTrackEntry(0, "白天巡航"), CruiseTrackEntry(1, "夜间㵘栏巡航")),
    )  # fmt: skip
    assert parse_manscdp(_load("cruise_track_response_2022.xml")) == CruiseTrackResponse(
        CHANNEL, 83, ResultCode.OK, number=1, name="夜间㵘栏巡航", sum_num=2,
        points=(CruisePoint(3, 10, 5), CruisePoint(7, 20, 8)),
    )  # fmt: skip
    assert parse_manscdp(_load("sd_card_status_response_2022.xml")) == SdCardStatusResponse(
        DEVICE, 84, ResultCode.OK, 2,
        (SdCard(1, "SD卡1", SdCardState.OK, capacity_mb=59640, free_mb=31880),
         SdCard(2, "SD卡2", SdCardState.FORMATTING, format_progress=40, capacity_mb=29820,
                free_mb=0)),
    )  # fmt: skip


def test_the_queries_are_laid_out_as_the_standard_has_them() -> None:
    body = build_cruise_track_query(23, CHANNEL, 1).decode("gb18030")
    assert body.splitlines()[1:] == [
        "<Query>",
        "<CmdType>CruiseTrackQuery</CmdType>",
        "<SN>23</SN>",
        f"<DeviceID>{CHANNEL}</DeviceID>",
        "<Number>1</Number>",
        "</Query>",
    ]
    assert parse_manscdp(build_home_position_query(21, CHANNEL)) == HomePositionQuery(CHANNEL, 21)
    assert parse_manscdp(build_cruise_track_list_query(22, CHANNEL)) == CruiseTrackListQuery(
        CHANNEL, 22
    )
    assert parse_manscdp(build_cruise_track_query(23, CHANNEL, 255)) == CruiseTrackQuery(
        CHANNEL, 23, 255
    )
    assert parse_manscdp(build_sd_card_status_query(25, DEVICE)) == SdCardStatusQuery(DEVICE, 25)
    assert b"<CmdType>SDCardStatus</CmdType>" in build_sd_card_status_query(25, DEVICE)


@pytest.mark.parametrize("number", [-1, 256, True, 1.0, "1"])
def test_a_track_number_outside_a_byte_is_not_sent(number: object) -> None:
    with pytest.raises(ValueError, match="Number: expected an integer 0..255"):
        build_cruise_track_query(1, CHANNEL, number)  # type: ignore[arg-type]


# -- what devices send ----------------------------------------------------------------------


def test_a_flattened_guard_position_in_gbk_is_read() -> None:
    assert parse_manscdp(_load("home_position_response_flat_gbk.xml")) == HomePositionResponse(
        CHANNEL, 85, None, HomePosition(False, None, 5)
    )


def test_a_vendors_cruise_track_is_read_and_its_unreadable_point_skipped() -> None:
    assert parse_manscdp(_load("cruise_track_response_vendor_gbk.xml")) == CruiseTrackResponse(
        CHANNEL, 86, None, number=None, name="猪舍巡航", sum_num=None,
        points=(CruisePoint(2, 15, 3), CruisePoint(4)),
    )  # fmt: skip


def test_a_vendors_cards_are_read_and_a_card_without_an_id_skipped() -> None:
    assert parse_manscdp(_load("sd_card_status_response_vendor.xml")) == SdCardStatusResponse(
        DEVICE, 87, None, 3,
        (SdCard(1, "sdcard0", SdCardState.OK, capacity_mb=31914, free_mb=12521),
         SdCard(2, None, None, status_raw="Broken")),
    )  # fmt: skip


def test_answers_that_say_nothing_are_read_as_nothing() -> None:
    """A device that knows the CmdType but keeps none of it: no block, no list."""
    assert parse_manscdp(_bare("HomePositionQuery")) == HomePositionResponse(CHANNEL, 9, None)
    assert parse_manscdp(_bare("CruiseTrackListQuery")) == CruiseTrackListResponse(
        CHANNEL, 9, None, None, ()
    )
    assert parse_manscdp(_bare("CruiseTrackQuery")) == CruiseTrackResponse(
        CHANNEL, 9, None, None, None, None, ()
    )
    assert parse_manscdp(_bare("SDCardStatus", device_id=DEVICE)) == SdCardStatusResponse(
        DEVICE, 9, None, None, ()
    )


def test_an_error_answer_keeps_its_reason() -> None:
    body = (
        "<Response><CmdType>CruiseTrackQuery</CmdType><SN>3</SN><DeviceID>1</DeviceID>"
        "<Result>error</Result><Info><Reason>轨迹不存在</Reason></Info></Response>"
    ).encode("gb18030")
    parsed = parse_manscdp(body)
    assert isinstance(parsed, CruiseTrackResponse)
    assert (parsed.result, parsed.reason) == (ResultCode.ERROR, "轨迹不存在")
    built = build_sd_card_status_response(DEVICE, 4, [], reason="无存储卡")
    assert parse_manscdp(built) == SdCardStatusResponse(
        DEVICE, 4, ResultCode.ERROR, 0, (), "无存储卡"
    )


def test_lists_are_bounded_whatever_a_device_claims() -> None:
    items = "".join(
        f"<CruiseTrack><Number>{n % 256}</Number></CruiseTrack>" for n in range(MAX_ITEMS + 50)
    )
    body = (
        "<Response><CmdType>CruiseTrackListQuery</CmdType><SN>1</SN><DeviceID>1</DeviceID>"
        f'<SumNum>99999</SumNum><CruiseTrackList Num="7">{items}'
        "<CruiseTrack><Number>256</Number></CruiseTrack></CruiseTrackList></Response>"
    ).encode()
    parsed = parse_manscdp(body)
    assert isinstance(parsed, CruiseTrackListResponse)
    assert len(parsed.tracks) == MAX_ITEMS and parsed.sum_num == 99999


# -- round trips ----------------------------------------------------------------------------

_names = st.none() | st.text(
    st.characters(codec="gb18030", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=16,
)
_small = st.none() | st.integers(0, 4095)


@given(
    home=st.none()
    | st.builds(HomePosition, st.none() | st.booleans(), _small, st.none() | st.integers(0, 255))
)
def test_a_guard_position_round_trips(home: HomePosition | None) -> None:
    """Even an empty `<HomePosition>` says the device keeps one (all three None)."""
    body = build_home_position_response(CHANNEL, 5, home, charset=GB18030)
    assert parse_manscdp(body) == HomePositionResponse(CHANNEL, 5, ResultCode.OK, home)


@given(
    tracks=st.lists(st.builds(CruiseTrackEntry, st.integers(0, 255), _names), max_size=8),
    points=st.lists(st.builds(CruisePoint, st.integers(0, 255), _small, _small), max_size=8),
    name=_names,
)
def test_cruise_tracks_round_trip(
    tracks: list[CruiseTrackEntry], points: list[CruisePoint], name: str | None
) -> None:
    listed = parse_manscdp(build_cruise_track_list_response(CHANNEL, 6, tracks, charset=GB18030))
    assert listed == CruiseTrackListResponse(CHANNEL, 6, ResultCode.OK, len(tracks), tuple(tracks))
    body = build_cruise_track_response(CHANNEL, 7, 4, name, points, charset=GB18030)
    assert parse_manscdp(body) == CruiseTrackResponse(
        CHANNEL, 7, ResultCode.OK, 4, name, len(points), tuple(points)
    )


@given(
    cards=st.lists(
        st.builds(
            SdCard,
            st.integers(0, 8),
            _names,
            st.none() | st.sampled_from(SdCardState),
            st.none(),
            st.none() | st.integers(0, 100),
            st.none() | st.integers(0, 2**40),
            st.none() | st.integers(0, 2**40),
        ),
        max_size=8,
    )
)
def test_cards_round_trip(cards: list[SdCard]) -> None:
    body = build_sd_card_status_response(DEVICE, 8, cards, charset=GB18030)
    assert parse_manscdp(body) == SdCardStatusResponse(
        DEVICE, 8, ResultCode.OK, len(cards), tuple(cards)
    )
