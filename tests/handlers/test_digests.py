"""The Monday digest on real SQLite: a seeded week in Embajadores reaches its community manager (English) and a
Governance Commission member (Arabic) once, with figures equal to counts done in SQL, and its chart; a barrio
with nothing to say sends nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.meetings import MeetingBody
from handlers.digests import send_due_digests
from handlers.meeting_life import MeetingDraft, call_meeting
from tests.handlers.harness import Harness, Person, grant_role
from tests.handlers.test_coexistence import (
    KARIM,
    LUCIA,
    MARTA,
    PABLO,
    button_for,
    invite_karim,
    opened_mediation,
    report,
)

ENV = Person(841, "Elena", "es")
GOVERNANCE = Person(842, "Nadia", "ar")
SOL_MANAGER = Person(843, "Sara", "es")
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
NEXT_MONDAY_0830_MADRID = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
WEEK_START = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 23 November, 08:00 Madrid
WEEK_END = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


async def seeded_week(bot: Harness) -> None:
    bot.clock.now = TUESDAY
    await grant_role(bot, ENV, "sectorial_manager", "embajadores", sector="environment_cleaning")
    await bot.send(ENV, "/start")
    await grant_role(bot, SOL_MANAGER, "community_manager", "sol")
    await bot.send(SOL_MANAGER, "/start")
    _case_id, mediation_id = await opened_mediation(bot)  # a conflict (mediation sector), Marta, Pablo
    await bot.register(GOVERNANCE, locale="ar")
    async with bot.db.unit_of_work() as uow:
        nadia = await uow.residents.by_telegram_id(GOVERNANCE.user_id)
        barrio = await uow.territory.barrio_by_code("embajadores")
        await uow.elections.add_institution_seat(barrio.id, nadia.id, "Junta Municipal", bot.clock())  # type: ignore[union-attr]
        await uow.commit()
    # Two noise reports; one is acknowledged and resolved within the week.
    first, _ = await report(bot, LUCIA, "noise", "Música muy alta cada noche en el bajo del número 3.")
    bot.clock.advance(hours=1)
    await report(bot, KARIM, "cleanliness", "Bolsas de basura acumuladas junto al contenedor.")
    await bot.tap(ENV, f"ct:{first}:ack")
    await bot.tap(ENV, f"ct:{first}:resolve")
    await bot.send(ENV, "Hablamos con el local: baja la música a las 23:00.")
    # The mediation: Karim declines, so it closes as declined this week.
    await invite_karim(bot, mediation_id)
    await bot.tap(KARIM, await button_for(bot, KARIM, "xbn:"))
    # A circle assembly in the week ahead, and one the week after (not in this digest).
    async with bot.db.unit_of_work() as uow:
        circle = await uow.territory.circle_by_code("emb-plaza-lavapies")
        for title, day in (("Asamblea de diciembre", 2), ("Asamblea de enero", 9)):
            draft = MeetingDraft(MeetingBody.CIRCLE, circle.id, title, datetime(2026, 12, day, 18, 0, tzinfo=UTC), 90,  # type: ignore[union-attr]
                                 "Centro Cívico")  # fmt: skip
            await call_meeting(uow, bot.catalogs, draft, None, bot.clock())
        await uow.commit()


async def test_the_monday_digest_has_the_weeks_figures_and_goes_once(bot):
    await seeded_week(bot)
    bot.clock.now = NEXT_MONDAY_0830_MADRID
    before = {p.user_id: len(await bot.outbox(p.user_id)) for p in (PABLO, GOVERNANCE, SOL_MANAGER, MARTA)}
    assert await send_due_digests(bot.services) == 2
    assert await send_due_digests(bot.services) == 0  # once a week
    assert len(await bot.outbox(SOL_MANAGER.user_id)) == before[SOL_MANAGER.user_id]  # Sol: nothing to say
    assert len(await bot.outbox(MARTA.user_id)) == before[MARTA.user_id]  # a mediator gets no digest

    created = await bot.scalar(
        "SELECT count(*) FROM report_case c JOIN barrio b ON b.id = c.barrio_id WHERE b.code = 'embajadores' "
        "AND c.created_at >= :s AND c.created_at < :u",
        s=WEEK_START.isoformat(sep=" "),
        u=WEEK_END.isoformat(sep=" "),
    )
    still_open = await bot.scalar(
        "SELECT count(*) FROM report_case WHERE status IN ('new','acknowledged','referred','in_progress','reopened')"
    )
    resolved = await bot.scalar(
        "SELECT count(DISTINCT case_id) FROM case_event WHERE kind = 'transition' AND to_status = 'resolved'"
    )
    overdue = await bot.scalar(
        "SELECT count(*) FROM report_case WHERE status IN ('new','acknowledged','referred','in_progress','reopened') "
        "AND ((status IN ('new','referred') AND acknowledge_by < :u) OR resolve_by < :u)",
        u=WEEK_END.isoformat(sep=" "),
    )
    assert (created, still_open, resolved, overdue) == (3, 2, 1, 2)
    en = bot.catalogs.translator("en")
    digest, chart = (await bot.outbox(PABLO.user_id))[-2:]
    assert (
        en.gettext(
            "<b>Reports</b>: {new} new · {open} open · {overdue} overdue · {resolved} resolved",
            new=created,
            open=still_open,
            overdue=overdue,
            resolved=resolved,
        )
        in digest["text"]
    )
    assert (
        en.gettext(
            "• {sector}: {new} new, {open} open, {resolved} resolved",
            sector=en.plain("Environment and cleaning"),
            new=2,
            open=1,
            resolved=1,
        )
        in digest["text"]
    )
    assert "• " + en.plain("Neighbour mediation") in digest["text"]
    assert en.plain("declined or unanswered") in digest["text"]
    assert chart["filename"].endswith(".png") and chart["document"]
    assert "Asamblea de diciembre" in digest["text"] and "Asamblea de enero" not in digest["text"]
    # The Governance Commission member reads it in Arabic.
    ar = bot.catalogs.translator("ar")
    arabic = (await bot.outbox(GOVERNANCE.user_id))[-2]["text"]
    last_day = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
    heading = ar.gettext("📰 <b>The week in {barrio}</b> ({since} to {until})", barrio="Embajadores",
                         since=ar.date(WEEK_START), until=ar.date(last_day))  # fmt: skip
    assert heading in arabic
