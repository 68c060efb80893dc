"""Notify/MobilePosition (gb28181.md §4.11): the 2016 flat form and the [2022] DeviceList
form read from recorded bodies, garbage numbers read as None, and both forms written then
read back the same (hypothesis); what the platform keeps of them (on the earth only)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from farmwatch.platform.services.position_service import track_points
from farmwatch.sipserver.gb.manscdp import MobilePosition, MobilePositionNotify
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.manscdp_position import build_mobile_position_notify
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

DATA = Path(__file__).parents[2] / "data" / "manscdp"
DEVICE = "34020000001380000001"
SHANGHAI = ZoneInfo("Asia/Shanghai")
RECEIVED = datetime(2024, 3, 15, 2, 31, tzinfo=UTC)


def test_the_2016_flat_form() -> None:
    message = parse_manscdp((DATA / "mobile_position_2016.xml").read_bytes())
    assert message == MobilePositionNotify(
        DEVICE, 17,
        (MobilePosition(DEVICE, "2024-03-15T10:30:05", 113.2505, 23.1208, speed=36.5,
                        direction=270.0, altitude=12.0),),
    )  # fmt: skip


def test_the_2022_list_form_with_a_garbage_item() -> None:
    message = parse_manscdp((DATA / "mobile_position_2022_list.xml").read_bytes())
    assert isinstance(message, MobilePositionNotify)
    first, second = message.positions
    assert first == MobilePosition(
        DEVICE, "2024-03-15T10:30:09", 113.2506, 23.1209, speed=0.0, direction=0.0,
        altitude=11.0,
    )  # fmt: skip
    assert (second.device_id, second.longitude, second.latitude) == (
        "34020000001380000002", 200.0, None,
    )  # fmt: skip
    points, refused = track_points(DEVICE, message, RECEIVED, SHANGHAI)
    assert refused == 1
    (point,) = points
    assert point.time == datetime(2024, 3, 15, 2, 30, 9, tzinfo=UTC)
    assert (point.device_id, point.source_id) == (DEVICE, DEVICE)


def test_a_position_without_time_takes_the_received_time() -> None:
    notify = MobilePositionNotify(DEVICE, 1, (MobilePosition(DEVICE, None, 1.0, 2.0),))
    (point,), refused = track_points(DEVICE, notify, RECEIVED, SHANGHAI)
    assert refused == 0 and point.time == RECEIVED


_NUMBER = st.none() | st.decimals(
    min_value=-1000, max_value=1000, places=4, allow_nan=False, allow_infinity=False
).map(float)
_TIME = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)
).map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S"))
_ID = st.from_regex(r"\A[0-9]{20}\Z")


@st.composite
def _positions(draw: st.DrawFn, device_id: str) -> MobilePosition:
    return MobilePosition(
        device_id, draw(_TIME), draw(_NUMBER), draw(_NUMBER), speed=draw(_NUMBER),
        direction=draw(_NUMBER), altitude=draw(_NUMBER),
    )  # fmt: skip


@given(_ID, st.integers(0, 2**31), st.data(), st.sampled_from(list(ManscdpCharset)))
def test_the_2016_form_round_trips(
    device_id: str, sn: int, data: st.DataObject, charset: ManscdpCharset
) -> None:
    notify = MobilePositionNotify(device_id, sn, (data.draw(_positions(device_id)),))
    assert parse_manscdp(build_mobile_position_notify(notify, charset=charset)) == notify


@given(_ID, st.integers(0, 2**31), st.data())
def test_the_2022_form_round_trips(device_id: str, sn: int, data: st.DataObject) -> None:
    items = data.draw(st.lists(_ID.flatmap(_positions), min_size=0, max_size=5))
    notify = MobilePositionNotify(device_id, sn, tuple(items))
    assert parse_manscdp(build_mobile_position_notify(notify, is_2022=True)) == notify
