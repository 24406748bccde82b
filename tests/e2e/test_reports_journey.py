"""A report's whole life over HTTP, on both engines (and PostgreSQL): an Arabic resident reports noise with a
photo and a place; environment and the community manager get it; acknowledge, refer, work, resolve, each told
to her in Arabic; "is it fixed?" reopens it; a Spanish neighbour says "me too" and is told every later step."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.i18n import Catalogs
from tests.e2e.conftest import ENGINE_DATABASE, InProcessBot, engine_database_id
from tests.e2e.conftest import journey_bot as running_journey
from tests.e2e.people import Person, join_and_be_approved, wait_until

CATALOGS = Catalogs("es")
LAVAPIES = (40.4089, -3.7009)


def tr(locale: str, message: str, **values: object) -> str:
    return CATALOGS.translator(locale).gettext(message, **values)


def plain(locale: str, message: str, **values: object) -> str:
    return CATALOGS.translator(locale).plain(message, **values)


@pytest.fixture(params=ENGINE_DATABASE, ids=engine_database_id)
async def journey_bot(request, fake, tmp_path) -> AsyncIterator[tuple[InProcessBot, str]]:  # type: ignore[no-untyped-def]
    """Vecinos polling on each engine and database, asking "is it fixed?" a few seconds after "resolved"."""
    async with running_journey(request.param, fake, tmp_path, report_follow_up_days=0.00005) as running:
        yield running


async def test_a_report_goes_round_the_whole_loop_in_each_persons_language(fake, journey_bot):
    _bot, url = journey_bot
    _api, client = fake
    from tests.e2e.conftest import DatabaseProbe

    db = DatabaseProbe(url)
    environment = Person(client, 7101, "Elena", "es")
    manager = Person(client, 7102, "Pablo", "en")
    await db.grant_waiting(7101, "sectorial_manager", "embajadores", "environment_cleaning")
    await db.grant_waiting(7102, "community_manager", "embajadores")
    for person in (environment, manager):
        await person.say("/start")
    amina = Person(client, 7201, "Amina", "ar")
    lucia = Person(client, 7202, "Lucía", "es")
    await join_and_be_approved(amina, manager)
    await join_and_be_approved(lucia, manager)

    await amina.say("/report")
    await amina.tap("rc:noise")
    await amina.say("الموسيقى عالية جدًا كل ليلة حتى الساعة الرابعة في الطابق الأرضي")
    await amina.photo()
    await amina.tap("rph")
    await amina.share(*LAVAPIES)
    await amina.tap("ran:no")
    await amina.tap("rok")
    await amina.wait_for("EMB-0001")

    noise = {locale: plain(locale, "Noise") for locale in ("ar", "es", "en")}
    card = await environment.wait_for("EMB-0001")
    assert "Amina" in card
    await manager.wait_for("EMB-0001")

    async def photo_and_pin() -> bool:
        kinds = {m["kind"] for m in await client.messages(7101)}
        return {"photo", "location"} <= kinds

    await wait_until(photo_and_pin, True, what="the photo and the place after the card")

    async def told_amina(message: str, **values: object) -> None:
        await amina.wait_for(tr("ar", message, ref="EMB-0001", category=noise["ar"], **values).split("\n")[0])

    await environment.tap_label(plain("es", "👀 Acknowledge"))
    await told_amina(
        "👀 Report <b>{ref}</b> ({category}) has been seen by {handler}: they are on it.",
        handler=plain("ar", "Environment and cleaning"),
    )
    await environment.tap_label(plain("es", "↪️ Refer"))
    await environment.tap_label(plain("es", "Community Police"))
    await environment.say("Es un bar: es cosa de la Policía.")
    await told_amina(
        "↪️ Report <b>{ref}</b> ({category}) has been passed to {handler}, who are responsible for it.",
        handler=plain("ar", "Community Police"),
    )
    # The community manager sees every case, whatever the sector: he moves it on.
    await manager.say("/case EMB-0001")
    await manager.tap_label(plain("en", "👀 Acknowledge"))
    await manager.tap_label(plain("en", "🛠️ Start work"))
    await told_amina("🛠️ Work has started on report <b>{ref}</b> ({category}).")
    await manager.tap_label(plain("en", "✅ Resolved"))
    await manager.say("The bar now closes its doors at 23:00.")
    await told_amina(
        "✅ Report <b>{ref}</b> ({category}) has been resolved. In a few days I will ask whether it is really fixed."
    )
    await amina.wait_for(tr("ar", "❓ Some days ago report <b>{ref}</b> ({category}) was marked resolved. Is it "
                                  "really fixed?", ref="EMB-0001", category=noise["ar"]), timeout=30)  # fmt: skip
    await amina.tap_label(plain("ar", "❌ No, it is not"))
    await manager.wait_for("🔁")

    await lucia.say("/report")
    await lucia.tap("rc:noise")
    await lucia.say("Mucho ruido por las noches en la plaza, no se puede dormir.")
    await lucia.tap("rph")
    await lucia.share(*LAVAPIES)
    await lucia.tap_label(plain("es", "👍 Me too: {ref}", ref="EMB-0001"))
    await lucia.wait_for("EMB-0001")
    await manager.say("/case EMB-0001")
    await manager.tap_label(plain("en", "🛠️ Start work"))
    await lucia.wait_for(
        tr("es", "🛠️ Work has started on report <b>{ref}</b> ({category}).", ref="EMB-0001", category=noise["es"])
    )
    await manager.tap_label(plain("en", "✅ Resolved"))
    await manager.say("Inspected again tonight: quiet.")
    await lucia.wait_for("Inspected again tonight")
    assert await db.scalar("SELECT count(*) FROM report_case") == 1
    assert await db.scalar("SELECT supporters FROM report_case") == 1
    await db.close()
