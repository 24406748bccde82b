"""A circle poll's whole life over HTTP, on both engines and both databases: a delegate creates it in chat, every
member gets it in their language (Spanish, English, Arabic) with one button per option, they vote by tapping,
one member taps every button 20 times at once and one ballot counts, the reminder reaches only the one who has
not voted, the close sends the result with a chart to every member, and /receipt finds a receipt."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from bot.domain.ballots import parse_receipt
from bot.i18n import Catalogs
from tests.e2e.conftest import ENGINE_DATABASE, DatabaseProbe, InProcessBot, engine_database_id, journey_bot
from tests.e2e.people import Person, join_and_be_approved, wait_handled, wait_until

CATALOGS = Catalogs("es")
QUESTION = "¿Qué hacemos con el solar de la esquina?"
OPTIONS = ("Un huerto", "Una pista de petanca", "Una zona de juegos")


def plain(locale: str, message: str, **values: object) -> str:
    return CATALOGS.translator(locale).plain(message, **values)


def tr(locale: str, message: str, **values: object) -> str:
    """A message as the bot sends it (HTML), to find in the chat's raw texts."""
    return CATALOGS.translator(locale).gettext(message, **values)


@pytest.fixture(params=ENGINE_DATABASE, ids=engine_database_id)
async def poll_bot(request, fake, tmp_path) -> AsyncIterator[tuple[InProcessBot, str]]:  # type: ignore[no-untyped-def]
    """Vecinos polling on each engine and database (its scheduler ticks twice a second in tests)."""
    async with journey_bot(request.param, fake, tmp_path) as running:
        yield running


async def move_poll_clock(db: DatabaseProbe, column: str) -> None:
    """Bring a poll's reminder or closing time to now (the scheduler's next tick does the rest)."""
    now = datetime.now(UTC) - timedelta(seconds=1)
    async with db.db.unit_of_work() as uow:
        await uow.session.execute(text(f"UPDATE poll SET {column} = :now, due_at = :now"), {"now": now})
        await uow.commit()


def ballot_buttons(person: Person) -> tuple[int, list[str]]:
    """The poll message and its option buttons' data."""
    for message in reversed(person.log):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        data = [b["callback_data"] for row in rows for b in row if b["callback_data"].startswith("pv:")]
        if data:
            return message["message_id"], data
    raise AssertionError(f"no ballot in {person.texts()}")


async def test_a_circle_poll_from_creation_to_result_in_each_members_language(fake, poll_bot):
    _bot, url = poll_bot
    _api, client = fake
    db = DatabaseProbe(url)
    manager = Person(client, 7302, "Pablo", "en")
    await db.grant_waiting(7302, "community_manager", "embajadores")
    await manager.say("/start")
    delia = Person(client, 7301, "Delia", "es")
    amina = Person(client, 7311, "Amina", "ar")
    lucia = Person(client, 7312, "Lucía", "es")
    john = Person(client, 7313, "John", "en")
    for person in (delia, amina, lucia, john):
        await join_and_be_approved(person, manager)
    await db.grant(7301, "delegate", "emb-plaza-lavapies")

    # The delegate creates the poll in chat.
    await delia.say("/poll")
    await delia.tap("pck:single")
    await delia.say(QUESTION)
    for option in OPTIONS:
        await delia.say(option)
    await delia.tap("pco")
    await delia.tap("pcc:3d")
    await delia.tap("pcok")
    await delia.wait_for(plain("es", "🗳️ Your poll is open: its {n} voter gets it now, in their language. It closes "
                               "{when}. /polls shows the turnout (never who voted what).").split(":")[0])  # fmt: skip
    poll_id = await db.scalar("SELECT id FROM poll")
    assert await db.scalar("SELECT eligible_count FROM poll") == 4  # Delia, Amina, Lucía, John (not the manager)

    # Each member gets it in their language, with one button per option labelled with its text.
    for person in (amina, lucia, john, delia):
        await person.wait_for(plain(person.language_code, "Tap your answer."))
        await person.wait_for(QUESTION)
        message_id, data = ballot_buttons(person)
        assert data == [f"pv:{poll_id}:{i}" for i in range(3)]
        labels = [b["text"] for row in person.message_with_button(data[0])["reply_markup"]["inline_keyboard"]
                  for b in row][:3]  # fmt: skip
        assert labels == list(OPTIONS)
    assert await manager.refresh() and not any(QUESTION in t for t in manager.texts())

    # Amina votes with one tap and gets her receipt in Arabic.
    message_id, data = ballot_buttons(amina)
    await amina.tap(data[0], message_id)
    receipt_text = await amina.wait_for(plain("ar", "🧾 Your receipt (shown only this once: keep it somewhere safe):"))
    code = next(w for w in re.split(r"[\s<>]", receipt_text) if parse_receipt(w))
    # Lucía taps every button 20 times at once: one ballot counts.
    message_id, data = ballot_buttons(lucia)
    taps = await asyncio.gather(*(client.tap(lucia.user_id, message_id, d) for d in data * 20))
    for tap in taps:
        await wait_handled(client, tap["update_id"])
    assert await db.scalar("SELECT count(*) FROM poll_ballot") == 2
    assert await db.scalar("SELECT count(*) FROM poll_participation") == 2
    await delia.tap(ballot_buttons(delia)[1][2], ballot_buttons(delia)[0])
    await wait_until(lambda: db.scalar("SELECT count(*) FROM poll_ballot"), 3, what="Delia's ballot")

    # The reminder reaches only John, who has not voted; the author sees the turnout.
    before = {p.user_id: len(await client.messages(p.user_id)) for p in (amina, lucia, delia)}
    await move_poll_clock(db, "remind_at")
    await john.wait_for(
        tr("en", "⏰ <b>Reminder</b>: this poll closes {when} and you have not voted yet.").split(":")[0]
    )
    await delia.wait_for(tr("es", "📈 <b>Turnout</b> · {question}", question=QUESTION))
    await asyncio.sleep(1.0)
    assert len(await client.messages(amina.user_id)) == before[amina.user_id]
    assert len(await client.messages(lucia.user_id)) == before[lucia.user_id]
    assert len(await client.messages(delia.user_id)) == before[delia.user_id] + 1  # the turnout only

    # The close: the result with its chart to every member, in their language.
    await move_poll_clock(db, "closes_at")
    for person in (amina, lucia, john, delia):
        heading = tr(person.language_code, "📊 <b>Result</b> · {question}", question=QUESTION)

        async def result_photo(person: Person = person, heading: str = heading) -> bool:
            return any(m["kind"] == "photo" and heading in (m.get("caption") or "")
                       for m in await client.messages(person.user_id))  # fmt: skip

        await wait_until(result_photo, True, timeout=20, what=f"the result chart for {person.first_name}")
    photos = [m for m in await client.messages(john.user_id) if m["kind"] == "photo"]
    png = await client.file_bytes(photos[-1]["file_id"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert await db.scalar("SELECT status FROM poll") == "closed"

    # /receipt finds Amina's ballot.
    replies = await amina.say(f"/receipt {code}")
    counted_msgid = (
        "✅ Your ballot was counted in “{question}”: {choice}.\nWith so few ballots only the totals "
        "are published, so that no one's vote can be told."
    )
    counted = tr("ar", counted_msgid, question=QUESTION, choice=OPTIONS[0])
    assert any(counted in (m.get("text") or "") for m in replies), [m.get("text") for m in replies]
    await db.close()
