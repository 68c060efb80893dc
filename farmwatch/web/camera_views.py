"""The console's tree and cameras' places → JSON-ready dicts for the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from farmwatch.platform.cameras import AccessMethod, CameraPlace, ConsoleTree, KeyArea, TreeDevice
from farmwatch.web.access_views import farm_view, organisation_view

KEY_AREAS = [{"value": area.value, "zh": area.label_zh, "en": area.label_en} for area in KeyArea]
ACCESS_METHODS = [
    {"value": method.value, "zh": method.label_zh, "en": method.label_en} for method in AccessMethod
]


def place_view(place: CameraPlace | None) -> dict[str, Any]:
    key_area = None if place is None else place.key_area
    method = None if place is None else place.access_method
    return {
        "key_area": None if key_area is None else key_area.value,
        "key_area_label": None if key_area is None else key_area.label_zh,
        "location": None if place is None else place.location,
        "model": None if place is None else place.model,
        "access_method": None if method is None else method.value,
        "access_method_label": None if method is None else method.label_zh,
    }


def _device_view(device: TreeDevice) -> dict[str, Any]:
    record = device.record
    return {
        "device_id": record.device_id,
        "name": record.name,
        "online": record.is_online,
        "farm_id": device.farm_id,
        "cameras": [
            {
                "channel_id": camera.record.channel_id,
                "name": camera.record.name,
                "online": camera.record.is_online,
                **place_view(camera.place),
            }
            for camera in device.cameras
        ],
    }


def console_tree_view(tree: ConsoleTree) -> dict[str, Any]:
    return {
        "organisations": [organisation_view(org) for org in tree.organisations],
        "farms": [farm_view(farm) for farm in tree.farms],
        "devices": [_device_view(device) for device in tree.devices],
        "key_areas": KEY_AREAS,
        "access_methods": ACCESS_METHODS,
    }


def with_places(nodes: list[dict[str, Any]], places: Mapping[str, CameraPlace]) -> None:
    """Add each camera's key area and location to a channel tree view, in place."""
    for node in nodes:
        if node.get("kind") == "channel":
            node.update(place_view(places.get(node["channel_id"])))
        with_places(node["children"], places)
