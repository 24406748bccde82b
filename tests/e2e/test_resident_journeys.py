"""Resident journeys end to end: real aiogram over HTTP against the fake Bot API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re

from bot.i18n import Catalogs
from tests.e2e.people import STICKER, Person, wait_handled, wait_until

CATALOGS = Catalogs("es")


def tr(locale: str, message: str, **values: object) -> str:
    return CATALOGS.translator(locale).gettext(message, **values)


async def register(
    person: Person,
    locale: str,
    circle: str = "Plaza de Lavapiés",
    barrio: str = "Embajadores",
    invite: str | None = None,
) -> None:
    await person.say(f"/start {invite}" if invite else "/start")
    await person.tap(f"lang:{locale}")
    await person.tap("consent:yes")
    if invite is None:
        await person.tap_label(barrio)
        await person.tap_label(circle)
    await person.tap("nobld")


async def test_arabic_resident_joins_with_an_invite_link_and_is_verified(fake, running_bot, db):
    _url, client = fake
    code = await asyncio.to_thread(_create_invite, running_bot.app.settings.database_url)  # the real CLI
    amina = Person(client, 5001, "أمينة", "ar")
    first = await amina.say(f"/start {code}")
    assert first[0]["text"].startswith(
        tr(
            "ar",
            "👋 Welcome to <b>Vecinos</b>, the participation channel of the "
            "Madrid Central District community stewardship circles.\n\nWhich language "
            "do you prefer?",
        )[:12]
    )
    await amina.tap("lang:ar")
    await amina.tap("consent:yes")
    await amina.tap("nobld")
    assert tr(
        "ar",
        "🎉 Welcome to the <b>{circle}</b> circle! Your invitation verified you. Send /help to see what you can do.",
        circle="Plaza de Lavapiés",
    ).replace("<b>", "").replace("</b>", "") in "\n".join(
        t.replace("<b>", "").replace("</b>", "") for t in await amina.refresh()
    )
    assert await db.rows(
        "SELECT m.status, m.verified_via FROM membership m JOIN resident r ON r.id = m.resident_id "
        "WHERE r.telegram_user_id = 5001"
    ) == [("verified", "invite")]


def _create_invite(database_url: str) -> str:
    import contextlib
    import io
    import os

    from bot.cli import main

    out = io.StringIO()
    os.environ["VECINOS_DATABASE_URL"] = database_url
    try:
        with contextlib.redirect_stdout(out):
            assert main(["invites", "create", "--circle", "emb-plaza-lavapies"]) == 0
    finally:
        del os.environ["VECINOS_DATABASE_URL"]
    return out.getvalue().strip().rsplit("start=", 1)[1]


async def test_resident_waits_a_delegate_approves_and_she_is_told_in_arabic(fake, running_bot, db):
    _url, client = fake
    carmen = Person(client, 6001, "Carmen", "es")
    await register(carmen, "es")
    await db.grant(6001, "delegate", "emb-plaza-lavapies")
    amina = Person(client, 5002, "Amina", "ar")
    await register(amina, "ar")
    assert any("📨" in t for t in amina.texts())
    request = await carmen.wait_for("Amina")
    assert "Plaza de Lavapiés" in request
    await carmen.tap_label("✅")
    assert any("Amina" in t and "✅" in t for t in await carmen.refresh())
    welcome = tr(
        "ar",
        "🎉 Welcome to the <b>{circle}</b> circle! Your membership has been verified. Send /help to "
        "see what you can do.",
        circle="Plaza de Lavapiés",
    )
    await amina.wait_for(welcome.split("<b>")[0])
    assert (
        await db.scalar(
            "SELECT m.status FROM membership m JOIN resident r ON r.id = m.resident_id WHERE r.telegram_user_id = 5002"
        )
        == "verified"
    )


async def test_language_switch_changes_everything_that_follows(fake, running_bot, db):
    _url, client = fake
    john = Person(client, 5003, "John", "en")
    await register(john, "en")
    await john.say("/language")
    replies = await john.tap("lang:ar")
    assert any(
        tr("ar", "✅ From now on I will write to you in {language}.", language="العربية") == m["text"]
        for m in (await client.messages(5003))
    )
    replies = await john.say("/help")
    assert replies[-1]["text"].startswith(tr("ar", "<b>What you can do</b>"))
    assert tr("ar", "/language: change the language") in replies[-1]["text"]
    assert await db.scalar("SELECT locale FROM resident WHERE telegram_user_id = 5003") == "ar"


async def test_mydata_sends_a_json_file(fake, running_bot, db):
    _url, client = fake
    lucia = Person(client, 5004, "Lucía", "es")
    await register(lucia, "es")
    replies = await lucia.say("/mydata")
    document = next(m for m in replies if m["kind"] == "document")
    assert document["file_name"] == "vecinos-mydata.json"
    content = await client.file_bytes(document["file_id"])
    data = json.loads(content)
    assert data["resident"]["first_name"] == "Lucía"
    assert data["memberships"][0]["circle"] == "Plaza de Lavapiés"


async def test_forget_leaves_no_personal_data(fake, running_bot, db):
    _url, client = fake
    carmen = Person(client, 6002, "Carmen", "es")
    await register(carmen, "es")
    await db.grant(6002, "delegate", "emb-plaza-lavapies")
    zoe = Person(client, 5005, "Zoë Quintanilla", "es")
    await register(zoe, "es")
    await zoe.say("/forget")
    await zoe.tap("forget:yes")
    assert any("🗑️" in t for t in await zoe.refresh())
    dump = await db.dump()
    # Her user id as a number of its own (a timestamp's microseconds may hold the same digits).
    assert "Zoë" not in dump and "Quintanilla" not in dump and not re.search(r"(?<!\d)5005(?!\d)", dump)
    assert await db.scalar("SELECT count(*) FROM membership WHERE resident_id IS NULL AND status = 'erased'") == 1


async def test_the_same_update_delivered_twice_is_applied_once(fake, running_bot, db):
    _url, client = fake
    lucia = Person(client, 5006, "Lucía", "es")
    await lucia.say("/start")
    update = {
        "update_id": 900001,
        "message": {
            "message_id": 77,
            "date": 1_790_000_000,
            "chat": {"id": 5006, "type": "private"},
            "from": {"id": 5006, "is_bot": False, "first_name": "Lucía", "language_code": "es"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    await client.send_raw_update(update)
    await wait_handled(client, 900001)
    messages = await client.messages(5006)
    await client.send_raw_update(update)
    # The redelivery is handled before anything sent after it: wait for a later update instead of sleeping.
    later = await client.send_message(5006, "/help", first_name="Lucía", language_code="es")
    await wait_handled(client, later["update_id"])
    after = await client.messages(5006)
    # The duplicate got no answer: only /help's reply is new.
    assert after[: len(messages)] == messages and len(after) == len(messages) + 1
    assert after[-1]["text"].startswith(tr("es", "<b>What you can do</b>"))
    assert await db.scalar("SELECT count(*) FROM conversation WHERE chat_id = 5006") == 1


async def test_bad_input_gets_a_clear_translated_answer(fake, running_bot, db):
    _url, client = fake
    base = {
        "chat": {"id": 5007, "type": "private"},
        "date": 1_790_000_000,
        "from": {"id": 5007, "is_bot": False, "first_name": "Amina", "language_code": "ar"},
    }
    cases = [
        (
            {
                "message": {
                    **base,
                    "message_id": 1,
                    "sticker": STICKER,
                }
            },
            "Sorry, I can only read text, buttons and locations. Send /help to see what I can do.",
        ),
        (
            {"message": {**base, "message_id": 2, "voice": {"file_id": "v", "file_unique_id": "v", "duration": 2}}},
            "Sorry, I can only read text, buttons and locations. Send /help to see what I can do.",
        ),
        (
            {"edited_message": {**base, "message_id": 3, "text": "x", "edit_date": 1_790_000_001}},
            "I only read new messages. If you want to correct something, please send it again.",
        ),
        ({"message": {**base, "message_id": 4, "text": "x" * 10_000}}, None),
        (
            {
                "message": {
                    **base,
                    "message_id": 5,
                    "text": "/frobnicate",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 11}],
                }
            },
            "I don't know that command. Send /help to see what I can do.",
        ),
        (
            {"message": {**base, "message_id": 6, "text": "\u200b\u200f"}},
            "Your message looks empty. Send /help to see what I can do.",
        ),
        (
            {
                "message": {
                    **base,
                    "chat": {"id": -100500, "type": "supergroup", "title": "Vecinos"},
                    "message_id": 7,
                    "text": "hola",
                }
            },
            None,
        ),
    ]
    for update, expected in cases:
        sent = await client.send_raw_update(update)
        await wait_handled(client, sent["update_id"])
        if expected:
            assert (await client.messages(5007))[-1]["text"] == tr("ar", expected)
    group = await client.messages(-100500)
    assert "t.me/" in group[-1]["text"]
    last = (await client.messages(5007))[-1]["message_id"]
    forged = await client.tap(5007, last, "ap:999999")
    await wait_handled(client, forged["update_id"])
    answers = await client.callback_answers(5007)
    assert answers[-1]["text"] == tr("ar", "You are not allowed to do that.")
    assert await db.scalar("SELECT count(*) FROM resident") == 0
    assert running_bot.app.dispatcher.failures == 0


async def test_commands_menu_is_registered_for_every_language(fake, running_bot):
    _url, client = fake
    commands = (await client.state())["commands"]
    menus = next(iter(commands.values()))
    # Ten languages, under Telegram's two-letter codes (Simplified Chinese "zh", Filipino "tl"), and a default.
    codes = {"es", "en", "ar", "bn", "zh", "ro", "fr", "it", "tl", "uk"}
    assert codes | {""} <= set(menus) or codes | {None} <= set(menus)
    arabic = {c["command"]: c["description"] for c in menus["ar"]}
    assert arabic["start"] == tr("ar", "Join your circle")
    for code, locale in (("zh", "zh_Hans"), ("tl", "fil"), ("uk", "uk")):
        described = {c["command"]: c["description"] for c in menus[code]}
        assert described["start"] == CATALOGS.translator(locale).plain("Join your circle")
    assert {c["command"] for c in menus["es"]} >= {"start", "me", "help", "language", "mydata", "forget"}


async def test_names_with_markup_are_escaped_everywhere(fake, running_bot, db):
    _url, client = fake
    carmen = Person(client, 6003, "Carmen", "es")
    await register(carmen, "es")
    await db.grant(6003, "delegate", "emb-plaza-lavapies")
    tricky = Person(client, 5008, "<script>Ana & \u200bCo</script>", "es")
    await register(tricky, "es")
    request = await carmen.wait_for("Ana")
    assert "&lt;script&gt;Ana &amp; Co&lt;/script&gt;" in request
    replies = await tricky.say("/me")
    assert "&lt;script&gt;" in replies[-1]["text"]
    assert await db.scalar("SELECT count(*) FROM outbox WHERE status = 'failed'") == 0


async def test_an_answer_telegram_keeps_refusing_is_handed_to_the_outbox(fake, running_bot, db):
    _url, client = fake
    lucia = Person(client, 5009, "Lucía", "es")
    await lucia.say("/help")
    await client.fail("sendMessage", 502, "Bad Gateway", count=4)
    sent = await client.send_message(5009, "/me", first_name="Lucía", language_code="es")
    await wait_handled(client, sent["update_id"], timeout=30)
    await lucia.wait_for(tr("es", "You are not registered yet. Send /start to join your circle."), timeout=30)
    # The sender settles the row after Telegram accepted the message: wait for that state, not the message.
    await wait_until(
        lambda: db.scalar("SELECT status FROM outbox WHERE topic = 'reply.deferred'"), "sent", what="the deferred reply"
    )


async def test_an_edit_telegram_keeps_refusing_stays_an_edit_when_the_outbox_retries_it(fake, running_bot, db):
    _url, client = fake
    lucia = Person(client, 5010, "Lucía", "es")
    await register(lucia, "es")
    await lucia.say("/leave")
    shown = len(await client.messages(5010))
    await client.fail("editMessageText", 502, "Bad Gateway", count=4)
    stay = lucia.message_with_button("stay")
    sent = await client.tap(5010, stay["message_id"], "stay")
    await wait_handled(client, sent["update_id"], timeout=30)
    await lucia.wait_for(tr("es", "Nothing has changed."), timeout=30)
    messages = await client.messages(5010)
    assert len(messages) == shown  # the question became the answer; nothing was sent twice
    assert [m["text"] for m in messages if m["message_id"] == stay["message_id"]] == [tr("es", "Nothing has changed.")]
