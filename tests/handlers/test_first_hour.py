"""A newcomer's mistakes in the first hour, each answered with one clear line and the buttons to go on; staff
copies that follow a decision; a way to reach the community managers; staff who never wrote before."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from storage.outbox import Settlement
from tests.handlers.harness import Harness, Person, buttons, grant_role, make_staff, texts

LUCIA = Person(502, "Lucía", "es")
AMINA = Person(501, "Amina", "ar")
CARMEN = Person(601, "Carmen", "es")
PABLO = Person(602, "Pablo", "en")


def tr(bot: Harness, locale: str, message: str, **values: object) -> str:
    return bot.catalogs.translator(locale).gettext(message, **values)


def label(bot: Harness, locale: str, message: str) -> str:
    return bot.catalogs.translator(locale).plain(message)


async def to_barrio_step(bot: Harness, who: Person) -> None:
    await bot.send(who, "/start")
    await bot.tap(who, f"lang:{who.language_code}")
    await bot.tap(who, "consent:yes")


async def to_building_step(bot: Harness, who: Person) -> None:
    await to_barrio_step(bot, who)
    barrio = await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    circle = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    await bot.tap(who, f"barrio:{barrio}")
    await bot.tap(who, f"circle:{circle}")


async def test_text_at_the_barrio_step_says_to_use_the_buttons_or_share_a_location(bot):
    await to_barrio_step(bot, LUCIA)
    replies = await bot.send(LUCIA, "vivo en Lavapiés")
    assert texts(replies) == tr(
        bot,
        "es",
        "Please choose your barrio with the buttons, or share your location (📎 → Location) and I will "
        "show you the nearest circles.",
    )
    barrio = await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    assert ("Embajadores", f"barrio:{barrio}") in buttons(replies)


@pytest.mark.parametrize("typed", ["🏠🏠", ".", "¿?", "— —"])
async def test_an_address_needs_letters_or_digits(bot, typed):
    await to_building_step(bot, LUCIA)
    replies = await bot.send(LUCIA, typed)
    assert texts(replies) == tr(
        bot,
        "es",
        "Please type your street and number (for example: Calle del Amparo 5), choose your building below, "
        "or skip this step.",
    )
    assert (label(bot, "es", "Skip this step"), "nobld") in buttons(replies)
    assert await bot.scalar("SELECT count(*) FROM membership") == 0
    await bot.send(LUCIA, "Calle del Amparo 5, 2º")
    assert await bot.scalar("SELECT portal FROM membership") == "Calle del Amparo 5, 2º"


async def test_text_during_language_leave_and_forget_questions_asks_again_with_the_buttons(bot):
    await make_staff(bot, CARMEN, "delegate", "emb-plaza-lavapies")
    await bot.send(CARMEN, "/language")
    replies = await bot.send(CARMEN, "castellano")
    assert texts(replies) == tr(bot, "es", "Please choose your language with the buttons.")
    assert ("Español", "lang:es") in buttons(replies)
    await bot.tap(CARMEN, "lang:es")
    assert "/language" in texts(await bot.send(CARMEN, "/help"))  # the picker's flow is over

    await bot.send(CARMEN, "/leave")
    replies = await bot.send(CARMEN, "sí, quiero irme")
    assert texts(replies) == tr(bot, "es", "Please answer with the buttons: do you want to leave your circle?")
    assert [d.split(":")[0] for _, d in buttons(replies)] == ["leave", "stay"]
    await bot.tap(CARMEN, "stay")
    assert texts(await bot.send(CARMEN, "hola")) == tr(
        bot, "es", "I did not understand that. Send /help to see what I can do."
    )

    await bot.send(CARMEN, "/forget")
    replies = await bot.send(CARMEN, "no sé")
    assert texts(replies) == tr(bot, "es", "Please answer with the buttons: erase all your data?")
    assert buttons(replies) == [
        (label(bot, "es", "Yes, erase my data"), "forget:yes"),
        (label(bot, "es", "No, keep it"), "forget:no"),
    ]
    await bot.tap(CARMEN, "forget:no")
    assert await bot.scalar("SELECT flow FROM conversation WHERE chat_id = 601") == ""


async def sent_by_the_outbox(bot: Harness, chat_id: int, first_message_id: int = 900) -> list[int]:
    """As if the sender had delivered every pending message to `chat_id`: Telegram ids, in order."""
    async with bot.db.unit_of_work() as uow:
        now = bot.clock()
        ids = []
        while True:
            claimed = [
                i for i in await uow.outbox.claim(now, 100, "test", now + timedelta(minutes=1)) if i.chat_id == chat_id
            ]
            if not claimed:
                break
            for item in claimed:
                ids.append(first_message_id + len(ids))
                await uow.outbox.settle([Settlement(item.id, "sent", sent_message_id=ids[-1])], now)
        await uow.commit()
    return ids


async def test_when_one_approver_decides_the_other_copies_lose_their_buttons_and_say_who(bot):
    await make_staff(bot, CARMEN, "delegate", "emb-plaza-lavapies")
    await make_staff(bot, PABLO, "community_manager", "embajadores", locale="en")
    await bot.register(AMINA, locale="ar")
    [pablo_copy] = await sent_by_the_outbox(bot, PABLO.user_id)
    request = (await bot.outbox(CARMEN.user_id))[0]
    await bot.tap(CARMEN, request["buttons"][0][0][1], message_id=77)
    edits = [m for m in await bot.outbox(PABLO.user_id) if "edit_message_id" in m]
    assert edits == [
        {
            "text": tr(
                bot,
                "en",
                "🙋 <b>{name}</b> asks to join the circle <b>{where}</b>.",
                name="Amina",
                where="Plaza de Lavapiés (no building given)",
            )
            + "\n"
            + tr(bot, "en", "✅ Approved by {name}.", name="Carmen"),
            "edit_message_id": pablo_copy,
        }
    ]
    # A reminder copy not sent yet is never sent.
    await bot.register(LUCIA)
    bot.clock.advance(hours=49)
    from handlers.approvals import send_due_reminders

    await send_due_reminders(bot.services)
    lucia = await bot.scalar(
        "SELECT m.id FROM membership m JOIN resident r ON r.id = m.resident_id WHERE r.telegram_user_id = 502"
    )
    await bot.tap(PABLO, f"rj:{lucia}")
    statuses = await bot.rows(
        "SELECT chat_id, status FROM outbox WHERE ref = :r AND topic = 'membership.reminder' ORDER BY chat_id",
        r=f"membership:{lucia}",
    )
    assert statuses == [(601, "withdrawn"), (602, "withdrawn")]


async def test_a_rejected_resident_can_write_to_the_community_managers_and_get_an_answer(bot):
    await make_staff(bot, PABLO, "community_manager", "embajadores", locale="en")
    await bot.register(AMINA, locale="ar")
    membership = await bot.scalar("SELECT id FROM membership WHERE status = 'pending'")
    await bot.tap(PABLO, f"rj:{membership}")
    verdict = (await bot.outbox(AMINA.user_id))[-1]
    assert "Calle Mayor 72" in verdict["text"]  # the barrio's contact, from the territory file
    barrio = await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    assert verdict["buttons"] == [[[label(bot, "ar", "✉️ Write to the community managers"), f"contact:{barrio}"]]]
    await bot.tap(AMINA, f"contact:{barrio}")
    replies = await bot.send(AMINA, "أسكن في ساحة لافابيس منذ سنتين")
    assert texts(replies) == tr(
        bot, "ar", "✅ Your message was sent to the community managers of {barrio}.", barrio="Embajadores"
    )
    to_pablo = (await bot.outbox(PABLO.user_id))[-1]
    assert "أسكن في ساحة لافابيس" in to_pablo["text"] and "Amina" in to_pablo["text"]
    answer = to_pablo["buttons"][0][0][1]
    await bot.tap(PABLO, answer)
    replies = await bot.send(PABLO, "Thanks, we will check with the delegate.")
    assert texts(replies) == tr(bot, "en", "✅ Your answer was sent to {name}.", name="Amina")
    back = (await bot.outbox(AMINA.user_id))[-1]
    assert back["text"] == tr(
        bot,
        "ar",
        "✉️ Answer from <b>{name}</b>, community manager of {barrio}:\n\n{text}",
        name="Pablo",
        barrio="Embajadores",
        text="Thanks, we will check with the delegate.",
    )
    # A resident cannot answer on the managers' behalf, even with a forged button.
    replies = await bot.tap(AMINA, answer)
    assert [r.toast for r in replies if r.toast] == [label(bot, "ar", "You are not allowed to do that.")]


async def test_staff_granted_before_their_first_message_are_greeted_as_staff(bot):
    officer = Person(4242, "Agente Ruiz", "es")
    await grant_role(bot, officer, "sectorial_manager", "embajadores", sector="community_police")
    await grant_role(bot, officer, "community_manager", "embajadores")
    replies = await bot.send(officer, "/start")
    assert texts(replies).startswith(
        tr(
            bot,
            "es",
            "👋 Welcome to <b>Vecinos</b>, {name}. You take part as staff: {roles}.",
            name="Agente Ruiz",
            roles="",
        )[:30]
    )
    assert "Policía" in texts(replies) or "Community Police" in texts(replies)
    assert not any(d.startswith(("lang:", "consent:")) for _, d in buttons(replies))
    assert await bot.rows("SELECT legal_basis, locale FROM resident WHERE telegram_user_id = 4242") == [
        ("public_task", "es")
    ]
    assert await bot.scalar("SELECT count(*) FROM role_grant WHERE telegram_user_id IS NOT NULL") == 0
    assert await bot.scalar("SELECT count(*) FROM membership") == 0
    assert "/pending" in texts(await bot.send(officer, "/help"))
    # Residents of the barrio now reach them.
    await bot.register(LUCIA)
    assert len(await bot.outbox(4242)) == 1


async def test_an_update_seen_before_is_skipped_with_a_warning(bot, caplog):
    await bot.send(LUCIA, "/start", update_id=5555)
    with caplog.at_level(logging.WARNING, logger="handlers.dispatch"):
        assert await bot.send(LUCIA, "/start", update_id=5555) == []
        assert await bot.send(AMINA, "/start", update_id=5555) == []
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("5555 was applied before" in m for m in messages)
    assert any("5555 was used before for another chat" in m for m in messages)
