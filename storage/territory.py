"""The territory: district, barrios, circles and buildings, read from an in-memory snapshot."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.territory import CirclePoint
from storage.base import Repository
from storage.models import Barrio, Building, Circle, District


@dataclass(frozen=True, slots=True)
class BarrioView:
    """A barrio, as read-only reference data."""

    id: int
    code: str
    name: str
    contact: str | None = None


@dataclass(frozen=True, slots=True)
class CircleView:
    """A circle, as read-only reference data."""

    id: int
    barrio_id: int
    code: str
    name: str
    kind: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class BuildingView:
    """A building, as read-only reference data."""

    id: int
    circle_id: int
    code: str
    address: str


@dataclass
class TerritorySnapshot:
    """The whole territory in memory: it changes only when a seed is loaded."""

    barrios: dict[int, BarrioView]
    circles: dict[int, CircleView]
    buildings: dict[int, BuildingView]
    loaded_at: float


class TerritoryCache:
    """Process-wide territory snapshot, refreshed after `ttl` seconds (other processes may reseed)."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self.snapshot: TerritorySnapshot | None = None
        # Report categories and routes, also reference data: (categories, routing table, loaded at).
        self.reports: tuple[Any, Any, float] | None = None

    def fresh(self) -> TerritorySnapshot | None:
        """The snapshot, unless it is missing or stale."""
        if self.snapshot is not None and time.monotonic() - self.snapshot.loaded_at < self.ttl:
            return self.snapshot
        return None

    def invalidate(self) -> None:
        """Forget the snapshot (after a seed)."""
        self.snapshot = None
        self.reports = None

    def fresh_reports(self) -> tuple[Any, Any] | None:
        """The report categories and routing table, unless missing or stale."""
        if self.reports is not None and time.monotonic() - self.reports[2] < self.ttl:
            return self.reports[0], self.reports[1]
        return None


class TerritoryRepository(Repository):
    """District, barrios, circles and buildings (reads come from an in-memory snapshot)."""

    def __init__(self, session: AsyncSession, postgres: bool, cache: TerritoryCache | None = None) -> None:
        super().__init__(session, postgres)
        self.cache = cache or TerritoryCache(ttl=0)

    async def _snapshot(self) -> TerritorySnapshot:
        snapshot = self.cache.fresh()
        if snapshot is None:
            barrios = {
                b.id: BarrioView(b.id, b.code, b.name, b.contact) for b in await self.session.scalars(select(Barrio))
            }
            circles = {
                c.id: CircleView(c.id, c.barrio_id, c.code, c.name, c.kind, c.latitude, c.longitude)
                for c in await self.session.scalars(select(Circle))
            }
            buildings = {
                b.id: BuildingView(b.id, b.circle_id, b.code, b.address)
                for b in await self.session.scalars(select(Building))
            }
            snapshot = self.cache.snapshot = TerritorySnapshot(barrios, circles, buildings, time.monotonic())
        return snapshot

    async def barrios(self) -> list[BarrioView]:
        """All barrios, by name."""
        return sorted((await self._snapshot()).barrios.values(), key=lambda b: b.name)

    async def barrio(self, barrio_id: int) -> BarrioView | None:
        """One barrio by id."""
        return (await self._snapshot()).barrios.get(barrio_id)

    async def circle(self, circle_id: int) -> CircleView | None:
        """One circle by id."""
        return (await self._snapshot()).circles.get(circle_id)

    async def building(self, building_id: int) -> BuildingView | None:
        """One building by id."""
        return (await self._snapshot()).buildings.get(building_id)

    async def barrio_by_code(self, code: str) -> BarrioView | None:
        """One barrio by its code (case-insensitive)."""
        wanted = code.strip().lower()
        return next((b for b in (await self._snapshot()).barrios.values() if b.code.lower() == wanted), None)

    async def circle_by_code(self, code: str) -> CircleView | None:
        """One circle by its code (case-insensitive)."""
        wanted = code.strip().lower()
        return next((c for c in (await self._snapshot()).circles.values() if c.code.lower() == wanted), None)

    async def building_by_code(self, code: str) -> BuildingView | None:
        """One building by its code (case-insensitive)."""
        wanted = code.strip().lower()
        return next((b for b in (await self._snapshot()).buildings.values() if b.code.lower() == wanted), None)

    async def circles_in_barrio(self, barrio_id: int) -> list[CircleView]:
        """The circles of a barrio, by name."""
        circles = (await self._snapshot()).circles.values()
        return sorted((c for c in circles if c.barrio_id == barrio_id), key=lambda c: c.name)

    async def circles(self) -> list[CircleView]:
        """Every circle, by barrio and name."""
        return sorted((await self._snapshot()).circles.values(), key=lambda c: (c.barrio_id, c.name))

    async def circles_by_ids(self, ids: Sequence[int]) -> dict[int, CircleView]:
        """Circles keyed by id."""
        circles = (await self._snapshot()).circles
        return {i: circles[i] for i in ids if i in circles}

    async def circle_points(self) -> list[CirclePoint]:
        """Every circle's centre, for nearest-circle search."""
        return [CirclePoint(c.id, c.latitude, c.longitude) for c in (await self._snapshot()).circles.values()]

    async def buildings_in_circle(self, circle_id: int) -> list[BuildingView]:
        """The known buildings of a circle."""
        buildings = (await self._snapshot()).buildings.values()
        return sorted((b for b in buildings if b.circle_id == circle_id), key=lambda b: b.address)

    async def upsert(self, model: type[Any], code: str, **fields: Any) -> Any:
        """Create or update a territory row by code (for idempotent seeding)."""
        row = await self.session.scalar(select(model).where(model.code == code))
        if row is None:
            row = model(code=code, **fields)
            self.session.add(row)
        else:
            for key, value in fields.items():
                setattr(row, key, value)
        await self.session.flush()
        self.cache.invalidate()
        return row

    async def counts(self) -> dict[str, int]:
        """How many rows of each territory level exist."""
        result = {}
        for name, model in (("districts", District), ("barrios", Barrio), ("circles", Circle), ("buildings", Building)):
            result[name] = await self.session.scalar(select(func.count()).select_from(model)) or 0
        return result
