"""Territory seed: loads a district file (YAML, or CSV with one row per building) idempotently, matching rows
by code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bot.domain.permissions import Sector
from bot.domain.territory import CircleKind, valid_coordinates
from storage.models import Barrio, Building, Circle, District
from storage.uow import UnitOfWork

DEFAULT_SEED = Path(__file__).resolve().parent / "mcd.yaml"


class SeedError(ValueError):
    """The seed file is malformed; the message says where."""


def read_seed(path: Path) -> dict[str, Any]:
    """Parse and check a district seed file: YAML, or CSV when its name ends in .csv."""
    if path.suffix.lower() == ".csv":
        from storage.seed.territory_csv import TerritoryCsvError, read_territory_csv

        try:
            return read_territory_csv(path, default_district())
        except TerritoryCsvError as exc:
            raise SeedError(str(exc)) from None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SeedError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or "district" not in data or not data.get("barrios"):
        raise SeedError(f"{path}: needs a 'district' and a list of 'barrios'")
    for barrio in data["barrios"]:
        for circle in barrio.get("circles", []):
            where = f"{path}: circle {circle.get('code')!r}"
            if circle.get("kind") not in set(CircleKind):
                raise SeedError(f"{where}: kind must be one of {', '.join(CircleKind)}")
            if not valid_coordinates(float(circle.get("lat", 999)), float(circle.get("lon", 999))):
                raise SeedError(f"{where}: lat/lon missing or out of range")
    codes = set()
    for category in data.get("report_categories") or []:
        codes.add(category.get("code"))
        _check_route(path, f"report category {category.get('code')!r}", category)
    for barrio in data["barrios"]:
        for route in barrio.get("report_routes") or []:
            where = f"barrio {barrio.get('code')!r}, route {route.get('category')!r}"
            if route.get("category") not in codes:
                raise SeedError(f"{path}: {where}: no such report category")
            _check_route(path, where, route)
    return data


def default_district() -> dict[str, str]:
    """The district of the bundled seed (a CSV that names none belongs to it)."""
    district = yaml.safe_load(DEFAULT_SEED.read_text(encoding="utf-8"))["district"]
    return {"code": district["code"], "name": district["name"]}


def with_default_categories(data: dict[str, Any]) -> dict[str, Any]:
    """A seed with no report categories (a CSV territory), given the bundled seed's categories and their
    district-wide routes, so reports can be filed in a district loaded only from a spreadsheet."""
    if data.get("report_categories"):
        return data
    bundled = yaml.safe_load(DEFAULT_SEED.read_text(encoding="utf-8"))
    return {**data, "report_categories": bundled.get("report_categories") or []}


def _check_route(path: Path, where: str, route: dict[str, Any]) -> None:
    sector = route.get("sector")
    if sector is not None and sector not in set(Sector):
        raise SeedError(f"{path}: {where}: sector must be one of {', '.join(Sector)} or null")
    for key in ("acknowledge_hours", "resolve_days"):
        if not isinstance(route.get(key), int | float) or route[key] <= 0:
            raise SeedError(f"{path}: {where}: {key} must be a positive number")


def circle_count(data: dict[str, Any]) -> int:
    """How many circles a seed holds (the steps of a progress bar)."""
    return sum(len(b.get("circles", [])) for b in data["barrios"])


async def seed_territory(
    uow: UnitOfWork, data: dict[str, Any], on_circle: Callable[[], None] | None = None
) -> dict[str, int]:
    """Create or update the district, barrios, circles and buildings of a seed; return row counts. `on_circle`
    is called after each circle (for a progress bar)."""
    territory = uow.territory
    district = await territory.upsert(District, data["district"]["code"], name=data["district"]["name"])
    for b in data["barrios"]:
        # A file without contacts (a CSV with no barrio_contact column) keeps the ones the barrios have.
        contact = {"contact": b.get("contact") or None} if "contact" in b else {}
        barrio = await territory.upsert(Barrio, b["code"], name=b["name"], district_id=district.id, **contact)
        for c in b.get("circles", []):
            circle = await territory.upsert(
                Circle,
                c["code"],
                name=c["name"],
                kind=c["kind"],
                latitude=float(c["lat"]),
                longitude=float(c["lon"]),
                barrio_id=barrio.id,
            )
            for building in c.get("buildings", []):
                await territory.upsert(Building, building["code"], address=building["address"], circle_id=circle.id)
            if on_circle is not None:
                on_circle()
    for position, category in enumerate(data.get("report_categories") or []):
        await uow.cases.upsert_category(
            category["code"], category.get("name") or category["code"], position, bool(category.get("public", True))
        )
        await uow.cases.upsert_route(None, category["code"], *_route_values(category))
    for b in data["barrios"]:
        barrio = await territory.barrio_by_code(b["code"])
        for route in b.get("report_routes") or []:
            await uow.cases.upsert_route(barrio.id, route["category"], *_route_values(route))  # type: ignore[union-attr]
    return await territory.counts()


def _route_values(route: dict[str, Any]) -> tuple[str | None, int, int]:
    return route.get("sector"), round(route["acknowledge_hours"] * 60), round(route["resolve_days"] * 24 * 60)
