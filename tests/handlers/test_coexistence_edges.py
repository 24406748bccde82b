"""Coexistence at its edges: a revoked or departed handler, self-granted supervision, early or forged "is it
holding?" taps, an anonymous reporter, "me too" on a conflict, Open311 for a case before the court, and reports
that come back to the community managers."""

from __future__ import annotations

import json

from handlers import open311
from tests.handlers.harness import Harness, Person, buttons, grant_role, texts
from tests.handlers.test_coexistence import (
    KARIM,
    LUCIA,
    MARTA,
    PABLO,
    POLICE,
    SECRET,
    button_for,
    court_case,
    court_staff,
    invite_karim,
    last_to,
    mediation_staff,
    opened_mediation,
    report,
)
from tests.handlers.test_reports import verified


async def agreed(bot: Harness) -> int:
    """A mediation whose agreement both sides accepted (the 30-day check is ahead)."""
    _case_id, mediation_id = await opened_mediation(bot)
    await invite_karim(bot, mediation_id)
    await bot.tap(KARIM, await button_for(bot, KARIM, "xb:"))
    await bot.tap(MARTA, f"xd:{mediation_id}")
    await bot.send(MARTA, "Lucía avisará por escrito.")
    await bot.send(MARTA, "Karim no hará ruido de noche.")
    await bot.tap(LUCIA, f"xg:{mediation_id}:y")
    await bot.tap(KARIM, f"xg:{mediation_id}:y")
    return mediation_id


async def test_a_handler_whose_role_is_revoked_reads_nothing_more(bot):
    _case_id, mediation_id = await opened_mediation(bot)
    assert "Lucía" in texts(await bot.tap(MARTA, f"xv:{mediation_id}"))
    await bot.rows("SELECT 1")
    async with bot.db.unit_of_work() as uow:
        marta = await uow.residents.by_telegram_id(MARTA.user_id)
        await uow.session.execute(
            __import__("sqlalchemy").text("DELETE FROM role_grant WHERE resident_id = :r"), {"r": marta.id}
        )
        await uow.commit()
    replies = await bot.tap(MARTA, f"xv:{mediation_id}")
    assert "Lucía" not in texts(replies) and "MED-0001" not in texts(replies)
    await bot.tap(MARTA, f"xcc:{mediation_id}:declined")
    assert await bot.scalar("SELECT status FROM coexistence_case") != "closed"


async def test_nobody_gives_themselves_a_role_in_chat(bot):
    admin = Person(950, "Admin", "es")
    await grant_role(bot, admin, "admin", None)
    await bot.send(admin, "/start")
    replies = await bot.send(admin, f"/grant {admin.user_id} mediation_supervisor embajadores")
    assert "✅" not in texts(replies)
    assert await bot.scalar("SELECT count(*) FROM role_grant WHERE role = 'mediation_supervisor'") == 0


async def test_is_it_holding_counts_only_once_asked_and_only_for_a_mediation(bot):
    mediation_id = await agreed(bot)
    # Before the check is asked, taps (forged or early) change nothing.
    await bot.tap(LUCIA, f"xh:{mediation_id}:y")
    await bot.tap(KARIM, f"xh:{mediation_id}:y")
    await bot.tap(KARIM, f"xh:{mediation_id}:n")
    assert await bot.rows("SELECT status, a_holding, b_holding FROM coexistence_case") == [("follow_up", None, None)]


async def test_a_court_agreement_is_never_closed_nor_reopened_by_a_holding_tap(bot):
    await court_staff(bot)
    await verified(bot, LUCIA)
    await verified(bot, KARIM)
    _case_id, court_id = await court_case(bot, "Pintadas en el portal del número 5, otra vez esta semana.")
    assert await bot.scalar("SELECT check_at FROM coexistence_case WHERE id = :i", i=court_id) is None
    await bot.tap(LUCIA, f"xh:{court_id}:n")
    assert await bot.scalar("SELECT a_holding FROM coexistence_case WHERE id = :i", i=court_id) is None


async def test_a_departed_handlers_case_goes_back_to_the_team_and_the_parties_are_told(bot):
    _case_id, mediation_id = await opened_mediation(bot)
    other = Person(960, "Otra Mediadora", "es")
    await grant_role(bot, other, "sectorial_manager", "embajadores", sector="mediation")
    await bot.send(other, "/start")
    await bot.send(MARTA, "/forget")
    await bot.tap(MARTA, "forget:yes")
    assert await bot.scalar("SELECT handler_id FROM coexistence_case") is None
    assert f"xk:{mediation_id}" in json.dumps(await last_to(bot, other))
    assert "MED-0001" in (await last_to(bot, LUCIA))["text"]
    await bot.tap(other, f"xk:{mediation_id}")
    assert "Lucía" in texts(await bot.tap(other, f"xv:{mediation_id}"))


async def test_an_anonymous_reporter_stays_anonymous_to_the_mediator(bot):
    await mediation_staff(bot)
    await verified(bot, LUCIA)
    await bot.send(LUCIA, "/report")
    await bot.tap(LUCIA, "rc:neighbour_conflict")
    await bot.send(LUCIA, SECRET)
    await bot.tap(LUCIA, "rph")
    await bot.tap(LUCIA, "rlc")
    await bot.tap(LUCIA, "ran:yes")
    await bot.tap(LUCIA, "rok")
    case_id = await bot.scalar("SELECT id FROM report_case")
    await bot.tap(MARTA, f"xo:{case_id}")
    mediation_id = await bot.scalar("SELECT id FROM coexistence_case")
    await bot.tap(LUCIA, f"xa:{mediation_id}:p")
    card = texts(await bot.tap(MARTA, f"xv:{mediation_id}"))
    assert "Lucía" not in card
    assert bot.catalogs.translator("es").plain("party A (anonymous)") in card


async def test_me_too_never_shows_a_conflict_between_neighbours(bot):
    await mediation_staff(bot)
    await verified(bot, LUCIA)
    await verified(bot, KARIM)
    await report(bot, LUCIA, "neighbour_conflict", SECRET)
    await bot.send(KARIM, "/report")
    await bot.tap(KARIM, "rc:neighbour_conflict")
    await bot.send(KARIM, "الجارة تشتكي دائما من الغسالة")
    await bot.tap(KARIM, "rph")
    replies = await bot.tap(KARIM, "rlc")
    assert "lavadora" not in texts(replies)
    assert not any(d.startswith("rmt") for _, d in buttons(replies))


async def test_open311_shows_neither_text_nor_notes_of_a_case_before_the_court(bot):
    await court_staff(bot)
    await verified(bot, LUCIA)
    await verified(bot, KARIM)
    await court_case(bot, "Pintadas en el portal del número 5, otra vez esta semana.")
    answer = await open311.request_one(bot.services, "EMB-0001")
    published = json.dumps(answer.body, ensure_ascii=False)
    assert answer.body[0]["description"] is None and "Pintadas" not in published and "CRT" not in published
    replies = await bot.send(POLICE, "/case EMB-0001")
    assert "Pintadas" not in replies[0].text  # police referred it; the panel handles it now


async def test_a_report_sent_back_is_readable_again_by_the_community_managers(bot):
    _case_id, mediation_id = await opened_mediation(bot)
    assert "lavadora" not in (await bot.send(PABLO, "/case EMB-0001"))[0].text
    await invite_karim(bot, mediation_id)
    await bot.tap(KARIM, await button_for(bot, KARIM, "xbn:"))
    assert "lavadora" in (await bot.send(PABLO, "/case EMB-0001"))[0].text


async def test_a_mediator_handling_support_can_still_ask_for_support(bot):
    await mediation_staff(bot)
    samira = Person(931, "Samira", "ar")
    await verified(bot, samira)
    await verified(bot, MARTA)
    await bot.send(samira, "/support")
    await bot.tap(samira, "su:anon")
    support_id = await bot.scalar("SELECT id FROM coexistence_case")
    await bot.tap(MARTA, f"xk:{support_id}")
    replies = await bot.send(MARTA, "/support")
    assert "su:anon" in [d for _, d in buttons(replies)]
