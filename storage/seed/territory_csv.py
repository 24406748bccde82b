"""A district's territory as a spreadsheet: one CSV row per building, read into the same shape as the YAML seed.

Columns (header row required, any order; `,`, `;` or tab separated; UTF-8, with or without a BOM):
  barrio_code, barrio_name, circle_code, circle_name, circle_kind (street, square or park), lat, lon
      (the circle's centre, WGS84), building_code, building_address (both empty: a circle with no buildings yet)
  optional: barrio_contact, district_code, district_name (default: the Madrid Central District of the YAML seed)
Rows of one circle (or barrio) repeat its columns; they must agree, or the file is refused naming both lines."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from bot.domain.territory import CircleKind, valid_coordinates

REQUIRED = ("barrio_code", "barrio_name", "circle_code", "circle_name", "circle_kind", "lat", "lon")
OPTIONAL = ("building_code", "building_address", "barrio_contact", "district_code", "district_name")
# The column widths of the territory tables.
LIMITS = {"barrio_code": 40, "circle_code": 60, "building_code": 80, "building_address": 200, "district_code": 40}
MAX_REPORTED = 10


class TerritoryCsvError(ValueError):
    """The CSV cannot be loaded; the message names the file and the line of every bad row (the first ten)."""


def read_territory_csv(path: Path, default_district: dict[str, str]) -> dict[str, Any]:
    """Parse and check a territory CSV into the seed's shape (district, barrios with circles with buildings)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TerritoryCsvError(f"{path}: cannot be read ({exc})") from None
    if not text.strip():
        raise TerritoryCsvError(f"{path}: the file is empty")
    try:
        dialect: Any = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise TerritoryCsvError(f"{path}: line 1: missing columns {', '.join(missing)} (have {', '.join(header)})")
    reader.fieldnames = header
    problems: list[str] = []
    builder = _Builder(default_district, with_contacts="barrio_contact" in header)
    for row in reader:
        line = reader.line_num
        values = {key: (value or "").strip() for key, value in row.items() if key is not None}
        if not any(values.values()):
            continue
        problem = _check_row(values) or builder.add(values, line)
        if problem:
            problems.append(f"line {line}: {problem}")
    if problems:
        shown = "; ".join(problems[:MAX_REPORTED])
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise TerritoryCsvError(f"{path}: {len(problems)} bad rows: {shown}{more}")
    if not builder.barrios:
        raise TerritoryCsvError(f"{path}: no rows after the header")
    return builder.seed()


def _check_row(values: dict[str, str]) -> str | None:
    for name in REQUIRED:
        if not values.get(name):
            return f"{name} is empty"
    for name, limit in LIMITS.items():
        if len(values.get(name, "")) > limit:
            return f"{name} is longer than {limit} characters"
    if values["circle_kind"] not in set(CircleKind):
        return f"circle_kind {values['circle_kind']!r} must be one of {', '.join(CircleKind)}"
    try:
        lat, lon = float(values["lat"].replace(",", ".")), float(values["lon"].replace(",", "."))
    except ValueError:
        return "lat and lon must be numbers (WGS84 degrees, e.g. 40.4089 and -3.7009)"
    if not valid_coordinates(lat, lon):
        return f"lat {lat}, lon {lon} is not a place on Earth (lat -90..90, lon -180..180)"
    if bool(values.get("building_code")) != bool(values.get("building_address")):
        return "give both building_code and building_address, or neither (a circle with no buildings)"
    return None


class _Builder:
    """Groups rows into barrios, circles and buildings, remembering where each was first defined."""

    def __init__(self, default_district: dict[str, str], *, with_contacts: bool) -> None:
        self.with_contacts = with_contacts
        self.district: dict[str, str] | None = None
        self.default_district = default_district
        self.district_line = 0
        self.barrios: dict[str, dict[str, Any]] = {}
        self.circles: dict[str, tuple[dict[str, Any], str, int]] = {}
        self.buildings: dict[str, tuple[str, int]] = {}

    def add(self, values: dict[str, str], line: int) -> str | None:
        """Add one checked row; a contradiction with an earlier row is returned as a problem."""
        district = {"code": values.get("district_code", ""), "name": values.get("district_name", "")}
        if district["code"] or district["name"]:
            if not (district["code"] and district["name"]):
                return "give both district_code and district_name, or neither"
            if self.district is None:
                self.district, self.district_line = district, line
            elif self.district != district:
                return (
                    f"district {district['code']!r} differs from {self.district['code']!r} of line {self.district_line}"
                )
        barrio = self.barrios.get(values["barrio_code"])
        if barrio is None:
            barrio = self.barrios[values["barrio_code"]] = {
                "code": values["barrio_code"],
                "name": values["barrio_name"],
                "contact": values.get("barrio_contact") or None,
                "circles": [],
                "_line": line,
            }
        elif barrio["name"] != values["barrio_name"]:
            return f"barrio {barrio['code']} is named {barrio['name']!r} on line {barrio['_line']}"
        lat, lon = float(values["lat"].replace(",", ".")), float(values["lon"].replace(",", "."))
        circle_values = {"name": values["circle_name"], "kind": values["circle_kind"], "lat": lat, "lon": lon}
        known = self.circles.get(values["circle_code"])
        if known is None:
            circle = {"code": values["circle_code"], **circle_values, "buildings": []}
            barrio["circles"].append(circle)
            self.circles[values["circle_code"]] = (circle, barrio["code"], line)
        else:
            circle, barrio_code, first = known
            if barrio_code != barrio["code"] or any(circle[k] != v for k, v in circle_values.items()):
                return f"circle {circle['code']} differs from its row on line {first} (barrio, name, kind, lat, lon)"
        code = values.get("building_code")
        if code:
            if code in self.buildings:
                return f"building {code} is already on line {self.buildings[code][1]}"
            self.buildings[code] = (circle["code"], line)
            circle["buildings"].append({"code": code, "address": values["building_address"]})
        return None

    def seed(self) -> dict[str, Any]:
        """The seed dictionary `seed_territory` loads."""
        dropped = {"_line"} if self.with_contacts else {"_line", "contact"}
        barrios = [{k: v for k, v in b.items() if k not in dropped} for b in self.barrios.values()]
        return {"district": self.district or self.default_district, "barrios": barrios}
