"""Mediation, support and community courts on real SQLite: the whole mediation with its consents, threads,
sessions, agreement and 30-day check; the other outcomes (B declines, A withdraws, B never answers); support;
a community court case to completion and one the prosecutor takes back; retention; and /forget."""

from __future__ import annotations

import json
import re

from bot.domain.coexistence import token_hash
from handlers.coexistence_life import send_due_coexistence_work
from tests.handlers.harness import Harness, Person, buttons, grant_role, make_staff, texts
from tests.handlers.test_reports import verified

LUCIA = Person(701, "Lucía", "es")  # party A: reports the conflict
KARIM = Person(702, "Karim", "ar")  # party B: the neighbour, his Telegram speaks Arabic
MARTA = Person(801, "Marta Mediadora", "es")  # mediator: mediation sector, Embajadores
PABLO = Person(602, "Pablo", "en")  # community manager of Embajadores
SERGIO = Person(803, "Sergio Supervisor", "es")  # mediation supervisor, Embajadores
SECRET = "Mi vecino pone la lavadora a las 3 de la mañana y golpea la pared"
REPLY_SECRET = "أعمل في الليل ولا أستطيع تغيير ذلك"


def data_of(payload: dict) -> list[str]:
    return [b[1] for row in payload.get("buttons", []) for b in row]


async def last_to(bot: Harness, who: Person) -> dict:
    return (await bot.outbox(who.user_id))[-1]


async def button_for(bot: Harness, who: Person, prefix: str) -> str:
    """The data of the latest button starting with `prefix` queued to `who`."""
    for payload in reversed(await bot.outbox(who.user_id)):
        for data in data_of(payload):
            if data.startswith(prefix):
                return data
    raise AssertionError(f"no {prefix} button for {who.first_name}")


async def report(bot: Harness, who: Person, category: str, text: str) -> tuple[int, str]:
    await bot.send(who, "/report")
    await bot.tap(who, f"rc:{category}")
    await bot.send(who, text)
    await bot.tap(who, "rph")
    replies = await bot.tap(who, "rlc")
    if any(d.startswith("rnew") for _, d in buttons(replies)):
        await bot.tap(who, "rnew")
    await bot.tap(who, "ran:no")
    await bot.tap(who, "rok")
    row = (await bot.rows("SELECT id, ref FROM report_case ORDER BY id DESC LIMIT 1"))[0]
    return row[0], row[1]


async def mediation_staff(bot: Harness) -> None:
    await grant_role(bot, MARTA, "sectorial_manager", "embajadores", sector="mediation")
    await bot.send(MARTA, "/start")
    await make_staff(bot, PABLO, "community_manager", "embajadores", locale="en")
    await grant_role(bot, SERGIO, "mediation_supervisor", "embajadores")
    await bot.send(SERGIO, "/start")


async def opened_mediation(bot: Harness, *, named: bool = False) -> tuple[int, int]:
    """Lucía reports, Marta opens a mediation, Lucía consents: returns (case id, mediation id)."""
    await mediation_staff(bot)
    await verified(bot, LUCIA)
    await verified(bot, KARIM)
    case_id, _ref = await report(bot, LUCIA, "neighbour_conflict", SECRET)
    replies = await bot.send(MARTA, "/case EMB-0001")
    assert f"xo:{case_id}" in [d for _, d in buttons(replies)]
    await bot.tap(MARTA, f"xo:{case_id}")
    mediation_id = await bot.scalar("SELECT id FROM coexistence_case")
    consent = await last_to(bot, LUCIA)
    assert f"xa:{mediation_id}:p" in data_of(consent)
    await bot.tap(LUCIA, f"xa:{mediation_id}:{'n' if named else 'p'}")
    return case_id, mediation_id


async def invite_karim(bot: Harness, mediation_id: int) -> None:
    await bot.tap(MARTA, f"xib:{mediation_id}")
    replies = await bot.send(MARTA, "kar")
    karim_id = await bot.scalar("SELECT id FROM resident WHERE telegram_user_id = :u", u=KARIM.user_id)
    assert f"xip:{mediation_id}:{karim_id}" in [d for _, d in buttons(replies)]
    await bot.tap(MARTA, f"xip:{mediation_id}:{karim_id}")


async def test_a_whole_mediation_from_report_to_agreement_and_the_30_day_check_reopens_it(bot):
    case_id, mediation_id = await opened_mediation(bot)
    await invite_karim(bot, mediation_id)
    # Karim's invitation is in Arabic, neutral: it names the mediator, never Lucía; nothing about him is stored.
    ar = bot.catalogs.translator("ar")
    invitations = [p for p in await bot.outbox(KARIM.user_id) if any(d.startswith("xb:") for d in data_of(p))]
    assert len(invitations) == 2  # the invitation and its one reminder, three days later
    assert ar.plain("✅ I accept and agree to these rules") in json.dumps(invitations[0], ensure_ascii=False)
    assert "Lucía" not in json.dumps(invitations, ensure_ascii=False)
    assert "Marta" in invitations[0]["text"]
    assert await bot.scalar("SELECT party_b_id FROM coexistence_case") is None
    accept = await button_for(bot, KARIM, "xb:")
    await bot.tap(KARIM, accept)
    assert await bot.scalar("SELECT status FROM coexistence_case") == "active"
    # The reminder will not go out any more.
    statuses = [
        r[0] for r in await bot.rows("SELECT status FROM outbox WHERE ref = :r", r=f"coex:{mediation_id}:invite")
    ]
    assert "pending" not in statuses

    # Messages go through the mediator only.
    await bot.tap(LUCIA, f"xm:{mediation_id}")
    await bot.send(LUCIA, SECRET)
    assert SECRET in (await last_to(bot, MARTA))["text"]
    assert SECRET not in json.dumps(await bot.outbox(KARIM.user_id), ensure_ascii=False)
    await bot.send(LUCIA, "/cancel")
    await bot.tap(KARIM, f"xm:{mediation_id}")
    await bot.send(KARIM, REPLY_SECRET)
    to_marta = await last_to(bot, MARTA)
    assert REPLY_SECRET in to_marta["text"]
    assert REPLY_SECRET not in json.dumps(await bot.outbox(LUCIA.user_id), ensure_ascii=False)
    # Marta shares Karim's words with Lucía, marked as shared.
    share = next(d for d in data_of(to_marta) if d.startswith("xsh:"))
    await bot.tap(MARTA, share)
    shared = await last_to(bot, LUCIA)
    assert REPLY_SECRET in shared["text"] and "🔁" in shared["text"]
    assert "Karim" not in shared["text"]

    # A session both accept; a reminder the day before.
    await bot.tap(MARTA, f"xs:{mediation_id}")
    await bot.send(MARTA, "10/12/2026 18:00")
    await bot.send(MARTA, "Centro Cívico, sala 2")
    session = await button_for(bot, LUCIA, "xt:")
    session_id = session.split(":")[1]
    await bot.tap(LUCIA, f"xt:{session_id}:yes")
    await bot.tap(KARIM, f"xt:{session_id}:yes")
    assert await bot.scalar("SELECT status FROM coexistence_session") == "agreed"
    assert ar.plain("✅ Yes") in json.dumps(await bot.outbox(KARIM.user_id), ensure_ascii=False)
    bot.clock.now = bot.clock.now.replace(month=12, day=9, hour=17, minute=30)
    await send_due_coexistence_work(bot.services)
    assert "⏰" in (await last_to(bot, LUCIA))["text"]
    assert "⏰" in (await last_to(bot, KARIM))["text"]

    # The agreement, accepted by both, sent to both in their languages.
    await bot.tap(MARTA, f"xd:{mediation_id}")
    await bot.send(MARTA, "Lucía avisará por escrito si hay ruido.")
    await bot.send(MARTA, "Karim no usará la lavadora entre las 23:00 y las 8:00.")
    await bot.tap(LUCIA, f"xg:{mediation_id}:y")
    await bot.tap(KARIM, f"xg:{mediation_id}:y")
    assert await bot.scalar("SELECT status FROM coexistence_case") == "follow_up"
    final = await last_to(bot, KARIM)
    assert ar.plain("🤝 <b>{ref}</b> · agreement accepted by both sides", ref="MED-0001") in final["text"]
    assert "Karim no usará la lavadora" in final["text"]

    # Thirty days later each is asked; Karim's "no" reopens the mediation.
    bot.clock.advance(days=30, minutes=1)
    await send_due_coexistence_work(bot.services)
    assert f"xh:{mediation_id}:n" in data_of(await last_to(bot, KARIM))
    await bot.tap(LUCIA, f"xh:{mediation_id}:y")
    await bot.tap(KARIM, f"xh:{mediation_id}:n")
    assert await bot.scalar("SELECT status FROM coexistence_case") == "active"
    assert "🔁" in (await last_to(bot, MARTA))["text"]
    # Then it is closed with an outcome: only counts will remain.
    await bot.tap(MARTA, f"xcc:{mediation_id}:partial")
    assert await bot.rows("SELECT kind, outcome, count FROM coexistence_outcome") == [("mediation", "partial", 1)]
    assert await bot.scalar("SELECT status FROM report_case WHERE id = :i", i=case_id) == "resolved"


async def test_b_declines_a_is_told_gently_and_the_case_goes_back_to_the_community_managers(bot):
    case_id, mediation_id = await opened_mediation(bot)
    await invite_karim(bot, mediation_id)
    await bot.tap(KARIM, (await button_for(bot, KARIM, "xbn:")))
    assert await bot.scalar("SELECT outcome FROM coexistence_case") == "declined"
    assert await bot.scalar("SELECT party_b_id FROM coexistence_case") is None
    es = bot.catalogs.translator("es")
    assert any("That is their right" in m["text"] or es.plain("That is their right") in m["text"]
               for m in await bot.outbox(LUCIA.user_id)) or any(
        "derecho" in m["text"] for m in await bot.outbox(LUCIA.user_id))  # fmt: skip
    assert await bot.rows("SELECT status, sector FROM report_case WHERE id = :i", i=case_id) == [("referred", None)]
    # Nothing about Karim is left: not even the invitation's messages.
    assert await bot.scalar("SELECT count(*) FROM outbox WHERE ref = :r", r=f"coex:{mediation_id}:invite") == 0


async def test_a_withdraws_mid_way_and_the_other_side_and_the_mediator_are_told(bot):
    _case_id, mediation_id = await opened_mediation(bot)
    await invite_karim(bot, mediation_id)
    await bot.tap(KARIM, await button_for(bot, KARIM, "xb:"))
    await bot.tap(LUCIA, f"xq:{mediation_id}")
    assert await bot.scalar("SELECT outcome FROM coexistence_case") == "withdrawn"
    assert "MED-0001" in (await last_to(bot, KARIM))["text"]
    assert "🚪" in (await last_to(bot, MARTA))["text"]
    # A later tap changes nothing.
    replies = await bot.tap(KARIM, f"xm:{mediation_id}")
    assert "MED-0001" in texts(replies)


async def test_b_never_answers_one_reminder_then_the_mediator_decides(bot):
    _case_id, mediation_id = await opened_mediation(bot)
    await invite_karim(bot, mediation_id)
    rows = await bot.rows("SELECT send_at FROM outbox WHERE ref = :r ORDER BY id", r=f"coex:{mediation_id}:invite")
    assert len(rows) == 2
    bot.clock.advance(days=7, minutes=1)
    await send_due_coexistence_work(bot.services)
    assert "⌛" in (await last_to(bot, MARTA))["text"]
    assert await bot.scalar("SELECT count(*) FROM outbox WHERE ref = :r", r=f"coex:{mediation_id}:invite") == 0
    assert await bot.scalar("SELECT invite_hash FROM coexistence_case") is None
    # The mediator may invite again or close it.
    replies = await bot.tap(MARTA, f"xv:{mediation_id}")
    assert {f"xib:{mediation_id}", f"xcc:{mediation_id}:declined"} <= {d for _, d in buttons(replies)}


async def test_a_forged_invitation_token_and_a_second_acceptance_are_refused(bot):
    _case_id, mediation_id = await opened_mediation(bot)
    await invite_karim(bot, mediation_id)
    replies = await bot.tap(KARIM, f"xb:{mediation_id}:AAAAAAAAAAAA")
    assert await bot.scalar("SELECT party_b_id FROM coexistence_case") is None
    assert "xm:" not in json.dumps([r.to_dict() for r in replies])


async def test_a_paper_invitation_registers_a_newcomer_who_accepts(bot):
    _case_id, mediation_id = await opened_mediation(bot, named=True)
    replies = await bot.tap(MARTA, f"xpp:{mediation_id}")
    link = re.search(r"start=(med_[\w-]+)", texts(replies)).group(1)  # type: ignore[union-attr]
    assert await bot.scalar("SELECT invite_hash FROM coexistence_case") == token_hash(link[4:])
    newcomer = Person(799, "Yusuf", "ar")
    replies = await bot.send(newcomer, f"/start {link}")
    assert "Lucía" in texts(replies)  # Lucía agreed to be named
    accept = next(d for _, d in buttons(replies) if d.startswith("xb:"))
    await bot.tap(newcomer, accept)
    yusuf = await bot.scalar("SELECT id FROM resident WHERE telegram_user_id = 799")
    assert await bot.scalar("SELECT party_b_id FROM coexistence_case") == yusuf
    # The link works once.
    replies = await bot.send(Person(798, "Otro", "es"), f"/start {link}")
    assert "xb:" not in json.dumps([r.to_dict() for r in replies])


async def test_support_is_confidential_anonymous_and_starts_with_urgent_help(bot):
    await mediation_staff(bot)
    stranger = Person(790, "Nadie", "ar")
    replies = await bot.send(stranger, "/support")
    assert "112" in texts(replies) and "016" in texts(replies)
    await verified(bot, KARIM)
    replies = await bot.send(KARIM, "/support")
    assert "112" in texts(replies) and "016" in texts(replies)
    await bot.tap(KARIM, "su:anon")
    await bot.send(KARIM, REPLY_SECRET)
    support_id = await bot.scalar("SELECT id FROM coexistence_case WHERE kind = 'support'")
    alert = await last_to(bot, MARTA)
    assert f"xk:{support_id}" in data_of(alert)
    assert REPLY_SECRET not in alert["text"]
    assert await bot.outbox(PABLO.user_id) == []  # the community manager is not told anything
    replies = await bot.tap(MARTA, f"xk:{support_id}")
    assert REPLY_SECRET in texts(replies)
    assert "Karim" not in texts(replies)  # anonymous
    await bot.tap(MARTA, f"xw:{support_id}:a")
    await bot.send(MARTA, "Estoy aquí. ¿Estás a salvo ahora?")
    assert "Estoy aquí" in (await last_to(bot, KARIM))["text"]


POLICE = Person(811, "Agente Ruiz", "es")  # community police, Embajadores
JUSTICE = Person(812, "Julia Justicia", "es")  # community justice, Embajadores
PROSECUTOR = Person(813, "Fernando Fiscal", "es")  # community prosecutor, Embajadores
PANEL = Person(703, "Rosa", "en")  # a resident on the community court panel


async def court_staff(bot: Harness) -> None:
    for who, sector in ((POLICE, "community_police"), (JUSTICE, "community_justice")):
        await grant_role(bot, who, "sectorial_manager", "embajadores", sector=sector)
        await bot.send(who, "/start")
    await grant_role(bot, PROSECUTOR, "community_prosecutor", "embajadores")
    await bot.send(PROSECUTOR, "/start")
    await verified(bot, PANEL)
    # Community justice appoints the panel member in chat.
    replies = await bot.send(JUSTICE, f"/grant {PANEL.user_id} community_court_member embajadores")
    assert "✅" in texts(replies)
    # Community police cannot.
    replies = await bot.send(POLICE, f"/grant {LUCIA.user_id} community_court_member embajadores")
    assert "✅" not in texts(replies)


async def court_case(bot: Harness, text: str) -> tuple[int, int]:
    case_id, ref = await report(bot, LUCIA, "antisocial", text)
    replies = await bot.send(POLICE, f"/case {ref}")
    assert f"xr:{case_id}" in [d for _, d in buttons(replies)]
    await bot.tap(POLICE, f"xr:{case_id}")
    court_id = await bot.scalar("SELECT max(id) FROM coexistence_case")
    await bot.tap(LUCIA, f"xa:{court_id}:p")
    return case_id, court_id


async def test_a_community_court_case_from_referral_to_completed_agreement_and_one_taken_back(bot):
    await court_staff(bot)
    await verified(bot, LUCIA)
    await verified(bot, KARIM)
    case_id, court_id = await court_case(bot, "Pintadas en el portal del número 5, otra vez esta semana.")
    # The panel hears of it and one member takes it.
    assert f"xk:{court_id}" in data_of(await last_to(bot, PANEL))
    await bot.tap(PANEL, f"xk:{court_id}")
    assert await bot.scalar("SELECT handler_id FROM coexistence_case WHERE id = :i", i=court_id) is not None
    # The responsible neighbour is invited, consents to the restorative process, and a hearing is agreed.
    await bot.tap(PANEL, f"xib:{court_id}")
    await bot.send(PANEL, "Karim")
    karim_id = await bot.scalar("SELECT id FROM resident WHERE telegram_user_id = :u", u=KARIM.user_id)
    await bot.tap(PANEL, f"xip:{court_id}:{karim_id}")
    invitation = (await bot.outbox(KARIM.user_id))[-2]
    assert "Lucía" not in invitation["text"]
    await bot.tap(KARIM, await button_for(bot, KARIM, "xb:"))
    await bot.tap(PANEL, f"xs:{court_id}")
    await bot.send(PANEL, "15/12/2026 17:00")
    await bot.send(PANEL, "Junta Municipal de Centro, sala de vistas")
    session = (await button_for(bot, LUCIA, "xt:")).split(":")[1]
    await bot.tap(LUCIA, f"xt:{session}:yes")
    await bot.tap(KARIM, f"xt:{session}:yes")
    # The panel records the restorative agreement; both accept; the panel records its completion.
    await bot.tap(PANEL, f"xd:{court_id}")
    await bot.send(PANEL, "Lucía acepta las disculpas por escrito.")
    await bot.send(PANEL, "Karim limpiará el portal y hará 10 horas de servicio a la comunidad.")
    await bot.tap(LUCIA, f"xg:{court_id}:y")
    await bot.tap(KARIM, f"xg:{court_id}:y")
    assert await bot.scalar("SELECT status FROM coexistence_case WHERE id = :i", i=court_id) == "follow_up"
    assert "10 horas" in (await last_to(bot, KARIM))["text"]
    replies = await bot.tap(PANEL, f"xv:{court_id}")
    assert f"xcc:{court_id}:completed" in [d for _, d in buttons(replies)]
    await bot.tap(PANEL, f"xcc:{court_id}:completed")
    assert await bot.scalar("SELECT outcome FROM coexistence_case WHERE id = :i", i=court_id) == "completed"
    assert await bot.scalar("SELECT status FROM report_case WHERE id = :i", i=case_id) == "resolved"

    # A second case: the prosecutor supervises it (reads it) and takes it back to the ordinary procedure.
    case_id, court_id = await court_case(bot, "Rompieron el banco de la plaza y amenazaron a un vecino.")
    replies = await bot.send(PROSECUTOR, "/mediations")
    assert f"xv:{court_id}" in [d for _, d in buttons(replies)]
    replies = await bot.tap(PROSECUTOR, f"xv:{court_id}")
    assert f"xtb:{court_id}" in [d for _, d in buttons(replies)]
    # The panel member cannot take a case back; the prosecutor can.
    await bot.tap(PANEL, f"xtb:{court_id}")
    assert await bot.scalar("SELECT status FROM coexistence_case WHERE id = :i", i=court_id) != "closed"
    await bot.tap(PROSECUTOR, f"xtb:{court_id}")
    assert await bot.scalar("SELECT outcome FROM coexistence_case WHERE id = :i", i=court_id) == "taken_back"
    assert await bot.rows("SELECT status, sector FROM report_case WHERE id = :i", i=case_id) == [
        ("referred", "community_justice")
    ]
    assert "⚖️" in (await last_to(bot, LUCIA))["text"] or "⚖️" in json.dumps(await bot.outbox(LUCIA.user_id))


async def test_after_the_retention_period_only_anonymous_counts_remain(bot):
    case_id, mediation_id = await opened_mediation(bot)
    await invite_karim(bot, mediation_id)
    await bot.tap(KARIM, await button_for(bot, KARIM, "xb:"))
    await bot.tap(KARIM, f"xm:{mediation_id}")
    await bot.send(KARIM, REPLY_SECRET)
    await bot.tap(MARTA, f"xs:{mediation_id}")
    await bot.send(MARTA, "10/12/2026 18:00")
    await bot.send(MARTA, "Centro Cívico")
    await bot.tap(MARTA, f"xcc:{mediation_id}:partial")
    # Before the period ends, the content is still there for the mediator.
    bot.clock.advance(days=179)
    await send_due_coexistence_work(bot.services)
    assert await bot.scalar("SELECT count(*) FROM coexistence_message") == 1
    bot.clock.advance(days=1, minutes=1)
    await send_due_coexistence_work(bot.services)
    for table in ("coexistence_case", "coexistence_message", "coexistence_session"):
        assert await bot.scalar(f"SELECT count(*) FROM {table}") == 0, table
    assert await bot.scalar("SELECT count(*) FROM outbox WHERE ref LIKE 'coex:%'") == 0
    dump = await bot.dump()
    assert REPLY_SECRET not in dump and SECRET not in dump
    assert await bot.rows("SELECT kind, outcome, count FROM coexistence_outcome") == [("mediation", "partial", 1)]
    # The report, resolved by the mediation, keeps no words, place or reporter either.
    assert await bot.rows("SELECT text, reporter_id, latitude FROM report_case WHERE id = :i", i=case_id) == [
        ("", None, None)
    ]


async def test_a_report_that_went_back_to_the_ordinary_procedure_keeps_its_text_after_retention(bot):
    case_id, mediation_id = await opened_mediation(bot)
    await invite_karim(bot, mediation_id)
    await bot.tap(KARIM, await button_for(bot, KARIM, "xb:"))
    await bot.tap(KARIM, f"xm:{mediation_id}")
    await bot.send(KARIM, REPLY_SECRET)
    await bot.tap(MARTA, f"xcc:{mediation_id}:no_agreement")
    bot.clock.advance(days=181)
    await send_due_coexistence_work(bot.services)
    dump = await bot.dump()
    assert REPLY_SECRET not in dump
    assert await bot.rows("SELECT status, text FROM report_case WHERE id = :i", i=case_id) == [("referred", SECRET)]


async def test_forget_removes_a_partys_part_at_once_and_tells_the_others(bot):
    _case_id, mediation_id = await opened_mediation(bot)
    await invite_karim(bot, mediation_id)
    await bot.tap(KARIM, await button_for(bot, KARIM, "xb:"))
    await bot.tap(KARIM, f"xm:{mediation_id}")
    await bot.send(KARIM, REPLY_SECRET)
    await bot.send(KARIM, "/cancel")
    await bot.tap(LUCIA, f"xm:{mediation_id}")
    await bot.send(LUCIA, SECRET)
    await bot.send(LUCIA, "/cancel")
    await bot.send(KARIM, "/forget")
    await bot.tap(KARIM, "forget:yes")
    assert await bot.scalar("SELECT party_b_id FROM coexistence_case") is None
    assert await bot.scalar("SELECT outcome FROM coexistence_case") == "withdrawn"
    assert REPLY_SECRET not in await bot.dump()
    # Lucía's own words stay with her mediator until the retention period.
    assert await bot.scalar("SELECT count(*) FROM coexistence_message WHERE author = 'a'") == 1
    assert "🚪" in (await last_to(bot, MARTA))["text"]


async def test_outcome_counts_cover_barrio_kind_and_outcome_without_names(bot):
    from handlers.coexistence_stats import outcome_statistics

    _case_id, mediation_id = await opened_mediation(bot)
    await bot.tap(LUCIA, f"xq:{mediation_id}")
    await verified(bot, Person(704, "Ana", "es"))
    await bot.send(Person(704, "Ana", "es"), "/support")
    await bot.tap(Person(704, "Ana", "es"), "su:named")
    support_id = await bot.scalar("SELECT id FROM coexistence_case WHERE kind = 'support'")
    await bot.tap(MARTA, f"xk:{support_id}")
    await bot.tap(MARTA, f"xcc:{support_id}:supported")
    async with bot.db.unit_of_work() as uow:
        figures = await outcome_statistics(uow)
    assert figures == [
        {"barrio": "embajadores", "kind": "mediation", "outcome": "withdrawn", "count": 1},
        {"barrio": "embajadores", "kind": "support", "outcome": "supported", "count": 1},
    ]
    assert "Lucía" not in json.dumps(figures) and "Ana" not in json.dumps(figures)


async def test_help_offers_support_to_everyone_and_support_speaks_the_readers_language(bot):
    stranger = Person(795, "Nour", "ar")
    replies = await bot.send(stranger, "/help")
    assert "sup" in [d for _, d in buttons(replies)]
    replies = await bot.tap(stranger, "sup")
    ar = bot.catalogs.translator("ar")
    assert ar.gettext("To talk privately with Psycho-Social Safety Care, first register with /start.") in texts(replies)
    assert "112" in texts(replies) and "016" in texts(replies)
