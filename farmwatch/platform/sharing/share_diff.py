"""What an upper holding a catalog subscription is told when its share changes.

Pure: the catalog exported under the old rule and under the new one in, the NOTIFY items
out. Items no longer shared go first as DEL, children before their parents (the reverse of
the export's order); then, parents before children, newly shared items as ADD and items
still shared whose fields changed (a parent no longer exported, say) as UPDATE, with their
full fields as exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from farmwatch.sipserver.gb.catalog_item import CatalogEvent, CatalogItem

__all__ = ["share_diff"]


def share_diff(before: Sequence[CatalogItem], after: Sequence[CatalogItem]) -> list[CatalogItem]:
    """The items to NOTIFY when the catalog an upper sees goes from `before` to `after`
    (both parents first, as `export_catalog` gives them)."""
    kept = {item.device_id for item in after}
    was = {item.device_id: item for item in before}
    changes = [
        CatalogItem(device_id=item.device_id, event=CatalogEvent.DEL)
        for item in reversed(before)
        if item.device_id not in kept
    ]
    for item in after:
        previous = was.get(item.device_id)
        if previous is None:
            changes.append(replace(item, event=CatalogEvent.ADD))
        elif previous != item:
            changes.append(replace(item, event=CatalogEvent.UPDATE))
    return changes
