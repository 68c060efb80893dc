"""RecordInfo (gb28181.md §4.7, §11.8): the query we send and the answers devices give."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.sipserver.gb.manscdp import RecordInfoQuery, RecordInfoResponse, RecordItem
from farmwatch.sipserver.gb.manscdp_build import (
    build_record_info_query,
    build_record_info_responses,
)
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

DATA = Path(__file__).parents[2] / "data" / "manscdp"
CHANNEL = "34020000001310000001"


def test_the_query_is_the_reference_example_byte_for_byte() -> None:
    body = build_record_info_query(655, CHANNEL, "2024-01-01T00:00:00", "2024-01-01T23:59:59")
    example = (
        '<?xml version="1.0" encoding="GB2312"?>\n<Query>\n<CmdType>RecordInfo</CmdType>\n'
        "<SN>655</SN>\n<DeviceID>34020000001310000001</DeviceID>\n"
        "<StartTime>2024-01-01T00:00:00</StartTime>\n<EndTime>2024-01-01T23:59:59</EndTime>\n"
        "<Secrecy>0</Secrecy>\n<Type>all</Type>\n</Query>\n"
    )
    assert body == example.replace("\n", "\r\n").encode("ascii")
    assert len(body) == 272  # what §11.8 states


def test_the_reference_response_is_read_with_every_field() -> None:
    body = (DATA / "record_info_4_7.xml").read_bytes()
    assert len(body) == 545  # §11.8: the §4.7 response with a prolog line
    message = parse_manscdp(body)
    assert message == RecordInfoResponse(
        CHANNEL,
        655,
        sum_num=2,
        name="东门入口",
        declared_num=1,
        items=(
            RecordItem(
                CHANNEL,
                "2024-01-01T08:00:00",
                "2024-01-01T08:59:59",
                name="东门入口",
                file_path="ch01_20240101080000",
                address="Address",
                secrecy=0,
                record_type="time",
                file_size=1073741824,
            ),
        ),
    )


def test_a_response_as_devices_vary_it_is_read_leniently() -> None:
    # lower-case num, an item without DeviceID (the queried channel's), 2022 fields, a
    # FileSize of -1 and padding; SumNum 0 with no list is "no records".
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><CmdType>RecordInfo</CmdType>'
        f"<SN> 7 </SN><DeviceID>{CHANNEL}</DeviceID><SumNum>1</SumNum>"
        '<RecordList num="1"><Item><StartTime>2024-01-01 08:00:00</StartTime>'
        "<EndTime>2024-01-01T08:30:00</EndTime><Type>alarm</Type><FileSize>-1</FileSize>"
        "<StreamNumber>1</StreamNumber><RecordLocation>0</RecordLocation></Item></RecordList>"
        "</Response>"
    ).encode()
    message = parse_manscdp(body)
    assert isinstance(message, RecordInfoResponse)
    assert message.sn == 7 and message.declared_num == 1
    (item,) = message.items
    assert item.device_id == CHANNEL
    assert (item.start_time, item.end_time) == ("2024-01-01 08:00:00", "2024-01-01T08:30:00")
    assert (item.record_type, item.file_size, item.stream_number, item.record_location) == (
        "alarm",
        -1,
        1,
        "0",
    )
    empty = build_record_info_responses(CHANNEL, 9, [])
    assert len(empty) == 1
    assert parse_manscdp(empty[0]) == RecordInfoResponse(CHANNEL, 9, 0, ())


def test_the_query_is_read_back_as_devices_receive_it() -> None:
    body = build_record_info_query(
        5, CHANNEL, "2024-01-01T00:00:00", "2024-01-01T06:00:00", indistinct_query=1
    )
    assert parse_manscdp(body) == RecordInfoQuery(
        CHANNEL,
        5,
        "2024-01-01T00:00:00",
        "2024-01-01T06:00:00",
        secrecy=0,
        record_type="all",
        indistinct_query=1,
    )


# "东门" first: a body whose only non-ASCII bytes happen to be valid UTF-8 is read as UTF-8
# (the decoder's documented heuristic, §4.2), which a lone GB character can be.
_text = st.text(st.characters(codec="gb2312", exclude_categories=("Cs", "Cc")), max_size=12).map(
    lambda text: "东门" + text
)
_items = st.builds(
    RecordItem,
    device_id=st.just(CHANNEL),
    start_time=st.just("2024-01-01T00:00:00"),
    end_time=st.just("2024-01-01T01:00:00"),
    name=_text.map(str.strip) | st.none(),
    file_path=_text.map(str.strip) | st.none(),
    file_size=st.integers(0, 2**40) | st.none(),
    stream_number=st.integers(0, 3) | st.none(),
)


@given(st.lists(_items, max_size=25), st.integers(1, 10))
def test_responses_split_over_messages_give_back_every_item(
    items: list[RecordItem], per_message: int
) -> None:
    bodies = build_record_info_responses(
        CHANNEL, 3, items, items_per_message=per_message, charset=ManscdpCharset.GB2312
    )
    parsed = [parse_manscdp(body) for body in bodies]
    assert all(isinstance(p, RecordInfoResponse) and p.sum_num == len(items) for p in parsed)
    assert [i for p in parsed if isinstance(p, RecordInfoResponse) for i in p.items] == items
    assert len(bodies) == max(1, -(-len(items) // per_message))


def test_items_per_message_must_be_positive() -> None:
    with pytest.raises(ValueError, match="items_per_message"):
        build_record_info_responses(CHANNEL, 1, [], items_per_message=0)
