"""Ten languages end to end, over HTTP against the fake Bot API (aiogram on SQLite, python-telegram-bot on
PostgreSQL): a resident of each language registers, reports a problem, votes in a poll and reads a notice; then
every message and button each of them got is scanned for text left in English (any message of the template
whose English words show where the resident chose another language)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LOCALES_DIR, SUPPORTED_LOCALES
from tests.e2e.conftest import ENGINE_DATABASE_CROSSED, InProcessBot, engine_database_id, journey_bot
from tests.e2e.people import Person, join_and_be_approved, wait_until

LAVAPIES = (40.4089, -3.7009)
# Telegram's own language codes for them (a Chinese or Filipino phone does not say "zh_Hans" or "fil").
TELEGRAM_CODES = {"zh_Hans": "zh-hans", "fil": "tl"}
# What each resident writes, in their language: a report and the manager's notice version.
WRITTEN = {
    "es": ("Hay música muy alta todas las noches hasta las cuatro.", "Mañana se corta el agua de 9 a 12."),
    "en": ("Very loud music every night until four in the morning.", "Tomorrow the water is off from 9 to 12."),
    "ar": ("موسيقى عالية جدا كل ليلة حتى الساعة الرابعة.", "غدا سينقطع الماء من 9 إلى 12."),
    "bn": ("প্রতি রাতে ভোর চারটা পর্যন্ত খুব জোরে গান বাজে।", "আগামীকাল ৯টা থেকে ১২টা পর্যন্ত পানি থাকবে না।"),
    "zh_Hans": ("每天晚上都有很大的音乐声，一直到凌晨四点。", "明天9点到12点停水。"),
    "ro": ("În fiecare noapte e muzică foarte tare până la patru.", "Mâine nu este apă de la 9 la 12."),
    "fr": ("Musique très forte toutes les nuits jusqu'à quatre heures.", "Demain, l'eau sera coupée de 9 h à 12 h."),
    "it": ("Musica altissima tutte le notti fino alle quattro.", "Domani manca l'acqua dalle 9 alle 12."),
    "fil": ("Napakalakas ng tugtog gabi-gabi hanggang alas-kuwatro.", "Bukas, walang tubig mula 9 hanggang 12."),
    "uk": ("Щоночі дуже гучна музика до четвертої ранку.", "Завтра не буде води з 9 до 12."),
}


@pytest.fixture(params=ENGINE_DATABASE_CROSSED, ids=engine_database_id)
async def ten_bot(request, fake, tmp_path) -> AsyncIterator[tuple[InProcessBot, str]]:  # type: ignore[no-untyped-def]
    async with journey_bot(request.param, fake, tmp_path) as running:
        yield running


# ---------------------------------------------------------------- the scan

# Pieces of an English message between placeholders, tags and sentence marks.
PLACEHOLDER_OR_TAG = re.compile(r"\{\w+\}|<[^>]+>|[\n:;.!?()]")


@lru_cache(maxsize=16)
def translations_of(locale: str) -> str:
    """Every translation of `locale`'s catalog, joined (English words a translation keeps are not leftovers)."""
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        catalog = read_po(fp, locale=locale)
    parts = []
    for message in catalog:
        strings = [message.string] if isinstance(message.string, str) else list(message.string or ())
        parts += strings
    return "\n".join(parts)


@lru_cache(maxsize=1)
def english_phrases() -> tuple[str, ...]:
    """Phrases of three words or more from every English message of the template (between placeholders)."""
    with (LOCALES_DIR / "messages.pot").open("rb") as fp:
        template = read_po(fp)
    phrases: set[str] = set()
    for message in template:
        if not message.id:
            continue
        for english in [message.id] if isinstance(message.id, str) else message.id:
            for piece in PLACEHOLDER_OR_TAG.split(english):
                piece = re.sub(r"^\W+|\W+$", "", piece)
                if len(re.findall(r"[A-Za-z]{2,}", piece)) >= 3 and len(piece) >= 15:
                    phrases.add(piece)
    return tuple(sorted(phrases, key=len, reverse=True))


def english_leftovers(locale: str, shown: list[str]) -> list[tuple[str, str]]:
    """(phrase, where) for every English phrase of the template found in what a `locale` reader was shown."""
    own = translations_of(locale)
    found = []
    for text in shown:
        flat = re.sub(r"<[^>]+>", "", text).replace("\u2068", "").replace("\u2069", "")
        for phrase in english_phrases():
            if phrase in flat and phrase not in own:
                found.append((phrase, flat[:80]))
    return found


def test_the_scan_finds_an_english_message_left_in_a_french_chat():
    shown = ["Bonjour !", "✅ Your poll is open: its 3 voters get it now, in their language."]
    assert english_leftovers("fr", shown)
    assert not english_leftovers("fr", ["Bonjour ! Votre vote est ouvert."])


async def everything_shown(person: Person) -> list[str]:
    """The text of every message in a chat and every button label on it."""
    await person.refresh()
    shown = person.texts()
    for message in person.log:
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            shown += [button["text"] for button in row]
    return shown


# ---------------------------------------------------------------- the journey


async def report(person: Person, text: str) -> None:
    await person.say("/report")
    await person.tap("rc:noise")
    await person.say(text)
    await person.tap("rph")
    await person.share(*LAVAPIES)
    if "rnew" in person.buttons():  # neighbours reported noise nearby: this one is another problem
        await person.tap("rnew")
    await person.tap("ran:no")
    await person.tap("rok")


def send_notice_with_the_cli(database_url: str, barrio: int, folder: Path) -> None:
    """`vecinos notices send` with a version in every language (the real command line)."""
    from bot.cli import main

    # Urgent: it must not wait for quiet hours whenever the suite runs (they are tested elsewhere).
    arguments = ["notices", "send", "--scope", f"barrio:{barrio}", "--language", "es", "--urgent"]
    for locale, (_report, notice) in WRITTEN.items():
        path = folder / f"notice-{locale}.txt"
        path.write_text(notice, encoding="utf-8")
        arguments += ["--text", str(path)] if locale == "es" else [f"--text-{locale}", str(path)]
    os.environ["VECINOS_DATABASE_URL"] = database_url
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(arguments) == 0
    finally:
        del os.environ["VECINOS_DATABASE_URL"]


async def test_registration_a_report_a_vote_and_a_notice_in_each_of_ten_languages(fake, ten_bot, tmp_path):
    _bot, url = ten_bot
    _api, client = fake
    from tests.e2e.conftest import DatabaseProbe

    db = DatabaseProbe(url)
    manager = Person(client, 7900, "Pablo", "es")
    await db.grant_waiting(7900, "community_manager", "embajadores")
    await manager.say("/start")
    people = {
        locale: Person(client, 7901 + i, f"Vecino{i}", TELEGRAM_CODES.get(locale, locale))
        for i, locale in enumerate(SUPPORTED_LOCALES)
    }
    for locale, person in people.items():
        await join_and_be_approved(person, manager, locale)
    assert sorted(r[0] for r in await db.rows("SELECT locale FROM resident WHERE telegram_user_id > 7900")) == sorted(
        SUPPORTED_LOCALES
    )

    for locale, person in people.items():
        await report(person, WRITTEN[locale][0])
    await wait_until(lambda: db.scalar("SELECT count(*) FROM report_case"), len(SUPPORTED_LOCALES), what="reports")

    delegate = people["es"]
    await db.grant(delegate.user_id, "delegate", "emb-plaza-lavapies")
    await delegate.say("/poll")
    await delegate.tap("pck:single")
    await delegate.say("¿Pintamos el mural de la plaza?")
    for option in ("Sí", "No"):
        await delegate.say(option)
    await delegate.tap("pco")
    await delegate.tap("pcc:3d")
    await delegate.tap("pcok")
    poll_id = await db.scalar("SELECT id FROM poll")
    for person in people.values():
        await wait_until(lambda p=person: _has_ballot(p, poll_id), True, what=f"{person.first_name}'s ballot")
        await person.tap(f"pv:{poll_id}:0")
    await wait_until(lambda: db.scalar("SELECT count(*) FROM poll_ballot"), len(SUPPORTED_LOCALES), what="votes")

    barrio = await db.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    await asyncio.to_thread(send_notice_with_the_cli, url, barrio, tmp_path)
    for locale, person in people.items():
        await person.wait_for(WRITTEN[locale][1])

    leftovers = {}
    for locale, person in people.items():
        shown = await everything_shown(person)
        assert len(shown) > 20, f"{locale}: only {len(shown)} texts"
        if locale != "en":
            found = english_leftovers(locale, shown)
            if found:
                leftovers[locale] = found[:3]
    assert not leftovers, leftovers
    # The scan does see English where it is: the English resident's chat, read as if it were French, is full of it.
    assert len(english_leftovers("fr", await everything_shown(people["en"]))) > 10


async def _has_ballot(person: Person, poll_id: int) -> bool:
    await person.refresh()
    return any(
        b.get("callback_data") == f"pv:{poll_id}:0"
        for m in person.log
        for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    )
