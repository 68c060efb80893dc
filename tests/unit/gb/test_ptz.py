"""PTZCmd bytes: every computed example of gb28181.md §4.8 and §11.9, and round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.sipserver.gb.manscdp import DeviceControl, PtzCommand
from farmwatch.sipserver.gb.manscdp_build import build_device_control
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.ptz import (
    AuxiliarySwitch,
    CruiseAddPoint,
    CruiseClear,
    CruiseDeletePoint,
    CruiseDwell,
    CruiseSpeed,
    CruiseStart,
    DecodedPtzCmd,
    FocusDirection,
    FocusIris,
    FocusIrisStop,
    IrisDirection,
    PanDirection,
    Preset,
    PresetOperation,
    PtzAction,
    PtzCmdError,
    PtzMove,
    PtzStop,
    Scan,
    ScanOperation,
    ScanSpeed,
    TiltDirection,
    ZoomDirection,
    decode_ptz_cmd,
    encode_ptz_cmd,
)

DATA = Path(__file__).parents[2] / "data" / "manscdp"
CHANNEL = "34020000001310000001"


def _framed(first_seven: str) -> str:
    """Seven bytes of hex and their right checksum."""
    return first_seven + f"{sum(bytes.fromhex(first_seven)) & 0xFF:02X}"


# gb28181.md §4.8 "Computed examples (address byte 01)", row by row.
SECTION_4_8_EXAMPLES: list[tuple[PtzAction, str]] = [
    (PtzStop(), "A50F0100000000B5"),
    (PtzMove(pan=PanDirection.RIGHT, pan_speed=0x80), "A50F010180000036"),
    (PtzMove(pan=PanDirection.LEFT, pan_speed=0x40), "A50F0102400000F7"),
    (PtzMove(tilt=TiltDirection.UP, tilt_speed=0x80), "A50F01080080003D"),
    (PtzMove(tilt=TiltDirection.DOWN, tilt_speed=0x80), "A50F010400800039"),
    (PtzMove(zoom=ZoomDirection.IN, zoom_speed=8), "A50F011000008045"),
    (PtzMove(zoom=ZoomDirection.OUT, zoom_speed=8), "A50F012000008055"),
    (
        PtzMove(
            pan=PanDirection.RIGHT,
            tilt=TiltDirection.UP,
            zoom=ZoomDirection.OUT,
            pan_speed=0x80,
            tilt_speed=0x80,
            zoom_speed=8,
        ),
        "A50F01298080805E",
    ),
    (FocusIrisStop(), "A50F0140000000F5"),
    (FocusIris(iris=IrisDirection.OPEN, iris_speed=0x80), "A50F014400800079"),
    (FocusIris(focus=FocusDirection.FAR, focus_speed=0x80), "A50F014180000076"),
    (Preset(PresetOperation.SET, 3), "A50F018100030039"),
    (Preset(PresetOperation.CALL, 3), "A50F01820003003A"),
    (Preset(PresetOperation.DELETE, 3), "A50F01830003003B"),
    (CruiseAddPoint(group=1, preset=3), "A50F01840103003D"),
    (CruiseStart(group=1), "A50F01880100003E"),
    (AuxiliarySwitch(number=1, is_on=True), "A50F018C01000042"),
]


@pytest.mark.parametrize(("action", "expected"), SECTION_4_8_EXAMPLES, ids=lambda v: str(v))
def test_section_4_8_examples_encode_exactly(action: PtzAction, expected: str) -> None:
    assert encode_ptz_cmd(action) == expected


@pytest.mark.parametrize(("action", "code"), SECTION_4_8_EXAMPLES, ids=lambda v: str(v))
def test_section_4_8_examples_decode_to_their_action(action: PtzAction, code: str) -> None:
    assert decode_ptz_cmd(code) == DecodedPtzCmd(action, address=1)
    assert decode_ptz_cmd(code.lower()) == DecodedPtzCmd(action, address=1)


def test_stop_with_address_0_is_the_libgb28181_form() -> None:
    assert encode_ptz_cmd(PtzStop(), address=0) == "A50F0000000000B4"
    assert decode_ptz_cmd("A50F0000000000B4") == DecodedPtzCmd(PtzStop(), address=0)


def test_address_high_nibble_goes_to_byte_7_and_into_the_checksum() -> None:
    code = encode_ptz_cmd(PtzMove(zoom=ZoomDirection.IN, zoom_speed=8), address=0xABC)
    assert code[4:6] == "BC" and code[12:14] == "8A"
    assert int(code[14:], 16) == sum(bytes.fromhex(code[:14])) & 0xFF
    assert decode_ptz_cmd(code).address == 0xABC


def test_section_11_9_message_body_carries_the_encoded_command() -> None:
    code = encode_ptz_cmd(PtzMove(pan=PanDirection.RIGHT, pan_speed=0x80))
    body = build_device_control(CHANNEL, 402, PtzCommand(code), control_priority=5)

    assert body == (DATA / "device_control_ptz_11_9.xml").read_bytes()
    assert parse_manscdp(body) == DeviceControl(CHANNEL, 402, PtzCommand(code), control_priority=5)


def test_twelve_bit_values_split_into_byte_6_and_the_high_nibble_of_byte_7() -> None:
    assert encode_ptz_cmd(CruiseSpeed(group=2, speed=0x123))[6:14] == "86022310"
    assert encode_ptz_cmd(CruiseDwell(group=2, seconds=0xFFF))[6:14] == "8702FFF0"
    assert encode_ptz_cmd(ScanSpeed(group=1, speed=0x080))[6:14] == "8A018000"


def test_scan_cruise_delete_and_auxiliary_off_codes() -> None:
    assert encode_ptz_cmd(Scan(ScanOperation.START, 1))[6:14] == "89010000"
    assert encode_ptz_cmd(Scan(ScanOperation.SET_LEFT_LIMIT, 1))[6:14] == "89010100"
    assert encode_ptz_cmd(Scan(ScanOperation.SET_RIGHT_LIMIT, 1))[6:14] == "89010200"
    assert encode_ptz_cmd(CruiseDeletePoint(group=1, preset=3))[6:14] == "85010300"
    assert encode_ptz_cmd(CruiseClear(group=1))[6:14] == "85010000"
    assert encode_ptz_cmd(AuxiliarySwitch(number=1, is_on=False))[6:14] == "8D010000"


@pytest.mark.parametrize(
    "make",
    [
        lambda: PtzMove(),
        lambda: PtzMove(pan=PanDirection.LEFT, pan_speed=256),
        lambda: PtzMove(pan=PanDirection.LEFT, tilt_speed=-1),
        lambda: PtzMove(zoom=ZoomDirection.IN, zoom_speed=16),
        lambda: PtzMove(pan=PanDirection.LEFT, pan_speed=True),
        lambda: FocusIris(),
        lambda: FocusIris(focus=FocusDirection.NEAR, focus_speed=300),
        lambda: Preset(PresetOperation.CALL, 0),
        lambda: Preset(PresetOperation.CALL, 256),
        lambda: CruiseAddPoint(group=1, preset=0),
        lambda: CruiseDeletePoint(group=256, preset=1),
        lambda: CruiseSpeed(group=1, speed=0x1000),
        lambda: CruiseDwell(group=1, seconds=-1),
        lambda: ScanSpeed(group=1, speed=4096),
        lambda: AuxiliarySwitch(number=256, is_on=True),
    ],
)
def test_out_of_range_values_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_address_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="address"):
        encode_ptz_cmd(PtzStop(), address=0x1000)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (_framed("A50F0103000000"), "opposite pan"),  # right + left
        (_framed("A50F010C000000"), "opposite tilt"),  # down + up
        (_framed("A50F0130000000"), "opposite zoom"),  # in + out
        (_framed("A50F0143000000"), "opposite focus"),  # far + near
        (_framed("A50F014C000000"), "opposite iris"),  # open + close
        ("A50F0100000000B6", "checksum"),
        (_framed("A40F0100000000"), "A50F"),
        (_framed("A51F0100000000"), "A50F"),
        ("A50F015000000005", "instruction 0x50"),
        (_framed("A50F018B000000"), "instruction 0x8B"),
        (_framed("A50F0189010300"), "scan operation"),
        ("A50F0100000000", "16 hex"),
        ("A50F0100000000B5FF", "16 hex"),
        ("A50F01000000ZZB5", "not hexadecimal"),
        ("A50F  1234567890", "not hexadecimal"),  # fromhex() would skip the spaces
    ],
)
def test_malformed_commands_are_refused_by_the_decoder(code: str, reason: str) -> None:
    with pytest.raises(PtzCmdError, match=reason):
        decode_ptz_cmd(code)


def test_decoding_ignores_data_a_stop_does_not_use() -> None:
    assert decode_ptz_cmd("A50F010080808035").action == PtzStop()


# -- properties ---------------------------------------------------------------------------

_byte = st.integers(0, 0xFF)
_nonzero_byte = st.integers(1, 0xFF)
_twelve = st.integers(0, 0xFFF)


@st.composite
def _move(draw: st.DrawFn) -> PtzMove:
    directions = draw(
        st.tuples(
            st.none() | st.sampled_from(PanDirection),
            st.none() | st.sampled_from(TiltDirection),
            st.none() | st.sampled_from(ZoomDirection),
        ).filter(lambda d: d != (None, None, None))
    )
    return PtzMove(*directions, draw(_byte), draw(_byte), draw(st.integers(0, 0xF)))


@st.composite
def _focus_iris(draw: st.DrawFn) -> FocusIris:
    focus, iris = draw(
        st.tuples(
            st.none() | st.sampled_from(FocusDirection),
            st.none() | st.sampled_from(IrisDirection),
        ).filter(lambda d: d != (None, None))
    )
    return FocusIris(focus, iris, draw(_byte), draw(_byte))


ACTIONS: st.SearchStrategy[PtzAction] = st.one_of(
    st.just(PtzStop()),
    _move(),
    st.just(FocusIrisStop()),
    _focus_iris(),
    st.builds(Preset, st.sampled_from(PresetOperation), _nonzero_byte),
    st.builds(CruiseAddPoint, _byte, _nonzero_byte),
    st.builds(CruiseDeletePoint, _byte, _nonzero_byte),
    st.builds(CruiseClear, _byte),
    st.builds(CruiseSpeed, _byte, _twelve),
    st.builds(CruiseDwell, _byte, _twelve),
    st.builds(CruiseStart, _byte),
    st.builds(Scan, st.sampled_from(ScanOperation), _byte),
    st.builds(ScanSpeed, _byte, _twelve),
    st.builds(AuxiliarySwitch, _byte, st.booleans()),
)


@given(ACTIONS, _twelve)
def test_decode_of_encode_gives_back_the_action_and_address(
    action: PtzAction, address: int
) -> None:
    code = encode_ptz_cmd(action, address=address)

    assert len(code) == 16 and code == code.upper()
    assert code.startswith("A50F")
    assert int(code[14:], 16) == sum(bytes.fromhex(code[:14])) & 0xFF
    assert decode_ptz_cmd(code) == DecodedPtzCmd(action, address)


@st.composite
def _any_framed(draw: st.DrawFn) -> str:
    """Header and checksum right, the five middle bytes anything."""
    frame = bytes([0xA5, 0x0F, *draw(st.binary(min_size=5, max_size=5))])
    return (frame + bytes([sum(frame) & 0xFF])).hex()


@given(_any_framed())
def test_any_framed_command_decodes_to_an_action_that_encodes_back_or_is_refused(
    code: str,
) -> None:
    try:
        decoded = decode_ptz_cmd(code)
    except PtzCmdError:
        return
    again = decode_ptz_cmd(encode_ptz_cmd(decoded.action, address=decoded.address))
    assert again == decoded
