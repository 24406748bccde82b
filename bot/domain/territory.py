"""Territory rules: distances and the circles nearest to a shared location."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

EARTH_RADIUS_M = 6_371_000.0


class CircleKind(StrEnum):
    """What a stewardship circle gathers around."""

    STREET = "street"
    SQUARE = "square"
    PARK = "park"


@dataclass(frozen=True, slots=True)
class CirclePoint:
    """A circle's id and centre, for distance ranking."""

    circle_id: int
    latitude: float
    longitude: float


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def valid_coordinates(latitude: float, longitude: float) -> bool:
    """Whether a latitude/longitude pair is on Earth."""
    return -90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0


def nearest_circles(
    points: Iterable[CirclePoint], latitude: float, longitude: float, limit: int = 5, max_m: float = 3000.0
) -> list[tuple[int, float]]:
    """The ids of the `limit` circles closest to a point within `max_m` metres, with their distances."""
    ranked = sorted((distance_m(latitude, longitude, p.latitude, p.longitude), p.circle_id) for p in points)
    return [(circle_id, d) for d, circle_id in ranked if d <= max_m][:limit]


# A point farther than this from every circle's centre is outside the district (its circles cover it densely).
DISTRICT_MARGIN_M = 800.0


def circle_at(points: Iterable[CirclePoint], latitude: float, longitude: float) -> int | None:
    """The circle a place belongs to (the nearest one), or None when it is outside the district."""
    if not valid_coordinates(latitude, longitude):
        return None
    nearest = nearest_circles(points, latitude, longitude, limit=1, max_m=DISTRICT_MARGIN_M)
    return nearest[0][0] if nearest else None
