"""Machine translation of notices on real SQLite, through the real client against a fake LibreTranslate server:
a reader with no human version gets it translated and marked, with the original a tap away; human versions
win; each text is translated once per language; a translator that is down or slow never holds a notice."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import timedelta

from bot.fakeapi.translate import fake_translation
from bot.machine_translation import LibreTranslateClient
from handlers import Dispatcher
from handlers.notice_delivery import NoticeFeed, send_due_notice_work
from tests.handlers.harness import Harness, buttons, texts
from tests.handlers.test_notices import AMINA, JOHN, LUCIA, OLGA, PABLO, compose, district

WATER = "Mañana se corta el agua en la calle Mesón de Paredes de 9 a 14 h."


def use(bot: Harness, url: str, timeout: float = 2.0) -> LibreTranslateClient:
    client = LibreTranslateClient(url, timeout=timeout)
    bot.services = replace(bot.services, machine_translator=client)
    bot.dispatcher = Dispatcher(bot.services)
    return client


async def send(bot: Harness, body: str = WATER, arabic: str | None = None) -> dict[int, dict]:
    """Compose and confirm a barrio notice as Pablo, run the notices tick, and claim every delivery."""
    barrio = await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    await compose(bot, PABLO, f"barrio:{barrio}", body, arabic=arabic)
    confirmed = await bot.tap(PABLO, "ntc")
    assert "va de camino" in texts(confirmed)
    await send_due_notice_work(bot.services)
    async with bot.db.unit_of_work() as uow:
        items = await NoticeFeed(bot.catalogs).claim(uow, bot.clock(), 100, "t", bot.clock() + timedelta(minutes=2))
        await uow.commit()
    return {item.chat_id: item.payload for item in items}


async def test_an_arabic_reader_gets_a_marked_machine_translation_and_can_see_the_original(bot, translator):
    client = use(bot, translator.url)
    await district(bot)
    got = await send(bot)
    amina = got[AMINA.user_id]
    assert fake_translation(WATER, "ar") in amina["text"]
    assert "ترجمة آلية" in amina["text"]  # "machine translation", in Arabic
    assert WATER not in amina["text"].replace(fake_translation(WATER, "ar"), "")
    [[[_label, see_original]]] = amina["buttons"]
    assert see_original.startswith("nor:")
    assert fake_translation(WATER, "en") in got[JOHN.user_id]["text"]
    assert "Machine-translated from Spanish" in got[JOHN.user_id]["text"]
    lucia = got[LUCIA.user_id]["text"]
    assert WATER in lucia and "[" not in lucia and not got[LUCIA.user_id].get("buttons")  # her own language
    original = await bot.tap(AMINA, see_original)
    assert WATER in texts(original) and "الأصل" in texts(original)  # "the original"
    await client.close()


async def test_a_human_version_wins_and_a_text_is_translated_once_per_language(bot, translator):
    client = use(bot, translator.url)
    await district(bot)
    got = await send(bot, arabic="سيتم قطع المياه غدا.")
    assert "سيتم قطع المياه غدا." in got[AMINA.user_id]["text"]
    assert "ترجمة آلية" not in got[AMINA.user_id]["text"]
    assert {r["target"] for r in translator.requests} == {"en"}  # only John's language had no human version
    asked = len(translator.requests)
    again = await send(bot, arabic="سيتم قطع المياه غدا.")
    assert fake_translation(WATER, "en") in again[JOHN.user_id]["text"]
    assert len(translator.requests) == asked  # cached per text and language
    await client.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_with_the_translator_down_the_original_goes_out_marked_at_once(bot):
    client = use(bot, f"http://127.0.0.1:{closed_port()}")
    await district(bot)
    sent_at = bot.clock()
    got = await send(bot)
    amina = got[AMINA.user_id]["text"]
    assert WATER in amina and "ترجمة آلية" not in amina and not got[AMINA.user_id].get("buttons")
    # Queued in the same tick, due when the notice was sent: nothing waits for a translator.
    due = await bot.rows("SELECT send_at FROM notice_delivery WHERE chat_id = :c", c=AMINA.user_id)
    assert len(due) == 1 and str(due[0][0])[:19] <= sent_at.isoformat(" ")[:19]
    assert client.resting  # and the next notices do not even try for a while
    await client.close()


async def test_a_slow_translator_is_given_up_on_and_the_original_goes_out(bot, translator):
    translator.delay = 3.0
    client = use(bot, translator.url, timeout=0.3)
    await district(bot)
    got = await send(bot)
    assert WATER in got[AMINA.user_id]["text"] and "ترجمة آلية" not in got[AMINA.user_id]["text"]
    assert await bot.scalar("SELECT count(*) FROM machine_translation") == 0
    await client.close()


async def test_a_broken_translator_answer_is_not_shown(bot, translator):
    translator.failing = True
    client = use(bot, translator.url)
    await district(bot)
    got = await send(bot)
    assert WATER in got[JOHN.user_id]["text"] and "Written in Spanish" in got[JOHN.user_id]["text"]
    await client.close()


async def test_only_a_recipient_may_ask_for_the_original(bot, translator):
    client = use(bot, translator.url)
    await district(bot)
    got = await send(bot)
    data = got[AMINA.user_id]["buttons"][0][0][1]
    olga = await bot.tap(OLGA, data)
    assert WATER not in texts(olga)
    assert buttons(olga) == [] or all(WATER not in label for label, _ in buttons(olga))
    await client.close()
