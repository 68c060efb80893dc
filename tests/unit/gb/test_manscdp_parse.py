"""Parsing recorded/composed MANSCDP bodies (tests/data/manscdp) into typed messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from farmwatch.sipserver.gb import (
    MISSING_SN,
    CatalogEvent,
    CatalogNotify,
    CatalogQuery,
    CatalogResponse,
    ChannelStatus,
    CivilCode,
    CmdType,
    ControlResponse,
    DeviceControl,
    DeviceInfoQuery,
    DeviceInfoResponse,
    DeviceKind,
    DeviceStatusQuery,
    DeviceStatusResponse,
    DutyStatus,
    GbId,
    IFrameCommand,
    Keepalive,
    ManscdpError,
    MediaStatus,
    OtherControlCommand,
    PtzCommand,
    ResultCode,
    RootKind,
    TeleBootCommand,
    UnknownMessage,
    parse_manscdp,
)
from farmwatch.sipserver.gb.control_commands import RecordCommand
from farmwatch.sipserver.gb.manscdp import AlarmNotify, MobilePosition, MobilePositionNotify
from farmwatch.sipserver.gb.manscdp_build import build_alarm_notify

DATA = Path(__file__).parents[2] / "data" / "manscdp"


def _load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _catalog(name: str) -> CatalogResponse:
    message = parse_manscdp(_load(name))
    assert isinstance(message, CatalogResponse)
    return message


def test_keepalive_of_section_11_2() -> None:
    assert parse_manscdp(_load("keepalive_11_2.xml")) == Keepalive(
        "34020000001180000001", 17, ResultCode.OK, ()
    )


def test_keepalive_with_faulty_sub_devices_in_info() -> None:
    body = (
        b"<Notify><CmdType>Keepalive</CmdType><SN>3</SN><DeviceID>1</DeviceID>"
        b"<Status>ERROR</Status><Info><DeviceID>A</DeviceID><DeviceID> B </DeviceID></Info>"
        b"</Notify>"
    )

    assert parse_manscdp(body) == Keepalive("1", 3, ResultCode.ERROR, ("A", "B"))


def test_first_catalog_message_of_section_11_3() -> None:
    response = _catalog("catalog_11_3_part1.xml")

    assert (response.device_id, response.sn, response.sum_num, response.declared_num) == (
        "34020000001180000001",
        248,
        2,
        1,
    )
    (item,) = response.items
    assert item.device_id == "34020000001310000001"
    assert item.gb_id == GbId("34020000001310000001")
    assert item.name == "东门入口"
    assert (item.manufacturer, item.model, item.owner) == ("ExampleCo", "NVR-16", "Owner")
    assert (item.civil_code, item.address, item.parental) == ("340200", "东门", False)
    assert item.parent_id == "34020000001180000001"
    assert item.parent_ids == ("34020000001180000001",)
    assert (item.safety_way, item.register_way, item.secrecy) == (0, 1, 0)
    assert item.status is ChannelStatus.ON
    assert (item.longitude, item.latitude) == (117.2830, 31.8612)
    assert (item.ptz_type, item.download_speed) == (1, "1/2/4")
    assert item.event is None
    assert item.extra == ()


def test_gbk_bytes_declared_gb2312_keep_the_rare_character() -> None:
    (item,) = _catalog("catalog_gbk_rare_char.xml").items

    assert item.name == "萳溪猪场东门"


def test_utf8_bytes_declared_gb2312() -> None:
    (item,) = _catalog("catalog_utf8_declared_gb2312.xml").items

    assert item.name == "一号鸡舍北侧"


def test_no_prolog_and_lf_line_ends() -> None:
    response = _catalog("catalog_no_prolog_gbk_lf.xml")

    assert response.sn == 32
    assert response.items[0].name == "三号猪舍"


def test_utf8_bom() -> None:
    assert _catalog("catalog_bom_utf8.xml").items[0].name == "饲料仓库"


def test_bare_ampersand_in_name() -> None:
    (item,) = _catalog("catalog_bare_ampersand.xml").items

    assert item.name == "猪舍A&B区 & 通道"
    assert item.owner == "R&D"
    assert item.address == "东门"


def test_broken_address_lines_are_dropped_and_the_rest_kept() -> None:
    response = _catalog("catalog_broken_address.xml")

    assert [(i.device_id, i.name, i.address, i.status) for i in response.items] == [
        ("34020000001310000021", "一号门", None, ChannelStatus.ON),
        ("34020000001310000022", "二号门", None, ChannelStatus.OFF),
    ]


def test_hikvision_style_padding_lowercase_info_and_placeholders() -> None:
    response = _catalog("hik_catalog.xml")

    assert (response.sn, response.sum_num) == (35, 1)
    (item,) = response.items
    assert item.device_id == "34020000001320000001"
    assert item.name == "Camera 01"
    assert item.civil_code is None
    assert item.civil_code_raw == "CivilCode"
    assert item.owner == "Owner"
    assert item.block is None
    assert item.status is ChannelStatus.ON
    assert (item.ip_address, item.port) == ("192.168.1.64", 8000)
    assert (item.longitude, item.latitude) == (0.0, None)
    assert (item.ptz_type, item.resolution) == (3, "6/4/3")
    assert (item.download_speed, item.stream_number_list) == ("1/2/4/8", "0/1/2")
    assert item.extra == (("HorizontalFieldAngle", "90.5"),)


def test_dahua_style_tree_with_civil_codes_business_group_and_virtual_organisations() -> None:
    response = _catalog("dahua_catalog_gbk.xml")
    items = {item.device_id: item for item in response.items}

    assert (response.sum_num, response.declared_num, len(items)) == (9, 9, 9)
    assert items["44"].name == "广东省"
    assert items["440113"].node_id == CivilCode("440113")
    assert items["440113"].gb_id is None
    group = items["44011300002150000001"]
    assert group.gb_id is not None and group.gb_id.kind is DeviceKind.BUSINESS_GROUP
    assert group.parent_ids == ("44011300002000000001",)
    top_folder = items["44011300002160000001"]
    assert top_folder.business_group_id == "44011300002150000001"  # item-level form
    assert top_folder.parent_ids == ()
    folder = items["44011300002160000002"]
    assert folder.business_group_id == "44011300002150000001"  # Info form
    channel = items["44011300001310000001"]
    assert channel.parent_ids == ("44011300001180000001", "44011300002160000002")
    assert (channel.civil_code, channel.address) == ("440113", "番禺 猪舍")
    over_long = items["44011300001310000002"]
    assert (over_long.civil_code, over_long.civil_code_raw) == (None, "4401130000123")
    assert (over_long.parental, over_long.port, over_long.status) == (None, None, ChannelStatus.OFF)
    speaker = items["44011300001370000001"]
    assert speaker.gb_id is not None and speaker.gb_id.kind is DeviceKind.AUDIO_OUTPUT
    assert speaker.status is ChannelStatus.OFF


def test_catalog_notify_of_section_11_10() -> None:
    message = parse_manscdp(_load("catalog_notify_11_10.xml"))

    assert isinstance(message, CatalogNotify)
    assert (message.sn, message.sum_num) == (77, 2)
    went_online, added = message.items
    assert (went_online.device_id, went_online.event, went_online.name) == (
        "34020000001310000002",
        CatalogEvent.ON,
        None,
    )
    assert (added.event, added.name, added.status) == (CatalogEvent.ADD, "西门", ChannelStatus.ON)


def test_subscription_answer_is_a_catalog_response_with_result_and_no_items() -> None:
    assert parse_manscdp(_load("catalog_subscribe_response_11_10.xml")) == CatalogResponse(
        "34020000001180000001", 512, None, (), None, ResultCode.OK
    )


def test_device_info_response_of_section_11_3() -> None:
    assert parse_manscdp(_load("device_info_11_3.xml")) == DeviceInfoResponse(
        "34020000001180000001",
        249,
        ResultCode.OK,
        device_name="仓库NVR",
        manufacturer="ExampleCo",
        model="NVR-16",
        firmware="V4.2.1",
        channel_count=16,
    )


def test_device_status_response() -> None:
    message = parse_manscdp(_load("device_status_response.xml"))

    assert isinstance(message, DeviceStatusResponse)
    assert (message.result, message.online, message.status) == (ResultCode.OK, True, ResultCode.OK)
    assert (message.encode, message.record) == (True, False)
    assert message.device_time == "2024-01-01T08:00:00"
    assert [(a.device_id, a.duty_status) for a in message.alarm_status] == [
        ("34020000001340000001", DutyStatus.OFFDUTY),
        ("34020000001340000002", DutyStatus.ALARM),
    ]


def test_ptz_control_of_section_11_9() -> None:
    assert parse_manscdp(_load("device_control_ptz_11_9.xml")) == DeviceControl(
        "34020000001310000001", 402, PtzCommand("A50F010180000036"), control_priority=5
    )


@pytest.mark.parametrize(
    ("element", "command"),
    [
        ("<IFameCmd>Send</IFameCmd>", IFrameCommand()),
        ("<IFrameCmd>Send</IFrameCmd>", IFrameCommand()),
        ("<TeleBoot>Boot</TeleBoot>", TeleBootCommand()),
        ("<RecordCmd> Record </RecordCmd>", RecordCommand(start=True)),
        ("<recordcmd>stoprecord</recordcmd>", RecordCommand(start=False)),
        ("<RecordCmd>Pause</RecordCmd>", OtherControlCommand("RecordCmd", "Pause")),
        ("", None),
    ],
)
def test_device_control_sub_commands(element: str, command: object) -> None:
    body = (
        f"<Control><CmdType>DeviceControl</CmdType><SN>9</SN><DeviceID>X</DeviceID>{element}"
        "</Control>"
    ).encode()

    assert parse_manscdp(body) == DeviceControl("X", 9, command, None)  # type: ignore[arg-type]


def test_media_status_end_of_file() -> None:
    message = parse_manscdp(_load("media_status.xml"))

    assert message == MediaStatus("34020000001310000001", 8, "121")
    assert isinstance(message, MediaStatus) and message.is_file_end


@pytest.mark.parametrize(
    ("root", "cmd_type", "expected"),
    [
        ("Query", "Catalog", CatalogQuery("D", 5)),
        ("Query", "DeviceInfo", DeviceInfoQuery("D", 5)),
        ("Query", "DeviceStatus", DeviceStatusQuery("D", 5)),
        ("Response", "DeviceControl", ControlResponse("D", 5, CmdType.DEVICE_CONTROL, None)),
        ("Response", "DeviceConfig", ControlResponse("D", 5, CmdType.DEVICE_CONFIG, None)),
        ("Notify", "Alarm", AlarmNotify("D", 5, None, None, None)),
        (
            "Notify",
            "MobilePosition",
            MobilePositionNotify("D", 5, (MobilePosition("D", None, None, None),)),
        ),
        ("Query", "Keepalive", UnknownMessage(RootKind.QUERY, "Keepalive", 5, "D")),
        ("Notify", "VendorThing", UnknownMessage(RootKind.NOTIFY, "VendorThing", 5, "D")),
        ("response", "deviceinfo", DeviceInfoResponse("D", 5, None)),
    ],
)
def test_dispatch_by_root_and_cmd_type(root: str, cmd_type: str, expected: object) -> None:
    body = f"<{root}><CmdType> {cmd_type} </CmdType><SN>5</SN><DeviceID>D</DeviceID></{root}>"

    assert parse_manscdp(body.encode()) == expected


def test_an_alarm_reads_and_builds_back_the_same() -> None:
    body = (
        "<Notify><CmdType>Alarm</CmdType><SN>88</SN><DeviceID>34020000001340000001</DeviceID>"
        "<AlarmPriority>2</AlarmPriority><AlarmMethod>5</AlarmMethod>"
        "<AlarmTime>2024-03-15T10:30:05</AlarmTime><AlarmDescription>移动侦测</AlarmDescription>"
        "<Longitude>113.25</Longitude><Latitude>23.1</Latitude>"
        "<Info><AlarmType>2</AlarmType></Info></Notify>"
    ).encode("gb2312")
    alarm = parse_manscdp(body)
    assert alarm == AlarmNotify(
        "34020000001340000001", 88, priority=2, method=5, alarm_time="2024-03-15T10:30:05",
        description="移动侦测", longitude=113.25, latitude=23.1, alarm_type=2,
    )  # fmt: skip
    assert isinstance(alarm, AlarmNotify)
    assert parse_manscdp(build_alarm_notify(alarm)) == alarm


def test_control_response_result() -> None:
    body = (
        b"<Response><CmdType>DeviceControl</CmdType><SN>1</SN><DeviceID>D</DeviceID>"
        b"<Result>error</Result></Response>"
    )
    message = parse_manscdp(body)

    assert isinstance(message, ControlResponse) and message.result is ResultCode.ERROR


def test_catalog_without_num_attribute_and_with_garbage_sum_num() -> None:
    body = (
        b"<Response><CmdType>Catalog</CmdType><SN>x</SN><DeviceID>D</DeviceID>"
        b"<SumNum>many</SumNum><DeviceList><Item><DeviceID>A</DeviceID></Item>"
        b"<Item><Name>no id</Name></Item></DeviceList></Response>"
    )

    response = parse_manscdp(body)

    assert isinstance(response, CatalogResponse)
    assert (response.sn, response.sum_num, response.declared_num) == (MISSING_SN, None, None)
    assert [item.device_id for item in response.items] == ["A"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "malformed XML"),
        (b"not xml at all", "malformed XML"),
        (b"<Notify><CmdType>Keepalive</CmdType>", "malformed XML"),
        (b"<Foo><CmdType>Keepalive</CmdType></Foo>", "<Foo>"),
        (b"<Notify><SN>1</SN></Notify>", "without CmdType"),
    ],
)
def test_structural_problems_raise_manscdp_error(body: bytes, reason: str) -> None:
    with pytest.raises(ManscdpError, match=reason):
        parse_manscdp(body)


@pytest.mark.parametrize(
    ("name", "reason"), [("billion_laughs.xml", "DTD"), ("external_entity.xml", "DTD")]
)
def test_entity_attacks_are_refused(name: str, reason: str) -> None:
    with pytest.raises(ManscdpError, match=reason):
        parse_manscdp(_load(name))


def test_namespaced_elements_are_matched_by_local_name() -> None:
    body = (
        b'<Notify xmlns="urn:x"><CmdType>Keepalive</CmdType><SN>2</SN>'
        b"<DeviceID>D</DeviceID><Status>OK</Status></Notify>"
    )

    assert parse_manscdp(body) == Keepalive("D", 2, ResultCode.OK)


def test_unknown_item_event_and_status_are_none() -> None:
    body = (
        b"<Notify><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>D</DeviceID><SumNum>1</SumNum>"
        b"<DeviceList Num='1'><Item><DeviceID>A</DeviceID><Event>MOVED</Event>"
        b"<Status>BROKEN</Status></Item></DeviceList></Notify>"
    )
    message = parse_manscdp(body)

    assert isinstance(message, CatalogNotify)
    assert (message.items[0].event, message.items[0].status) == (None, None)
