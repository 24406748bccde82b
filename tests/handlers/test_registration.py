"""Registration flows on real SQLite: invites, approvals, language, reminders."""

from __future__ import annotations

import pytest

from bot.domain.callbacks import cb
from tests.handlers.harness import Person, buttons, make_invite, make_staff, texts

AMINA = Person(501, "Amina", "ar")
LUCIA = Person(502, "Lucía", "es")
JOHN = Person(503, "John", "en-GB")
CARMEN = Person(601, "Carmen", "es")  # delegate of Plaza de Lavapiés
PABLO = Person(602, "Pablo", "en")  # community manager of Embajadores


def tr(bot, locale: str, message: str, **values) -> str:
    return bot.catalogs.translator(locale).gettext(message, **values)


async def circle_id(bot, code: str) -> int:
    return await bot.scalar("SELECT id FROM circle WHERE code = :c", c=code)


async def test_first_message_is_in_the_language_telegram_reports(bot):
    replies = await bot.send(AMINA, "/start")
    assert texts(replies).startswith(
        tr(
            bot,
            "ar",
            "👋 Welcome to <b>Vecinos</b>, the participation channel of "
            "the Madrid Central District community stewardship circles.\n\nWhich "
            "language do you prefer?",
        )[:20]
    )
    assert ("العربية", "lang:ar") in buttons(replies)


async def test_arabic_resident_joins_with_an_invite_and_is_verified_at_once(bot):
    code = await make_invite(bot)
    await bot.send(AMINA, f"/start {code}")
    replies = await bot.tap(AMINA, "lang:ar")
    assert "/forget" in texts(replies)  # the privacy notice, in Arabic
    replies = await bot.tap(AMINA, "consent:yes")
    assert (bot.catalogs.translator("ar").plain("Skip this step"), "nobld") in buttons(replies)
    replies = await bot.tap(AMINA, "nobld")
    assert tr(
        bot,
        "ar",
        "🎉 Welcome to the <b>{circle}</b> circle! Your invitation verified you. Send /help to see what you can do.",
        circle="Plaza de Lavapiés",
    ) in texts(replies)
    row = await bot.rows(
        "SELECT m.status, m.verified_via, r.locale FROM membership m JOIN resident r "
        "ON r.id = m.resident_id WHERE r.telegram_user_id = 501"
    )
    assert row == [("verified", "invite", "ar")]
    assert await bot.scalar("SELECT uses_left FROM invite WHERE code = :c", c=code) == 0


async def test_invite_for_a_building_skips_the_building_question(bot):
    code = await make_invite(bot, building_code="emb-lavapies-7")
    await bot.send(LUCIA, f"/start {code}")
    await bot.tap(LUCIA, "lang:es")
    replies = await bot.tap(LUCIA, "consent:yes")
    assert "Plaza de Lavapiés" in texts(replies)
    row = await bot.rows("SELECT m.status, b.code FROM membership m JOIN building b ON b.id = m.building_id")
    assert row == [("verified", "emb-lavapies-7")]


@pytest.mark.parametrize("locale", ["es", "en", "ar"])
async def test_used_up_and_expired_invites_fall_back_to_approval_and_say_so_once(bot, locale):
    used = tr(bot, locale, "This invitation has already been used.")
    code = await make_invite(bot, uses=1)
    first = Person(701, "Uno", locale)
    await bot.send(first, f"/start {code}")
    await bot.tap(first, f"lang:{locale}")
    await bot.tap(first, "consent:yes")
    await bot.tap(first, "nobld")
    second = Person(702, "Dos", locale)
    journey = await bot.send(second, f"/start {code}")
    journey += await bot.tap(second, f"lang:{locale}")
    journey += await bot.tap(second, "consent:yes")
    assert any(d.startswith("barrio:") for _, d in buttons(journey))
    journey += await bot.tap(second, f"barrio:{await bot.scalar('SELECT id FROM barrio WHERE code = :c', c='sol')}")
    journey += await bot.tap(second, f"circle:{await circle_id(bot, 'sol-plaza-mayor')}")
    journey += await bot.tap(second, "nobld")
    assert texts(journey).count(used) == 1, texts(journey)
    statuses = await bot.rows(
        "SELECT r.first_name, m.status FROM membership m JOIN resident r ON r.id = "
        "m.resident_id WHERE r.telegram_user_id IN (701, 702) ORDER BY r.telegram_user_id"
    )
    assert statuses == [("Uno", "verified"), ("Dos", "pending")]

    expired = await make_invite(bot, days=1)
    bot.clock.advance(days=2)
    late = Person(703, "Tarde", locale)
    await bot.send(late, f"/start {expired}")
    await bot.tap(late, f"lang:{locale}")
    replies = await bot.tap(late, "consent:yes")
    assert texts(replies).count(tr(bot, locale, "This invitation has expired.")) == 1
    assert any(d.startswith("barrio:") for _, d in buttons(replies))


async def test_invalid_invite_payload_is_explained(bot):
    replies = await bot.send(LUCIA, "/start <script>")
    assert tr(bot, "es", "This invitation link is not valid. You can still register without it.") in texts(replies)
    replies = await bot.send(LUCIA, "/start unknowncode1")
    await bot.tap(LUCIA, "lang:es")
    replies = await bot.tap(LUCIA, "consent:yes")
    assert tr(bot, "es", "This invitation code does not exist.") in texts(replies)


async def test_without_invite_a_delegate_approves_and_the_resident_is_told_in_arabic(bot):
    await make_staff(bot, CARMEN, "delegate", "emb-plaza-lavapies")
    await make_staff(bot, PABLO, "community_manager", "embajadores", locale="en")
    await bot.register(AMINA, locale="ar")
    to_carmen = await bot.outbox(CARMEN.user_id)
    to_pablo = await bot.outbox(PABLO.user_id)
    assert len(to_carmen) == 1 and len(to_pablo) == 1
    assert "Amina" in to_carmen[0]["text"] and "Plaza de Lavapiés" in to_carmen[0]["text"]
    assert to_carmen[0]["text"].startswith("🙋")
    # Each approver reads the request in their own language.
    assert to_pablo[0]["text"] == tr(
        bot,
        "en",
        "🙋 <b>{name}</b> asks to join the circle <b>{where}</b>.",
        name="Amina",
        where="Plaza de Lavapiés (no building given)",
    )
    approve = to_carmen[0]["buttons"][0][0][1]
    assert approve.startswith("ap:")
    replies = await bot.tap(CARMEN, approve)
    assert "Amina" in texts(replies) and replies[0].edit
    told = await bot.outbox(AMINA.user_id)
    assert told[-1]["text"] == tr(
        bot,
        "ar",
        "🎉 Welcome to the <b>{circle}</b> circle! Your membership has been "
        "verified. Send /help to see what you can do.",
        circle="Plaza de Lavapiés",
    )
    assert await bot.rows(
        "SELECT m.status, m.verified_via FROM membership m JOIN resident r ON r.id = m.resident_id "
        "WHERE r.telegram_user_id = 501"
    ) == [("verified", "approval")]
    # The manager's copy of the request is now stale.
    replies = await bot.tap(PABLO, to_pablo[0]["buttons"][0][1][1])
    assert tr(bot, "en", "This request was already answered.") in texts(replies)


async def test_rejection_is_told_in_the_residents_language(bot):
    await make_staff(bot, CARMEN, "delegate", "emb-plaza-lavapies")
    await bot.register(JOHN, locale="en")
    reject = (await bot.outbox(CARMEN.user_id))[0]["buttons"][0][1][1]
    await bot.tap(CARMEN, reject)
    assert "was not approved" in (await bot.outbox(JOHN.user_id))[-1]["text"]


async def test_someone_without_the_role_cannot_approve_even_with_forged_data(bot):
    await make_staff(bot, CARMEN, "delegate", "emb-plaza-lavapies")
    await bot.register(AMINA, locale="ar")
    membership = await bot.scalar(
        "SELECT m.id FROM membership m JOIN resident r ON r.id = m.resident_id WHERE r.telegram_user_id = 501"
    )
    await bot.register(LUCIA)
    replies = await bot.tap(LUCIA, cb("ap", membership))
    assert any(r.toast == tr(bot, "es", "You are not allowed to do that.") for r in replies)
    other_delegate = Person(610, "Otro")
    await make_staff(bot, other_delegate, "delegate", "sol-puerta-sol")
    await bot.tap(other_delegate, cb("ap", membership))
    assert await bot.scalar("SELECT status FROM membership WHERE id = :m", m=membership) == "pending"


async def test_nobody_to_approve_falls_back_to_admins(bot):
    admin = Person(900, "Admin")
    await make_staff(bot, admin, "admin", None)
    await bot.register(LUCIA, circle_code="sol-plaza-mayor")
    assert len(await bot.outbox(admin.user_id)) == 1


async def test_choosing_a_circle_by_location(bot):
    await bot.send(LUCIA, "/start")
    await bot.tap(LUCIA, "lang:es")
    await bot.tap(LUCIA, "consent:yes")
    replies = await bot.share_location(LUCIA, 40.4090, -3.7010)  # next to Plaza de Lavapiés
    first_label, first_data = buttons(replies)[0]
    assert "Plaza de Lavapiés" in first_label and first_data == f"circle:{await circle_id(bot, 'emb-plaza-lavapies')}"
    replies = await bot.share_location(LUCIA, 48.85, 2.35)  # Paris
    assert tr(bot, "es", "There is no circle within 3 km of that place. Please choose your barrio.") in texts(replies)


async def test_typed_portal_is_stored(bot):
    await bot.send(LUCIA, "/start")
    await bot.tap(LUCIA, "lang:es")
    await bot.tap(LUCIA, "consent:yes")
    await bot.tap(LUCIA, f"barrio:{await bot.scalar('SELECT id FROM barrio WHERE code = :c', c='sol')}")
    await bot.tap(LUCIA, f"circle:{await circle_id(bot, 'sol-calle-montera')}")
    await bot.send(LUCIA, "Calle de la Montera, 12 \u200b")
    assert await bot.scalar("SELECT portal FROM membership") == "Calle de la Montera, 12"


async def test_declining_consent_stores_nothing(bot):
    await bot.send(LUCIA, "/start")
    await bot.tap(LUCIA, "lang:es")
    replies = await bot.tap(LUCIA, "consent:no")
    assert tr(bot, "es", "Understood: nothing has been stored. Send /start if you change your mind.") in texts(replies)
    assert await bot.scalar("SELECT count(*) FROM resident") == 0
    assert "Lucía" not in await bot.dump()


async def test_language_switch_changes_everything_that_follows(bot):
    await bot.register(LUCIA)
    replies = await bot.send(LUCIA, "/language")
    assert ("العربية", "lang:ar") in buttons(replies)
    replies = await bot.tap(LUCIA, "lang:ar")
    assert texts(replies) == tr(bot, "ar", "✅ From now on I will write to you in {language}.", language="العربية")
    replies = await bot.send(LUCIA, "/help")
    assert tr(bot, "ar", "/language: change the language") in texts(replies)
    replies = await bot.send(LUCIA, "/me")
    assert tr(bot, "ar", "Language: {language}", language="العربية") in texts(replies)
    assert await bot.scalar("SELECT locale FROM resident") == "ar"


async def test_pending_reminder_after_48_hours_goes_to_approvers_and_resident(bot):
    await make_staff(bot, CARMEN, "delegate", "emb-plaza-lavapies")
    await bot.register(AMINA, locale="ar")
    from handlers.approvals import send_due_reminders

    assert await send_due_reminders(bot.services) == 0
    bot.clock.advance(hours=47)
    assert await send_due_reminders(bot.services) == 0
    bot.clock.advance(hours=2)
    assert await send_due_reminders(bot.services) == 2
    assert await send_due_reminders(bot.services) == 0  # claimed once
    carmen = await bot.outbox(CARMEN.user_id)
    assert carmen[-1]["text"].startswith("⏰") and carmen[-1]["buttons"]
    amina = await bot.outbox(AMINA.user_id)
    assert amina[-1]["text"] == tr(
        bot,
        "ar",
        "⏳ Your request to join <b>{circle}</b> is still waiting for approval. "
        "We have reminded its delegates and community managers.",
        circle="Plaza de Lavapiés",
    )
    bot.clock.advance(hours=48)
    assert await send_due_reminders(bot.services) == 2


async def test_pending_list_for_approvers(bot):
    await make_staff(bot, PABLO, "community_manager", "embajadores", locale="en")
    await bot.register(AMINA, locale="ar")
    await bot.register(LUCIA, circle_code="sol-plaza-mayor")
    replies = await bot.send(PABLO, "/pending")
    assert "Amina" in texts(replies) and "Lucía" not in texts(replies)
    replies = await bot.send(LUCIA, "/pending")
    assert tr(bot, "es", "Only delegates and community managers can see pending requests.") in texts(replies)


async def test_leave_ends_membership_and_circle_roles(bot):
    await make_staff(bot, CARMEN, "delegate", "emb-plaza-lavapies")
    replies = await bot.send(CARMEN, "/leave")
    leave = next(d for _, d in buttons(replies) if d.startswith("leave:"))
    await bot.tap(CARMEN, leave)
    assert await bot.scalar("SELECT count(*) FROM role_grant") == 0
    assert await bot.scalar("SELECT status FROM membership") == "left"
    replies = await bot.tap(CARMEN, leave)  # stale
    assert any(r.toast for r in replies)


async def test_grant_in_chat_by_an_admin(bot):
    admin = Person(900, "Admin")
    await make_staff(bot, admin, "admin", None)
    await bot.register(LUCIA)
    replies = await bot.send(admin, "/grant 502 delegate emb-plaza-lavapies")
    assert "Lucía" in texts(replies)
    assert (await bot.outbox(LUCIA.user_id))[-1]["text"].startswith("🎖️")
    replies = await bot.send(LUCIA, "/grant 900 admin district")
    assert texts(replies) == tr(
        bot, "es", "Only community managers, community justice staff and administrators give roles."
    )
    replies = await bot.send(admin, "/grant nonsense")
    assert texts(replies) == tr(bot, "es", "{value} is not a Telegram user id (a positive number).", value="nonsense")
    replies = await bot.send(admin, "/grant 502")
    assert texts(replies).startswith("Uso: /grant USER_ID ROLE PLACE [SECTOR]\n")
