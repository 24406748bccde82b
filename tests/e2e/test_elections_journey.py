"""A circle's delegate election over HTTP, on both engines and both databases: the manager calls it in chat,
members in three languages stand, the ranked ballot reaches each in their language, they tap their order, one
voter submits 20 times at once and one ballot counts, the count makes the winners delegates and council members,
a delegate who leaves is replaced by the first substitute, and the council then elects its Forum representative."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.e2e.conftest import DatabaseProbe
from tests.e2e.people import Person, join_and_be_approved, wait_handled, wait_until
from tests.e2e.test_polls_journey import plain, poll_bot  # noqa: F401  (the fixture)

PLACE = "Plaza de Lavapiés"


async def end_nominations(db: DatabaseProbe, election_id: int) -> None:
    """Bring an election's nominations close to now (the scheduler's next tick closes them)."""
    now = datetime.now(UTC) - timedelta(seconds=1)
    async with db.db.unit_of_work() as uow:
        await uow.session.execute(
            text("UPDATE election SET nominations_close_at = :now, due_at = :now WHERE id = :e"),
            {"now": now, "e": election_id},
        )
        await uow.commit()


async def end_voting(db: DatabaseProbe, poll_id: int) -> None:
    """Bring the vote's close to now."""
    now = datetime.now(UTC) - timedelta(seconds=1)
    async with db.db.unit_of_work() as uow:
        await uow.session.execute(text("UPDATE poll SET closes_at = :now, due_at = :now WHERE id = :p"),
                                  {"now": now, "p": poll_id})  # fmt: skip
        await uow.commit()


async def roles_of(db: DatabaseProbe, user_id: int) -> set[str]:
    rows = await db.rows(
        "SELECT g.role FROM role_grant g JOIN resident r ON r.id = g.resident_id WHERE r.telegram_user_id = :u",
        u=user_id,
    )
    return {r[0] for r in rows}


async def stand(person: Person, election_id: int, statement: str) -> None:
    await person.say("/elections")
    await person.tap(f"els:{election_id}")
    await person.say(statement)
    await person.wait_for("✅")


def ranked_buttons(person: Person, poll_id: int) -> int:
    """The message holding the ranked ballot."""
    for message in reversed(person.log):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if any(b["callback_data"].startswith(f"pr:{poll_id}:") for row in rows for b in row):
            return int(message["message_id"])
    raise AssertionError(f"no ranked ballot in {person.texts()}")


async def has_ballot(person: Person, poll_id: int) -> bool:
    await person.refresh()
    try:
        ranked_buttons(person, poll_id)
    except AssertionError:
        return False
    return True


async def vote(person: Person, poll_id: int, order: str) -> None:
    """Tap the candidates in order of preference, then submit."""
    await wait_until(lambda: has_ballot(person, poll_id), True, what=f"{person.first_name}'s ballot")
    draft = "_"
    for position in order:
        await person.tap(f"pr:{poll_id}:{draft}:{position}", ranked_buttons(person, poll_id))
        draft = (draft if draft != "_" else "") + position
    await person.tap(f"prs:{poll_id}:{order}", ranked_buttons(person, poll_id))
    await person.wait_for("🧾")


async def test_a_circle_elects_its_delegates_in_chat_and_the_council_its_forum_representative(fake, poll_bot):  # noqa: F811
    _bot, url = poll_bot
    _api, client = fake
    db = DatabaseProbe(url)
    manager = Person(client, 7402, "Pablo", "en")
    await db.grant_waiting(7402, "community_manager", "embajadores")
    await manager.say("/start")
    amina = Person(client, 7411, "Amina", "ar")
    lucia = Person(client, 7412, "Lucía", "es")
    john = Person(client, 7413, "John", "en")
    omar = Person(client, 7414, "Omar", "ar")
    for person in (amina, lucia, john, omar):
        await join_and_be_approved(person, manager)

    # The manager calls the election; every member is told in their language.
    circle_id = await db.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    await manager.say("/elections")
    await manager.tap(f"elc:circle:{circle_id}:delegate")
    election_id = await db.scalar("SELECT id FROM election")
    for person in (amina, lucia, john, omar):
        await person.wait_for(plain(person.language_code, "{seats} delegates of {place}", seats=2, place=PLACE))

    for person, statement in ((amina, "أريد إضاءة أفضل في الساحة."), (lucia, "Más bancos y sombra."),
                              (john, "A cleaner square for everyone.")):  # fmt: skip
        await stand(person, election_id, statement)

    # Nominations close: the ranked ballot reaches everyone, titled in their own language.
    await end_nominations(db, election_id)
    await wait_until(lambda: db.scalar("SELECT status FROM election"), "voting", timeout=20, what="the vote")
    poll_id = await db.scalar("SELECT poll_id FROM election")
    for person in (amina, lucia, john, omar):
        await person.wait_for(plain(person.language_code, "Election of the delegates of {place}", place=PLACE))

    # Ranked ballots tapped in chat (0 Amina, 1 Lucía, 2 John). Quota 4 // 3 + 1 = 2.
    await vote(amina, poll_id, "0")
    await vote(lucia, poll_id, "1")
    await vote(john, poll_id, "12")
    # Omar builds "0" and then submits it 20 times at once: one ballot counts.
    await omar.tap(f"pr:{poll_id}:_:0", ranked_buttons(omar, poll_id))
    message_id = ranked_buttons(omar, poll_id)
    taps = await asyncio.gather(*(client.tap(omar.user_id, message_id, f"prs:{poll_id}:0") for _ in range(20)))
    for tap in taps:
        await wait_handled(client, tap["update_id"])
    assert await db.scalar("SELECT count(*) FROM poll_ballot") == 4
    assert await db.scalar("SELECT count(*) FROM poll_participation") == 4

    # The count: Amina and Lucía are elected, delegates and council members; John is the first substitute.
    await end_voting(db, poll_id)
    await wait_until(lambda: db.scalar("SELECT status FROM election"), "elected", timeout=20, what="the count")
    for person in (amina, lucia):
        assert {"delegate", "council_member"} <= await roles_of(db, person.user_id)
    assert "delegate" not in await roles_of(db, john.user_id)
    await john.wait_for(plain("en", "You are substitute number {number} for {what}: if a seat falls vacant, it goes "
                                    "to the first substitute, and you will be told.", number=1,
                              what=plain("en", "{seats} delegates of {place}", seats=2, place=PLACE)))  # fmt: skip

    # Amina leaves the circle: John takes her seat and joins the council.
    membership = await db.scalar(
        "SELECT m.id FROM membership m JOIN resident r ON r.id = m.resident_id "
        "WHERE r.telegram_user_id = :u AND m.status = 'verified'", u=amina.user_id)  # fmt: skip
    await amina.say("/leave")
    await amina.tap(f"leave:{membership}")
    await wait_until(lambda: roles_of(db, john.user_id), {"delegate", "council_member"}, what="John's seat")
    assert "council_member" not in await roles_of(db, amina.user_id)

    # The council (Lucía and John) elects its representative to the District Forum.
    barrio_id = await db.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    await manager.say("/elections")
    await manager.tap(f"elc:council:{barrio_id}:forum")
    forum_election = await db.scalar("SELECT max(id) FROM election")
    await stand(lucia, forum_election, "Llevaré la voz del barrio al Foro.")
    await stand(john, forum_election, "I will report back every month.")
    await end_nominations(db, forum_election)
    await wait_until(lambda: db.scalar("SELECT status FROM election WHERE id = :e", e=forum_election), "voting",
                     timeout=20, what="the council's vote")  # fmt: skip
    forum_poll = await db.scalar("SELECT poll_id FROM election WHERE id = :e", e=forum_election)
    await vote(lucia, forum_poll, "0")
    await vote(john, forum_poll, "0")
    await end_voting(db, forum_poll)
    lucia_id = await db.scalar("SELECT id FROM resident WHERE telegram_user_id = :u", u=lucia.user_id)
    await wait_until(lambda: db.rows("SELECT body, resident_id FROM body_seat"), [("forum", lucia_id)], timeout=20,
                     what="the Forum seat")  # fmt: skip
    replies = await john.say("/bodies")
    assert any("Lucía" in (m.get("text") or "") for m in replies)
    await db.close()
