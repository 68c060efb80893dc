"""Catalog trees (Annex O): civil codes, business group, virtual organisations, NVR channels."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from farmwatch.platform.catalog_tree import (
    MAX_TREE_DEPTH,
    CatalogLink,
    build_tree,
    resolve_tree_parents,
)
from farmwatch.platform.records import (
    ChannelData,
    ChannelNode,
    ChannelRecord,
    DeviceRecord,
    ItemKind,
    Transport,
)
from farmwatch.platform.repositories import ChannelRepository, DeviceRepository

from .conftest import T0

LOWER = "34020000002000000002"
GROUP = "34020000002150000001"
FARMS = "34020000002160000001"  # virtual organisation directly under the group
PIG_HOUSES = "34020000002160000002"  # virtual organisation under FARMS
NVR = "34020000001180000009"
NVR_CAMERA_1 = "34020000001310000001"
NVR_CAMERA_2 = "34020000001310000002"
LONE_IPC = "34020000001320000003"
ORPHAN = "34020000001320000004"

LOWER_CATALOG = [
    ChannelData("34", name="安徽省"),
    ChannelData("3402", name="合肥市"),
    ChannelData("340200", name="市辖区"),
    ChannelData(GROUP, name="养殖场监控", parent_id=LOWER),
    ChannelData(FARMS, name="场区", business_group_id=GROUP),
    ChannelData(PIG_HOUSES, name="猪舍", parent_id=FARMS, business_group_id=GROUP),
    ChannelData(NVR, name="NVR", parent_id=LOWER, status="ON"),
    ChannelData(NVR_CAMERA_1, name="1号", parent_id=f"{NVR}/{PIG_HOUSES}", status="ON"),
    ChannelData(NVR_CAMERA_2, name="2号", parent_id=f"{NVR}/{PIG_HOUSES}", status="OFF"),
    ChannelData(LONE_IPC, name="大门", parent_id=f"{LOWER}/{PIG_HOUSES}", status="ON"),
    ChannelData(ORPHAN, name="孤儿", parent_id="34020000001189999999", status="ON"),
]


def shape(nodes: tuple[ChannelNode, ...]) -> list[object]:
    """Nested (id, [children]) pairs, a readable picture of a tree."""
    return [
        (node.record.channel_id, shape(node.children)) if node.children else node.record.channel_id
        for node in nodes
    ]


@pytest.fixture
async def lower(devices: DeviceRepository) -> DeviceRecord:
    return await devices.upsert_registration(
        LOWER,
        transport=Transport.TCP,
        remote_host="192.0.2.30",
        remote_port=5060,
        contact_uri=f"sip:{LOWER}@192.0.2.30:5060",
        expires=3600,
        gb_version="3.0",
        at=T0,
    )


async def test_lower_platform_catalog_builds_its_tree(
    channels: ChannelRepository, lower: DeviceRecord
) -> None:
    await channels.replace_catalog(LOWER, LOWER_CATALOG, at=T0)

    tree = await channels.tree_for_device(LOWER)

    assert shape(tree) == [
        ("34", [("3402", ["340200"])]),
        (GROUP, [(FARMS, [(PIG_HOUSES, [LONE_IPC])])]),
        (NVR, [NVR_CAMERA_1, NVR_CAMERA_2]),
        ORPHAN,
    ]
    kinds = {record.channel_id: record.kind for record in await channels.list_for_device(LOWER)}
    assert kinds[GROUP] is ItemKind.BUSINESS_GROUP
    assert kinds[FARMS] is kinds[PIG_HOUSES] is ItemKind.VIRTUAL_ORGANIZATION
    assert kinds[NVR] is ItemKind.DEVICE
    assert kinds["3402"] is ItemKind.CIVIL_CODE
    assert kinds[NVR_CAMERA_1] is kinds[LONE_IPC] is ItemKind.CHANNEL


async def test_deleting_a_folder_moves_its_members_and_adding_it_back_restores_them(
    channels: ChannelRepository, lower: DeviceRecord
) -> None:
    await channels.replace_catalog(LOWER, LOWER_CATALOG, at=T0)

    await channels.apply_changes(LOWER, at=T0, deleted=[PIG_HOUSES])
    ipc = await channels.find(LOWER, LONE_IPC)
    assert ipc is not None and ipc.tree_parent_id == LOWER

    await channels.apply_changes(LOWER, at=T0, upserted=[LOWER_CATALOG[5]])
    ipc = await channels.find(LOWER, LONE_IPC)
    folder = await channels.find(LOWER, PIG_HOUSES)
    assert ipc is not None and ipc.tree_parent_id == PIG_HOUSES
    assert folder is not None and folder.tree_parent_id == FARMS


def links(*items: tuple[str, str | None]) -> list[CatalogLink]:
    return [CatalogLink(item_id, parent_id, None) for item_id, parent_id in items]


def test_parent_cycles_are_broken_at_the_root() -> None:
    a, b, c = "34020000001310000001", "34020000001310000002", "34020000001310000003"
    parents = resolve_tree_parents(NVR, links((a, b), (b, c), (c, a)))
    assert sorted(parents.values()).count(NVR) == 1
    assert set(parents) == {a, b, c}
    records = [record(item_id, parent) for item_id, parent in parents.items()]
    tree = build_tree(NVR, records)
    assert len(tree) == 1 and _count(tree) == 3


def test_single_lens_ipc_listing_itself_is_a_top_level_leaf() -> None:
    ipc = "34020000001320000001"
    parents = resolve_tree_parents(ipc, links((ipc, ipc)))
    assert parents == {ipc: ipc}
    tree = build_tree(ipc, [record(ipc, ipc)])
    assert shape(tree) == [ipc]


def test_stale_parent_links_still_show_every_record() -> None:
    a, b = "34020000001310000001", "34020000001310000002"
    tree = build_tree(NVR, [record(a, b), record(b, a)])
    assert _count(tree) == 2


def test_a_parent_chain_deeper_than_the_bound_is_cut_into_subtrees() -> None:
    """1,500 folders each inside the previous: every one is in the tree once, at most
    `MAX_TREE_DEPTH` deep; a folder moved up to the top names the device as its parent."""
    ids = [f"3402000000216{index:07d}" for index in range(1500)]
    parents = resolve_tree_parents(NVR, links(*zip(ids, [NVR, *ids[:-1]], strict=True)))
    tree = build_tree(NVR, [record(item_id, parent) for item_id, parent in parents.items()])

    nodes, depth, level = [], 0, list(tree)
    while level:
        depth += 1
        nodes += level
        level = [child for node in level for child in node.children]
    assert depth == MAX_TREE_DEPTH
    assert sorted(node.record.channel_id for node in nodes) == ids
    assert [node.record.channel_id for node in tree] == ids[::MAX_TREE_DEPTH]
    assert all(node.record.tree_parent_id == NVR for node in tree)
    assert tree[1].children[0].record.tree_parent_id == ids[MAX_TREE_DEPTH]


def test_a_long_parent_loop_is_shown_whole() -> None:
    ids = [f"3402000000216{index:07d}" for index in range(1500)]
    records = [record(item_id, ids[index - 1]) for index, item_id in enumerate(ids)]
    tree = build_tree(NVR, records)
    depth, count, level = 0, 0, list(tree)
    while level:
        depth += 1
        count += len(level)
        level = [child for node in level for child in node.children]
    assert (count, depth) == (1500, MAX_TREE_DEPTH)


def record(item_id: str, tree_parent_id: str) -> ChannelRecord:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    return ChannelRecord(
        device_id=NVR,
        data=ChannelData(item_id),
        kind=ItemKind.of(item_id),
        tree_parent_id=tree_parent_id,
        is_online=True,
        created_at=at,
        updated_at=at,
    )


def _count(nodes: tuple[ChannelNode, ...]) -> int:
    return sum(1 + _count(node.children) for node in nodes)
