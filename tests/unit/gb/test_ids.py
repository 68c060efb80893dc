"""GbId, CivilCode and DeviceKind (GB/T 28181-2016 Annex D)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.gb import (
    CivilCode,
    DeviceKind,
    GbId,
    GbIdError,
    device_kind_of,
    parse_catalog_node_id,
)


def test_parse_splits_the_twenty_digits_into_their_fields() -> None:
    gb_id = GbId.parse("34020000001320000001")

    assert str(gb_id) == "34020000001320000001"
    assert gb_id.centre_code == "34020000"
    assert gb_id.industry_code == "00"
    assert gb_id.type_code == 132
    assert gb_id.network_code == "0"
    assert gb_id.serial == "000001"
    assert gb_id.domain == "3402000000"
    assert gb_id.kind is DeviceKind.IPC


@pytest.mark.parametrize(
    "text",
    ["", "3402000000132000000", "340200000013200000011", "3402000000132000000x", "３" * 20],
)
def test_parse_rejects_anything_but_twenty_ascii_digits(text: str) -> None:
    with pytest.raises(GbIdError):
        GbId.parse(text)
    assert GbId.try_parse(text) is None


def test_direct_construction_validates_too() -> None:
    with pytest.raises(GbIdError):
        GbId("1234")


def test_strict_parse_rejects_unassigned_type_codes_that_lenient_parse_accepts() -> None:
    unassigned = "34020000006660000001"

    assert GbId.parse(unassigned).kind is DeviceKind.OTHER
    with pytest.raises(GbIdError, match="666"):
        GbId.parse(unassigned, strict=True)
    assert GbId.parse("34020000002000000001", strict=True).is_platform


@pytest.mark.parametrize(
    ("type_code", "kind", "is_device", "is_channel_like", "is_platform"),
    [
        (111, DeviceKind.DVR, True, False, False),
        (113, DeviceKind.ENCODER, True, False, False),
        (118, DeviceKind.NVR, True, False, False),
        (121, DeviceKind.OTHER_DEVICE, True, False, False),
        (131, DeviceKind.CAMERA, False, True, False),
        (132, DeviceKind.IPC, False, True, False),
        (134, DeviceKind.ALARM_INPUT, False, True, False),
        (135, DeviceKind.ALARM_OUTPUT, False, True, False),
        (137, DeviceKind.AUDIO_OUTPUT, False, True, False),
        (150, DeviceKind.OTHER_PERIPHERAL, False, True, False),
        (200, DeviceKind.PLATFORM, False, False, True),
        (202, DeviceKind.PLATFORM_SERVER, False, False, False),
        (215, DeviceKind.BUSINESS_GROUP, False, False, False),
        (216, DeviceKind.VIRTUAL_ORGANISATION, False, False, False),
        (400, DeviceKind.USER, False, False, False),
        (42, DeviceKind.OTHER, False, False, False),
    ],
)
def test_kind_and_predicates_follow_table_d1(
    type_code: int, kind: DeviceKind, is_device: bool, is_channel_like: bool, is_platform: bool
) -> None:
    gb_id = GbId.parse(f"3402000000{type_code:03d}0000001")

    assert gb_id.type_code == type_code
    assert gb_id.kind is kind
    assert device_kind_of(type_code) is kind
    assert (gb_id.is_device, gb_id.is_channel_like, gb_id.is_platform) == (
        is_device,
        is_channel_like,
        is_platform,
    )


@pytest.mark.parametrize(
    ("text", "level"), [("44", 1), ("4401", 2), ("440113", 3), ("44011300", 4)]
)
def test_civil_codes_of_two_four_six_or_eight_digits(text: str, level: int) -> None:
    code = CivilCode.parse(text)

    assert code.level == level
    assert str(code) == text
    assert parse_catalog_node_id(text) == code


@pytest.mark.parametrize("text", ["4", "440", "4401130000", "CivilCode", ""])
def test_civil_code_rejects_other_lengths(text: str) -> None:
    with pytest.raises(GbIdError):
        CivilCode.parse(text)
    assert CivilCode.try_parse(text) is None


def test_catalog_node_id_never_raises_and_tells_ids_from_civil_codes() -> None:
    assert parse_catalog_node_id("34020000001310000001") == GbId("34020000001310000001")
    assert parse_catalog_node_id("340200") == CivilCode("340200")
    assert parse_catalog_node_id("Address") is None
    assert parse_catalog_node_id(None) is None


@settings(max_examples=200)
@given(st.text(max_size=25))
def test_try_parse_agrees_with_parse(text: str) -> None:
    try:
        parsed: GbId | None = GbId.parse(text)
    except GbIdError:
        parsed = None
    assert GbId.try_parse(text) == parsed
