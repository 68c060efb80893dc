"""A monitor's channel tree holds only their cameras and the nodes leading to them."""

from __future__ import annotations

from datetime import UTC, datetime

from farmwatch.platform.catalog_tree import build_tree, visible_tree
from farmwatch.platform.records import ChannelData, ChannelNode, ChannelRecord, ItemKind

NVR = "34020000001180000001"
CIVIL = "340200"
GROUP = "34020000002150000001"
CAMERA_1, CAMERA_2, CAMERA_3 = (f"3402000000131000000{n}" for n in (1, 2, 3))


def _record(item_id: str, parent: str) -> ChannelRecord:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    return ChannelRecord(NVR, ChannelData(item_id), ItemKind.of(item_id), parent, True, at, at)


def _ids(nodes: tuple[ChannelNode, ...]) -> list[object]:
    return [(node.record.channel_id, _ids(node.children)) for node in nodes]


TREE = build_tree(
    NVR,
    [
        _record(CIVIL, NVR),
        _record(GROUP, CIVIL),
        _record(CAMERA_1, GROUP),
        _record(CAMERA_2, GROUP),
        _record(CAMERA_3, NVR),
    ],
)


def test_only_visible_cameras_and_their_ancestors_remain() -> None:
    assert _ids(visible_tree(TREE, frozenset({CAMERA_2}))) == [(CIVIL, [(GROUP, [(CAMERA_2, [])])])]
    assert _ids(visible_tree(TREE, frozenset({CAMERA_3}))) == [(CAMERA_3, [])]
    assert visible_tree(TREE, frozenset()) == ()
    assert visible_tree(TREE, frozenset({CAMERA_1, CAMERA_2, CAMERA_3})) == TREE


def test_a_hidden_camera_does_not_hide_what_it_holds() -> None:
    nested = build_tree(NVR, [_record(CAMERA_1, NVR), _record(CAMERA_2, CAMERA_1)])
    assert _ids(visible_tree(nested, frozenset({CAMERA_2}))) == [(CAMERA_2, [])]
