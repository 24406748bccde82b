"""Open311 GeoReport v2 on the bot's HTTP server: every endpoint's fields and types, the spec's errors, a case
filed by a city system reaching the right staff in chat, and nothing personal about a reporter, ever."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import aiohttp
import pytest

from tests.e2e.conftest import InProcessBot, start_in_process
from tests.e2e.people import Person

API_KEY = "city-system-key-0123"
LAVAPIES = (40.4089, -3.7009)
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {
    "service_request_id": str,
    "status": str,
    "status_notes": (str, type(None)),
    "service_name": str,
    "service_code": str,
    "description": (str, type(None)),
    "agency_responsible": (str, type(None)),
    "service_notice": (str, type(None)),
    "requested_datetime": str,
    "updated_datetime": str,
    "expected_datetime": (str, type(None)),
    "address": (str, type(None)),
    "address_id": (str, type(None)),
    "zipcode": (str, type(None)),
    "lat": (float, int, type(None)),
    "long": (float, int, type(None)),
    "media_url": (str, type(None)),
}


@pytest.fixture
async def city(fake, database_url) -> AsyncIterator[tuple[InProcessBot, str]]:  # type: ignore[no-untyped-def]
    """Vecinos with Open311 keys; yields the bot and its HTTP base URL."""
    api_url, client = fake
    bot = await start_in_process(api_url, database_url, client, "aiogram", "polling", open311_api_keys=API_KEY)
    yield bot, f"http://127.0.0.1:{bot.app.http_port}/open311/v2"
    await bot.close()


async def call(method: str, url: str, **kw) -> tuple[int, object]:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as session, session.request(method, url, **kw) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


def is_w3(value: str) -> bool:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.tzinfo is not None and value.endswith("Z")


def assert_request_shape(item: dict) -> None:  # type: ignore[type-arg]
    assert set(item) == set(REQUEST_FIELDS), set(item) ^ set(REQUEST_FIELDS)
    for key, kinds in REQUEST_FIELDS.items():
        assert isinstance(item[key], kinds), (key, item[key])
    assert item["status"] in ("open", "closed")
    assert is_w3(item["requested_datetime"]) and is_w3(item["updated_datetime"])


def assert_error(status: int, body: object, expected: int) -> None:
    assert status == expected
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == {"code", "description"} and body[0]["code"] == expected
    assert isinstance(body[0]["description"], str) and body[0]["description"]


async def test_services_and_their_definitions(city):
    _bot, base = city
    status, services = await call("GET", f"{base}/services.json")
    assert status == 200 and isinstance(services, list) and len(services) == 8
    for service in services:
        assert set(service) == SERVICE_FIELDS
        assert all(isinstance(service[k], str) for k in SERVICE_FIELDS - {"metadata"})
        assert service["metadata"] is False and service["type"] == "realtime"
    status, definition = await call("GET", f"{base}/services/noise.json")
    assert (status, definition) == (200, {"service_code": "noise", "attributes": []})
    assert_error(*await call("GET", f"{base}/services/potholes.json"), 404)
    assert_error(*await call("GET", f"{base}/services.xml"), 400)


async def test_filing_a_case_and_reading_it_back(city, fake, db):
    _bot, base = city
    _api, client = fake
    await db.grant_waiting(7301, "sectorial_manager", "embajadores", "environment_cleaning")
    staff = Person(client, 7301, "Elena", "es")
    await staff.say("/start")
    form = {
        "api_key": API_KEY,
        "service_code": "cleanliness",
        "lat": str(LAVAPIES[0]),
        "long": str(LAVAPIES[1]),
        "description": "Contenedor desbordado junto a la fuente.",
        "first_name": "Marta",
        "last_name": "Secreta",
        "email": "marta.secreta@example.org",
        "phone": "600123123",
    }
    status, created = await call("POST", f"{base}/requests.json", data=form)
    assert status == 200, created
    [item] = created  # type: ignore[misc]
    ref = item["service_request_id"]
    assert ref == "EMB-0001" and isinstance(item["service_notice"], str) and item["account_id"] is None
    # The right staff get it in chat.
    await staff.wait_for(ref)
    # GET one, GET many with each filter.
    status, [one] = await call("GET", f"{base}/requests/{ref}.json")  # type: ignore[misc]
    assert status == 200
    assert_request_shape(one)
    assert one["status"] == "open" and one["service_code"] == "cleanliness"
    assert one["agency_responsible"] and one["expected_datetime"]
    for query in (
        {"service_request_id": ref},
        {"service_code": "cleanliness"},
        {"status": "open"},
        {"start_date": "2020-01-01T00:00:00Z", "end_date": "2099-01-01T00:00:00Z"},
    ):
        status, listed = await call("GET", f"{base}/requests.json", params=query)
        assert status == 200 and [r["service_request_id"] for r in listed] == [ref], query  # type: ignore[union-attr]
    status, closed = await call("GET", f"{base}/requests.json", params={"status": "closed"})
    assert (status, closed) == (200, [])
    assert_error(*await call("GET", f"{base}/requests/EMB-9999.json"), 404)
    assert_error(*await call("GET", f"{base}/requests.json", params={"start_date": "yesterday"}), 400)
    # Nothing personal the city system sent is kept anywhere.
    dump = await db.dump()
    assert "Marta" not in dump and "Secreta" not in dump and "600123123" not in dump and "example.org" not in dump


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"api_key": "wrong"}, 403),
        ({"api_key": None}, 403),
        ({"service_code": "potholes"}, 404),
        ({"service_code": None}, 400),
        ({"lat": "40.4530", "long": "-3.6883"}, 400),  # Chamartín, outside the district
        ({"lat": "north", "long": "-3.7"}, 400),
        ({"description": None}, 400),
        ({"description": "x" * 4001}, 400),
        ({"lat": None, "long": None}, 400),
    ],
)
async def test_bad_posts_get_the_specs_error_body(city, change, expected):
    _bot, base = city
    form = {"api_key": API_KEY, "service_code": "noise", "lat": "40.4089", "long": "-3.7009", "description": "Ruido."}
    for key, value in change.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    assert_error(*await call("POST", f"{base}/requests.json", data=form), expected)


async def test_an_address_or_a_building_is_a_location_too(city):
    _bot, base = city
    common = {"api_key": API_KEY, "service_code": "public_space", "description": "Bordillo roto."}
    status, by_address = await call(
        "POST", f"{base}/requests.json", data={**common, "address_string": "Plaza de Tirso de Molina, Madrid"}
    )
    assert status == 200, by_address
    status, by_building = await call("POST", f"{base}/requests.json", data={**common, "address_id": "emb-lavapies-7"})
    assert status == 200, by_building
    assert_error(
        *await call("POST", f"{base}/requests.json", data={**common, "address_string": "Gran Vía, Bilbao"}), 400
    )


async def test_an_anonymous_resident_report_shows_nothing_about_them(city, fake, db):
    _bot, base = city
    _api, client = fake
    await db.grant_waiting(7302, "community_manager", "embajadores")
    manager = Person(client, 7302, "Pablo", "en")
    await manager.say("/start")
    zoe = Person(client, 7303, "Zoë Quintanilla", "es")
    await zoe.say("/start")
    await zoe.tap("lang:es")
    await zoe.tap("consent:yes")
    await zoe.tap_label("Embajadores")
    await zoe.tap_label("Plaza de Lavapiés")
    await zoe.tap("nobld")
    await manager.wait_for("Zoë")
    await manager.tap_label("✅")
    await zoe.wait_for("🎉")
    await zoe.say("/report")
    await zoe.tap("rc:cleanliness")
    await zoe.say("Hay bolsas de basura acumuladas desde hace tres días en la esquina.")
    await zoe.tap("rph")
    await zoe.share(*LAVAPIES)
    await zoe.tap("ran:yes")
    await zoe.tap("rok")
    await zoe.wait_for("EMB-0001")
    card = await manager.wait_for("EMB-0001")
    assert "Zoë" not in card and "Quintanilla" not in card and "7303" not in card
    status, listed = await call("GET", f"{base}/requests.json")
    assert status == 200 and len(listed) == 1  # type: ignore[arg-type]
    text = str(listed)
    assert "Zoë" not in text and "Quintanilla" not in text and "7303" not in text
    assert_request_shape(listed[0])  # type: ignore[index]
