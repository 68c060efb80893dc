"""A share edited through the API: the body validated, and what a subscribed upper is told
when its share changes (the DEL and ADD of `share_diff` over real exported catalogs)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.records import ChannelData
from farmwatch.platform.sharing.catalog_export import export_catalog
from farmwatch.platform.sharing.share_diff import share_diff
from farmwatch.platform.sharing.share_rule import ShareRule
from farmwatch.platform.sharing.upper_shares import parse_share
from farmwatch.sipserver.gb.catalog_item import CatalogEvent, CatalogItem
from tests.unit.platform.sharing.test_catalog_export import (
    CAM_A,
    CAM_B,
    CAM_IPC,
    GROUP,
    IPC,
    NVR,
    ORG,
    SYSTEM,
    _device,
    _nvr_records,
    _records,
)

FARM = "GD-2024-0001"


def test_all_and_selected_shares_become_rules() -> None:
    assert parse_share({"share": "all"}) == ShareRule()
    rule = parse_share(
        {"share": "selected", "farms": [FARM], "devices": [NVR], "channels": [CAM_IPC]}
    )
    assert rule == ShareRule(
        share_all=False,
        devices=frozenset({NVR}),
        channels=frozenset({CAM_IPC}),
        farms=frozenset({FARM}),
    )
    assert parse_share({"share": "selected"}) == ShareRule(share_all=False)  # nothing


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, 'share: expected "all" or "selected"'),
        ({"share": "some"}, 'share: expected "all" or "selected", got \'some\''),
        ({"share": "all", "channels": [CAM_A]}, 'share "all" takes no farms, devices or channels'),
        ({"share": "selected", "channels": ["3402"]}, "channels: expected 20-digit"),
        ({"share": "selected", "devices": [NVR + "1"]}, "devices: expected 20-digit"),
        ({"share": "selected", "devices": NVR}, "devices: expected a list of strings"),
        ({"share": "selected", "channels": [1]}, "channels: expected a list of strings"),
        ({"share": "selected", "farms": [" "]}, "farms: expected farm filing numbers"),
        ({"share": "selected", "farms": ["x" * 65]}, "farms: expected farm filing numbers"),
        ({"share": "selected", "cameras": []}, "unknown keys cameras"),
    ],
)
def test_a_bad_share_is_refused_saying_what_is_wrong(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_share(body)
    assert str(refused.value).startswith(message), str(refused.value)


def _catalog(rule: ShareRule) -> list[CatalogItem]:
    ipc = _records(IPC, [ChannelData(CAM_IPC, name="gate")], offline=set())
    return export_catalog(SYSTEM, [_device(NVR), _device(IPC)], _nvr_records() + ipc, rule)[1:]


def _events(items: list[CatalogItem]) -> list[tuple[str, CatalogEvent | None]]:
    return [(item.device_id, item.event) for item in items]


def test_narrowing_a_share_deletes_what_is_no_longer_shared_children_first() -> None:
    before = _catalog(ShareRule())
    after = _catalog(ShareRule(share_all=False, channels=frozenset({CAM_IPC})))
    changes = share_diff(before, after)
    assert all(item.event is CatalogEvent.DEL for item in changes)
    deleted = [item.device_id for item in changes]
    assert set(deleted) == {NVR, GROUP, ORG, CAM_A, CAM_B}
    # Each item goes before any of its parents.
    for item in before:
        for parent in item.parent_ids:
            if parent in deleted and item.device_id in deleted:
                assert deleted.index(item.device_id) < deleted.index(parent), item.device_id
    assert all(item.name is None for item in changes)  # a DEL carries the ID alone


def test_widening_a_share_adds_the_new_items_parents_first_with_full_fields() -> None:
    before = _catalog(ShareRule(share_all=False, channels=frozenset({CAM_IPC})))
    after = _catalog(ShareRule())
    changes = share_diff(before, after)
    assert all(item.event is CatalogEvent.ADD for item in changes)
    added = [item.device_id for item in changes]
    assert set(added) == {NVR, GROUP, ORG, CAM_A, CAM_B}
    for item in changes:
        for parent in item.parent_ids:
            if parent in added:
                assert added.index(parent) < added.index(item.device_id), item.device_id
    exported = {item.device_id: item for item in after}
    for item in changes:  # as exported, event aside
        assert item == replace(exported[item.device_id], event=CatalogEvent.ADD)
    assert next(i for i in changes if i.device_id == CAM_B).ptz_type == 1


def test_swapping_channels_deletes_the_old_before_adding_the_new() -> None:
    before = _catalog(ShareRule(share_all=False, channels=frozenset({CAM_IPC})))
    after = _catalog(ShareRule(share_all=False, channels=frozenset({CAM_A})))
    changes = _events(share_diff(before, after))
    deletes = [(CAM_IPC, CatalogEvent.DEL), (IPC, CatalogEvent.DEL)]
    assert changes[:2] == deletes
    assert (CAM_A, CatalogEvent.ADD) in changes[2:] and (NVR, CatalogEvent.ADD) in changes[2:]
    assert changes.index((NVR, CatalogEvent.ADD)) < changes.index((CAM_A, CatalogEvent.ADD))


def test_an_unchanged_share_tells_nothing() -> None:
    rule = ShareRule(share_all=False, devices=frozenset({NVR}))
    assert share_diff(_catalog(rule), _catalog(rule)) == []
    assert share_diff(_catalog(ShareRule()), _catalog(ShareRule())) == []


def test_an_item_whose_parent_comes_into_the_share_is_updated_after_it() -> None:
    before = _catalog(ShareRule(share_all=False, channels=frozenset({CAM_A})))
    after = _catalog(ShareRule(share_all=False, channels=frozenset({CAM_A, ORG})))
    assert next(i for i in before if i.device_id == CAM_A).parent_id == SYSTEM.platform_id
    changes = share_diff(before, after)
    assert _events(changes) == [(ORG, CatalogEvent.ADD), (CAM_A, CatalogEvent.UPDATE)]
    assert changes[1].parent_id == ORG
