"""Where a simulated mobile device is (gb28181.md §4.11): a straight track from a start
point at a steady speed and heading, so consecutive positions differ as a vehicle's do.
Pure: the elapsed time is passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["PositionTrack"]

METRES_PER_DEGREE = 111_320.0
"""Length of one degree of latitude (and of longitude at the equator), near enough."""


@dataclass(frozen=True, slots=True)
class PositionTrack:
    longitude: float = 113.2644
    latitude: float = 23.1291
    speed: float = 36.0
    """km/h."""
    direction: float = 90.0
    """Degrees clockwise from north."""
    altitude: float = 12.0

    def at(self, seconds: float) -> tuple[float, float]:
        """(longitude, latitude) `seconds` after the start."""
        metres = self.speed / 3.6 * seconds
        heading = math.radians(self.direction)
        latitude = self.latitude + metres * math.cos(heading) / METRES_PER_DEGREE
        scale = METRES_PER_DEGREE * math.cos(math.radians(self.latitude))
        longitude = self.longitude + metres * math.sin(heading) / scale
        return round(longitude, 6), round(latitude, 6)
