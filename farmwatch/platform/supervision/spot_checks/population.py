"""Who the cameras of a spot check's population are, and on which farm: pure, from the
platform's own records.

A camera's farm at this tier: the local farm register when its device is placed on a farm
(`farm:<id>`, the farm's name); else, for a camera a lower platform shares, the nearest
virtual organisation (216) above it in that platform's catalog (how `catalog_export.py`
presents each farm: its ID and the name the lower registered); else the device itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from farmwatch.platform.records import ChannelRecord, ItemKind
from farmwatch.platform.supervision.spot_checks.draw import Candidate, farm_weight

__all__ = ["FarmOf", "candidates", "farm_of", "is_camera"]

_NOT_VIDEO = frozenset(range(133, 140))
"""Type codes of peripherals that are channels but show no picture: display, alarm input
and output, voice input and output, mobile transmitters, other peripherals (GB/T 28181
Annex D)."""


@dataclass(frozen=True, slots=True)
class FarmOf:
    key: str
    name: str


def is_camera(record: ChannelRecord) -> bool:
    """A catalog item one can watch: a channel, not a group, organisation, platform, device
    or a peripheral without a picture."""
    if record.kind is not ItemKind.CHANNEL:
        return False
    item_id = record.channel_id
    return not (len(item_id) == 20 and item_id.isdigit() and int(item_id[10:13]) in _NOT_VIDEO)


def farm_of(
    record: ChannelRecord,
    items: Mapping[tuple[str, str], ChannelRecord],
    placed: Mapping[str, int],
    farm_names: Mapping[int, str],
) -> FarmOf:
    """`items`: every catalog item by (device, item ID); `placed`: device → local farm."""
    farm_id = placed.get(record.device_id)
    if farm_id is not None:
        return FarmOf(f"farm:{farm_id}", farm_names.get(farm_id, str(farm_id)))
    seen: set[str] = set()
    parent = record.tree_parent_id
    while parent and parent != record.device_id and parent not in seen:
        seen.add(parent)
        item = items.get((record.device_id, parent))
        if item is None:
            break
        if item.kind is ItemKind.VIRTUAL_ORGANIZATION:
            return FarmOf(item.channel_id, item.name or item.channel_id)
        parent = item.tree_parent_id
    return FarmOf(record.device_id, record.device_id)


def candidates(
    records: Iterable[ChannelRecord],
    visible: frozenset[str] | None,
    placed: Mapping[str, int],
    farm_names: Mapping[int, str],
    last_checked: Mapping[str, datetime],
    now: datetime,
) -> list[Candidate]:
    """Every camera in `visible` (None: every camera) with its farm and that farm's weight
    (`farm_weight` of the farm's last recorded spot check)."""
    records = list(records)
    items = {(record.device_id, record.channel_id): record for record in records}
    found: list[Candidate] = []
    for record in records:
        if not is_camera(record) or (visible is not None and record.channel_id not in visible):
            continue
        farm = farm_of(record, items, placed, farm_names)
        weight = farm_weight(last_checked.get(farm.key), now)
        found.append(Candidate(record.channel_id, record.device_id, farm.key, farm.name, weight))
    return found
