"""Elections on real SQLite: a manager calls a circle's delegate election, members stand (or are nominated and
accept), withdraw, vote with ranked ballots counted by Scottish STV; the winners become delegates and council
members, the others substitutes; a delegate who leaves is replaced by the first substitute; the council elects
its Forum representative; unopposed and void elections; /bodies; and no link from a ballot to a voter."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.domain.permissions import Sector
from handlers.election_life import send_due_election_work
from handlers.labels import sector_name
from handlers.poll_ticks import send_due_poll_work
from tests.handlers.harness import Harness, Person, buttons, make_staff, texts
from tests.handlers.test_polls import AMINA, JOHN, LUCIA, OMAR, ROSA, clear_outbox, plain, tr, verified

PABLO = Person(702, "Pablo", "en")  # community manager of Embajadores
CIRCLE = "emb-plaza-lavapies"


async def resident_id(bot: Harness, who: Person) -> int:
    return int(await bot.scalar("SELECT id FROM resident WHERE telegram_user_id = :u", u=who.user_id))


async def grants_of(bot: Harness, who: Person) -> set[tuple[str, str]]:
    rows = await bot.rows("SELECT role, scope FROM role_grant WHERE resident_id = :r", r=await resident_id(bot, who))
    return {(r[0], r[1]) for r in rows}


async def members(bot: Harness, people=(AMINA, LUCIA, JOHN, OMAR, ROSA)) -> None:
    await make_staff(bot, PABLO, "community_manager", "embajadores", locale="en")
    for who in people:
        await verified(bot, who)


async def call_delegates(bot: Harness) -> int:
    """Pablo calls the delegate election of Plaza de Lavapiés from /elections; its id."""
    circle_id = int(await bot.scalar("SELECT id FROM circle WHERE code = :c", c=CIRCLE))
    replies = await bot.send(PABLO, "/elections")
    call = f"elc:circle:{circle_id}:delegate"
    assert call in [d for _, d in buttons(replies)], texts(replies)
    replies = await bot.tap(PABLO, call)
    assert tr(bot, "en", "Election called ✅") == plain(bot, "en", "Election called ✅")
    return int(await bot.scalar("SELECT max(id) FROM election"))


async def stand(bot: Harness, who: Person, election_id: int, statement: str) -> None:
    await bot.tap(who, f"els:{election_id}")
    replies = await bot.send(who, statement)
    assert "✅" in texts(replies), texts(replies)


async def test_a_circle_elects_two_delegates_by_stv_and_they_join_the_council(bot):
    await members(bot)
    election_id = await call_delegates(bot)
    for who in (AMINA, LUCIA, JOHN, OMAR, ROSA):
        notice = (await bot.outbox(who.user_id))[0]["text"]
        t = bot.catalogs.translator(who.language_code)
        assert t.gettext("🗳️ <b>Election</b>: {what}.", what=t.plain("{seats} delegates of {place}", seats=2,
                         place="Plaza de Lavapiés")) in notice  # fmt: skip
    await clear_outbox(bot)

    await stand(bot, AMINA, election_id, "Vivo en la calle Ave María: quiero más luz y más bancos.")
    await stand(bot, LUCIA, election_id, "Coordino la asociación de madres y padres del cole.")
    await stand(bot, ROSA, election_id, "Quiero una plaza limpia.")
    replies = await bot.tap(ROSA, f"elw:{election_id}")
    assert "↩️" in texts(replies)
    # John nominates Omar, who accepts in Arabic and writes his statement.
    omar = await resident_id(bot, OMAR)
    replies = await bot.tap(JOHN, f"eln:{election_id}:0")
    assert f"elnp:{election_id}:{omar}" in [d for _, d in buttons(replies)]
    await bot.tap(JOHN, f"elnp:{election_id}:{omar}")
    ask = (await bot.outbox(OMAR.user_id))[-1]
    t = bot.catalogs.translator("ar")
    asked = "🙋 {name} has nominated you as a candidate: {what}. Nominations close {when}. Do you accept?"
    what = t.plain("{seats} delegates of {place}", seats=2, place="Plaza de Lavapiés")
    closes = t.datetime(bot.clock() + timedelta(days=7), "short")
    assert ask["text"].startswith(t.gettext(asked, name="John", what=what, when=closes))
    candidacy = int(await bot.scalar("SELECT id FROM candidacy WHERE resident_id = :r", r=omar))
    await bot.tap(OMAR, f"ela:{candidacy}")
    await bot.send(OMAR, "أعمل في المتجر عند الزاوية وأعرف الجميع.")
    replies = await bot.send(JOHN, "/elections")
    listing = texts(replies)
    for name in ("Amina", "Lucía", "Omar"):
        assert name in listing
    assert "Rosa" not in listing

    # Nominations close: a ranked ballot of three to every member, each in their language.
    await clear_outbox(bot)
    bot.clock.advance(days=7, minutes=1)
    await send_due_election_work(bot.services)
    poll_id = int(await bot.scalar("SELECT poll_id FROM election WHERE id = :e", e=election_id))
    assert await bot.scalar("SELECT status FROM election WHERE id = :e", e=election_id) == "voting"
    assert await bot.scalar("SELECT count_method || ':' || seats FROM poll WHERE id = :p", p=poll_id) == "stv:2"
    for who in (AMINA, LUCIA, JOHN, OMAR, ROSA):
        ballot = (await bot.outbox(who.user_id))[0]
        t = bot.catalogs.translator(who.language_code)
        assert t.plain("Election of the delegates of {place}", place="Plaza de Lavapiés") in ballot["text"]
        assert [b[0] for row in ballot["buttons"] for b in row][:3] == ["Amina", "Lucía", "Omar"]

    # Ranked ballots (positions: 0 Amina, 1 Lucía, 2 Omar). Quota 5 // 3 + 1 = 2.
    for who, order in ((AMINA, "02"), (LUCIA, "12"), (JOHN, "21"), (OMAR, "20"), (ROSA, "01")):
        replies = await bot.tap(who, f"prs:{poll_id}:{order}")
        assert "🧾" in texts(replies), texts(replies)
    bot.clock.advance(days=5, minutes=1)
    await clear_outbox(bot)
    await send_due_poll_work(bot.services)

    result = json.loads(await bot.scalar("SELECT result FROM poll WHERE id = :p", p=poll_id))
    assert result["method"] == "stv" and result["quota"] == "2.00000"
    assert set(result["winners"]) == {"Amina", "Omar"}
    assert await bot.scalar("SELECT status FROM election WHERE id = :e", e=election_id) == "elected"
    for who in (AMINA, OMAR):
        assert {("delegate", "circle"), ("council_member", "barrio")} <= await grants_of(bot, who)
    assert ("delegate", "circle") not in await grants_of(bot, LUCIA)
    places = await bot.rows(
        "SELECT name, outcome, place FROM candidacy WHERE election_id = :e ORDER BY place", e=election_id
    )
    ranked = [p for p in places if p[1]]
    assert [(p[1], p[2]) for p in ranked] == [("elected", 1), ("elected", 2), ("substitute", 3)]
    assert ranked[2][0] == "Lucía"
    lucia_messages = [m["text"] for m in await bot.outbox(LUCIA.user_id)]
    t = bot.catalogs.translator("es")
    assert any(t.gettext("You are substitute number {number} for {what}: if a seat falls vacant, it goes to the first "
                         "substitute, and you will be told.", number=1, what=t.plain("{seats} delegates of {place}",
                         seats=2, place="Plaza de Lavapiés")) in m for m in lucia_messages)  # fmt: skip
    announcement = next(m for m in await bot.outbox(JOHN.user_id) if m.get("photo_media"))
    assert (
        bot.catalogs.translator("en").gettext("🏆 Elected, in order: {names}", names=", ".join(result["winners"]))
        in announcement["text"]
    )

    # Amina leaves the circle: Lucía, the first substitute, takes the seat; everyone is told.
    await clear_outbox(bot)
    membership = int(await bot.scalar("SELECT id FROM membership WHERE resident_id = :r AND status = 'verified'",
                                      r=await resident_id(bot, AMINA)))  # fmt: skip
    await bot.send(AMINA, "/leave")
    await bot.tap(AMINA, f"leave:{membership}")
    assert {("delegate", "circle"), ("council_member", "barrio")} <= await grants_of(bot, LUCIA)
    assert ("council_member", "barrio") not in await grants_of(bot, AMINA)
    told = [m["text"] for m in await bot.outbox(JOHN.user_id)]
    assert any("Lucía" in m and "Amina" in m for m in told), told

    # /bodies shows the council: Omar and Lucía.
    replies = await bot.send(JOHN, "/bodies")
    bodies = texts(replies)
    assert "Omar" in bodies and "Lucía" in bodies

    # The council elects its Forum representative.
    await clear_outbox(bot)
    barrio_id = int(await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'"))
    await bot.tap(PABLO, f"elc:council:{barrio_id}:forum")
    council_election = int(await bot.scalar("SELECT max(id) FROM election"))
    assert await bot.outbox(JOHN.user_id) == []  # only the council is told
    assert await bot.outbox(OMAR.user_id)
    await stand(bot, OMAR, council_election, "Llevaré la voz de Embajadores al Foro.")
    await stand(bot, LUCIA, council_election, "Yo también.")
    replies = await bot.tap(JOHN, f"els:{council_election}")
    assert plain(bot, "en", "You cannot take part in this election.") in [r.toast for r in replies if r.toast]
    bot.clock.advance(days=7, minutes=1)
    await send_due_election_work(bot.services)
    forum_poll = int(await bot.scalar("SELECT poll_id FROM election WHERE id = :e", e=council_election))
    await bot.tap(OMAR, f"prs:{forum_poll}:0")
    await bot.tap(LUCIA, f"prs:{forum_poll}:0")
    bot.clock.advance(days=5, minutes=1)
    await send_due_poll_work(bot.services)
    seat = await bot.rows("SELECT body, resident_id FROM body_seat")
    assert seat == [("forum", await resident_id(bot, OMAR))]
    replies = await bot.send(LUCIA, "/bodies")
    assert "Omar" in texts(replies).split(tr(bot, "es", "<b>District Citizen Forum</b>: {names}", names="")[:10])[-1]


async def test_an_unopposed_election_elects_at_once_and_a_void_one_tells_the_managers(bot):
    await members(bot, (AMINA, LUCIA, JOHN))
    election_id = await call_delegates(bot)
    await stand(bot, AMINA, election_id, "Me presento.")
    await clear_outbox(bot)
    bot.clock.advance(days=7, minutes=1)
    await send_due_election_work(bot.services)
    assert await bot.scalar("SELECT status FROM election WHERE id = :e", e=election_id) == "elected"
    assert await bot.scalar("SELECT poll_id FROM election WHERE id = :e", e=election_id) is None
    assert ("delegate", "circle") in await grants_of(bot, AMINA)
    t = bot.catalogs.translator("en")
    notice = (await bot.outbox(JOHN.user_id))[0]["text"]
    unopposed = "🗳️ Elected unopposed, as there were no more candidates than seats: {names}, {what}."
    what = t.plain("{seats} delegates of {place}", seats=2, place="Plaza de Lavapiés")
    assert notice.startswith(t.gettext(unopposed, names="Amina", what=what))

    second = await call_delegates(bot)
    await clear_outbox(bot)
    bot.clock.advance(days=7, minutes=1)
    await send_due_election_work(bot.services)
    assert await bot.scalar("SELECT status FROM election WHERE id = :e", e=second) == "void"
    told = (await bot.outbox(PABLO.user_id))[0]["text"]
    assert told.startswith(t.gettext("⚠️ Nobody stood in the election of {what}, so it is void. Call another with "
                                     "/elections when neighbours are ready to stand.", what=t.plain(
                                     "{seats} delegates of {place}", seats=2, place="Plaza de Lavapiés")))  # fmt: skip


async def test_only_managers_call_and_only_members_stand_and_nominations_close_on_time(bot):
    await members(bot, (AMINA, LUCIA))
    election_id = await call_delegates(bot)
    circle_id = int(await bot.scalar("SELECT id FROM circle WHERE code = :c", c=CIRCLE))
    replies = await bot.tap(AMINA, f"elc:circle:{circle_id}:delegate")
    assert [r.toast for r in replies if r.toast] == [plain(bot, "ar", "You are not allowed to do that.")]
    replies = await bot.tap(PABLO, f"elc:circle:{circle_id}:delegate")
    assert [r.toast for r in replies if r.toast] == [plain(bot, "en", "An election is already under way there.")]
    barrio_id = int(await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'"))
    replies = await bot.tap(PABLO, f"elc:council:{barrio_id}:forum")  # the council has no members yet
    assert [r.toast for r in replies if r.toast] == [plain(bot, "en", "Nobody could stand or vote there yet.")]
    assert await bot.scalar("SELECT count(*) FROM election") == 1
    await bot.tap(AMINA, f"els:{election_id}")
    replies = await bot.send(AMINA, "x" * 600)
    assert tr(bot, "ar", "That is too long ({length} characters; at most {max}). Please shorten it.",
              length="600", max="500") in texts(replies)  # fmt: skip
    bot.clock.advance(days=8)
    replies = await bot.send(AMINA, "Me presento.")
    assert tr(bot, "ar", "Nominations for this election are closed.") in texts(replies)
    assert await bot.scalar("SELECT count(*) FROM candidacy") == 0


async def test_the_ballot_box_of_an_election_holds_no_link_to_any_voter(bot):
    await members(bot, (AMINA, LUCIA, JOHN, OMAR, ROSA))
    election_id = await call_delegates(bot)
    for who in (AMINA, LUCIA, JOHN):
        await stand(bot, who, election_id, "Me presento.")
    bot.clock.advance(days=7, minutes=1)
    await send_due_election_work(bot.services)
    poll_id = int(await bot.scalar("SELECT poll_id FROM election WHERE id = :e", e=election_id))
    for who, order in ((AMINA, "01"), (LUCIA, "10"), (JOHN, "2"), (OMAR, "02"), (ROSA, "1")):
        await bot.tap(who, f"prs:{poll_id}:{order}")
    bot.clock.advance(days=5, minutes=1)
    await send_due_poll_work(bot.services)
    columns = {r[1] for r in await bot.rows("SELECT * FROM pragma_table_info('poll_ballot')")}
    assert columns == {"id", "poll_id", "choice", "tracker_hash"}
    assert (
        await bot.scalar("SELECT count(*) FROM poll_ballot")
        == await bot.scalar("SELECT count(*) FROM poll_participation")
        == 5
    )
    candidacy_columns = {r[1] for r in await bot.rows("SELECT * FROM pragma_table_info('candidacy')")}
    assert not candidacy_columns & {"choice", "ballot_id", "tracker_hash", "poll_ballot_id"}
    dumped = (await bot.dump()).lower()
    for row in await bot.rows("SELECT tracker_hash FROM poll_ballot"):
        assert dumped.count(row[0]) == 1  # only in the ballot row itself


async def test_a_new_election_is_called_when_the_delegates_term_ends_and_councils_can_hold_polls(bot):
    from bot.domain.ballots import PollKind
    from bot.domain.polls import DEFAULT_POLICY, PollScope, PollTerms, ScopeKind
    from handlers.poll_schedule import create_poll

    await members(bot, (AMINA, LUCIA, JOHN))
    election_id = await call_delegates(bot)
    await stand(bot, AMINA, election_id, "Me presento.")
    await stand(bot, JOHN, election_id, "Me too.")
    bot.clock.advance(days=7, minutes=1)
    await send_due_election_work(bot.services)
    assert await bot.scalar("SELECT status FROM election WHERE id = :e", e=election_id) == "elected"

    # The council (Amina and John) holds a poll of its own.
    barrio_id = int(await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'"))
    async with bot.db.unit_of_work() as uow:
        now = bot.clock()
        terms = PollTerms(PollKind.YESNO, "¿Pedimos más papeleras?", (), now, now + timedelta(days=2))
        poll = await create_poll(uow, bot.catalogs, terms, PollScope(ScopeKind.COUNCIL, barrio_id), now,
                                 DEFAULT_POLICY, created_by=None)  # fmt: skip
        await uow.commit()
        poll_id = poll.id
    assert await bot.scalar("SELECT eligible_count FROM poll WHERE id = :p", p=poll_id) == 2
    ballot = next(m for m in await bot.outbox(JOHN.user_id) if "¿Pedimos más papeleras?" in m["text"])
    council = bot.catalogs.translator("en").plain("the Citizen Community Council of {place}", place="Embajadores")
    assert council in ballot["text"]
    assert not [m for m in await bot.outbox(LUCIA.user_id) if "¿Pedimos más papeleras?" in m["text"]]

    # The council puts John on its mediation commission; /bodies shows it.
    john = await resident_id(bot, JOHN)
    async with bot.db.unit_of_work() as uow:
        assert await uow.elections.add_commission_member(barrio_id, john, "mediation", now)
        await uow.commit()
    replies = await bot.send(AMINA, "/bodies")
    t = bot.catalogs.translator("ar")
    mediation = sector_name(t, Sector.MEDIATION)
    assert t.gettext("<b>Commission: {sector}</b>: {names}", sector=mediation, names="John") in texts(replies)

    # Two years on, the term is over: a new election opens by itself, once.
    bot.clock.advance(days=731)
    await send_due_election_work(bot.services)
    await send_due_election_work(bot.services)
    rows = await bot.rows("SELECT status, created_by FROM election ORDER BY id")
    assert rows == [("elected", rows[0][1]), ("nominating", None)]
