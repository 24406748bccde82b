"""Privacy (/mydata, /forget), exactly-once updates, and bad input answered clearly without changes."""

from __future__ import annotations

import json

import pytest

from bot.channels.base import IncomingKind
from tests.handlers.harness import Person, buttons, make_staff, texts

LUCIA = Person(502, "Lucía", "es")
AMINA = Person(501, "Amina", "ar")
CARMEN = Person(601, "Carmen", "es")


def tr(bot, locale: str, message: str, **values) -> str:
    return bot.catalogs.translator(locale).gettext(message, **values)


async def state_snapshot(bot) -> str:
    return await bot.dump()


async def test_mydata_sends_everything_stored_as_json(bot):
    await bot.register(AMINA, locale="ar")
    await bot.send(AMINA, "/language")
    replies = await bot.send(AMINA, "/mydata")
    document = next(r for r in replies if r.document is not None)
    assert document.filename == "vecinos-mydata.json"
    data = json.loads(document.document)
    assert data["resident"]["first_name"] == "Amina"
    assert data["resident"]["telegram_user_id"] == 501
    assert data["resident"]["language"] == "ar"
    assert data["memberships"][0]["circle"] == "Plaza de Lavapiés"
    assert data["memberships"][0]["status"] == "pending"


async def test_forget_leaves_no_personal_data(bot):
    await make_staff(bot, CARMEN, "delegate", "emb-plaza-lavapies")
    amina = Person(501, "Amina Benali", "ar")
    await bot.register(amina, locale="ar")
    await bot.send(amina, "/start")
    replies = await bot.send(amina, "/forget")
    assert "forget:yes" in [d for _, d in buttons(replies)]
    replies = await bot.tap(amina, "forget:yes")
    assert replies[0].text == tr(
        bot, "ar", "🗑️ Your data has been erased. Thank you for taking part. Send /start if you ever want to come back."
    )
    dump = await bot.dump()
    assert "Amina" not in dump
    assert '"501"' not in dump
    assert await bot.scalar("SELECT count(*) FROM resident WHERE telegram_user_id = 501") == 0
    # Anonymous aggregates remain: one erased membership of the circle.
    assert await bot.rows("SELECT resident_id, status FROM membership WHERE status = 'erased'") == [(None, "erased")]
    # The delegate's pending request about her was withdrawn too.
    assert all("Amina" not in p.get("text", "") for p in await bot.outbox(CARMEN.user_id))
    replies = await bot.send(amina, "/me")
    assert "/start" in texts(replies)


async def test_forget_can_be_cancelled(bot):
    await bot.register(LUCIA)
    await bot.send(LUCIA, "/forget")
    await bot.tap(LUCIA, "forget:no")
    assert await bot.scalar("SELECT count(*) FROM resident") == 1


async def test_the_same_update_twice_is_applied_once_and_answered_once(bot):
    await bot.register(LUCIA)
    before = await state_snapshot(bot)
    first = await bot.send(LUCIA, "/leave", update_id=77)
    assert first
    after_first = await state_snapshot(bot)
    again = await bot.send(LUCIA, "/leave", update_id=77)
    assert again == []
    assert await state_snapshot(bot) == after_first != before


async def test_undelivered_replies_are_resent_on_redelivery_but_nothing_is_applied_again(bot):
    await bot.send(LUCIA, "/start")
    outcome = await bot.dispatcher.handle(
        __import__("bot.channels.base", fromlist=["Incoming"]).Incoming(
            update_id=90,
            chat_id=502,
            user_id=502,
            kind=IncomingKind.CALLBACK,
            callback_id="x",
            callback_data="lang:es",
            message_id=1,
            first_name="Lucía",
            language_code="es",
        )
    )
    assert outcome.needs_delivery
    # The process dies before delivering; Telegram redelivers the update once that process's grace is over.
    bot.clock.advance(seconds=10)
    snapshot = await state_snapshot(bot)
    replay = await bot.tap(LUCIA, "lang:es", update_id=90)
    assert [r.text for r in replay] == [r.text for r in outcome.replies]
    # The replay changed nothing but the record of its delivery.
    async with bot.db.unit_of_work() as uow:
        record = await uow.updates.seen(90)
    assert record is not None and record.delivered and not record.replies
    after = await state_snapshot(bot)
    changed = set(after.splitlines()) ^ set(snapshot.splitlines())
    assert all('"90"' in row for row in changed), changed
    assert await bot.tap(LUCIA, "lang:es", update_id=90) == []


BAD_TEXT = [
    ("", "Your message looks empty. Send /help to see what I can do."),
    ("\u200b\u200c\u200d", "Your message looks empty. Send /help to see what I can do."),
    ("x" * 10_000, None),
    ("🙂🙂🙂", "Hello! Send /start to join your community stewardship circle."),
    ("مرحبا \u202e", "Hello! Send /start to join your community stewardship circle."),
    ("/nonsense", "I don't know that command. Send /help to see what I can do."),
    ("/START@OtherBot", None),
]


@pytest.mark.parametrize(("text", "expected"), BAD_TEXT, ids=range(len(BAD_TEXT)))
async def test_bad_text_gets_a_clear_answer_and_changes_nothing(bot, text, expected):
    before = await state_snapshot(bot)
    replies = await bot.send(LUCIA, text)
    assert replies and all(r.text for r in replies)
    if expected:
        assert tr(bot, "es", expected) in texts(replies)
    if len(text) > 5000:
        assert "10.000" in texts(replies)  # the length, formatted for Spanish
    after = await state_snapshot(bot)
    # Only the update record and the chat's (empty) conversation row may appear.
    new_rows = set(after.splitlines()) - set(before.splitlines())
    assert all(row.count('"502"') <= 1 for row in new_rows)
    assert await bot.scalar("SELECT count(*) FROM resident") == 0
    assert bot.dispatcher.failures == 0


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            IncomingKind.UNSUPPORTED,
            "Sorry, I can only read text, buttons and locations. Send /help to see what I can do.",
        ),
        (IncomingKind.EDITED, "I only read new messages. If you want to correct something, please send it again."),
        (IncomingKind.PHOTO, "Thanks, but I cannot use photos here. Send /report to report a problem with photos."),
    ],
)
async def test_stickers_voice_edits_and_photos_are_explained(bot, kind, expected):
    await bot.register(LUCIA)
    before = await bot.rows("SELECT flow, step FROM conversation WHERE chat_id = 502")
    replies = await bot.other(LUCIA, kind, text="x")
    assert texts(replies) == tr(bot, "es", expected)
    assert await bot.rows("SELECT flow, step FROM conversation WHERE chat_id = 502") == before


async def test_group_messages_are_sent_to_private(bot):
    replies = await bot.send(LUCIA, "/start", chat_id=-100123, chat_type="supergroup")
    assert "t.me/VecinosTestBot" in texts(replies)
    assert await bot.scalar("SELECT count(*) FROM resident") == 0


STALE = "This button is no longer valid."
REFUSED = "You are not allowed to do that."


@pytest.mark.parametrize(
    ("data", "toast"),
    [
        ("ap:999999", REFUSED),
        ("ap:abc", REFUSED),
        ("rj:1", REFUSED),
        ("answer:1", REFUSED),
        ("zz:1", STALE),
        ("circle:7", STALE),
        ("consent:yes", STALE),
        ("lang:xx", STALE),
        ("", STALE),
        ("a" * 64, STALE),
        ("bld:1", STALE),
        ("leave:999", STALE),
        ("stay:1:2:3:4:5", STALE),
        ("barrio:0", STALE),
        ("contact:999", STALE),
    ],
)
async def test_forged_or_stale_callbacks_change_nothing(bot, data, toast):
    await bot.register(LUCIA)
    before = await state_snapshot(bot)
    replies = await bot.tap(LUCIA, data)
    assert [r.toast for r in replies if r.toast] == [bot.catalogs.translator("es").plain(toast)]
    assert texts(replies)  # and a line in the chat saying what to do
    after = await state_snapshot(bot)
    changed = set(after.splitlines()) ^ set(before.splitlines())
    # Only the processed-update record is new.
    assert len(changed) == 1
    assert bot.dispatcher.failures == 0


async def test_text_while_buttons_are_expected_repeats_the_question(bot):
    await bot.send(LUCIA, "/start")
    replies = await bot.send(LUCIA, "español por favor")
    assert ("Español", "lang:es") in buttons(replies)
    await bot.tap(LUCIA, "lang:es")
    replies = await bot.send(LUCIA, "sí")
    assert texts(replies) == tr(bot, "es", "Please answer with the buttons: do you agree?")
    assert buttons(replies) == [
        (bot.catalogs.translator("es").plain("✅ I agree"), "consent:yes"),
        (bot.catalogs.translator("es").plain("No, thanks"), "consent:no"),
    ]
