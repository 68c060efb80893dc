"""Builders: exact bytes for the standard's examples and build → parse round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.gb import (
    AlarmStatusItem,
    CatalogEvent,
    CatalogItem,
    CatalogNotify,
    CatalogQuery,
    CatalogResponse,
    ChannelStatus,
    CmdType,
    ControlResponse,
    DeviceControl,
    DeviceInfoQuery,
    DeviceInfoResponse,
    DeviceStatusQuery,
    DeviceStatusResponse,
    DutyStatus,
    IFrameCommand,
    Keepalive,
    ManscdpCharset,
    MediaStatus,
    OtherControlCommand,
    PtzCommand,
    ResultCode,
    TeleBootCommand,
    build_catalog_notify,
    build_catalog_query,
    build_catalog_response,
    build_catalog_responses,
    build_control_response,
    build_device_control,
    build_device_control_iframe,
    build_device_info_query,
    build_device_info_response,
    build_device_status_query,
    build_device_status_response,
    build_keepalive,
    build_media_status,
    parse_manscdp,
)

DATA = Path(__file__).parents[2] / "data" / "manscdp"
DEVICE = "34020000001180000001"
CHANNEL = "34020000001310000001"
CHARSETS = [ManscdpCharset.GB2312, ManscdpCharset.UTF8]

FULL_ITEM = CatalogItem(
    device_id=CHANNEL,
    name="萳溪<东门> & 入口",
    manufacturer="ExampleCo",
    model="NVR-16",
    owner="Owner",
    civil_code="340200",
    block="A区",
    address="东门 1号",
    parental=False,
    parent_id=f"{DEVICE}/34020000002160000001",
    safety_way=0,
    register_way=1,
    cert_num="C-1",
    certifiable=True,
    err_code=400,
    end_time="2030-01-01T00:00:00",
    secrecy=0,
    ip_address="192.168.20.64",
    port=5060,
    password="pw",
    status=ChannelStatus.ON,
    longitude=117.283,
    latitude=31.8612,
    ptz_type=1,
    position_type=4,
    room_type=1,
    use_type=2,
    supply_light_type=2,
    direction_type=5,
    resolution="6/4",
    business_group_id="34020000002150000001",
    download_speed="1/2/4",
    svc_space_support_mode=0,
    svc_time_support_mode=3,
    stream_number_list="0/1",
    extra=(("PointCommonName", "猪舍"), ("MAC", "00:11:22:33:44:55")),
)


def test_keepalive_is_byte_identical_to_section_11_2() -> None:
    assert build_keepalive(DEVICE, 17) == (DATA / "keepalive_11_2.xml").read_bytes()


def test_catalog_response_is_byte_identical_to_section_11_3() -> None:
    item = CatalogItem(
        device_id=CHANNEL,
        name="东门入口",
        manufacturer="ExampleCo",
        model="NVR-16",
        owner="Owner",
        civil_code="340200",
        address="东门",
        parental=False,
        parent_id=DEVICE,
        safety_way=0,
        register_way=1,
        secrecy=0,
        status=ChannelStatus.ON,
        longitude=117.283,
        latitude=31.8612,
        ptz_type=1,
        download_speed="1/2/4",
    )
    expected = (DATA / "catalog_11_3_part1.xml").read_bytes()

    body = build_catalog_response(DEVICE, 248, 2, [item])

    # The standard writes 117.2830; we write the shortest exact form 117.283.
    assert body == expected.replace(b"117.2830", b"117.283")


def test_device_info_response_is_byte_identical_to_section_11_3() -> None:
    body = build_device_info_response(
        DEVICE,
        249,
        device_name="仓库NVR",
        manufacturer="ExampleCo",
        model="NVR-16",
        firmware="V4.2.1",
        channel_count=16,
    )

    assert body == (DATA / "device_info_11_3.xml").read_bytes()


def test_ptz_control_is_byte_identical_to_section_11_9() -> None:
    body = build_device_control(CHANNEL, 402, PtzCommand("A50F010180000036"), control_priority=5)

    assert body == (DATA / "device_control_ptz_11_9.xml").read_bytes()


def test_iframe_command_keeps_the_standard_spelling() -> None:
    body = build_device_control_iframe(CHANNEL, 7)

    assert b"<IFameCmd>Send</IFameCmd>\r\n" in body
    assert parse_manscdp(body) == DeviceControl(CHANNEL, 7, IFrameCommand())


@pytest.mark.parametrize("charset", CHARSETS)
def test_every_line_ends_with_crlf_and_the_prolog_names_the_charset(
    charset: ManscdpCharset,
) -> None:
    body = build_catalog_responses([FULL_ITEM], 1, DEVICE, charset=charset)[0]

    assert body.startswith(f'<?xml version="1.0" encoding="{charset.value}"?>\r\n'.encode())
    assert body.endswith(b"</Response>\r\n")
    assert body.count(b"\n") == body.count(b"\r\n")
    assert "萳溪".encode(charset.codec) in body


@pytest.mark.parametrize("charset", CHARSETS)
def test_round_trip_of_every_builder(charset: ManscdpCharset) -> None:
    alarm = (AlarmStatusItem("34020000001340000001", DutyStatus.ALARM, "ALARM"),)
    cases: list[tuple[bytes, object]] = [
        (build_catalog_query(3, DEVICE, charset), CatalogQuery(DEVICE, 3)),
        (
            build_catalog_query(3, DEVICE, charset, start_time="2024-01-01T00:00:00"),
            CatalogQuery(DEVICE, 3, start_time="2024-01-01T00:00:00"),
        ),
        (build_device_info_query(4, DEVICE, charset), DeviceInfoQuery(DEVICE, 4)),
        (build_device_status_query(5, DEVICE, charset), DeviceStatusQuery(DEVICE, 5)),
        (
            build_keepalive(
                DEVICE, 6, ResultCode.ERROR, info_device_ids=[CHANNEL], charset=charset
            ),
            Keepalive(DEVICE, 6, ResultCode.ERROR, (CHANNEL,)),
        ),
        (
            build_catalog_response(DEVICE, 7, 1, [FULL_ITEM], charset=charset),
            CatalogResponse(DEVICE, 7, 1, (FULL_ITEM,), declared_num=1),
        ),
        (
            build_catalog_notify(DEVICE, 8, [FULL_ITEM], charset=charset),
            CatalogNotify(DEVICE, 8, 1, (FULL_ITEM,)),
        ),
        (
            build_device_info_response(
                DEVICE, 9, device_name="仓库 NVR", channel_count=4, charset=charset
            ),
            DeviceInfoResponse(DEVICE, 9, ResultCode.OK, device_name="仓库 NVR", channel_count=4),
        ),
        (
            build_device_status_response(
                DEVICE,
                10,
                online=False,
                reason="断电",
                encode=True,
                record=False,
                device_time="2024-01-01T08:00:00",
                alarm_status=alarm,
                charset=charset,
            ),
            DeviceStatusResponse(
                DEVICE,
                10,
                ResultCode.OK,
                False,
                ResultCode.OK,
                "断电",
                True,
                False,
                "2024-01-01T08:00:00",
                alarm,
            ),
        ),
        (
            build_device_control_iframe(CHANNEL, 11, charset),
            DeviceControl(CHANNEL, 11, IFrameCommand()),
        ),
        (
            build_device_control(CHANNEL, 12, TeleBootCommand(), charset=charset),
            DeviceControl(CHANNEL, 12, TeleBootCommand()),
        ),
        (
            build_device_control(CHANNEL, 13, OtherControlCommand("WiperCmd", "On")),
            DeviceControl(CHANNEL, 13, OtherControlCommand("WiperCmd", "On")),
        ),
        (build_media_status(CHANNEL, 14, charset=charset), MediaStatus(CHANNEL, 14, "121")),
        (
            build_control_response(DEVICE, 15, CmdType.DEVICE_CONFIG, ResultCode.ERROR),
            ControlResponse(DEVICE, 15, CmdType.DEVICE_CONFIG, ResultCode.ERROR),
        ),
    ]
    for body, expected in cases:
        assert parse_manscdp(body) == expected


def test_catalog_responses_split_into_messages_sharing_sn_and_sum_num() -> None:
    items = [CatalogItem(f"340200000013100{n:05d}", name=f"通道{n}") for n in range(45)]

    bodies = build_catalog_responses(items, 248, DEVICE, items_per_message=20)

    messages = [parse_manscdp(body) for body in bodies]
    assert all(isinstance(m, CatalogResponse) for m in messages)
    responses = [m for m in messages if isinstance(m, CatalogResponse)]
    assert [(r.sn, r.sum_num, r.declared_num) for r in responses] == [
        (248, 45, 20),
        (248, 45, 20),
        (248, 45, 5),
    ]
    assert [item for r in responses for item in r.items] == items


def test_empty_catalog_is_one_message_with_sum_num_zero() -> None:
    (body,) = build_catalog_responses([], 9, DEVICE)

    assert parse_manscdp(body) == CatalogResponse(DEVICE, 9, 0, (), declared_num=0)


def test_items_per_message_must_be_positive() -> None:
    with pytest.raises(ValueError, match="items_per_message"):
        build_catalog_responses([FULL_ITEM], 1, DEVICE, items_per_message=0)


def test_notify_items_carry_their_event() -> None:
    items = [CatalogItem(CHANNEL, event=CatalogEvent.DEL), CatalogItem(DEVICE, event=None)]

    message = parse_manscdp(build_catalog_notify(DEVICE, 1, items, sum_num=5))

    assert message == CatalogNotify(DEVICE, 1, 5, tuple(items))


def test_invalid_extra_names_are_left_out_instead_of_breaking_the_xml() -> None:
    item = CatalogItem(CHANNEL, extra=(("bad name", "x"), ("Good", "y")))

    message = parse_manscdp(build_catalog_response(DEVICE, 1, 1, [item]))

    assert isinstance(message, CatalogResponse)
    assert message.items[0].extra == (("Good", "y"),)


def _text() -> st.SearchStrategy[str]:
    alphabet = st.characters(
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufffe\uffff"
    )
    return st.text(alphabet, min_size=1, max_size=20).map(str.strip).filter(bool)


def _optional(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


_items = st.builds(
    CatalogItem,
    device_id=st.from_regex(r"[0-9]{20}", fullmatch=True),
    event=_optional(st.sampled_from(CatalogEvent)),
    name=_optional(_text()),
    address=_optional(_text()),
    civil_code=_optional(st.from_regex(r"[0-9]{2}([0-9]{2}){0,3}", fullmatch=True)),
    parental=_optional(st.booleans()),
    parent_id=_optional(_text()),
    port=_optional(st.integers(0, 65535)),
    status=_optional(st.sampled_from(ChannelStatus)),
    longitude=_optional(st.floats(-180, 180)),
    latitude=_optional(st.floats(-90, 90)),
    ptz_type=_optional(st.integers(-(10**6), 10**6)),
    business_group_id=_optional(_text()),
    extra=st.lists(
        st.tuples(st.from_regex(r"X[a-z]{1,8}", fullmatch=True), _text()), max_size=3
    ).map(tuple),
)


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(_items, max_size=5),
    sn=st.integers(1, 2**31),
    charset=st.sampled_from(ManscdpCharset),
)
def test_catalog_items_survive_build_then_parse(
    items: list[CatalogItem], sn: int, charset: ManscdpCharset
) -> None:
    unique = list({item.device_id: item for item in items}.values())

    body = build_catalog_response(DEVICE, sn, len(unique), unique, charset=charset)

    assert parse_manscdp(body) == CatalogResponse(
        DEVICE, sn, len(unique), tuple(unique), declared_num=len(unique)
    )


def test_other_control_command_needs_an_xml_element_name() -> None:
    with pytest.raises(ValueError, match="element name"):
        build_device_control(CHANNEL, 1, OtherControlCommand("Bad Name", "x"))
