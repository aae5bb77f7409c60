"""Travel-time estimates between lesson locations (pure, stdlib only).

The availability engine asks a ``TravelTimeEstimator`` how long a tutor needs to get from
one in-person lesson to another; the default estimate is great-circle distance at a modest
urban speed plus a fixed overhead for parking, finding the door and setting up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

# Mean Earth radius (IUGG); the choice changes London->Paris by well under a kilometre.
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Coordinates:
    """A WGS84 point in decimal degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        # Written as "not (a <= x <= b)" so NaN is rejected as well.
        if not (-90.0 <= self.lat <= 90.0):
            raise ValueError(f"Latitude must be between -90 and 90 degrees, got {self.lat!r}")
        if not (-180.0 <= self.lon <= 180.0):
            raise ValueError(f"Longitude must be between -180 and 180 degrees, got {self.lon!r}")


class TravelTimeEstimator(Protocol):
    """Anything that can say how many whole minutes it takes to get from one place to another."""

    def minutes(self, origin: Coordinates, destination: Coordinates) -> int:
        """Whole minutes needed to travel from origin to destination."""
        ...


def distance_km(a: Coordinates, b: Coordinates) -> float:
    """Great-circle (haversine) distance between two points in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    # min() guards asin against 1.0000000000000002 from rounding at antipodes.
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class StraightLineEstimator:
    """Straight-line distance at ``speed_kmh`` plus ``overhead_minutes``, rounded up to whole minutes."""

    speed_kmh: float = 25.0
    overhead_minutes: int = 10
    # The longest buffer the caller looks for busy time within; a journey past it counts as exactly that long,
    # so an estimate can never reach a lesson the caller did not load.
    max_minutes: int | None = None

    def __post_init__(self) -> None:
        if not self.speed_kmh > 0:
            raise ValueError(f"speed_kmh must be positive, got {self.speed_kmh!r}")
        if self.overhead_minutes < 0:
            raise ValueError(f"overhead_minutes must not be negative, got {self.overhead_minutes!r}")
        if self.max_minutes is not None and self.max_minutes < self.overhead_minutes:
            raise ValueError("max_minutes must be at least overhead_minutes")

    def minutes(self, origin: Coordinates, destination: Coordinates) -> int:
        """Minutes to travel from origin to destination, never underestimating (up to ``max_minutes``)."""
        driving = distance_km(origin, destination) / self.speed_kmh * 60.0
        # Rounding to 9 places first stops float noise (12.000000000001) from costing a whole minute.
        total = math.ceil(round(driving, 9)) + self.overhead_minutes
        return total if self.max_minutes is None else min(total, self.max_minutes)
