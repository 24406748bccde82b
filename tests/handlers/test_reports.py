"""Reports on real SQLite: the wizard, routing, the lifecycle told to reporter and followers in their languages,
"me too", anonymity in both directions of the question relay, deadlines and escalation with a moved clock,
merging, and every refusal."""

from __future__ import annotations

import pytest

from bot.channels.base import IncomingKind
from handlers.cases import send_due_case_work
from tests.handlers.harness import Harness, Person, buttons, grant_role, make_staff, texts

AMINA = Person(501, "Amina", "ar")
LUCIA = Person(502, "Lucía", "es")
JOHN = Person(503, "John", "en")
ENV = Person(801, "Elena Medioambiente", "es")  # environment and cleaning, Embajadores
POLICE = Person(802, "Agente Ruiz", "es")  # community police, Embajadores
PABLO = Person(602, "Pablo", "en")  # community manager of Embajadores
SOL_ENV = Person(803, "Sara Sol", "es")  # environment and cleaning, Sol
LAVAPIES = (40.4089, -3.7009)


def tr(bot: Harness, locale: str, message: str, **values: object) -> str:
    return bot.catalogs.translator(locale).gettext(message, **values)


def plain(bot: Harness, locale: str, message: str, **values: object) -> str:
    return bot.catalogs.translator(locale).plain(message, **values)


async def verified(bot: Harness, who: Person, circle: str = "emb-plaza-lavapies") -> None:
    await bot.register(who, circle_code=circle, locale=who.language_code or "es")
    async with bot.db.unit_of_work() as uow:
        resident = await uow.residents.by_telegram_id(who.user_id)
        membership = await uow.memberships.current(resident.id)  # type: ignore[union-attr]
        await uow.memberships.approve(membership, resident.id, bot.clock())  # type: ignore[arg-type]
        await uow.session.execute(__import__("sqlalchemy").text("DELETE FROM outbox"))
        await uow.commit()


async def staff(bot: Harness) -> None:
    """Environment and police of Embajadores, environment of Sol (granted before their first message), and
    Embajadores' community manager."""
    for who, place, sector in ((ENV, "embajadores", "environment_cleaning"), (POLICE, "embajadores",
                               "community_police"), (SOL_ENV, "sol", "environment_cleaning")):  # fmt: skip
        await grant_role(bot, who, "sectorial_manager", place, sector=sector)
        await bot.send(who, "/start")
    await make_staff(bot, PABLO, "community_manager", "embajadores", locale="en")


async def report_noise(bot: Harness, who: Person, *, anonymous: bool = False, text: str | None = None) -> list:
    """The whole wizard: noise, a text, one photo, a shared location at Plaza de Lavapiés."""
    replies = await bot.send(who, "/report")
    assert "rc:noise" in [d for _, d in buttons(replies)], texts(replies)
    await bot.tap(who, "rc:noise")
    await bot.send(who, text or "Música muy alta cada noche hasta las 4 en el bajo del número 3.")
    await bot.other(who, IncomingKind.PHOTO, photo_file_id="photo-noise-1", text="")
    await bot.tap(who, "rph")
    replies = await bot.share_location(who, *LAVAPIES)
    if any(d.startswith("rnew") for _, d in buttons(replies)):
        replies = await bot.tap(who, "rnew")
    await bot.tap(who, f"ran:{'yes' if anonymous else 'no'}")
    return await bot.tap(who, "rok")


async def case_row(bot: Harness) -> tuple:
    return (await bot.rows("SELECT id, ref, status, sector FROM report_case ORDER BY id DESC LIMIT 1"))[0]


async def test_an_arabic_report_reaches_the_environment_sector_and_the_manager_with_photo_and_place(bot):
    await staff(bot)
    await verified(bot, AMINA)
    replies = await report_noise(bot, AMINA)
    case_id, ref, status, sector = await case_row(bot)
    assert (ref, status, sector) == ("EMB-0001", "new", "environment_cleaning")
    assert tr(bot, "ar", "Category: {category}", category=plain(bot, "ar", "Noise")) not in texts(replies)
    assert "EMB-0001" in texts(replies)
    for person in (ENV, PABLO):
        queued = await bot.outbox(person.user_id)
        card, photo, pin = queued[-3:]
        assert card["text"].startswith(tr(bot, person.language_code, "🆕 New report <b>{ref}</b> · {category}",
                                          ref=ref, category=plain(bot, person.language_code, "Noise")))  # fmt: skip
        assert "Amina" in card["text"]
        assert f"ct:{case_id}:ack" in [b[1] for row in card["buttons"] for b in row]
        assert photo["photo"] == "photo-noise-1"
        assert pin["location"] == list(LAVAPIES)
    # Police, and Sol's environment staff, are not told.
    assert await bot.outbox(POLICE.user_id) == []
    assert await bot.outbox(SOL_ENV.user_id) == []


async def test_every_step_is_told_to_the_reporter_in_arabic_and_the_follow_up_reopens_it(bot):
    await staff(bot)
    await verified(bot, AMINA)
    await report_noise(bot, AMINA)
    case_id, ref, *_ = await case_row(bot)
    told = lambda: bot.outbox(AMINA.user_id)  # noqa: E731

    await bot.tap(ENV, f"ct:{case_id}:ack")
    assert (await told())[-1]["text"] == tr(
        bot, "ar", "👀 Report <b>{ref}</b> ({category}) has been seen by {handler}: they are on it.",
        ref=ref, category=plain(bot, "ar", "Noise"), handler=plain(bot, "ar", "Environment and cleaning"),
    )  # fmt: skip
    await bot.tap(ENV, f"ct:{case_id}:refer")
    await bot.tap(ENV, f"crs:{case_id}:community_police")
    await bot.send(ENV, "Es un local de ocio: lo lleva la Policía.")
    assert (await told())[-1]["text"].startswith(
        tr(bot, "ar", "↪️ Report <b>{ref}</b> ({category}) has been passed to {handler}, who are responsible for it.",
           ref=ref, category=plain(bot, "ar", "Noise"), handler=plain(bot, "ar", "Community Police"))
    )  # fmt: skip
    assert "Es un local de ocio" in (await told())[-1]["text"]
    assert (await case_row(bot))[2:] == ("referred", "community_police")
    # The police now handle it; environment can no longer act.
    replies = await bot.tap(ENV, f"ct:{case_id}:ack")
    assert [r.toast for r in replies if r.toast] == [plain(bot, "es", "You are not allowed to do that.")]
    await bot.tap(POLICE, f"ct:{case_id}:ack")
    await bot.tap(POLICE, f"ct:{case_id}:start")
    assert (await told())[-1]["text"] == tr(
        bot,
        "ar",
        "🛠️ Work has started on report <b>{ref}</b> ({category}).",
        ref=ref,
        category=plain(bot, "ar", "Noise"),
    )
    await bot.tap(POLICE, f"ct:{case_id}:resolve")
    await bot.send(POLICE, "Hemos hablado con el local y bajará la música a las 23:00.")
    assert (await case_row(bot))[2] == "resolved"
    assert "bajará la música" in (await told())[-1]["text"]
    # Three days later the reporter is asked; "no" reopens it and the police are told.
    bot.clock.advance(days=3, minutes=1)
    await send_due_case_work(bot.services)
    question = (await told())[-1]
    assert [b[1] for row in question["buttons"] for b in row] == [f"rfx:{case_id}:yes", f"rfx:{case_id}:no"]
    await bot.tap(AMINA, f"rfx:{case_id}:no")
    assert (await case_row(bot))[2] == "reopened"
    assert any("🔁" in m["text"] for m in await bot.outbox(POLICE.user_id))


async def test_a_neighbour_says_me_too_and_is_told_every_later_step_in_spanish(bot):
    await staff(bot)
    await verified(bot, AMINA)
    await verified(bot, LUCIA)
    await report_noise(bot, AMINA)
    case_id, ref, *_ = await case_row(bot)
    await bot.send(LUCIA, "/report")
    await bot.tap(LUCIA, "rc:noise")
    await bot.send(LUCIA, "Hay mucho ruido por las noches en la plaza.")
    await bot.tap(LUCIA, "rph")
    replies = await bot.tap(LUCIA, "rlc")
    assert ref in texts(replies)
    assert (plain(bot, "es", "👍 Me too: {ref}", ref=ref), f"rmt:{case_id}") in buttons(replies)
    await bot.tap(LUCIA, f"rmt:{case_id}")
    assert await bot.scalar("SELECT supporters FROM report_case WHERE id = :c", c=case_id) == 1
    assert await bot.scalar("SELECT count(*) FROM report_case") == 1
    await bot.tap(ENV, f"ct:{case_id}:ack")
    assert (await bot.outbox(LUCIA.user_id))[-1]["text"] == tr(
        bot, "es", "👀 Report <b>{ref}</b> ({category}) has been seen by {handler}: they are on it.",
        ref=ref, category=plain(bot, "es", "Noise"), handler=plain(bot, "es", "Environment and cleaning"),
    )  # fmt: skip
    mine = texts(await bot.send(LUCIA, "/myreports"))
    assert ref in mine and tr(bot, "es", "(you follow it)") in mine


async def test_an_anonymous_report_hides_the_reporter_both_ways(bot):
    await staff(bot)
    await verified(bot, AMINA)
    await report_noise(bot, AMINA, anonymous=True)
    case_id, ref, *_ = await case_row(bot)
    for person in (ENV, PABLO):
        assert not any("Amina" in m.get("text", "") for m in await bot.outbox(person.user_id))
    replies = await bot.send(ENV, f"/case {ref}")
    assert "Amina" not in texts(replies) and "501" not in texts(replies)
    await bot.tap(ENV, f"cq:{case_id}")
    await bot.send(ENV, "¿A qué hora empieza el ruido?")
    question = (await bot.outbox(AMINA.user_id))[-1]
    assert "¿A qué hora empieza el ruido?" in question["text"] and "Elena" not in question["text"]
    event = question["buttons"][0][0][1]
    await bot.tap(AMINA, event)
    await bot.send(AMINA, "يبدأ حوالي منتصف الليل")
    answer = (await bot.outbox(ENV.user_id))[-1]
    assert "يبدأ حوالي منتصف الليل" in answer["text"] and "Amina" not in answer["text"]
    # Nobody else can answer for the reporter, even with the button's data.
    replies = await bot.tap(LUCIA, event)
    assert replies and bot.dispatcher.failures == 0


async def test_deadlines_remind_once_then_escalate_once_even_after_a_restart(bot):
    await staff(bot)
    await verified(bot, AMINA)
    await report_noise(bot, AMINA)
    before_env, before_pablo = len(await bot.outbox(ENV.user_id)), len(await bot.outbox(PABLO.user_id))
    bot.clock.advance(hours=23)
    await send_due_case_work(bot.services)
    assert len(await bot.outbox(ENV.user_id)) == before_env  # not yet
    bot.clock.advance(hours=2)  # past the 24 h acknowledge deadline
    await send_due_case_work(bot.services)
    await send_due_case_work(bot.services)
    reminders = [m for m in (await bot.outbox(ENV.user_id))[before_env:] if "⏰" in m.get("text", "")]
    assert len(reminders) == 1
    # A restarted process (a new dispatcher over the same database) does not remind again.
    restarted = Harness(bot.db)
    restarted.clock.now = bot.clock.now
    await send_due_case_work(restarted.services)
    assert len([m for m in (await bot.outbox(ENV.user_id))[before_env:] if "⏰" in m.get("text", "")]) == 1
    bot.clock.advance(hours=24)  # twice the deadline: the community manager, once
    await send_due_case_work(bot.services)
    await send_due_case_work(bot.services)
    escalations = [m for m in (await bot.outbox(PABLO.user_id))[before_pablo:] if "⚠️" in m.get("text", "")]
    assert len(escalations) == 1
    assert not [m for m in (await bot.outbox(ENV.user_id))[before_env:] if "⚠️" in m.get("text", "")]


async def test_staff_outside_the_case_cannot_act_and_residents_cannot_see_cases(bot):
    await staff(bot)
    await verified(bot, AMINA)
    await verified(bot, LUCIA)
    await report_noise(bot, AMINA)
    case_id, ref, *_ = await case_row(bot)
    for who in (SOL_ENV, POLICE, LUCIA):
        replies = await bot.tap(who, f"ct:{case_id}:ack")
        assert [r.toast for r in replies if r.toast] == [plain(bot, "es", "You are not allowed to do that.")]
    assert (await case_row(bot))[2] == "new"
    replies = await bot.send(SOL_ENV, f"/case {ref}")
    assert texts(replies) == tr(bot, "es", "There is no case {ref} that you handle. /cases lists yours.", ref=ref)
    assert texts(await bot.send(LUCIA, "/cases")) == tr(bot, "es", "Only the staff who handle reports can see cases.")
    assert ref not in texts(await bot.send(LUCIA, "/myreports"))


async def test_double_taps_apply_a_transition_once(bot):
    await staff(bot)
    await verified(bot, AMINA)
    await report_noise(bot, AMINA)
    case_id, *_ = await case_row(bot)
    await bot.tap(ENV, f"ct:{case_id}:ack")
    replies = await bot.tap(ENV, f"ct:{case_id}:ack")
    assert await bot.scalar("SELECT status FROM report_case") == "acknowledged"
    state = bot.catalogs.translator("es").plain("acknowledged")
    assert next(r.toast for r in replies if r.toast) == plain(
        bot, "es", "Already done: {ref} is {state}.", ref="EMB-0001", state=state
    )
    assert await bot.scalar("SELECT count(*) FROM case_event WHERE kind = 'transition'") == 1


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("photo-first", "Please describe the problem in words first; you can add photos right after."),
        ("short", "Please describe the problem in words, in at least {min} characters."),
        (
            "outside",
            "That place is outside the Madrid Central District, so no service here can handle it. Share a "
            "place in the district, or tap the button if it is at your circle.",
        ),
    ],
)
async def test_bad_input_in_the_wizard_is_explained_and_changes_nothing(bot, setup, expected):
    await verified(bot, LUCIA)
    await bot.send(LUCIA, "/report")
    await bot.tap(LUCIA, "rc:noise")
    if setup == "photo-first":
        replies = await bot.other(LUCIA, IncomingKind.PHOTO, photo_file_id="p", text="")
    elif setup == "short":
        replies = await bot.send(LUCIA, "ruido")
    else:
        await bot.send(LUCIA, "Ruido constante de un compresor en la azotea.")
        await bot.tap(LUCIA, "rph")
        replies = await bot.share_location(LUCIA, 40.4530, -3.6883)  # Chamartín
    assert tr(bot, "es", expected, min=bot.catalogs.translator("es").number(10)) in texts(replies)
    assert await bot.scalar("SELECT count(*) FROM report_case") == 0
    assert bot.dispatcher.failures == 0


async def test_a_long_text_and_an_unknown_case_get_clear_answers(bot):
    await staff(bot)
    await verified(bot, LUCIA)
    await bot.send(LUCIA, "/report")
    await bot.tap(LUCIA, "rc:noise")
    replies = await bot.send(LUCIA, "x" * 10_000)
    assert "10.000" in texts(replies)
    assert await bot.scalar("SELECT step FROM conversation WHERE chat_id = 502") == "text"
    assert texts(await bot.send(ENV, "/case EMB-9999")) == tr(
        bot, "es", "There is no case {ref} that you handle. /cases lists yours.", ref="EMB-9999"
    )


async def test_only_verified_residents_report(bot):
    await bot.register(JOHN, locale="en")  # pending, not verified
    replies = await bot.send(JOHN, "/report")
    assert texts(replies) == tr(
        bot, "en", "Only verified members of a circle can report problems. Send /start to join yours."
    )


async def test_merging_moves_the_reporter_and_followers_to_the_surviving_case(bot):
    await staff(bot)
    await verified(bot, AMINA)
    await verified(bot, LUCIA)
    await report_noise(bot, AMINA)
    first_id, first_ref, *_ = await case_row(bot)
    await bot.send(LUCIA, "/report")
    await bot.tap(LUCIA, "rc:noise")
    await bot.send(LUCIA, "Ruido en la plaza todas las noches desde hace semanas.")
    await bot.tap(LUCIA, "rph")
    await bot.share_location(LUCIA, 40.4120, -3.7050)  # Tirso de Molina: not "similar"
    await bot.tap(LUCIA, "ran:no")
    await bot.tap(LUCIA, "rok")
    second_id, *_ = await case_row(bot)
    await bot.tap(PABLO, f"ct:{second_id}:merge")
    await bot.send(PABLO, first_ref.lower())
    assert await bot.rows("SELECT status, merged_into_id FROM report_case WHERE id = :c", c=second_id) == [
        ("merged", first_id)
    ]
    assert await bot.scalar("SELECT supporters FROM report_case WHERE id = :c", c=first_id) == 1
    await bot.tap(ENV, f"ct:{first_id}:ack")
    assert first_ref in (await bot.outbox(LUCIA.user_id))[-1]["text"]


async def test_a_resident_who_forgets_leaves_an_anonymous_case(bot):
    await staff(bot)
    await verified(bot, AMINA)
    await report_noise(bot, AMINA)
    await bot.send(AMINA, "/forget")
    await bot.tap(AMINA, "forget:yes")
    [(reporter, anonymous)] = await bot.rows("SELECT reporter_id, anonymous FROM report_case")
    assert reporter is None and bool(anonymous)
    assert "Amina" not in await bot.dump()


async def test_a_resident_cannot_answer_or_reopen_someone_elses_case(bot):
    await staff(bot)
    await verified(bot, AMINA)
    await verified(bot, LUCIA)
    await report_noise(bot, AMINA)
    case_id, *_ = await case_row(bot)
    await bot.tap(ENV, f"ct:{case_id}:ack")
    await bot.tap(ENV, f"ct:{case_id}:resolve")
    await bot.send(ENV, "Arreglado.")
    for data in (f"rfx:{case_id}:no", f"rfx:{case_id}:yes", f"rmt:{case_id}", f"cq:{case_id}", f"co:{case_id}"):
        replies = await bot.tap(LUCIA, data)
        assert [r.toast for r in replies if r.toast], data
    assert (await case_row(bot))[2] == "resolved"
    assert await bot.scalar("SELECT count(*) FROM case_follower") == 0
