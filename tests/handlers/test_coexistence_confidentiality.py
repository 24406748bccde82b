"""Confidentiality of mediation and support over every staff role: nobody but the mediator (and the mediation
supervisor) reads what was said, through any command, any callback (forged ones included), their own /mydata,
the CLI or Open311; forged taps change nothing; and the reporter's identity never reaches the invitee unless
she agreed."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json

import pytest

from bot.domain.coexistence import Outcome
from handlers import open311
from tests.handlers.harness import Harness, Person, grant_role, make_staff
from tests.handlers.test_coexistence import (
    KARIM,
    LUCIA,
    MARTA,
    PABLO,
    SERGIO,
    button_for,
    invite_karim,
    opened_mediation,
)
from tests.handlers.test_reports import verified

A_WORDS = "SECRETO-A el vecino del 2ºB me insulta en la escalera"
B_WORDS = "SECRETO-B لا أستطيع النوم بسبب الضجيج"
MEDIATOR_WORDS = "SECRETO-M propongo que habléis del horario"
SUPPORT_WORDS = "SECRETO-S tengo miedo de volver a casa"
PLACE = "SECRETO-P Sala 3 del centro cívico"
AGREEMENT = "SECRETO-G no golpear la pared"
SECRETS = (A_WORDS, B_WORDS, MEDIATOR_WORDS, SUPPORT_WORDS, PLACE, AGREEMENT, "SECRETO")

# Every staff role there is, and a neighbour: (person, role, place, sector).
STAFF = [
    (Person(901, "Ernesto", "es"), "sectorial_manager", "embajadores", "environment_cleaning"),
    (Person(902, "Paula", "es"), "sectorial_manager", "embajadores", "community_police"),
    (Person(903, "Sonia", "es"), "sectorial_manager", "embajadores", "social_services"),
    (Person(904, "Jaime", "es"), "sectorial_manager", "embajadores", "community_justice"),
    (Person(905, "Lorena", "es"), "sectorial_manager", "embajadores", "local_police"),
    (Person(906, "Otra Mediadora", "es"), "sectorial_manager", "embajadores", "mediation"),
    (Person(907, "Mediador de Sol", "es"), "sectorial_manager", "sol", "mediation"),
    (Person(908, "Fiscal", "es"), "community_prosecutor", "embajadores", None),
    (Person(909, "Supervisora de Sol", "es"), "mediation_supervisor", "sol", None),
    (Person(910, "Admin", "en"), "admin", None, None),
]
RESIDENT_ROLES = [
    (Person(921, "Delia", "es"), "delegate", "emb-plaza-lavapies"),
    (Person(922, "Consejero", "es"), "council_member", "embajadores"),
    (Person(923, "Panelista", "es"), "community_court_member", "embajadores"),
]
NEIGHBOUR = Person(930, "Vecina", "es")


async def a_mediation_with_content(bot: Harness) -> dict[str, int]:
    """A mediation with words from everyone, a session and an agreement; and an anonymous support case."""
    _case_id, mediation_id = await opened_mediation(bot)
    await invite_karim(bot, mediation_id)
    await bot.tap(KARIM, await button_for(bot, KARIM, "xb:"))
    for who, words in ((LUCIA, A_WORDS), (KARIM, B_WORDS)):
        await bot.tap(who, f"xm:{mediation_id}")
        await bot.send(who, words)
        await bot.send(who, "/cancel")
    await bot.tap(MARTA, f"xw:{mediation_id}:a")
    await bot.send(MARTA, MEDIATOR_WORDS)
    await bot.send(MARTA, "/cancel")
    await bot.tap(MARTA, f"xs:{mediation_id}")
    await bot.send(MARTA, "10/12/2026 18:00")
    await bot.send(MARTA, PLACE)
    await bot.tap(MARTA, f"xd:{mediation_id}")
    await bot.send(MARTA, AGREEMENT)
    await bot.send(MARTA, AGREEMENT + " (B)")
    await bot.send(NEIGHBOUR, "/start")
    await verified(bot, Person(931, "Samira", "ar"))
    await bot.send(Person(931, "Samira", "ar"), "/support")
    await bot.tap(Person(931, "Samira", "ar"), "su:anon")
    await bot.send(Person(931, "Samira", "ar"), SUPPORT_WORDS)
    support_id = await bot.scalar("SELECT id FROM coexistence_case WHERE kind = 'support'")
    await bot.tap(MARTA, f"xk:{support_id}")
    session_id = await bot.scalar("SELECT id FROM coexistence_session")
    messages = [r[0] for r in await bot.rows("SELECT id FROM coexistence_message")]
    karim = await bot.scalar("SELECT id FROM resident WHERE telegram_user_id = :u", u=KARIM.user_id)
    return {"mediation": mediation_id, "support": support_id, "session": session_id, "karim": karim,
            "messages": messages}  # type: ignore[dict-item]  # fmt: skip


def forged_taps(ids: dict) -> list[str]:  # type: ignore[type-arg]
    """Every coexistence button there is, aimed at both cases."""
    taps: list[str] = []
    for case in (ids["mediation"], ids["support"]):
        taps += [f"xv:{case}", f"xk:{case}", f"xib:{case}", f"xip:{case}:{ids['karim']}", f"xpp:{case}",
                 f"xw:{case}:a", f"xw:{case}:b", f"xs:{case}", f"xd:{case}", f"xtb:{case}", f"xm:{case}",
                 f"xq:{case}", f"xg:{case}:y", f"xh:{case}:y", f"xa:{case}:n", f"xn:{case}",
                 f"xb:{case}:AAAAAAAAAAAA", f"xbn:{case}:AAAAAAAAAAAA"]  # fmt: skip
        taps += [f"xcc:{case}:{outcome.value}" for outcome in Outcome]
    taps += [f"xsh:{m}" for m in ids["messages"]] + [f"xt:{ids['session']}:yes", f"xt:{ids['session']}:other"]
    return taps


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


async def everything_seen(bot: Harness, who: Person, replies: list) -> str:  # type: ignore[type-arg]
    """What a person was shown and sent: replies (with any document) and every outbox row to their chat."""
    parts = [json.dumps(r.to_dict(), ensure_ascii=False, default=str) for r in replies]
    parts += [bytes(r.document).decode("utf-8", "replace") for r in replies if getattr(r, "document", None)]
    parts += [json.dumps(p, ensure_ascii=False) for p in await bot.outbox(who.user_id)]
    return "\n".join(parts)


async def state_of_cases(bot: Harness) -> list:  # type: ignore[type-arg]
    return await bot.rows(
        "SELECT id, status, handler_id, party_a_id, party_b_id, outcome, agreement_a, a_accepted_at FROM "
        "coexistence_case ORDER BY id"
    ) + [await bot.scalar("SELECT count(*) FROM coexistence_message")]


async def probe(bot: Harness, who: Person, ids: dict) -> list[str]:  # type: ignore[type-arg]
    """Everything a person can try; what leaked."""
    seen: list = []  # type: ignore[type-arg]
    for command in ("/mediations", "/cases", "/case EMB-0001", "/myreports", "/mydata", "/help"):
        seen += await bot.send(who, command)
    for data in forged_taps(ids):
        seen += await bot.tap(who, data)
        # If a tap opened a thread or a step, whatever is typed next must go nowhere it should not.
        seen += await bot.send(who, "hola")
        seen += await bot.send(who, "/cancel")
    return leaks(await everything_seen(bot, who, seen))


@pytest.fixture
async def staffed(bot: Harness) -> dict:  # type: ignore[type-arg]
    ids = await a_mediation_with_content(bot)
    for who, role, place, sector in STAFF:
        await grant_role(bot, who, role, place, sector=sector)
        await bot.send(who, "/start")
    for who, role, place in RESIDENT_ROLES:
        await make_staff(bot, who, role, place)
    return ids


async def test_no_staff_role_reads_mediation_or_support_content_nor_changes_anything(bot, staffed):
    before = await state_of_cases(bot)
    everyone = [who for who, *_ in STAFF] + [who for who, *_ in RESIDENT_ROLES] + [PABLO, NEIGHBOUR]
    for who in everyone:
        assert await probe(bot, who, staffed) == [], who.first_name
    assert await state_of_cases(bot) == before


async def test_the_community_manager_sees_state_and_dates_only(bot, staffed):
    replies = await bot.send(PABLO, "/mediations")
    shown = "\n".join(r.text for r in replies)
    assert "MED-0001" in shown and "SUP-0002" in shown
    replies = await bot.tap(PABLO, f"xv:{staffed['mediation']}")
    card = "\n".join(r.text for r in replies)
    assert "MED-0001" in card and leaks(card) == []
    assert "Lucía" not in card and "Karim" not in card
    # The report itself now reads as confidential to the manager, but not to the mediator.
    replies = await bot.send(PABLO, "/case EMB-0001")
    assert "🔒" in replies[0].text and "lavadora" not in replies[0].text
    replies = await bot.send(MARTA, "/case EMB-0001")
    assert "lavadora" in replies[0].text


async def test_the_mediator_and_the_supervisor_read_it(bot, staffed):
    for who in (MARTA, SERGIO):
        replies = await bot.tap(who, f"xv:{staffed['mediation']}")
        card = "\n".join(r.text for r in replies)
        assert A_WORDS in card and B_WORDS in card, who.first_name
    # The supervisor reads the support case too; its resident stays anonymous.
    replies = await bot.tap(SERGIO, f"xv:{staffed['support']}")
    card = "\n".join(r.text for r in replies)
    assert SUPPORT_WORDS in card and "Samira" not in card


async def test_each_party_sees_only_their_own_thread_and_mydata_holds_only_their_part(bot, staffed):
    for who, own, other in ((LUCIA, A_WORDS, B_WORDS), (KARIM, B_WORDS, A_WORDS)):
        replies = await bot.send(who, "/mydata")
        seen = await everything_seen(bot, who, replies)
        assert own in seen and other not in seen, who.first_name


async def test_open311_and_the_cli_show_no_content_and_no_names(bot, staffed, monkeypatch, tmp_path):
    answers = [
        await open311.request_list(bot.services, {}, bot.clock()),
        await open311.request_one(bot.services, "EMB-0001"),
    ]
    published = json.dumps([a.body for a in answers], ensure_ascii=False)
    assert leaks(published) == [] and "lavadora" not in published and "Lucía" not in published
    from bot.cli import main

    await bot.tap(MARTA, f"xcc:{staffed['support']}:supported")
    url = str(bot.db.engine.url)
    monkeypatch.setenv("VECINOS_DATABASE_URL", url)
    for argv in (["coexistence", "open"], ["coexistence", "stats"], ["coexistence", "stats", "--format", "csv"]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert await asyncio.to_thread(main, argv) == 0
        printed = out.getvalue()
        assert "MED-0001" in printed or "count" in printed
        assert leaks(printed) == [] and "Lucía" not in printed and "Karim" not in printed, argv


async def test_the_reporter_is_named_to_the_invitee_only_when_she_agreed(bot):
    _case_id, mediation_id = await opened_mediation(bot)
    await invite_karim(bot, mediation_id)
    assert "Lucía" not in json.dumps(await bot.outbox(KARIM.user_id), ensure_ascii=False)
    await bot.tap(KARIM, await button_for(bot, KARIM, "xbn:"))
    # A second mediation, where she agrees to be named.
    await bot.send(LUCIA, "/report")
    case_id = await bot.scalar("SELECT id FROM report_case")
    await bot.send(LUCIA, "/cancel")
    async with bot.db.unit_of_work() as uow:
        await uow.session.execute(__import__("sqlalchemy").text("UPDATE report_case SET status = 'referred'"))
        await uow.commit()
    await bot.tap(MARTA, f"xo:{case_id}")
    second = await bot.scalar("SELECT max(id) FROM coexistence_case")
    await bot.tap(LUCIA, f"xa:{second}:n")
    await invite_karim(bot, second)
    assert "Lucía" in (await bot.outbox(KARIM.user_id))[-2]["text"]
