"""Machine translation end to end (aiogram on SQLite, python-telegram-bot on PostgreSQL), with
VECINOS_TRANSLATE_URL pointing at a fake LibreTranslate server: a community manager's notice with no Arabic
version reaches an Arabic reader translated, marked, with a button to the original; the team's note on her report
does too; with the translator down, the next notice reaches her in the original, without waiting for it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from bot.fakeapi.translate import fake_translation
from bot.i18n import Catalogs
from tests.e2e.conftest import ENGINE_DATABASE_CROSSED, DatabaseProbe, InProcessBot, engine_database_id, journey_bot
from tests.e2e.people import Person, join_and_be_approved

CATALOGS = Catalogs("es")
LAVAPIES = (40.4089, -3.7009)
WATER = "Mañana se corta el agua en toda la calle de 9 a 12."
GAS = "El jueves revisan el gas en todos los portales de la plaza."
NOTE = "El bar ya cierra sus puertas a las once de la noche."
MARK_AR = "ترجمة آلية"


def plain(locale: str, message: str, **values: object) -> str:
    return CATALOGS.translator(locale).plain(message, **values)


@pytest.fixture(params=ENGINE_DATABASE_CROSSED, ids=engine_database_id)
async def translating_bot(request, fake, tmp_path, translator) -> AsyncIterator[tuple[InProcessBot, str]]:  # type: ignore[no-untyped-def]
    async with journey_bot(request.param, fake, tmp_path, translate_url=translator.url,
                           translate_timeout_seconds=2.0) as running:  # fmt: skip
        yield running


async def send_notice(manager: Person, barrio: int, text: str) -> None:
    """The community manager's urgent barrio notice, written in chat in Spanish only."""
    await manager.say("/notice")
    await manager.tap(f"nts:barrio:{barrio}")
    await manager.say(text)
    await manager.tap("ntd")
    await manager.tap("ntm")
    await manager.tap("ntu:urgent")  # urgent: no quiet hours, whenever the suite runs
    await manager.tap("ntw")
    await manager.tap("ntc")


def button_to_original(person: Person, fragment: str) -> str:
    for message in reversed(person.log):
        if fragment in (message.get("text") or ""):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            return next(b["callback_data"] for row in rows for b in row)
    raise AssertionError(f"no message with {fragment!r}")


async def test_notices_and_a_case_note_reach_an_arabic_reader_translated_or_on_time_in_the_original(
    fake, translating_bot, translator
):
    _bot, url = translating_bot
    _api, client = fake
    db = DatabaseProbe(url)
    manager = Person(client, 7801, "Pablo", "es")
    await db.grant_waiting(7801, "community_manager", "embajadores")
    await manager.say("/start")
    amina = Person(client, 7811, "Amina", "ar")
    lucia = Person(client, 7812, "Lucía", "es")
    await join_and_be_approved(amina, manager)
    await join_and_be_approved(lucia, manager)
    barrio = await db.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")

    # A notice with no Arabic version: Amina reads it machine-translated, marked, and can see the original.
    await send_notice(manager, barrio, WATER)
    shown = await amina.wait_for(fake_translation(WATER, "ar"))
    assert MARK_AR in shown
    await lucia.wait_for(WATER)
    assert not any(fake_translation(WATER, "es") in t for t in lucia.texts())  # her language: the original
    original = await amina.tap(button_to_original(amina, fake_translation(WATER, "ar")))
    assert any(WATER in m["text"] for m in original)
    assert {r["target"] for r in translator.requests} == {"ar"}

    # The team's note on her report, written in Spanish, is translated for her too.
    await amina.say("/report")
    await amina.tap("rc:noise")
    await amina.say("موسيقى عالية جدا كل ليلة حتى الساعة الرابعة في الطابق الأرضي.")
    await amina.tap("rph")
    await amina.share(*LAVAPIES)
    await amina.tap("ran:no")
    await amina.tap("rok")
    await manager.say("/case EMB-0001")
    await manager.tap_label(plain("es", "👀 Acknowledge"))
    await manager.tap_label(plain("es", "🛠️ Start work"))
    await manager.tap_label(plain("es", "✅ Resolved"))
    await manager.say(NOTE)
    told = await amina.wait_for(fake_translation(NOTE, "ar"))
    assert MARK_AR in told
    original = await amina.tap(button_to_original(amina, fake_translation(NOTE, "ar")))
    assert any(NOTE in m["text"] for m in original)

    # The translator goes down: the next notice reaches her in the original, marked with its language, at once.
    await translator.stop()
    started = time.monotonic()
    await send_notice(manager, barrio, GAS)
    shown = await amina.wait_for(GAS)
    waited = time.monotonic() - started
    assert MARK_AR not in shown and fake_translation(GAS, "ar") not in shown
    assert plain("ar", "Spanish") in shown or "الإسبانية" in shown
    print(f"the original reached her {waited:.1f} s after the manager sent it, with the translator down")
