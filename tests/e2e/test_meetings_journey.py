"""Meetings end to end, on both engines and both databases, over HTTP against the fake Bot API, on a clock the
test moves: a circle election (unopposed) makes its winners members of the barrio's council; the community
manager calls a council meeting in chat; each member receives the invitation in their language with RSVP buttons
and the .ics document; answers are counted; the 24 h reminder reaches only yes and unanswered members; a
cancellation reaches everyone with a cancelling .ics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from bot.domain.permissions import Role, ScopeKind
from tests.e2e.conftest import ENGINE_DATABASE, DatabaseProbe, InProcessBot, engine_database_id, journey_bot
from tests.e2e.people import Person, wait_until
from tests.e2e.test_notices_journey import BotClock, nothing_more, plain, resident

CIRCLE = "emb-plaza-lavapies"
START = datetime(2026, 12, 10, 18, 0, tzinfo=UTC)  # 19:00 in Madrid
TITLE = "Consejo de diciembre"


@pytest.fixture(params=ENGINE_DATABASE, ids=engine_database_id)
async def meeting_bot(request, fake, tmp_path) -> AsyncIterator[tuple[InProcessBot, str, BotClock]]:  # type: ignore[no-untyped-def]
    """Vecinos polling on each engine and database, reading the time from a clock the test moves."""
    clock = BotClock()
    async with journey_bot(request.param, fake, tmp_path, clock=clock) as (bot, url):
        yield bot, url, clock


def body(locale: str) -> str:
    return plain(locale, "the Citizen Community Council of {place}", place="Embajadores")


async def calendar_file(person: Person, sequence: int) -> Calendar:
    """The newest meeting.ics in the person's chat, once the one with this SEQUENCE has arrived."""

    async def newest() -> int:
        await person.refresh()
        docs = [m for m in person.log if m.get("file_name") == "meeting.ics"]
        if not docs:
            return -1
        data = await person.client.file_bytes(docs[-1]["file_id"])
        return int(Calendar.from_ical(data).walk("VEVENT")[0]["SEQUENCE"])

    await wait_until(newest, sequence, what=f"{person.first_name}'s .ics #{sequence}")
    docs = [m for m in person.log if m.get("file_name") == "meeting.ics"]
    return Calendar.from_ical(await person.client.file_bytes(docs[-1]["file_id"]))


async def test_a_council_meeting_invites_reminds_and_cancels_in_each_language(fake, meeting_bot):
    _bot, url, clock = meeting_bot
    _api, client = fake
    db = DatabaseProbe(url)
    pablo = await resident(
        db, client, 9501, "Pablo", "en", CIRCLE, role=(Role.COMMUNITY_MANAGER, ScopeKind.BARRIO, "embajadores")
    )
    amina = await resident(db, client, 9511, "Amina", "ar", CIRCLE)
    john = await resident(db, client, 9512, "John", "en", CIRCLE)
    # Lucía sits on the council already (elected in another circle earlier: seeded, not replayed here).
    lucia = await resident(
        db,
        client,
        9513,
        "Lucía",
        "es",
        "emb-calle-embajadores",
        role=(Role.COUNCIL_MEMBER, ScopeKind.BARRIO, "embajadores"),
    )
    rosa = await resident(db, client, 9514, "Rosa", "es", CIRCLE)

    # The circle's delegate election: Amina and John stand for its two seats, unopposed, and are elected when
    # nominations close; the winners join the barrio's council.
    circle_id = await db.scalar("SELECT id FROM circle WHERE code = :c", c=CIRCLE)
    await pablo.say("/elections")
    await pablo.tap(f"elc:circle:{circle_id}:delegate")
    election_id = await db.scalar("SELECT id FROM election")
    for person, statement in ((amina, "أريد إضاءة أفضل في الساحة."), (john, "A cleaner square for everyone.")):
        await person.say("/elections")
        await person.tap(f"els:{election_id}")
        await person.say(statement)
        await person.wait_for("✅")
    clock.now += timedelta(days=8)
    await wait_until(lambda: db.scalar("SELECT status FROM election"), "elected", timeout=20, what="the election")
    council = await db.rows(
        "SELECT r.telegram_user_id FROM role_grant g JOIN resident r ON r.id = g.resident_id "
        "WHERE g.role = 'council_member' ORDER BY r.telegram_user_id"
    )
    assert [r[0] for r in council] == [amina.user_id, john.user_id, lucia.user_id]

    # Pablo calls the council meeting in chat.
    barrio = await db.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    await pablo.say("/meeting")
    await pablo.tap(f"mtb:council:{barrio}")
    await pablo.say(TITLE)
    await pablo.say("10/12/2026 19:00")
    await pablo.tap("mtl:90")
    await pablo.say("Centro Casino de la Reina")
    await pablo.say("Presupuestos participativos")
    await pablo.tap("mta")
    await pablo.tap("mtc")
    meeting = await db.scalar("SELECT id FROM meeting")
    members = (lucia, amina, john)
    for person in members:
        locale = person.language_code or "es"
        await person.wait_for(body(locale))
        card = next(m for m in person.log if body(locale) in (m.get("text") or ""))
        data = [b["callback_data"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
        assert data == [f"mtr:{meeting}:yes", f"mtr:{meeting}:no", f"mtr:{meeting}:maybe"]
        labels = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
        assert labels[0] == plain(locale, "✅ I will come")
        calendar = await calendar_file(person, 0)
        event = calendar.walk("VEVENT")[0]
        assert str(calendar["METHOD"]) == "REQUEST" and str(event["UID"]) == f"meeting-{meeting}@vecinos.mcd"
        assert str(event["SUMMARY"]) == TITLE and event.decoded("dtstart").astimezone(UTC) == START
        assert body(locale) in str(event["DESCRIPTION"])
    assert not any(body("es") in t for t in await rosa.refresh())  # not on the council

    # Answers: Lucía comes, Amina cannot, John does not answer.
    await lucia.tap(f"mtr:{meeting}:yes")
    await amina.tap(f"mtr:{meeting}:no")
    await wait_until(lambda: db.scalar("SELECT count(*) FROM meeting_invitee WHERE rsvp IS NOT NULL"), 2)
    await pablo.say("/meetings")
    await pablo.wait_for(
        plain(
            "en",
            "✅ {yes} · ❌ {no} · 🤔 {maybe} · ⏳ {none} not answered (of {invited})",
            yes=1,
            no=1,
            maybe=0,
            none=1,
            invited=3,
        )
    )

    # 24 hours before: the reminder reaches Lucía and John, never Amina.
    clock.now = START - timedelta(hours=24)
    reminder = "⏰"
    await lucia.wait_for(reminder)
    await john.wait_for(reminder)
    await wait_until(lambda: db.scalar("SELECT count(*) FROM outbox WHERE topic = 'meeting.remind'"), 2)
    await nothing_more(amina, reminder)

    # Pablo cancels: everyone invited is told, with a cancelling .ics at a higher SEQUENCE.
    await pablo.say("/meetings")
    await pablo.tap(f"mtk:{meeting}")
    await pablo.tap(f"mtkc:{meeting}")
    for person in members:
        calendar = await calendar_file(person, 1)
        event = calendar.walk("VEVENT")[0]
        assert str(calendar["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
        assert str(event["UID"]) == f"meeting-{meeting}@vecinos.mcd"
        await person.wait_for("❌")
    assert await db.scalar("SELECT status FROM meeting") == "cancelled"
    await db.db.dispose()
