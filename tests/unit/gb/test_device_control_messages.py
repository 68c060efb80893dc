"""DeviceControl sub-commands, DeviceConfig/ConfigDownload, PresetQuery and PTZPosition bodies
(gb28181.md §4.8-4.9, §4.14): the standard's shapes read, recorded vendor quirks tolerated
(case, padding, GBK under a GB2312 label, nesting, missing fields), everything we write read
back the same (hypothesis), and what we will not write refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.sipserver.gb.control_commands import (
    AlarmResetCommand,
    DragZoomCommand,
    GuardCommand,
    HomePositionCommand,
    PtzPreciseCommand,
    RecordCommand,
    answers_with_result,
)
from farmwatch.sipserver.gb.device_config import (
    BasicParam,
    ConfigElement,
    ConfigError,
    ConfigType,
    config_from_mapping,
    config_to_mapping,
)
from farmwatch.sipserver.gb.manscdp import (
    CmdType,
    ConfigDownloadQuery,
    ConfigDownloadResponse,
    ControlResponse,
    DeviceConfigControl,
    DeviceControl,
    OtherControlCommand,
    PresetEntry,
    PresetQuery,
    PresetQueryResponse,
    PtzPositionQuery,
    PtzPositionResponse,
    ResultCode,
)
from farmwatch.sipserver.gb.manscdp_build import build_control_response, build_device_control
from farmwatch.sipserver.gb.manscdp_device import (
    build_config_download_query,
    build_config_download_response,
    build_device_config,
    build_preset_query,
    build_preset_query_response,
    build_ptz_position_query,
    build_ptz_position_response,
)
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

DATA = Path(__file__).resolve().parents[2] / "data" / "manscdp"
DEVICE = "34020000001320000001"
CHANNEL = "34020000001310000001"


def _load(name: str) -> bytes:
    return (DATA / name).read_bytes()


# -- DeviceControl sub-commands ---------------------------------------------------------------


def test_guard_record_and_alarm_bodies_are_the_standards_words() -> None:
    guard = build_device_control(DEVICE, 5, GuardCommand(arm=True)).decode("gb18030")
    assert "<GuardCmd>SetGuard</GuardCmd>" in guard
    record = build_device_control(DEVICE, 6, RecordCommand(start=False)).decode("gb18030")
    assert "<RecordCmd>StopRecord</RecordCmd>" in record
    alarm = build_device_control(DEVICE, 7, AlarmResetCommand(2, 1), control_priority=5)
    assert (
        b"<AlarmCmd>ResetAlarm</AlarmCmd>\r\n<Info>\r\n<ControlPriority>5</ControlPriority>\r\n"
        b"<AlarmMethod>2</AlarmMethod>\r\n<AlarmType>1</AlarmType>\r\n</Info>"
    ) in alarm


def test_recorded_commands_are_read() -> None:
    assert parse_manscdp(_load("device_control_drag_zoom_in.xml")) == DeviceControl(
        CHANNEL, 78, DragZoomCommand(True, 1920, 1080, 960, 540, 480, 270)
    )
    assert parse_manscdp(_load("device_control_alarm_reset.xml")) == DeviceControl(
        DEVICE, 79, AlarmResetCommand(method=2, alarm_type=1)
    )
    assert parse_manscdp(_load("device_control_home_position.xml")) == DeviceControl(
        CHANNEL, 80, HomePositionCommand(enabled=True, reset_time=30, preset_index=2)
    )


def test_an_error_result_keeps_its_reason_in_gbk() -> None:
    assert parse_manscdp(_load("device_control_response_error.xml")) == ControlResponse(
        DEVICE, 81, CmdType.DEVICE_CONTROL, ResultCode.ERROR, "布防失败"
    )
    body = build_control_response(DEVICE, 3, result=ResultCode.ERROR, reason="磁盘满")
    assert parse_manscdp(body) == ControlResponse(
        DEVICE, 3, CmdType.DEVICE_CONTROL, ResultCode.ERROR, "磁盘满"
    )


@pytest.mark.parametrize(
    ("element", "command"),
    [
        ("<guardcmd> resetguard </guardcmd>", GuardCommand(arm=False)),
        ("<GUARDCMD>SetGuard</GUARDCMD>", GuardCommand(arm=True)),
        ("<AlarmCmd>ResetAlarm</AlarmCmd>", AlarmResetCommand()),
        ("<AlarmCmd>Reset</AlarmCmd>", OtherControlCommand("AlarmCmd", "Reset")),
        # A drag zoom without its rectangle, or a centre outside the window: kept untyped.
        ("<DragZoomOut><Length>10</Length></DragZoomOut>", OtherControlCommand("DragZoomOut", "")),
        (
            "<DragZoomOut><Length>10</Length><Width>10</Width><MidPointX>11</MidPointX>"
            "<MidPointY>1</MidPointY><LengthX>1</LengthX><LengthY>1</LengthY></DragZoomOut>",
            OtherControlCommand("DragZoomOut", ""),
        ),
        ("<HomePosition><Enabled>0</Enabled></HomePosition>", HomePositionCommand(False)),
        (
            "<PTZPreciseCtrl><Pan>10.5</Pan><Tilt>-3</Tilt><Zoom>2</Zoom></PTZPreciseCtrl>",
            PtzPreciseCommand(10.5, -3.0, 2.0),
        ),
        (
            "<PTZPreciseCtrl><Pan>nan</Pan><Tilt>0</Tilt><Zoom>1</Zoom></PTZPreciseCtrl>",
            OtherControlCommand("PTZPreciseCtrl", ""),
        ),
    ],
)
def test_commands_are_read_leniently(element: str, command: object) -> None:
    body = (
        "<Control><CmdType>DeviceControl</CmdType><SN>9</SN>"
        f"<DeviceID>{CHANNEL}</DeviceID>{element}</Control>"
    ).encode()
    parsed = parse_manscdp(body)
    assert isinstance(parsed, DeviceControl)
    assert parsed.command == command


def test_which_commands_are_answered() -> None:
    assert answers_with_result(GuardCommand(True))
    assert answers_with_result(HomePositionCommand(True, 10, 1))
    assert not answers_with_result(DragZoomCommand(True, 10, 10, 5, 5, 1, 1))
    assert not answers_with_result(PtzPreciseCommand(0, 0, 1))


@pytest.mark.parametrize(
    "build",
    [
        lambda: DragZoomCommand(True, 0, 10, 0, 0, 0, 0),
        lambda: HomePositionCommand(True, preset_index=256),
        lambda: PtzPreciseCommand(361.0, 0.0, 1.0),
        lambda: PtzPreciseCommand(0.0, 0.0, 0.5),
        lambda: AlarmResetCommand(method=True),  # type: ignore[arg-type]
    ],
)
def test_out_of_range_commands_are_refused(build: object) -> None:
    with pytest.raises(ValueError, match="expected"):
        build()  # type: ignore[operator]


_drag = st.integers(1, 4000).flatmap(
    lambda length: st.integers(1, 3000).flatmap(
        lambda width: st.builds(
            DragZoomCommand,
            zoom_in=st.booleans(),
            length=st.just(length),
            width=st.just(width),
            mid_x=st.integers(0, length),
            mid_y=st.integers(0, width),
            length_x=st.integers(0, length),
            length_y=st.integers(0, width),
        )
    )
)
_hundredths = st.integers(0, 36000).map(lambda n: n / 100)
_commands = st.one_of(
    st.builds(RecordCommand, st.booleans()),
    st.builds(GuardCommand, st.booleans()),
    st.builds(AlarmResetCommand, st.none() | st.integers(0, 99), st.none() | st.integers(0, 999)),
    _drag,
    st.builds(HomePositionCommand, st.booleans(), st.integers(0, 86400), st.integers(0, 255)),
    st.builds(
        PtzPreciseCommand,
        _hundredths,
        st.integers(-9000, 9000).map(lambda n: n / 100),
        st.integers(100, 100000).map(lambda n: n / 100),
    ),
)


@given(command=_commands, sn=st.integers(1, 2**31 - 1), priority=st.none() | st.integers(1, 9))
def test_every_command_round_trips(command: object, sn: int, priority: int | None) -> None:
    body = build_device_control(CHANNEL, sn, command, control_priority=priority)  # type: ignore[arg-type]
    assert parse_manscdp(body) == DeviceControl(CHANNEL, sn, command, priority)  # type: ignore[arg-type]


# -- DeviceConfig / ConfigDownload ------------------------------------------------------------


def test_recorded_device_config_is_read_as_trees() -> None:
    parsed = parse_manscdp(_load("device_config_basic_param.xml"))
    assert isinstance(parsed, DeviceConfigControl)
    basic, mirror = parsed.blocks
    assert BasicParam.from_element(basic) == BasicParam("猪舍一号", 3600, 30, 3)
    assert config_to_mapping(mirror) == {"FrameMirrorType": "2"}


def test_config_download_answers_are_read() -> None:
    parsed = parse_manscdp(_load("config_download_response_basic_param.xml"))
    assert isinstance(parsed, ConfigDownloadResponse)
    assert parsed.result is ResultCode.OK
    (basic,) = parsed.blocks
    assert BasicParam.from_element(basic) == BasicParam(
        "猪舍一号", 3600, 60, 3, position_capability=0, longitude=116.397, latitude=39.909
    )
    plan = parse_manscdp(_load("config_download_response_record_plan.xml"))
    assert isinstance(plan, ConfigDownloadResponse)
    mapping = config_to_mapping(plan.blocks[0])
    assert isinstance(mapping, dict)
    assert [s["WeekDayNum"] for s in mapping["RecordSchedule"]] == ["1", "2"]
    assert mapping["RecordSchedule"][0]["TimeSegment"]["StopHour"] == "23"


def test_config_download_query_splits_the_types() -> None:
    assert parse_manscdp(_load("config_download_query.xml")) == ConfigDownloadQuery(
        DEVICE, 74, ("BasicParam", "VideoParamOpt", "SnapShotConfig")
    )
    body = build_config_download_query(5, DEVICE, [ConfigType.BASIC_PARAM, ConfigType.OSD_CONFIG])
    assert b"<ConfigType>BasicParam/OSDConfig</ConfigType>" in body


def test_basic_param_garbage_is_left_out() -> None:
    element = ConfigElement(
        "BasicParam",
        None,
        (
            ConfigElement("Name", "x\x07y"),
            ConfigElement("expiration", "soon"),
            ConfigElement("HEARTBEATINTERVAL", " 45 "),
            ConfigElement("HeartBeatCount", "0"),
        ),
    )
    assert BasicParam.from_element(element) == BasicParam(heartbeat_interval=45)


def test_mappings_become_strict_trees() -> None:
    element = config_from_mapping(
        "osdconfig", {"TimeEnable": True, "Item": [{"Text": "猪舍", "X": 1}, {"Text": "B"}]}
    )
    assert element == ConfigElement(
        "OSDConfig",
        None,
        (
            ConfigElement("TimeEnable", "1"),
            ConfigElement("Item", None, (ConfigElement("Text", "猪舍"), ConfigElement("X", "1"))),
            ConfigElement("Item", None, (ConfigElement("Text", "B"),)),
        ),
    )
    basic = config_from_mapping("BasicParam", {"Name": "A", "HeartBeatInterval": 30})
    assert BasicParam.from_element(basic) == BasicParam("A", heartbeat_interval=30)


@pytest.mark.parametrize(
    ("family", "value", "message"),
    [
        ("Nonsense", {"A": 1}, "Nonsense: not a configuration family"),
        ("VideoParamOpt", {"A": 1}, "VideoParamOpt: read-only"),
        ("FrameMirror", {}, "FrameMirror: expected a non-empty object"),
        ("FrameMirror", {"bad name": 1}, "FrameMirror.bad name: not an XML element name"),
        ("FrameMirror", {"A": None}, "FrameMirror.A: expected a string"),
        ("FrameMirror", {"A": float("inf")}, "FrameMirror.A: not a finite number"),
        ("FrameMirror", {"A": [[1]]}, "FrameMirror.A[0]: a list inside a list"),
        ("FrameMirror", {"A": "\x00"}, "FrameMirror.A: at most 1024 printable"),
        ("BasicParam", {"Expiration": "3600"}, "BasicParam.Expiration: expected an integer"),
        ("BasicParam", {"HeartBeatCount": 0}, "BasicParam.HeartBeatCount: expected an integer"),
        ("BasicParam", {"Name": 5}, "BasicParam.Name: expected a string"),
        ("BasicParam", {"Port": 5060}, "BasicParam.Port: not a field"),
    ],
)
def test_what_we_will_not_write_is_refused(family: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config_from_mapping(family, value)
    assert str(refused.value).startswith(message)


def test_deep_or_huge_configurations_are_refused() -> None:
    deep: dict[str, object] = {"A": 1}
    for _ in range(10):
        deep = {"A": deep}
    with pytest.raises(ConfigError, match="nested deeper"):
        config_from_mapping("OSDConfig", deep)
    with pytest.raises(ConfigError, match="more than 512 elements"):
        config_from_mapping("OSDConfig", {"Item": list(range(600))})


_names = st.sampled_from(["Enable", "X", "Y", "Text", "Item", "Level", "StreamNumber"])
_leaves = st.builds(
    ConfigElement,
    _names,
    st.text(
        st.characters(codec="gb18030", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
        min_size=1,
        max_size=12,
    ).filter(lambda text: text == text.strip()),
)
_trees = st.recursive(
    _leaves,
    lambda children: st.builds(
        ConfigElement, _names, st.none(), st.lists(children, min_size=1, max_size=4).map(tuple)
    ),
    max_leaves=12,
)


@given(
    families=st.lists(
        st.builds(
            ConfigElement,
            st.sampled_from([t.value for t in ConfigType]),
            st.none(),
            st.lists(_trees, min_size=1, max_size=4).map(tuple),
        ),
        min_size=1,
        max_size=3,
    ),
    sn=st.integers(1, 2**31 - 1),
    charset=st.sampled_from(list(ManscdpCharset)),
)
def test_configuration_round_trips(
    families: list[ConfigElement], sn: int, charset: ManscdpCharset
) -> None:
    written = build_device_config(DEVICE, sn, families, charset=charset)
    assert parse_manscdp(written) == DeviceConfigControl(DEVICE, sn, tuple(families))
    answer = build_config_download_response(DEVICE, sn, families, charset=charset)
    assert parse_manscdp(answer) == ConfigDownloadResponse(
        DEVICE, sn, ResultCode.OK, tuple(families)
    )


# -- PresetQuery / PTZPosition ----------------------------------------------------------------


def test_preset_list_is_read_tolerantly() -> None:
    parsed = parse_manscdp(_load("preset_query_response_gbk.xml"))
    assert parsed == PresetQueryResponse(
        CHANNEL,
        75,
        (PresetEntry(1, "饲料槽"), PresetEntry(2, None), PresetEntry(3, "萳药品标签")),
        declared_num=3,
    )


def test_preset_query_round_trips() -> None:
    assert parse_manscdp(build_preset_query(8, CHANNEL)) == PresetQuery(CHANNEL, 8)
    presets = (PresetEntry(1, "饲料槽"), PresetEntry(255, None))
    body = build_preset_query_response(CHANNEL, 8, presets)
    assert parse_manscdp(body) == PresetQueryResponse(CHANNEL, 8, presets, declared_num=2)
    empty = b"<Response><CmdType>PresetQuery</CmdType><SN>1</SN><DeviceID>1</DeviceID></Response>"
    assert parse_manscdp(empty) == PresetQueryResponse("1", 1, ())


def test_ptz_position_is_read_flat_or_nested() -> None:
    assert parse_manscdp(_load("ptz_position_response.xml")) == PtzPositionResponse(
        CHANNEL, 76, ResultCode.OK, 123.45, -10.5, 4.0
    )
    assert parse_manscdp(_load("ptz_position_response_nested.xml")) == PtzPositionResponse(
        CHANNEL, 77, None, 10.0, 20.0, 1.5
    )
    garbage = (
        b"<Response><CmdType>PTZPosition</CmdType><SN>2</SN><DeviceID>1</DeviceID>"
        b"<Result>ERROR</Result><Pan>left</Pan></Response>"
    )
    assert parse_manscdp(garbage) == PtzPositionResponse("1", 2, ResultCode.ERROR)


@given(
    pan=_hundredths,
    tilt=st.integers(-3000, 9000).map(lambda n: n / 100),
    zoom=st.integers(100, 3000).map(lambda n: n / 100),
)
def test_ptz_position_round_trips(pan: float, tilt: float, zoom: float) -> None:
    assert parse_manscdp(build_ptz_position_query(4, CHANNEL)) == PtzPositionQuery(CHANNEL, 4)
    body = build_ptz_position_response(CHANNEL, 4, pan, tilt, zoom)
    assert parse_manscdp(body) == PtzPositionResponse(CHANNEL, 4, ResultCode.OK, pan, tilt, zoom)


@pytest.mark.parametrize("text", ["+-5", "5-", "٣", "1" * 30, "", " "])
def test_numbers_that_are_not_numbers_are_left_out(text: str) -> None:
    element = ConfigElement("BasicParam", None, (ConfigElement("Expiration", text),))
    assert BasicParam.from_element(element) == BasicParam()
