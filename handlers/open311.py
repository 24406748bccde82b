"""Open311 GeoReport v2: the district's cases for city systems (services, requests), and filing a case.

Channel-neutral: each function takes the request's parameters and returns a status and a JSON body; the HTTP
server (bot/channels/http.py) only routes. Nothing personal about a reporter is ever part of an answer, and
nothing personal a city system sends (first_name, last_name, email, phone, device_id, account_id) is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.permissions import Sector
from bot.domain.reports import CaseStatus, case_reference, open311_status
from bot.domain.territory import circle_at
from bot.i18n import Translator
from handlers.case_messages import TOPIC_CASE_NEW, card_with, category_text, tell_handlers
from handlers.context import Services
from handlers.labels import category_name, sector_name
from storage.models import Case
from storage.uow import UnitOfWork

MAX_DESCRIPTION = 4000
MAX_REQUESTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
# Decimal places of published coordinates (about 11 m): enough to find the problem, not a doorway.
PUBLIC_PRECISION = 4


@dataclass(frozen=True, slots=True)
class ApiAnswer:
    """An HTTP status and its JSON body."""

    status: int
    body: Any


def error(status: int, description: str, code: int | None = None) -> ApiAnswer:
    """GeoReport's error body: a list of {code, description}, with the same HTTP status."""
    return ApiAnswer(status, [{"code": code or status, "description": description}])


def w3(moment: datetime | None) -> str | None:
    """A datetime in the W3C format GeoReport uses (UTC, with Z)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_w3(value: str) -> datetime | None:
    """A W3C datetime from a query (a zone is required; Z accepted), or None when it cannot be read."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _translator(services: Services) -> Translator:
    return services.catalogs.translator(services.catalogs.default_locale)


async def _agency(uow: UnitOfWork, t: Translator, case: Case) -> str:
    barrio = await uow.territory.barrio(case.barrio_id)
    name = barrio.name if barrio else ""
    if case.sector:
        return t.plain("{sector} · {barrio}", sector=sector_name(t, Sector(case.sector)), barrio=name)
    return t.plain("Community managers of {barrio}", barrio=name)


async def service_list(services: Services) -> ApiAnswer:
    """GET services: one service per report category."""
    t = _translator(services)
    async with services.db.unit_of_work() as uow:
        categories = await uow.cases.categories()
        routing = await uow.cases.routing()
        body = []
        for category in categories:
            route = routing.district.get(category.code)
            group = sector_name(t, route.sector) if route and route.sector else t.plain("Community managers")
            body.append(
                {
                    "service_code": category.code,
                    "service_name": category_name(t, category.code, category.name),
                    "description": category_name(t, category.code, category.name),
                    "metadata": False,
                    "type": "realtime",
                    "keywords": category.code.replace("_", " "),
                    "group": group,
                }
            )
    return ApiAnswer(200, body)


async def service_definition(services: Services, code: str) -> ApiAnswer:
    """GET a service definition: our services take no extra attributes."""
    async with services.db.unit_of_work() as uow:
        if code not in {c.code for c in await uow.cases.categories()}:
            return error(404, f"service_code {code} not found")
    return ApiAnswer(200, {"service_code": code, "attributes": []})


async def _request_view(
    uow: UnitOfWork,
    t: Translator,
    case: Case,
    public: dict[str, bool],
    notes: dict,
    confidential: set[int],  # type: ignore[type-arg]
) -> dict:  # type: ignore[type-arg]
    """A case as a GeoReport request: no reporter, and for categories that are not public (or cases that went to
    a mediation or a community court) neither its text, its notes nor a place finer than its circle."""
    shown = public.get(case.category, True) and case.id not in confidential
    latitude, longitude = case.latitude, case.longitude
    circle = await uow.territory.circle(case.circle_id) if case.circle_id else None
    if (latitude is None or not shown) and circle is not None:
        latitude, longitude = circle.latitude, circle.longitude
    barrio = await uow.territory.barrio(case.barrio_id)
    where = ", ".join(p for p in (circle.name if circle else case.address, barrio.name if barrio else None) if p)
    note, updated = notes.get(case.id, (None, case.updated_at))
    return {
        "service_request_id": case.ref,
        "status": open311_status(case.status),  # type: ignore[arg-type]
        "status_notes": note if shown else None,
        "service_name": await category_text(uow, t, case.category),
        "service_code": case.category,
        "description": case.text if shown else None,
        "agency_responsible": await _agency(uow, t, case),
        "service_notice": None,
        "requested_datetime": w3(case.created_at),
        "updated_datetime": w3(updated or case.updated_at),
        "expected_datetime": w3(case.resolve_by),
        "address": where or None,
        "address_id": None,
        "zipcode": None,
        "lat": round(latitude, PUBLIC_PRECISION) if latitude is not None else None,
        "long": round(longitude, PUBLIC_PRECISION) if longitude is not None else None,
        "media_url": None,
    }


async def _views(services: Services, uow: UnitOfWork, cases: list[Case]) -> list[dict]:  # type: ignore[type-arg]
    t = _translator(services)
    public = {c.code: c.public for c in await uow.cases.categories()}
    notes = await uow.cases.last_public_notes([c.id for c in cases])
    confidential = await uow.coexistence.reports_in_a_process([c.id for c in cases])
    return [await _request_view(uow, t, case, public, notes, confidential) for case in cases]


async def request_list(services: Services, query: Mapping[str, str], now: datetime) -> ApiAnswer:
    """GET requests: filters service_request_id (overrides the rest), service_code, status, start_date,
    end_date; newest first; at most 1,000; the last 90 days unless dates are given."""
    async with services.db.unit_of_work() as uow:
        if query.get("service_request_id"):
            refs = [r.strip() for r in query["service_request_id"].split(",") if r.strip()]
            cases = list(await uow.cases.public(refs=refs))
            return ApiAnswer(200, await _views(services, uow, cases))
        statuses = None
        if query.get("status"):
            wanted = {s.strip().lower() for s in query["status"].split(",") if s.strip()}
            if not wanted <= {"open", "closed"}:
                return error(400, "status must be open or closed")
            statuses = [s.value for s in CaseStatus if open311_status(s) in wanted]
        dates: dict[str, datetime | None] = {}
        for key in ("start_date", "end_date"):
            dates[key] = parse_w3(query[key]) if query.get(key) else None
            if query.get(key) and dates[key] is None:
                return error(400, f"{key} must be a W3C datetime with a time zone, e.g. 2026-01-01T00:00:00Z")
        start, end = dates["start_date"], dates["end_date"]
        if start is None and end is None:
            start = now - DEFAULT_WINDOW
        elif start is None and end is not None:
            start = end - DEFAULT_WINDOW
        codes = [c.strip() for c in query.get("service_code", "").split(",") if c.strip()] or None
        cases = list(
            await uow.cases.public(categories=codes, statuses=statuses, since=start, until=end, limit=MAX_REQUESTS)
        )
        return ApiAnswer(200, await _views(services, uow, cases))


async def export_requests(
    services: Services,
    *,
    since: datetime | None = None,
    batch: int = 500,
    on_batch: Callable[[int], None] | None = None,
) -> list[dict]:  # type: ignore[type-arg]
    """Every case (created since `since`) as GET requests shows it, with the same privacy rules, oldest first:
    the district's whole record for an export, without the API's 1,000-request and 90-day limits."""
    views: list[dict] = []  # type: ignore[type-arg]
    after = 0
    while True:
        async with services.db.unit_of_work() as uow:
            cases = list(await uow.cases.export_batch(after, batch, since=since))
            if not cases:
                return views
            views.extend(await _views(services, uow, cases))
            # Read before the unit of work ends: its rollback expires the rows.
            after = cases[-1].id
        if on_batch is not None:
            on_batch(len(cases))


async def request_one(services: Services, ref: str) -> ApiAnswer:
    """GET one request: a one-element list, or 404."""
    async with services.db.unit_of_work() as uow:
        cases = list(await uow.cases.public(refs=[ref.strip().upper()]))
        if not cases:
            return error(404, f"service_request_id {ref} not found")
        return ApiAnswer(200, await _views(services, uow, cases))


async def create_request(services: Services, form: Mapping[str, str]) -> ApiAnswer:
    """POST a request: a city system files a case, routed like any other and shown to the handling staff."""
    if not form.get("api_key") or form["api_key"] not in services.open311_keys:
        return error(403, "Invalid api_key received -- can't proceed with create_request.")
    code = (form.get("service_code") or "").strip()
    if not code:
        return error(400, "service_code was not provided")
    description = (form.get("description") or "").strip()
    now = services.clock()
    async with services.db.unit_of_work() as uow:
        if code not in {c.code for c in await uow.cases.categories()}:
            return error(404, f"service_code {code} not found")
        if not description:
            return error(400, "description was not provided")
        if len(description) > MAX_DESCRIPTION:
            return error(400, f"description is longer than {MAX_DESCRIPTION} characters")
        place = await _place(uow, form)
        if isinstance(place, ApiAnswer):
            return place
        circle_id, latitude, longitude, address = place
        circle = await uow.territory.circle(circle_id)
        barrio = await uow.territory.barrio(circle.barrio_id) if circle else None
        route = (await uow.cases.routing()).route(code, barrio.id) if barrio else None
        if circle is None or barrio is None or route is None:
            return error(400, "this service cannot be routed here")
        case = await uow.cases.open(
            case_reference(barrio.code, await uow.cases.next_number(barrio.id)),
            barrio_id=barrio.id,
            circle_id=circle.id,
            category=code,
            route=route,
            text=description,
            now=now,
            anonymous=True,
            source="open311",
            latitude=latitude,
            longitude=longitude,
            address=address,
        )

        async def heading(t: Translator) -> Any:
            return t.gettext(
                "🆕 New report <b>{ref}</b> · {category}", ref=case.ref, category=await category_text(uow, t, code)
            )

        await tell_handlers(uow, services.catalogs, case, card_with(uow, case, heading), TOPIC_CASE_NEW, now)
        t = _translator(services)
        notice = t.plain(
            "Routed to {agency}; to be resolved by {date}.",
            agency=await _agency(uow, t, case),
            date=w3(case.resolve_by),
        )
        await uow.commit()
    services.on_outbox()
    return ApiAnswer(200, [{"service_request_id": case.ref, "service_notice": notice, "account_id": None}])


async def _place(
    uow: UnitOfWork, form: Mapping[str, str]
) -> tuple[int, float | None, float | None, str | None] | ApiAnswer:
    """Where a POSTed request is: lat/long inside the district, a known building (address_id), or an address
    naming a circle or building."""
    lat, lon = form.get("lat"), form.get("long")
    if lat or lon:
        try:
            latitude, longitude = float(lat or ""), float(lon or "")
        except ValueError:
            return error(400, "lat and long must both be given, as numbers (WGS84)")
        circle_id = circle_at(await uow.territory.circle_points(), latitude, longitude)
        if circle_id is None:
            return error(400, "lat/long is outside the Madrid Central District")
        return circle_id, latitude, longitude, (form.get("address_string") or None)
    if form.get("address_id"):
        building = await uow.territory.building_by_code(form["address_id"])
        if building is None:
            return error(400, f"address_id {form['address_id']} is not a known building")
        return building.circle_id, None, None, building.address
    address = (form.get("address_string") or "").strip()
    if not address:
        return error(400, "a location was not provided: give lat and long, address_string or address_id")
    wanted = address.casefold()
    for circle in await uow.territory.circles():
        if circle.name.casefold() in wanted:
            return circle.id, None, None, address[:200]
        for building in await uow.territory.buildings_in_circle(circle.id):
            if building.address.casefold() in wanted:
                return circle.id, None, None, address[:200]
    return error(
        400, "address_string names no street, square or park of the Madrid Central District; give lat and long"
    )
