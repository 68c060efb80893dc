"""The tree of one device's catalog (GB/T 28181-2016 Annex O, 2022 Annex J; A.2.1 g ParentID).

Pure functions, no I/O. `resolve_tree_parents` decides each item's parent node within the
device's own catalog; `build_tree` turns records carrying that parent into nested
`ChannelNode`s. Rules, in order, for an item's parent:

1. the first of its '/'-separated `ParentID`s that names another item of the same catalog
   (a device or system, then a virtual organisation when the item also belongs to one);
2. for an item without such a parent, its `BusinessGroupID` if that group is in the
   catalog (a virtual organisation directly under its business group omits `ParentID`);
3. for a civil code (行政区划, 2/4/6/8 digits), the longest shorter civil code that is a
   prefix of it and present in the catalog;
4. otherwise the device itself (the root, whose ID is the device ID).

Parent cycles (A names B, B names A) are broken by hanging the item where the cycle was
detected directly under the root, so every item is reachable from it.

`build_tree` nests at most `MAX_TREE_DEPTH` levels: an item deeper than that starts a new
subtree at the top, under the device. Real catalogs are a handful of levels deep (civil
codes, a business group, some virtual organisations, devices, channels); a catalog that
nests 1,500 levels is a broken or hostile one, and its tree must still be an answer that
browsers and JSON parsers take (their nesting limits are around a thousand).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from farmwatch.platform.records import (
    CIVIL_CODE_LENGTHS,
    ChannelNode,
    ChannelRecord,
    ItemKind,
)

KIND_ORDER = {kind: rank for rank, kind in enumerate(ItemKind)}
MAX_TREE_DEPTH = 64


@dataclass(frozen=True, slots=True)
class CatalogLink:
    """The fields of one catalog item that place it in the tree."""

    item_id: str
    parent_id: str | None
    business_group_id: str | None


def _declared_parent(link: CatalogLink, present: set[str]) -> str | None:
    for candidate in (link.parent_id or "").split("/"):
        parent = candidate.strip()
        if parent and parent != link.item_id and parent in present:
            return parent
    group = (link.business_group_id or "").strip()
    if group and group != link.item_id and group in present:
        return group
    return None


def _civil_code_parent(item_id: str, present: set[str]) -> str | None:
    if ItemKind.of(item_id) is not ItemKind.CIVIL_CODE:
        return None
    for length in sorted(CIVIL_CODE_LENGTHS, reverse=True):
        if length < len(item_id) and item_id[:length] in present:
            return item_id[:length]
    return None


def _break_cycles(root_id: str, parents: dict[str, str]) -> None:
    done: set[str] = set()
    for start in parents:
        path: list[str] = []
        on_path: set[str] = set()
        node = start
        while node != root_id and node in parents and node not in done:
            if node in on_path:
                parents[node] = root_id
                break
            path.append(node)
            on_path.add(node)
            node = parents[node]
        done.update(path)


def resolve_tree_parents(root_id: str, links: Iterable[CatalogLink]) -> dict[str, str]:
    """Map every item ID to its parent node ID (`root_id` for top-level items)."""
    link_list = list(links)
    present = {link.item_id for link in link_list}
    parents: dict[str, str] = {}
    for link in link_list:
        parent = _declared_parent(link, present) or _civil_code_parent(link.item_id, present)
        parents[link.item_id] = parent or root_id
    _break_cycles(root_id, parents)
    return parents


def _sort_key(record: ChannelRecord) -> tuple[int, str]:
    return KIND_ORDER[record.kind], record.channel_id


def _place(
    root_id: str,
    starts: Sequence[ChannelRecord],
    children: dict[str, list[ChannelRecord]],
    placed: dict[str, str | None],
    order: list[ChannelRecord],
) -> None:
    """Place records reachable from `starts` (top-level) in preorder, without recursion.

    `placed` maps an item ID to its parent in the built tree (None: top level); an item
    that would sit deeper than `MAX_TREE_DEPTH` goes to the top level instead.
    """
    stack: list[tuple[ChannelRecord, str | None, int]] = [
        (record, None, 1) for record in sorted(starts, key=_sort_key, reverse=True)
    ]
    while stack:
        record, parent, depth = stack.pop()
        if record.channel_id in placed:
            continue
        if depth > MAX_TREE_DEPTH:
            parent, depth = None, 1
        placed[record.channel_id] = parent
        order.append(record)
        if record.channel_id != root_id:
            kids = sorted(children.get(record.channel_id, ()), key=_sort_key, reverse=True)
            stack.extend((kid, record.channel_id, depth + 1) for kid in kids)


def build_tree(root_id: str, records: Sequence[ChannelRecord]) -> tuple[ChannelNode, ...]:
    """Nest records under their `tree_parent_id`; returns the root's children.

    An item whose parent is missing from `records` is placed at the top level. The item
    whose ID equals the root's (a single-lens IPC listing itself) is a leaf at the top.
    An item moved to the top because it was too deep names the root as its parent.
    """
    by_id = {record.channel_id: record for record in records}
    children: dict[str, list[ChannelRecord]] = {}
    top: list[ChannelRecord] = []
    for record in records:
        parent = record.tree_parent_id
        if parent == root_id or parent == record.channel_id or parent not in by_id:
            top.append(record)
        else:
            children.setdefault(parent, []).append(record)
    placed: dict[str, str | None] = {}
    order: list[ChannelRecord] = []
    _place(root_id, top, children, placed, order)
    for record in sorted(records, key=_sort_key):
        if record.channel_id not in placed:  # a parent loop never reaching the root
            _place(root_id, [record], children, placed, order)
    kids_of: dict[str | None, list[ChannelRecord]] = {}
    for record in order:
        kids_of.setdefault(placed[record.channel_id], []).append(record)
    built: dict[str, ChannelNode] = {}
    for record in reversed(order):
        kids = sorted(kids_of.get(record.channel_id, ()), key=_sort_key)
        shown = record
        if placed[record.channel_id] is None and record.tree_parent_id in placed:
            shown = replace(record, tree_parent_id=root_id)  # moved up: too deep
        built[record.channel_id] = ChannelNode(shown, tuple(built[kid.channel_id] for kid in kids))
    return tuple(
        built[record.channel_id] for record in sorted(kids_of.get(None, ()), key=_sort_key)
    )


def visible_tree(nodes: Sequence[ChannelNode], visible: frozenset[str]) -> tuple[ChannelNode, ...]:
    """The tree with only the cameras (channels) in `visible`, and the nodes above them
    (civil codes, groups, organisations, devices) that lead to at least one of them."""
    kept = []
    for node in nodes:
        children = visible_tree(node.children, visible)
        if node.record.kind is ItemKind.CHANNEL:
            if node.record.channel_id in visible:
                kept.append(replace(node, children=children))
            else:
                kept.extend(children)  # a camera hidden from the caller: what it holds moves up
        elif children:
            kept.append(replace(node, children=children))
    return tuple(kept)
