"""Polls on real SQLite: the /poll wizard, ballots in each voter's language, casting once, drafts of approval
and ranked ballots in the buttons, receipts, changing a vote with the receipt, reminders to non-voters only,
the close with the result to everyone, and every refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.domain.ballots import parse_receipt
from handlers.poll_ticks import send_due_poll_work
from tests.handlers.harness import Harness, Person, buttons, make_staff, texts

DELIA = Person(701, "Delia", "es")  # delegate of Plaza de Lavapiés
PABLO = Person(702, "Pablo", "en")  # community manager of Embajadores
AMINA = Person(711, "Amina", "ar")
LUCIA = Person(712, "Lucía", "es")
JOHN = Person(713, "John", "en")
OMAR = Person(714, "Omar", "ar")
ROSA = Person(715, "Rosa", "es")
OUTSIDER = Person(720, "Olga", "es")  # a verified member of another circle (Sol)


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
        await uow.session.execute(text("DELETE FROM outbox"))
        await uow.commit()


async def clear_outbox(bot: Harness) -> None:
    async with bot.db.unit_of_work() as uow:
        await uow.session.execute(text("DELETE FROM outbox"))
        await uow.commit()


async def circle_with_members(bot: Harness, members=(AMINA, LUCIA, JOHN)) -> None:
    await make_staff(bot, DELIA, "delegate", "emb-plaza-lavapies")
    for who in members:
        await verified(bot, who)
    await verified(bot, OUTSIDER, circle="sol-puerta-sol")


async def create_by_chat(bot: Harness, kind: str, question: str, options=(), *, max_choices=None, change=False,
                         closes: str = "pcc:3d", quorum_taps: int = 0) -> int:  # fmt: skip
    """Delia creates a poll of her circle through /poll; returns its id."""
    replies = await bot.send(DELIA, "/poll")
    assert "pck:single" in [d for _, d in buttons(replies)], texts(replies)  # her one circle: no scope step
    await bot.tap(DELIA, f"pck:{kind}")
    await bot.send(DELIA, question)
    if kind != "yesno":
        for option in options:
            await bot.send(DELIA, option)
        await bot.tap(DELIA, "pco")
    if max_choices is not None:
        await bot.tap(DELIA, f"pcm:{max_choices}")
    replies = await bot.tap(DELIA, closes)
    assert "pcok" in [d for _, d in buttons(replies)], texts(replies)
    if change:
        await bot.tap(DELIA, "pct:change")
    for _ in range(quorum_taps):
        await bot.tap(DELIA, "pct:quorum")
    replies = await bot.tap(DELIA, "pcok")
    assert replies, "no answer to confirming the poll"
    return int(await bot.scalar("SELECT max(id) FROM poll"))


def ballot_of(queued: list[dict]) -> dict:
    return next(
        p for p in queued if any(b[1].startswith(("pv:", "pa:", "pr:")) for row in p.get("buttons", []) for b in row)
    )


def data_of(payload: dict) -> list[str]:
    return [b[1] for row in payload.get("buttons", []) for b in row]


def labels_of(payload: dict) -> list[str]:
    return [b[0] for row in payload.get("buttons", []) for b in row]


def receipt_in(replies) -> str:
    for reply in replies:
        for word in reply.text.replace("<code>", " ").replace("</code>", " ").split():
            if parse_receipt(word):
                return word
    raise AssertionError(f"no receipt in {texts(replies)!r}")


async def test_a_delegates_poll_reaches_every_member_in_their_language_with_option_buttons(bot):
    await circle_with_members(bot)
    poll_id = await create_by_chat(
        bot, "single", "¿Dónde ponemos los bancos nuevos?", ["Junto a la fuente", "Bajo los árboles", "En la esquina"]
    )
    assert await bot.scalar("SELECT eligible_count FROM poll WHERE id = :p", p=poll_id) == 4  # Delia votes too
    for who in (AMINA, LUCIA, JOHN):
        ballot = ballot_of(await bot.outbox(who.user_id))
        assert tr(bot, who.language_code, "🗳️ <b>Poll</b> · {scope}", scope="Plaza de Lavapiés") in ballot["text"]
        assert "¿Dónde ponemos los bancos nuevos?" in ballot["text"]  # as the author wrote it
        assert tr(bot, who.language_code, "Tap your answer.") in ballot["text"]
        assert labels_of(ballot)[:3] == ["Junto a la fuente", "Bajo los árboles", "En la esquina"]
        assert data_of(ballot)[:3] == [f"pv:{poll_id}:0", f"pv:{poll_id}:1", f"pv:{poll_id}:2"]
    assert await bot.outbox(OUTSIDER.user_id) == []


async def test_a_tap_casts_one_ballot_with_a_receipt_and_later_taps_cast_nothing(bot):
    await circle_with_members(bot)
    poll_id = await create_by_chat(bot, "single", "¿Bancos?", ["Fuente", "Árboles"])
    replies = await bot.tap(AMINA, f"pv:{poll_id}:1")
    assert tr(bot, "ar", "✅ <b>Your vote is cast</b> · {question}", question="¿Bancos?") in texts(replies)
    assert tr(bot, "ar", "You chose: {choice}", choice="Árboles") in texts(replies)
    assert replies[-1].edit  # the ballot message becomes the receipt
    receipt = parse_receipt(receipt_in(replies))
    assert receipt is not None and receipt.poll_id == poll_id
    for _ in range(5):
        for position in (0, 1):
            again = await bot.tap(AMINA, f"pv:{poll_id}:{position}")
            assert [r.toast for r in again if r.toast] == [plain(bot, "ar", "You have already voted.")]
    assert await bot.scalar("SELECT count(*) FROM poll_ballot") == 1
    assert await bot.scalar("SELECT count(*) FROM poll_participation") == 1
    stored = await bot.rows("SELECT choice, tracker_hash FROM poll_ballot")
    assert stored[0][1] == receipt.tracker_hash


async def test_outsiders_forged_taps_and_closed_polls_are_refused_in_the_voters_language(bot):
    await circle_with_members(bot)
    poll_id = await create_by_chat(bot, "yesno", "¿Cerramos la plaza al tráfico los domingos?")
    replies = await bot.tap(OUTSIDER, f"pv:{poll_id}:0")
    assert [r.toast for r in replies if r.toast] == [plain(bot, "es", "You cannot vote in this poll.")]
    assert await bot.scalar("SELECT count(*) FROM poll_ballot") == 0
    for forged in (
        f"pv:{poll_id}:7",
        f"pv:{poll_id}:x",
        f"pa:{poll_id}:_:0",
        f"pv:{poll_id + 50}:0",
        f"pr:{poll_id}:00:1",
    ):
        replies = await bot.tap(JOHN, forged)
        assert plain(bot, "en", "This button is no longer valid.") in [r.toast for r in replies], forged
    assert await bot.scalar("SELECT count(*) FROM poll_ballot") == 0
    bot.clock.advance(days=3, minutes=1)  # closed, before any tick has counted it
    replies = await bot.tap(JOHN, f"pv:{poll_id}:0")
    assert [r.toast for r in replies if r.toast] == [plain(bot, "en", "This poll is closed.")]
    assert "votes are no longer accepted" in texts(replies)
    replies = await bot.tap(AMINA, f"pv:{poll_id}:0")
    assert tr(bot, "ar", "🔒 This poll closed {when}: votes are no longer accepted.",
              when=bot.catalogs.translator("ar").datetime(bot.clock() - timedelta(minutes=1), "short")) in texts(replies)  # fmt: skip  # noqa: E501
    assert await bot.scalar("SELECT count(*) FROM poll_ballot") == 0


async def test_a_delegate_cannot_open_a_barrio_or_district_poll_but_a_manager_can(bot):
    await circle_with_members(bot)
    from tests.handlers.harness import grant_role

    barrio_id = await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    await grant_role(bot, DELIA, "delegate", "emb-calle-embajadores")  # two circles: she picks one
    replies = await bot.send(DELIA, "/poll")
    plaza = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    calle = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-calle-embajadores'")
    assert [d for _, d in buttons(replies) if d.startswith("pcs:")] == [f"pcs:circle:{plaza}", f"pcs:circle:{calle}"]
    for forged in (f"pcs:barrio:{barrio_id}", f"pcs:council:{barrio_id}", "pcs:district"):
        replies = await bot.tap(DELIA, forged)
        assert tr(bot, "es", "You are not allowed to do that.") in texts(replies), forged
    assert await bot.scalar("SELECT count(*) FROM poll") == 0
    replies = await bot.send(AMINA, "/poll")
    assert tr(bot, "ar", "Only delegates, community managers and administrators open polls.") in texts(replies)

    await make_staff(bot, PABLO, "community_manager", "embajadores", locale="en")
    replies = await bot.send(PABLO, "/poll")
    assert f"pcs:barrio:{barrio_id}" in [d for _, d in buttons(replies)]
    assert f"pcs:council:{barrio_id}" in [d for _, d in buttons(replies)]  # the barrio's council, as a body
    assert "pcs:district" not in [d for _, d in buttons(replies)]
    await bot.tap(PABLO, f"pcs:barrio:{barrio_id}")
    await bot.tap(PABLO, "pck:yesno")
    await bot.send(PABLO, "Should the barrio council meet monthly?")
    await bot.tap(PABLO, "pcc:7d")
    await bot.tap(PABLO, "pcok")
    row = (await bot.rows("SELECT scope_kind, scope_id, eligible_count FROM poll"))[0]
    assert tuple(row) == ("barrio", barrio_id, 5)  # Delia, Amina, Lucía, John and Pablo: Embajadores' members
    assert ballot_of(await bot.outbox(AMINA.user_id))
    assert await bot.outbox(OUTSIDER.user_id) == []  # Sol is another barrio


async def test_approval_ticks_live_in_the_buttons_and_respect_the_maximum(bot):
    await circle_with_members(bot)
    poll_id = await create_by_chat(
        bot, "approval", "¿Qué mejoras?", ["Bancos", "Fuentes", "Árboles", "Luz"], max_choices=2
    )
    ballot = ballot_of(await bot.outbox(JOHN.user_id))
    assert data_of(ballot)[:4] == [f"pa:{poll_id}:_:{i}" for i in range(4)]
    replies = await bot.tap(JOHN, f"pa:{poll_id}:_:2")
    assert f"pa:{poll_id}:2:0" in [d for _, d in buttons(replies)]
    assert f"pas:{poll_id}:2" in [d for _, d in buttons(replies)]
    replies = await bot.tap(JOHN, f"pa:{poll_id}:2:0")
    assert f"pas:{poll_id}:02" in [d for _, d in buttons(replies)]
    replies = await bot.tap(JOHN, f"pa:{poll_id}:02:3")  # a third tick: refused
    assert [r.toast for r in replies if r.toast] == [
        plain(bot, "en", "You can tick at most {max}. Untick one first.", max=2)
    ]
    assert await bot.scalar("SELECT count(*) FROM poll_ballot") == 0  # nothing stored while ticking
    await bot.tap(JOHN, f"pas:{poll_id}:02")
    options = await bot.rows("SELECT id FROM poll_option WHERE poll_id = :p ORDER BY position", p=poll_id)
    assert (await bot.rows("SELECT choice FROM poll_ballot"))[0][0] in (f"[{options[0][0]}, {options[2][0]}]",)
    replies = await bot.tap(LUCIA, f"pas:{poll_id}:0123")  # forged: over the maximum
    assert plain(bot, "es", "This button is no longer valid.") in [r.toast for r in replies]
    assert await bot.scalar("SELECT count(*) FROM poll_ballot") == 1


async def test_a_ranked_ballot_is_built_tap_by_tap_with_undo_and_counted_by_instant_runoff(bot):
    members = (AMINA, LUCIA, JOHN, OMAR, ROSA)
    await circle_with_members(bot, members)
    poll_id = await create_by_chat(bot, "ranked", "¿Nombre del jardín?", ["Jazmín", "Olivo", "Roble"])
    replies = await bot.tap(AMINA, f"pr:{poll_id}:_:2")
    assert tr(bot, "ar", "Your order so far:") in texts(replies)
    assert f"pr:{poll_id}:2:2" not in [d for _, d in buttons(replies)]  # Roble is placed
    replies = await bot.tap(AMINA, f"pr:{poll_id}:2:0")
    replies = await bot.tap(AMINA, f"pru:{poll_id}:20")
    assert f"prs:{poll_id}:2" in [d for _, d in buttons(replies)]
    replies = await bot.tap(AMINA, f"pr:{poll_id}:2:1")
    await bot.tap(AMINA, f"prs:{poll_id}:21")  # Roble, Olivo
    # First preferences: Jazmín 2 (Lucía, John), Olivo 2 (Omar, Rosa... and Delia), Roble 1 (Amina) -> Roble out,
    # Amina's ballot passes to Olivo.
    for who, order in ((LUCIA, "0"), (JOHN, "02"), (OMAR, "1"), (ROSA, "10"), (DELIA, "0")):
        await bot.tap(who, f"prs:{poll_id}:{order}")
    assert await bot.scalar("SELECT count(*) FROM poll_ballot") == 6
    bot.clock.advance(days=3, minutes=1)
    await send_due_poll_work(bot.services)
    result = await bot.scalar("SELECT result FROM poll WHERE id = :p", p=poll_id)
    import json

    result = json.loads(result)
    # Round 1: Jazmín 3, Olivo 2, Roble 1: Roble drops out and Amina's ballot passes to Olivo. Round 2: 3 and 3,
    # no majority: the tie is broken by looking back (Olivo had fewer in round 1). Round 3: Jazmín 4 of 4.
    assert result["winners"] == ["Jazmín"]
    assert [r["votes"] for r in result["rounds"]] == [
        {"Jazmín": 3, "Olivo": 2, "Roble": 1},
        {"Jazmín": 3, "Olivo": 3},
        {"Jazmín": 4},
    ]
    assert [r["excluded"] for r in result["rounds"]] == [["Roble"], ["Olivo"], []]
    assert result["rounds"][1]["tie_break"]["kind"] == "look_back"
    replies = await bot.tap(JOHN, f"pres:{poll_id}")
    tie = "A tie between {options} was broken by the votes of an earlier round."
    assert tr(bot, "en", tie, options="Jazmín, Olivo") in texts(replies)
    assert tr(bot, "en", "Round {round}: {option} drops out.", round=1, option="Roble") in texts(replies)


async def test_a_vote_is_changed_only_with_its_receipt(bot):
    await circle_with_members(bot)
    poll_id = await create_by_chat(bot, "single", "¿Horario?", ["Mañana", "Tarde"], change=True)
    replies = await bot.tap(LUCIA, f"pv:{poll_id}:0")
    code = receipt_in(replies)
    assert f"pw:{poll_id}" in [d for _, d in buttons(replies)]
    replies = await bot.tap(LUCIA, f"pv:{poll_id}:1")
    assert f"pw:{poll_id}" in [d for _, d in buttons(replies)]  # already voted: offered the change
    await bot.tap(LUCIA, f"pw:{poll_id}")
    replies = await bot.send(LUCIA, "no es un recibo")
    assert "26" in texts(replies)
    replies = await bot.send(LUCIA, f"{poll_id}-AAAAA-AAAAA-AAAAA-AAAAA-AAAAAA")
    assert tr(bot, "es", "No ballot of yours in this poll has that receipt, so nothing has changed. Check that you copied all of it, or /cancel.") in texts(replies)  # fmt: skip  # noqa: E501
    assert await bot.scalar("SELECT count(*) FROM poll_ballot") == 1
    replies = await bot.send(LUCIA, code.lower().replace("-", " "))
    assert tr(bot, "es", "↩️ Your earlier ballot is withdrawn and its receipt no longer counts. Vote again now: until you do, you have not voted.") in texts(replies)  # fmt: skip  # noqa: E501
    assert await bot.scalar("SELECT count(*) FROM poll_ballot") == 0
    assert await bot.scalar("SELECT count(*) FROM poll_participation") == 0
    replies = await bot.tap(LUCIA, f"pv:{poll_id}:1")
    new_code = receipt_in(replies)
    assert new_code != code
    replies = await bot.send(LUCIA, f"/receipt {code}")
    unknown = ("No ballot of “{question}” has that receipt. Check that you copied all of it. If you changed your "
               "vote, only the receipt of your last ballot counts.")  # fmt: skip
    assert tr(bot, "es", unknown, question="¿Horario?") in texts(replies)
    replies = await bot.send(LUCIA, f"/receipt {new_code}")
    assert tr(bot, "es", "✅ Your ballot is in the ballot box of “{question}”: {choice}.\nThe ballots are published, without names, when the poll closes ({when}).",  # noqa: E501
              question="¿Horario?", choice="Tarde", when=bot.catalogs.translator("es").datetime(bot.clock() + timedelta(days=3), "short")) in texts(replies)  # fmt: skip  # noqa: E501


async def test_a_final_poll_offers_no_change_and_refuses_a_forged_change(bot):
    await circle_with_members(bot)
    poll_id = await create_by_chat(bot, "yesno", "¿Fiesta del barrio en junio?")
    replies = await bot.tap(JOHN, f"pv:{poll_id}:0")
    assert f"pw:{poll_id}" not in [d for _, d in buttons(replies)]
    replies = await bot.tap(JOHN, f"pw:{poll_id}")
    assert plain(bot, "en", "This button is no longer valid.") in [r.toast for r in replies]


async def test_the_reminder_reaches_only_non_voters_and_the_author_sees_turnout_never_choices(bot):
    await circle_with_members(bot)
    poll_id = await create_by_chat(bot, "yesno", "¿Fiesta del barrio en junio?")
    await bot.tap(AMINA, f"pv:{poll_id}:0")
    await bot.tap(DELIA, f"pv:{poll_id}:1")
    await clear_outbox(bot)
    bot.clock.advance(days=2, minutes=1)  # 24 h before the close
    await send_due_poll_work(bot.services)
    closes = bot.clock() + timedelta(days=1) - timedelta(minutes=1)
    for who in (LUCIA, JOHN):
        queued = await bot.outbox(who.user_id)
        assert len(queued) == 1
        t = bot.catalogs.translator(who.language_code)
        header = "⏰ <b>Reminder</b>: this poll closes {when} and you have not voted yet."
        assert queued[0]["text"].startswith(t.gettext(header, when=t.datetime(closes, "short")))
        assert f"pv:{poll_id}:0" in data_of(queued[0])
    assert await bot.outbox(AMINA.user_id) == []
    author = await bot.outbox(DELIA.user_id)
    t = bot.catalogs.translator("es")
    assert [a["text"] for a in author] == [
        "\n".join([
            t.gettext("📈 <b>Turnout</b> · {question}", question="¿Fiesta del barrio en junio?"),
            t.ngettext("{voted} of {n} has voted ({percent}).", "{voted} of {n} have voted ({percent}).", 4,
                       voted="2", percent=t.percent(50)),
            t.gettext("It closes {when}.", when=t.datetime(closes, "short")),
        ])
    ]  # fmt: skip
    await send_due_poll_work(bot.services)  # once only
    assert len(await bot.outbox(LUCIA.user_id)) == 1


async def test_the_close_counts_and_tells_every_elector_in_their_language_and_receipts_are_found(bot):
    members = (AMINA, LUCIA, JOHN, OMAR, ROSA)
    await circle_with_members(bot, members)
    poll_id = await create_by_chat(bot, "yesno", "¿Cerramos la plaza al tráfico los domingos?")
    codes = {}
    for who, position in ((AMINA, 0), (LUCIA, 0), (JOHN, 1), (OMAR, 0), (ROSA, 2)):
        codes[who.user_id] = receipt_in(await bot.tap(who, f"pv:{poll_id}:{position}"))
    await clear_outbox(bot)
    bot.clock.advance(days=3, minutes=1)
    await send_due_poll_work(bot.services)
    assert await bot.scalar("SELECT status FROM poll WHERE id = :p", p=poll_id) == "closed"
    for who in (*members, DELIA):
        queued = await bot.outbox(who.user_id)
        assert len(queued) == 1, who
        result = queued[0]
        assert result["text"].startswith(
            tr(
                bot,
                who.language_code,
                "📊 <b>Result</b> · {question}",
                question="¿Cerramos la plaza al tráfico los domingos?",
            )
        )
        assert (
            tr(
                bot,
                who.language_code,
                "✅ Carried: yes has {share} of the yes and no votes (more than {percent} was needed).",
                share=bot.catalogs.translator(who.language_code).percent(75),
                percent=bot.catalogs.translator(who.language_code).percent(50),
            )
            in result["text"]
        )
        assert result.get("photo_media") == f"poll-chart:{poll_id}"
    png = await bot.scalar("SELECT content FROM media WHERE key = :k", k=f"poll-chart:{poll_id}")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    replies = await bot.send(OMAR, f"/receipt {codes[OMAR.user_id]}")
    assert tr(bot, "ar", "✅ Your ballot is among the published ballots of “{question}”: {choice}.\nIn the file it is the one whose receipt_hash starts with {hash}.",  # noqa: E501
              question="¿Cerramos la plaza al tráfico los domingos?", choice=plain(bot, "ar", "Yes"),
              hash=parse_receipt(codes[OMAR.user_id]).tracker_hash[:12]) in texts(replies)  # fmt: skip
    replies = await bot.tap(OMAR, f"pbl:{poll_id}")
    document = next(r.document for r in replies if r.document)
    import json

    published = json.loads(document)
    assert published["method"] == "plurality" and published["candidates"] == ["yes", "no"]
    assert len(published["ballots"]) == 5
    hashes = [b["receipt_hash"] for b in published["ballots"]]
    assert hashes == sorted(hashes)
    assert sorted(tuple(b["ranking"]) for b in published["ballots"]) == [(), ("no",), ("yes",), ("yes",), ("yes",)]


async def test_below_five_ballots_only_totals_are_published(bot):
    await circle_with_members(bot)
    poll_id = await create_by_chat(bot, "single", "¿Color de los bancos?", ["Verde", "Azul"])
    codes = [receipt_in(await bot.tap(who, f"pv:{poll_id}:0")) for who in (AMINA, LUCIA)]
    bot.clock.advance(days=3, minutes=1)
    await send_due_poll_work(bot.services)
    assert await bot.scalar("SELECT published_sha256 FROM poll") is None
    replies = await bot.tap(AMINA, f"pbl:{poll_id}")
    assert not any(r.document for r in replies)
    replies = await bot.send(AMINA, f"/receipt {codes[0]}")
    counted = "✅ Your ballot was counted in “{question}”: {choice}.\nWith so few ballots only the totals are published, so that no one's vote can be told."  # noqa: E501
    assert tr(bot, "ar", counted, question="¿Color de los bancos?", choice="Verde") in texts(replies)
    replies = await bot.tap(LUCIA, f"pres:{poll_id}")
    fewer = "Fewer than {min} ballots: only the totals are published, so that no one's vote can be told."
    assert tr(bot, "es", fewer, min="5") in texts(replies)
    assert tr(bot, "es", "{rank}. {option}: {votes}{trophy}", rank=1, option="Verde", votes="2", trophy=" 🏆") in texts(
        replies
    )


async def test_the_ballot_box_holds_no_link_to_any_voter_after_a_poll(bot, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    members = (AMINA, LUCIA, JOHN, OMAR, ROSA)
    await circle_with_members(bot, members)
    poll_id = await create_by_chat(bot, "single", "¿Bancos?", ["Fuente", "Árboles", "Esquina"])
    codes = [receipt_in(await bot.tap(who, f"pv:{poll_id}:{i % 3}")) for i, who in enumerate(members)]
    bot.clock.advance(days=3, minutes=1)
    await send_due_poll_work(bot.services)
    columns = {r[1] for r in await bot.rows("PRAGMA table_info(poll_ballot)")}
    assert columns == {"id", "poll_id", "choice", "tracker_hash"}
    with pytest.raises(OperationalError):
        await bot.rows("SELECT rowid FROM poll_ballot")  # stored WITHOUT ROWID: no hidden insertion order
    ballots = await bot.rows("SELECT id, tracker_hash FROM poll_ballot ORDER BY tracker_hash")
    participations = await bot.rows("SELECT resident_id FROM poll_participation WHERE poll_id = :p", p=poll_id)
    assert len(ballots) == len(participations) == 5
    # Ballot keys are random, not sequential; no ballot id or hash appears anywhere else in the database.
    assert all(len(key) == 32 and not key.isdigit() for key, _ in ballots)
    dump = await bot.dump()
    for key, tracker_hash in ballots:
        assert dump.count(key) == 1 and dump.count(tracker_hash) == 1
    # No receipt reaches the database or the log.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for code in codes:
        receipt = parse_receipt(code)
        assert receipt.tracker not in dump and receipt.tracker not in logged
    for option in ("Fuente", "Árboles", "Esquina"):
        assert option not in logged


async def test_a_barrio_proposal_reaching_its_threshold_becomes_a_poll_and_supporters_are_told(bot):
    members = (AMINA, LUCIA, JOHN)
    await circle_with_members(bot, members)
    replies = await bot.send(LUCIA, "/propose")
    circle_id = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    assert f"pps:circle:{circle_id}" in [d for _, d in buttons(replies)]
    await bot.tap(LUCIA, f"pps:circle:{circle_id}")
    await bot.send(LUCIA, "Huerto en la plaza")
    await bot.send(LUCIA, "Propongo un huerto comunitario en la esquina sur de la plaza.")
    replies = await bot.tap(LUCIA, "ppok")
    proposal_id = await bot.scalar("SELECT id FROM proposal")
    assert await bot.scalar("SELECT threshold FROM proposal") == 3  # the minimum, for a circle of 4
    announcement = (await bot.outbox(JOHN.user_id))[-1]
    assert tr(bot, "en", "💡 <b>New proposal</b> · {scope}", scope="Plaza de Lavapiés") in announcement["text"]
    assert f"ppsu:{proposal_id}" in data_of(announcement)
    assert await bot.outbox(LUCIA.user_id) == []
    replies = await bot.tap(OUTSIDER, f"ppsu:{proposal_id}")
    assert [r.toast for r in replies if r.toast] == [plain(bot, "es", "This proposal is for another circle or barrio.")]
    await bot.tap(JOHN, f"ppsu:{proposal_id}")
    replies = await bot.tap(JOHN, f"ppsu:{proposal_id}")
    assert [r.toast for r in replies if r.toast] == [plain(bot, "en", "You already support it.")]
    await clear_outbox(bot)
    await bot.tap(AMINA, f"ppsu:{proposal_id}")
    assert await bot.scalar("SELECT status FROM proposal") == "accepted"
    poll = (await bot.rows("SELECT id, kind, question, scope_kind FROM poll"))[0]
    assert tuple(poll[1:]) == ("yesno", "Huerto en la plaza", "circle")
    for who in (LUCIA, JOHN, AMINA):
        queued = await bot.outbox(who.user_id)
        assert any(q["text"].startswith("🎉") for q in queued), who
        assert any(f"pv:{poll[0]}:0" in data_of(q) for q in queued), who
        assert any("Propongo un huerto" in q["text"] for q in queued if data_of(q))


async def test_a_proposal_without_enough_support_expires_and_its_supporters_are_told(bot):
    await circle_with_members(bot)
    circle_id = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    await bot.send(JOHN, "/propose")
    await bot.tap(JOHN, f"pps:circle:{circle_id}")
    await bot.send(JOHN, "Bike racks")
    await bot.send(JOHN, "Racks for twenty bicycles by the fountain.")
    await bot.tap(JOHN, "ppok")
    proposal_id = await bot.scalar("SELECT id FROM proposal")
    await bot.tap(AMINA, f"ppsu:{proposal_id}")
    await clear_outbox(bot)
    bot.clock.advance(days=30, minutes=1)
    await send_due_poll_work(bot.services)
    assert await bot.scalar("SELECT status FROM proposal") == "expired"
    for who in (JOHN, AMINA):
        queued = await bot.outbox(who.user_id)
        assert [q["text"] for q in queued] == [
            tr(bot, who.language_code, "⌛ The proposal “{title}” ended without enough support: {count} of the {needed} needed.",  # noqa: E501
               title="Bike racks", count="2", needed="3")
        ]  # fmt: skip
    assert await bot.outbox(LUCIA.user_id) == []
    replies = await bot.tap(LUCIA, f"ppsu:{proposal_id}")
    assert [r.toast for r in replies if r.toast] == [plain(bot, "es", "This proposal is closed.")]
    assert await bot.scalar("SELECT count(*) FROM poll") == 0


async def test_the_preview_lists_the_ballots_buttons_in_the_authors_language(bot):
    await circle_with_members(bot)
    await bot.send(DELIA, "/poll")
    await bot.tap(DELIA, "pck:yesno")
    await bot.send(DELIA, "¿Cerramos la plaza al tráfico los domingos?")
    replies = await bot.tap(DELIA, "pcc:3d")
    preview = texts(replies)
    assert tr(bot, "es", "Its buttons, one per option:") in preview
    for option in ("Yes", "No", "Abstain"):
        assert tr(bot, "es", "▫️ {option}", option=plain(bot, "es", option)) in preview
