"""A neighbour mediation's whole life over HTTP, on both engines and both databases: Lucía reports a conflict
with a neighbour; the barrio's mediator opens a mediation and Lucía consents, keeping her name private; Karim,
whose Telegram speaks Arabic, is invited in Arabic without being told who asked, and accepts; every message
goes through the mediator alone; a session both accept, its reminder the day before, an agreement both accept;
and thirty days later, on a clock the test moves, Karim's "it is not holding" reopens the mediation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.coexistence import Kind
from bot.i18n import Catalogs
from handlers.coexistence_texts import rules_text
from tests.e2e.conftest import ENGINE_DATABASE, DatabaseProbe, InProcessBot, engine_database_id, journey_bot
from tests.e2e.people import Person, wait_until

CATALOGS = Catalogs("es")
REF = "MED-0001"
CONFLICT = "Mi vecino pone la lavadora a las 3 de la madrugada y golpea la pared"
SECRET = "Estoy agotada, llevo meses sin dormir y ya no sé qué hacer"  # A to the mediator only
REPLY_SECRET = "أعمل في الليل ولا أستطيع تغيير ذلك"  # B to the mediator only
TO_A = "Gracias por contarlo. Hablaré con la otra parte esta semana."
PLACE = "Centro Cívico, sala 2"
COMMITS_A = "Avisará por escrito al vecino si hay ruido."
COMMITS_B = "El vecino no usará la lavadora entre las 23:00 y las 8:00."


def tr(locale: str, message: str, **values: object) -> str:
    return CATALOGS.translator(locale).gettext(message, **values)


def plain(locale: str, message: str, **values: object) -> str:
    return CATALOGS.translator(locale).plain(message, **values)


@dataclass
class ShiftedClock:
    """The bot's time: real time, moved forward by the test (the fake server and the people keep real time)."""

    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture(params=ENGINE_DATABASE, ids=engine_database_id)
async def mediation_bot(request, fake, tmp_path) -> AsyncIterator[tuple[InProcessBot, str, ShiftedClock]]:  # type: ignore[no-untyped-def]
    """Vecinos polling on each engine and database (the scheduler ticks every half second), on a clock the test
    moves forward."""
    clock = ShiftedClock()
    async with journey_bot(request.param, fake, tmp_path, clock=clock) as (bot, url):
        yield bot, url, clock


async def resident(db: DatabaseProbe, client, user_id: int, name: str, locale: str) -> Person:  # type: ignore[no-untyped-def]
    """A verified member of Plaza de Lavapiés (registration itself is tested elsewhere), with an open chat."""
    await client.register_user(user_id, open_chat=True, first_name=name, language_code=locale)
    async with db.db.unit_of_work() as uow:
        now = datetime.now(UTC)
        person = await uow.residents.register(user_id, user_id, name, locale, now)
        place = await uow.territory.circle_by_code("emb-plaza-lavapies")
        assert place is not None
        await uow.memberships.add_verified_member(person.id, place.id, now)
        await uow.commit()
    return Person(client, user_id, name, locale)


def button_data(message: dict) -> list[str]:
    return [b["callback_data"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


async def message_with(person: Person, prefix: str, timeout: float = 30.0) -> dict:
    """The newest message in `person`'s chat with a button whose data starts with `prefix` (waiting for it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await person.refresh()
        for message in reversed(person.log):
            if any(d.startswith(prefix) for d in button_data(message)):
                return message
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {prefix!r} button arrived; chat: {person.texts()}")
        await asyncio.sleep(0.05)


async def button(person: Person, prefix: str) -> str:
    """The data of the newest button starting with `prefix` in `person`'s chat (waiting for it)."""
    return next(d for d in button_data(await message_with(person, prefix)) if d.startswith(prefix))


async def everything(person: Person) -> str:
    """All `person` was ever shown: every message, every earlier version of an edited one, every button."""
    parts: list[str] = []
    for message in await person.client.messages(person.user_id):
        parts += [message.get("text") or "", *message.get("history", [])]
        parts += [b["text"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
    return "\n".join(parts)


def invitation_text(locale: str, mediator: str) -> str:
    """The neutral invitation as a reader of `locale` must get it (no asker: A kept her name private)."""
    return "\n\n".join(
        [
            tr(
                locale,
                "🤝 {mediator}, a mediator of the barrio's Psycho-Social Safety Care, invites you to a "
                "neighbour mediation ({ref}): a confidential, voluntary conversation to find an agreement "
                "about living together.",
                mediator=mediator,
                ref=REF,
            ),
            rules_text(CATALOGS.translator(locale), Kind.MEDIATION),
            tr(locale, "Nothing about you is kept unless you accept."),
        ]
    )


async def test_a_mediation_goes_from_a_report_to_an_agreement_and_a_no_at_the_check_reopens_it(fake, mediation_bot):
    _bot, url, clock = mediation_bot
    _api, client = fake
    db = DatabaseProbe(url)
    marta = Person(client, 7301, "Marta", "es")  # the mediator: mediation sector of Embajadores
    await db.grant_waiting(marta.user_id, "sectorial_manager", "embajadores", "mediation")
    await marta.say("/start")
    lucia = await resident(db, client, 7311, "Lucía", "es")  # party A: she reports
    karim = await resident(db, client, 7312, "Karim", "ar")  # party B: the neighbour, in Arabic
    ar = CATALOGS.translator("ar")

    # Lucía reports the conflict; it reaches the mediator.
    await lucia.say("/report")
    await lucia.tap("rc:neighbour_conflict")
    await lucia.say(CONFLICT)
    await lucia.tap("rph")
    replies = await lucia.tap("rlc")
    if any(d.startswith("rnew") for m in replies for d in button_data(m)):
        await lucia.tap("rnew")
    await lucia.tap("ran:no")
    await lucia.tap("rok")
    await lucia.wait_for("EMB-0001")
    await marta.wait_for("EMB-0001")

    # The mediator opens a mediation from the case; Lucía consents, keeping her name private.
    case_id = await db.scalar("SELECT id FROM report_case WHERE ref = 'EMB-0001'")
    replies = await marta.say("/case EMB-0001")
    assert f"xo:{case_id}" in [d for m in replies for d in button_data(m)], [m["text"] for m in replies]
    await marta.tap(f"xo:{case_id}")
    mediation_id = await db.scalar("SELECT id FROM coexistence_case")
    consent = await message_with(lucia, f"xa:{mediation_id}:p")
    assert {f"xa:{mediation_id}:n", f"xn:{mediation_id}"} <= set(button_data(consent))
    await lucia.tap(f"xa:{mediation_id}:p", consent["message_id"])
    await marta.wait_for(tr("es", "✅ Party A consented to <b>{ref}</b>. Now invite the other neighbour.", ref=REF))

    # The mediator finds Karim by part of his name and invites him through the bot.
    await marta.tap(f"xv:{mediation_id}")
    await marta.tap(f"xib:{mediation_id}")
    karim_id = await db.scalar("SELECT id FROM resident WHERE telegram_user_id = :u", u=karim.user_id)
    replies = await marta.say("kar")
    assert f"xip:{mediation_id}:{karim_id}" in [d for m in replies for d in button_data(m)]
    await marta.tap(f"xip:{mediation_id}:{karim_id}")

    # Karim's invitation: in Arabic, neutral (the mediator's name, never Lucía's), with its own token.
    invitation = await message_with(karim, f"xb:{mediation_id}:")
    accept = next(d for d in button_data(invitation) if d.startswith("xb:"))
    token = accept.split(":", 2)[2]
    assert button_data(invitation) == [accept, f"xbn:{mediation_id}:{token}"]
    labels = [b["text"] for row in invitation["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [ar.plain("✅ I accept and agree to these rules"), ar.plain("No, thank you")]
    assert invitation["text"] == invitation_text("ar", "Marta")
    if invitation_text("ar", "Marta") != invitation_text("es", "Marta"):  # once the Arabic catalog has it
        assert invitation["text"] != invitation_text("es", "Marta")
    assert "Lucía" not in await everything(karim)
    assert await db.scalar("SELECT party_b_id FROM coexistence_case") is None  # nothing about him until he accepts
    await karim.tap(accept, invitation["message_id"])
    assert await db.scalar("SELECT status FROM coexistence_case") == "active"
    await marta.wait_for(
        tr("es", "✅ The other neighbour accepted <b>{ref}</b> and consented: it is under way.", ref=REF)
    )
    await lucia.wait_for(
        tr(
            "es",
            "✅ The other neighbour has accepted: <b>{ref}</b> starts. {handler} will write to you.",
            ref=REF,
            handler=plain("es", "the mediator"),
        )
    )

    async def invite_rows() -> list[str]:
        rows = await db.rows("SELECT status FROM outbox WHERE ref = :r", r=f"coex:{mediation_id}:invite")
        return sorted(status for (status,) in rows)

    # Once he answered, the invitation and its reminder (never sent) are gone, token and all.
    await wait_until(invite_rows, [], what="the invitation and its reminder deleted")

    # Messages go through the mediator only.
    await lucia.tap(f"xm:{mediation_id}")
    await lucia.say(SECRET)
    await lucia.say("/cancel")
    from_a = await marta.wait_for(SECRET)
    assert from_a == tr("es", "💬 <b>{ref}</b> · {party}:\n\n{text}", ref=REF, party=plain("es", "party A"),
                        text=SECRET)  # fmt: skip
    await karim.tap(f"xm:{mediation_id}")
    await karim.say(REPLY_SECRET)
    await karim.say("/cancel")
    from_b = await marta.wait_for(REPLY_SECRET)
    assert from_b.startswith(tr("es", "💬 <b>{ref}</b> · {party}:", ref=REF, party=plain("es", "party B")))
    await marta.tap(f"xw:{mediation_id}:a", (await message_with(marta, f"xw:{mediation_id}:a"))["message_id"])
    await marta.say(TO_A)
    await marta.say("/cancel")
    assert await lucia.wait_for(TO_A) == tr(
        "es", "💬 <b>{ref}</b> · {handler}:\n\n{text}", ref=REF, handler=plain("es", "the mediator"), text=TO_A
    )

    # A session both accept, told to each in their language; the reminder the day before.
    madrid = CATALOGS.zone
    at = (clock() + timedelta(days=3)).astimezone(madrid).replace(hour=18, minute=0, second=0, microsecond=0)
    await marta.tap(f"xv:{mediation_id}")
    await marta.tap(f"xs:{mediation_id}")
    await marta.say(at.strftime("%d/%m/%Y %H:%M"))
    await marta.say(PLACE)
    session_id = (await button(lucia, "xt:")).split(":")[1]
    proposal = await message_with(karim, f"xt:{session_id}:")
    assert button_data(proposal) == [f"xt:{session_id}:yes", f"xt:{session_id}:no", f"xt:{session_id}:other"]
    await lucia.tap(f"xt:{session_id}:yes")
    await karim.tap(f"xt:{session_id}:yes", proposal["message_id"])

    def agreed(locale: str) -> str:
        return tr(locale, "📅 Agreed: {what} of <b>{ref}</b> is on <b>{date}</b> · {place}. I will remind you the day "
                          "before.", what=plain(locale, "the session"), ref=REF,
                  date=CATALOGS.translator(locale).datetime(at, "medium"), place=PLACE)  # fmt: skip

    await karim.wait_for(agreed("ar"))
    await lucia.wait_for(agreed("es"))
    assert await db.scalar("SELECT status FROM coexistence_session") == "agreed"

    # The agreement, accepted by both, reaches both (Karim in Arabic).
    await marta.tap(f"xv:{mediation_id}")
    await marta.tap(f"xd:{mediation_id}")
    await marta.say(COMMITS_A)
    await marta.say(COMMITS_B)
    for person in (lucia, karim):
        draft = await message_with(person, f"xg:{mediation_id}:")
        assert button_data(draft) == [f"xg:{mediation_id}:y", f"xg:{mediation_id}:n"]
        await person.tap(f"xg:{mediation_id}:y", draft["message_id"])

    def accepted(locale: str, mine: str, theirs: str) -> str:
        return "\n\n".join(
            [
                tr(locale, "🤝 <b>{ref}</b> · agreement accepted by both sides", ref=REF),
                tr(locale, "<b>You commit to:</b> {text}", text=mine),
                tr(locale, "<b>The other side commits to:</b> {text}", text=theirs),
            ]
        )

    assert await karim.wait_for(accepted("ar", COMMITS_B, COMMITS_A)) == accepted("ar", COMMITS_B, COMMITS_A)
    assert await lucia.wait_for(accepted("es", COMMITS_A, COMMITS_B)) == accepted("es", COMMITS_A, COMMITS_B)
    assert await db.scalar("SELECT status FROM coexistence_case") == "follow_up"

    # The day before the session, everyone is reminded.
    clock.offset = at - timedelta(days=1) - datetime.now(UTC) + timedelta(minutes=1)
    reminder = tr("ar", "⏰ Tomorrow: {what} on {date} · {place}.", what=ar.plain("the session"),
                  date=ar.datetime(at, "medium"), place=PLACE)  # fmt: skip
    await karim.wait_for(reminder)
    await lucia.wait_for("⏰")
    await marta.wait_for("⏰")

    # Thirty days after the agreement, each is asked whether it holds; Karim's "no" reopens the mediation.
    clock.offset = timedelta(days=30, minutes=2)
    check = await message_with(karim, f"xh:{mediation_id}:n")
    assert check["text"] == tr(
        "ar", "🤝 A while ago you reached an agreement in mediation <b>{ref}</b>. Is the agreement holding?", ref=REF
    )
    assert button_data(check) == [f"xh:{mediation_id}:y", f"xh:{mediation_id}:n"]
    await lucia.tap(await button(lucia, f"xh:{mediation_id}:y"))
    await karim.tap(f"xh:{mediation_id}:n", check["message_id"])
    assert await db.scalar("SELECT status FROM coexistence_case") == "active"
    reopened = await marta.wait_for("🔁")
    assert reopened == tr(
        "es", "🔁 {party} says the agreement of <b>{ref}</b> is not holding: the mediation is open again.",
        party=plain("es", "party B"), ref=REF,
    )  # fmt: skip
    await lucia.wait_for(tr("es", "🔁 <b>{ref}</b> is open again: the mediator will contact you.", ref=REF))

    # Once everything queued has gone out: neither side ever saw the other's words, nor Karim Lucía's name.
    async def pending() -> int:
        return await db.scalar("SELECT count(*) FROM outbox WHERE status = 'pending'")

    await wait_until(pending, 0, what="the outbox's pending messages")
    karim_saw, lucia_saw = await everything(karim), await everything(lucia)
    for words in ("Lucía", CONFLICT, SECRET, TO_A):
        assert words not in karim_saw
    assert REPLY_SECRET not in lucia_saw
    assert TO_A in lucia_saw and invitation_text("ar", "Marta") in karim_saw  # what each was meant to see
    invited = [m for m in await client.messages(karim.user_id) if invitation_text("ar", "Marta") in
               [m["text"], *m["history"]]]  # fmt: skip
    assert len(invited) == 1  # the reminder, three days later, never went out: he had accepted
    await db.close()
