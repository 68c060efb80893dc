"""Simulated device and channel numbering and catalog items (Annex D, A.2.1 g)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.simulator.channels import (
    ChannelTable,
    build_channels,
    channel_id,
    device_ids,
    id_prefix,
)
from farmwatch.sipserver.gb.catalog_item import ChannelStatus
from farmwatch.sipserver.gb.ids import GbId
from farmwatch.sipserver.gb.manscdp import CatalogResponse
from farmwatch.sipserver.gb.manscdp_build import build_catalog_responses
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp


def test_device_ids_follow_the_domain_type_and_serial() -> None:
    assert device_ids("3402000000", 2, channels=4) == [
        "34020000001180000001",
        "34020000001180000002",
    ]
    assert device_ids("3402000000", 1, first_serial=7, channels=1) == ["34020000001320000007"]
    assert id_prefix(None, "44010000002000000001") == "4401000000"
    assert id_prefix("192.168.1.1", "44010000002000000001") == "4401000000"
    assert id_prefix("3301000000", "44010000002000000001") == "3301000000"
    with pytest.raises(ValueError, match="6 digits"):
        device_ids("3402000000", 2, first_serial=999_999)


@settings(max_examples=30)
@given(devices=st.integers(1, 30), channels=st.integers(1, 40), first=st.integers(0, 50_000))
def test_channel_ids_are_unique_across_a_fleet(devices: int, channels: int, first: int) -> None:
    ids = device_ids("3402000000", devices, first_serial=first, channels=channels)
    all_channels = [channel_id(d, i, channels) for d in ids for i in range(channels)]
    assert len(set(all_channels)) == len(all_channels)
    assert not set(all_channels) & set(ids)
    assert {GbId.parse(c).type_code for c in all_channels} == {131}


def test_channels_are_key_areas_of_the_farm_under_their_device() -> None:
    items = build_channels("34020000001180000001", 8)
    assert [item.name for item in items] == [
        "场区入口1号", "药库1号", "料库1号", "药品配置间1号", "饲料投放处1号", "畜禽舍1号",
        "场区入口2号", "药库2号",
    ]  # fmt: skip
    assert {item.parent_id for item in items} == {"34020000001180000001"}
    assert {item.status for item in items} == {ChannelStatus.ON}
    assert items[0].civil_code == "340200"


def test_channels_survive_the_gb2312_catalog_round_trip() -> None:
    items = build_channels("34020000001180000001", 7)
    bodies = build_catalog_responses(items, 5, "34020000001180000001", items_per_message=3)
    parsed = [parse_manscdp(body) for body in bodies]
    assert all(isinstance(p, CatalogResponse) and p.sum_num == 7 for p in parsed)
    back = [item for p in parsed if isinstance(p, CatalogResponse) for item in p.items]
    assert back == items


def test_channel_table_changes_status_by_position_or_id() -> None:
    table = ChannelTable(build_channels("34020000001180000001", 3))
    second = table.items[1].device_id
    assert table.set_status(0, ChannelStatus.OFF).status is ChannelStatus.OFF
    assert table.set_status(second, ChannelStatus.OFF).device_id == second
    assert [i.status for i in table.items] == [
        ChannelStatus.OFF,
        ChannelStatus.OFF,
        ChannelStatus.ON,
    ]
    with pytest.raises(KeyError):
        table.set_status(3, ChannelStatus.ON)
    with pytest.raises(KeyError):
        table.set_status("nope", ChannelStatus.ON)
