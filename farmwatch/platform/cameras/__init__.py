"""Cameras as the console and the regulation see them: each one's key area (art. 11–17)
and location number (art. 21), and the organisation → farm → device → camera tree."""

from farmwatch.platform.cameras.camera_tree import CameraTree, ConsoleTree, TreeCamera, TreeDevice
from farmwatch.platform.cameras.key_areas import KeyArea
from farmwatch.platform.cameras.placement_repository import CameraPlace, PlacementRepository

__all__ = [
    "CameraPlace",
    "CameraTree",
    "ConsoleTree",
    "KeyArea",
    "PlacementRepository",
    "TreeCamera",
    "TreeDevice",
]
