"""Meetings on real SQLite: a community manager calls a council meeting in chat; every council member is invited
in their language with RSVP buttons and an .ics; answers are counted; reminders go to yes and no-answer
members only; a move and a cancellation reach everyone invited with a higher SEQUENCE; residents cannot call a
body's meeting; late agenda proposals are refused; minutes link to a poll of the body."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from bot.domain.ballots import PollKind
from bot.domain.polls import PollScope, PollTerms, ScopeKind
from handlers.meeting_life import meetings_ahead, send_due_meeting_work
from tests.handlers.harness import Harness, Person, bare, buttons, grant_role, make_staff, texts
from tests.handlers.test_polls import AMINA, JOHN, LUCIA, ROSA, clear_outbox, plain, tr, verified

PABLO = Person(702, "Pablo", "en")  # community manager of Embajadores
COUNCIL = (LUCIA, AMINA, JOHN)  # es, ar, en
START = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)  # 19:00 in Madrid


async def council(bot: Harness) -> int:
    """Pablo manages Embajadores; Lucía, Amina and John sit on its council, Rosa is a resident; the barrio id."""
    await make_staff(bot, PABLO, "community_manager", "embajadores", locale="en")
    for who in (*COUNCIL, ROSA):
        await verified(bot, who)
    for who in COUNCIL:
        await grant_role(bot, who, "council_member", "embajadores")
    await clear_outbox(bot)
    return int(await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'"))


async def call_council_meeting(bot: Harness, barrio: int, agenda: tuple[str, ...] = ("Presupuestos",)) -> int:
    """Pablo calls a council meeting through /meeting; its id."""
    replies = await bot.send(PABLO, "/meeting")
    assert f"mtb:council:{barrio}" in [d for _, d in buttons(replies)], texts(replies)
    await bot.tap(PABLO, f"mtb:council:{barrio}")
    await bot.send(PABLO, "Consejo de diciembre")
    await bot.send(PABLO, "03/12/2026 19:00")
    await bot.tap(PABLO, "mtl:90")
    await bot.send(PABLO, "Centro Casino de la Reina")
    for item in agenda:
        await bot.send(PABLO, item)
    preview = await bot.tap(PABLO, "mta")
    assert "Consejo de diciembre" in texts(preview) and "mtc" in [d for _, d in buttons(preview)]
    done = await bot.tap(PABLO, "mtc")
    meeting_id = int(await bot.scalar("SELECT max(id) FROM meeting"))
    assert f"#{meeting_id}" in texts(done)
    return meeting_id


def ics_of(payloads: list[dict]) -> Calendar:
    docs = [p for p in payloads if p.get("document")]
    assert docs and docs[-1]["filename"] == "meeting.ics"
    return Calendar.from_ical(base64.b64decode(docs[-1]["document"]))


def vevent(payloads: list[dict]):
    return ics_of(payloads).walk("VEVENT")[0]


async def test_a_council_meeting_reaches_every_member_in_their_language_and_answers_are_counted(bot: Harness):
    barrio = await council(bot)
    meeting = await call_council_meeting(bot, barrio)
    for who in COUNCIL:
        queued = await bot.outbox(who.user_id)
        t = bot.catalogs.translator(who.language_code)
        card = queued[0]
        assert card["text"].startswith(
            t.gettext(
                "📅 <b>Meeting</b> of {body}: <b>{title}</b>",
                title="Consejo de diciembre",
                body=t.plain("the Citizen Community Council of {place}", place="Embajadores"),
            )
        )
        assert t.day_and_time(START) in card["text"]
        labels = [label for row in card["buttons"] for label, _ in row]
        assert labels == [t.plain("✅ I will come"), t.plain("❌ I can't"), t.plain("🤔 Maybe")]
        assert [data for row in card["buttons"] for _, data in row] == [
            f"mtr:{meeting}:yes",
            f"mtr:{meeting}:no",
            f"mtr:{meeting}:maybe",
        ]
        event = vevent(queued)
        assert str(event["UID"]) == f"meeting-{meeting}@vecinos.mcd"
        assert int(event["SEQUENCE"]) == 0
        assert event.decoded("dtstart").astimezone(UTC) == START
        assert "Presupuestos" in str(event["DESCRIPTION"])
        assert t.plain("the Citizen Community Council of {place}", place="Embajadores") in str(event["DESCRIPTION"])
    assert await bot.outbox(ROSA.user_id) == []  # not on the council
    assert await bot.outbox(PABLO.user_id) == []  # the organiser is not invited to a body he is not in

    replies = await bot.tap(LUCIA, f"mtr:{meeting}:yes")
    assert any(r.toast for r in replies)
    assert tr(bot, "es", "Your answer: {answer}", answer=plain(bot, "es", "you will come")) in texts(replies)
    await bot.tap(AMINA, f"mtr:{meeting}:no")
    await bot.tap(AMINA, f"mtr:{meeting}:maybe")  # a new tap replaces the old answer
    await bot.tap(AMINA, f"mtr:{meeting}:no")
    rows = await bot.rows("SELECT rsvp, answered_at IS NOT NULL FROM meeting_invitee ORDER BY resident_id")
    assert sorted((r[0] or "", r[1]) for r in rows) == [("", 0), ("no", 1), ("yes", 1)]
    # Rosa is not invited: her forged tap changes nothing.
    await bot.tap(ROSA, f"mtr:{meeting}:yes")
    assert await bot.scalar("SELECT count(*) FROM meeting_invitee") == 3
    listing = texts(await bot.send(PABLO, "/meetings"))
    t = bot.catalogs.translator("en")
    assert (
        t.gettext(
            "✅ {yes} · ❌ {no} · 🤔 {maybe} · ⏳ {none} not answered (of {invited})",
            yes=1,
            no=1,
            maybe=0,
            none=1,
            invited=3,
        )
        in listing
    )
    mine = texts(await bot.send(JOHN, "/meetings"))
    assert "Consejo de diciembre" in mine and plain(bot, "en", "not answered yet") in mine

    async with bot.db.unit_of_work() as uow:
        ahead = await meetings_ahead(uow, barrio, START - timedelta(days=7), START + timedelta(days=1))
        none = await meetings_ahead(uow, barrio, START + timedelta(hours=1), START + timedelta(days=7))
    assert [(a.id, a.body, a.place_name, a.invited, a.yes, a.no, a.maybe) for a in ahead] == [
        (meeting, "council", "Embajadores", 3, 1, 1, 0)
    ]
    assert none == []


async def test_reminders_go_only_to_yes_and_unanswered_members(bot: Harness):
    barrio = await council(bot)
    meeting = await call_council_meeting(bot, barrio)
    await bot.tap(LUCIA, f"mtr:{meeting}:yes")
    await bot.tap(AMINA, f"mtr:{meeting}:no")
    await clear_outbox(bot)
    assert await send_due_meeting_work(bot.services) == 0  # nothing due yet

    bot.clock.now = START - timedelta(hours=24)
    assert await send_due_meeting_work(bot.services) == 2
    assert await send_due_meeting_work(bot.services) == 0  # claimed once
    for who, reminded in ((LUCIA, True), (JOHN, True), (AMINA, False)):
        queued = await bot.outbox(who.user_id)
        assert bool(queued) is reminded
        if reminded:
            t = bot.catalogs.translator(who.language_code)
            assert queued[0]["text"].startswith(
                t.ngettext(
                    "⏰ <b>Reminder</b>: {title} starts in {n} hour.",
                    "⏰ <b>Reminder</b>: {title} starts in {n} hours.",
                    24,
                    title="Consejo de diciembre",
                )
            )
    await clear_outbox(bot)
    await bot.tap(JOHN, f"mtr:{meeting}:maybe")  # an answer, if not a yes: no reminder
    await clear_outbox(bot)
    bot.clock.advance(hours=23)
    assert await send_due_meeting_work(bot.services) == 1
    assert {r[0] for r in await bot.rows("SELECT chat_id FROM outbox")} == {LUCIA.user_id}
    assert await bot.scalar("SELECT remind_at FROM meeting") is None


async def test_a_move_and_a_cancellation_reach_everyone_with_a_higher_sequence(bot: Harness):
    barrio = await council(bot)
    meeting = await call_council_meeting(bot, barrio)
    await bot.tap(AMINA, f"mtr:{meeting}:no")
    await clear_outbox(bot)
    listing = await bot.send(PABLO, "/meetings")
    assert f"mtm:{meeting}" in [d for _, d in buttons(listing)]
    await bot.tap(PABLO, f"mtm:{meeting}")
    done = await bot.send(PABLO, "04/12/2026 19:30")
    assert f"#{meeting}" in texts(done)
    # A new time asks everyone again: Amina's no was for the old one.
    assert {r[0] for r in await bot.rows("SELECT rsvp FROM meeting_invitee")} == {None}
    moved = START + timedelta(days=1, minutes=30)
    for who in COUNCIL:  # Amina said no, and is told too
        queued = await bot.outbox(who.user_id)
        t = bot.catalogs.translator(who.language_code)
        assert queued[0]["text"].startswith(
            t.gettext(
                "🔄 <b>Meeting changed</b>: {title} ({body})",
                title="Consejo de diciembre",
                body=t.plain("the Citizen Community Council of {place}", place="Embajadores"),
            )
        )
        event = vevent(queued)
        assert int(event["SEQUENCE"]) == 1 and str(event["UID"]) == f"meeting-{meeting}@vecinos.mcd"
        assert event.decoded("dtstart").astimezone(UTC) == moved
    await clear_outbox(bot)
    await bot.tap(PABLO, f"mtp:{meeting}")
    await bot.send(PABLO, "https://meet.example.org/consejo")
    assert str(vevent(await bot.outbox(JOHN.user_id))["LOCATION"]) == "https://meet.example.org/consejo"
    assert int(vevent(await bot.outbox(JOHN.user_id))["SEQUENCE"]) == 2
    await clear_outbox(bot)

    await bot.tap(PABLO, f"mtk:{meeting}")
    done = await bot.tap(PABLO, f"mtkc:{meeting}")
    assert f"#{meeting}" in texts(done)
    for who in COUNCIL:
        queued = await bot.outbox(who.user_id)
        calendar = ics_of(queued)
        event = calendar.walk("VEVENT")[0]
        assert str(calendar["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
        assert int(event["SEQUENCE"]) == 3
        assert "❌" in queued[0]["text"]
    # No reminders for a cancelled meeting, and no second cancellation.
    bot.clock.now = moved - timedelta(hours=1)
    await clear_outbox(bot)
    assert await send_due_meeting_work(bot.services) == 0
    again = await bot.tap(PABLO, f"mtkc:{meeting}")
    assert tr(bot, "en", "This meeting can no longer be changed.") in texts(again)
    assert await bot.scalar("SELECT count(*) FROM outbox") == 0


async def test_a_resident_cannot_call_a_body_meeting(bot: Harness):
    barrio = await council(bot)
    replies = await bot.send(ROSA, "/meeting")
    assert "mtb" not in " ".join(d for _, d in buttons(replies))
    assert await bot.scalar("SELECT count(*) FROM meeting") == 0
    # A council member is no organiser either, and a forged tap is refused.
    await bot.send(LUCIA, "/meeting")
    forged = await bot.tap(LUCIA, f"mtb:council:{barrio}")
    assert "mtc" not in [d for _, d in buttons(forged)]
    assert await bot.scalar("SELECT count(*) FROM meeting") == 0
    # A delegate may call their circle's assembly, but not the council.
    await grant_role(bot, ROSA, "delegate", "emb-plaza-lavapies")
    offered = [d for _, d in buttons(await bot.send(ROSA, "/meeting"))]
    circle = int(await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'"))
    assert offered[:1] == [f"mtb:circle:{circle}"] and f"mtb:council:{barrio}" not in offered


async def test_agenda_proposals_close_24_hours_before(bot: Harness):
    barrio = await council(bot)
    meeting = await call_council_meeting(bot, barrio)
    await clear_outbox(bot)
    await bot.tap(JOHN, f"mti:{meeting}")
    done = await bot.send(JOHN, "Street lighting in Calle Ave María")
    assert tr(bot, "en", "✅ Added to the agenda of {title}.", title="Consejo de diciembre") in texts(done)
    told = await bot.outbox(PABLO.user_id)
    assert "Street lighting" in told[0]["text"]
    assert await bot.scalar("SELECT count(*) FROM meeting_agenda_item") == 2

    bot.clock.now = START - timedelta(hours=24)
    late = await bot.tap(AMINA, f"mti:{meeting}")
    t = bot.catalogs.translator("ar")
    refusal = t.gettext(
        "⛔ Agenda items could be proposed until {deadline}: it is too late for this meeting.",
        deadline=t.datetime(START - timedelta(hours=24), "short"),
    )
    assert refusal in texts(late)
    # Started before the deadline, typed after it: refused too.
    bot.clock.now = START - timedelta(hours=25)
    await bot.tap(LUCIA, f"mti:{meeting}")
    bot.clock.advance(hours=2)
    await bot.send(LUCIA, "Fiestas de San Cayetano")
    assert await bot.scalar("SELECT count(*) FROM meeting_agenda_item") == 2
    assert "mti" not in " ".join(d for _, d in buttons(await bot.send(LUCIA, "/meetings")))
    # Not invited: no proposals.
    bot.clock.now = START - timedelta(days=3)
    await bot.tap(ROSA, f"mti:{meeting}")
    await bot.send(ROSA, "Algo")
    assert await bot.scalar("SELECT count(*) FROM meeting_agenda_item") == 2


async def test_minutes_after_the_meeting_link_to_a_poll_of_the_council(bot: Harness):
    barrio = await council(bot)
    meeting = await call_council_meeting(bot, barrio)
    async with bot.db.unit_of_work() as uow:
        terms = PollTerms(PollKind.YESNO, "¿Aprobamos el presupuesto?", (), START, START + timedelta(days=7))
        council_poll = await uow.polls.create(
            terms, PollScope(ScopeKind.COUNCIL, barrio), bot.clock(), created_by=None, remind_at=None
        )
        barrio_poll = await uow.polls.create(
            terms, PollScope(ScopeKind.BARRIO, barrio), bot.clock(), created_by=None, remind_at=None
        )
        await uow.commit()
    early = await bot.tap(PABLO, f"mtn:{meeting}")
    assert tr(bot, "en", "Minutes can be published once the meeting has taken place.") in texts(early)

    bot.clock.now = START + timedelta(hours=2)
    await clear_outbox(bot)
    listing = await bot.send(PABLO, "/meetings")
    assert f"mtn:{meeting}" in [d for _, d in buttons(listing)]
    await bot.tap(PABLO, f"mtn:{meeting}")
    await bot.send(PABLO, "Se aprobó el presupuesto por unanimidad.")
    wrong = await bot.send(PABLO, str(barrio_poll.id))
    assert tr(bot, "en", "That is not a poll of this body. Write its number, or tap No.") in texts(wrong)
    done = await bot.send(PABLO, f"#{council_poll.id}")
    assert "✅" in texts(done)
    row = (await bot.rows("SELECT minutes_text, minutes_poll_id FROM meeting"))[0]
    assert row[0] == "Se aprobó el presupuesto por unanimidad." and row[1] == council_poll.id
    for who in COUNCIL:
        text = bare((await bot.outbox(who.user_id))[0]["text"])
        assert "Se aprobó el presupuesto" in text and f"#{council_poll.id}" in text
    assert f"mtn:{meeting}" not in [d for _, d in buttons(await bot.send(PABLO, "/meetings"))]


async def test_forgetting_removes_an_invitees_answer_and_keeps_the_meeting(bot: Harness):
    barrio = await council(bot)
    meeting = await call_council_meeting(bot, barrio)
    await bot.tap(JOHN, f"mtr:{meeting}:yes")
    await bot.tap(JOHN, f"mti:{meeting}")
    await bot.send(JOHN, "Street lighting")
    await bot.send(JOHN, "/forget")
    await bot.tap(JOHN, "forget:yes")
    john = await bot.scalar("SELECT count(*) FROM resident WHERE telegram_user_id = :u", u=JOHN.user_id)
    assert john == 0
    assert await bot.scalar("SELECT count(*) FROM meeting_invitee") == 2
    assert await bot.scalar("SELECT count(*) FROM meeting_agenda_item WHERE proposed_by IS NULL") == 1
    await bot.send(PABLO, "/forget")
    await bot.tap(PABLO, "forget:yes")
    assert await bot.scalar("SELECT organiser_id FROM meeting") is None
