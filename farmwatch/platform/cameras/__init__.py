"""Cameras as the console and the regulation see them: each one's key area (art. 11–17),
location number (art. 21), model and access method (art. 5–6), and the organisation → farm
→ device → camera tree."""

from farmwatch.platform.cameras.access_methods import AccessMethod
from farmwatch.platform.cameras.camera_tree import (
    UNCHANGED,
    CameraTree,
    ConsoleTree,
    TreeCamera,
    TreeDevice,
    Unchanged,
)
from farmwatch.platform.cameras.key_areas import KeyArea
from farmwatch.platform.cameras.placement_repository import CameraPlace, PlacementRepository

__all__ = [
    "UNCHANGED",
    "AccessMethod",
    "CameraPlace",
    "CameraTree",
    "ConsoleTree",
    "KeyArea",
    "PlacementRepository",
    "TreeCamera",
    "TreeDevice",
    "Unchanged",
]
