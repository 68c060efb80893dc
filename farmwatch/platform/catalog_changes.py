"""What changed in the stored catalogs, told once it is written (issue 9: catalog NOTIFY to
upper platforms).

`DeviceRecorder` tells its change listeners after each write, so a listener reading the
database sees the change: a device coming online or going offline (the device and all its
items), items turned ON or OFF, added, updated or deleted by a device's NOTIFY, and a
device's whole catalog stored anew (every item UPDATE).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from farmwatch.sipserver.gb.catalog_item import CatalogEvent

__all__ = ["CatalogChange", "CatalogChangeListener"]


@dataclass(frozen=True, slots=True)
class CatalogChange:
    device_id: str
    event: CatalogEvent
    item_ids: tuple[str, ...] | None
    """The items changed; None: the device itself and every item it has."""


CatalogChangeListener = Callable[[CatalogChange], None]
