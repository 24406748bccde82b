"""Notices end to end, on both engines and both databases, over HTTP against the fake Bot API: a community
manager's barrio notice written in chat in Spanish with an Arabic version reaches each resident in their
language (English speakers get the Spanish original marked as Spanish), skips a resident who blocked the bot
and reports it, respects quiet hours on a controlled clock, never reaches a muted resident but for an urgent
notice; a delegate's fourth broadcast of the day is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.permissions import Grant, Role, ScopeKind
from bot.i18n import Catalogs
from tests.e2e.conftest import ENGINE_DATABASE, DatabaseProbe, InProcessBot, engine_database_id, journey_bot
from tests.e2e.people import Person, wait_until

CATALOGS = Catalogs("es")
WATER_ES = "Mañana cortan el agua de 9 a 12 en todo Embajadores."
WATER_AR = "غدا سينقطع الماء من 9 إلى 12 في كل إمباخادوريس."


def plain(locale: str, message: str, **values: object) -> str:
    return CATALOGS.translator(locale).plain(message, **values)


@dataclass
class BotClock:
    """The bot's time, set by the test (the fake server and the people keep real time)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 10, 0, tzinfo=UTC))  # 11:00 in Madrid

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=ENGINE_DATABASE, ids=engine_database_id)
async def notice_bot(request, fake, tmp_path) -> AsyncIterator[tuple[InProcessBot, str, BotClock]]:  # type: ignore[no-untyped-def]
    """Vecinos polling on each engine and database, reading the time from a clock the test moves."""
    clock = BotClock()
    async with journey_bot(request.param, fake, tmp_path, clock=clock) as (bot, url):
        yield bot, url, clock


async def resident(db: DatabaseProbe, client, user_id: int, name: str, locale: str, circle: str,  # type: ignore[no-untyped-def]
                   *, role: tuple[Role, ScopeKind, str] | None = None) -> Person:  # fmt: skip
    """A verified member of `circle` (registration itself is tested elsewhere), with an open chat."""
    await client.register_user(user_id, open_chat=True, first_name=name, language_code=locale)
    async with db.db.unit_of_work() as uow:
        now = datetime.now(UTC)
        person = await uow.residents.register(user_id, user_id, name, locale, now)
        place = await uow.territory.circle_by_code(circle)
        assert place is not None
        await uow.memberships.add_verified_member(person.id, place.id, now)
        if role is not None:
            kind, scope, code = role
            view = await (
                uow.territory.circle_by_code(code) if scope is ScopeKind.CIRCLE else uow.territory.barrio_by_code(code)
            )
            await uow.roles.grant(Grant(kind, scope, view.id), now, resident_id=person.id)  # type: ignore[union-attr]
        await uow.commit()
    return Person(client, user_id, name, locale)


async def nothing_more(person: Person, fragment: str, seconds: float = 0.8) -> None:
    """`fragment` does not arrive in `person`'s chat within `seconds` (the sender runs at 200/s in tests)."""
    await asyncio.sleep(seconds)
    assert not any(fragment in text for text in await person.refresh()), person.texts()


async def write_notice(manager: Person, scope_label: str, text: str, *, arabic: str | None = None,
                       urgent: bool = False) -> None:  # fmt: skip
    """The manager writes a notice in chat, from /notice to confirm."""
    await manager.say("/notice")
    await manager.tap_label(scope_label)
    await manager.say(text)
    if arabic is not None:
        await manager.tap("ntl:ar")
        await manager.say(arabic)
    await manager.tap("ntd")
    await manager.tap("ntm")
    await manager.tap("ntu:urgent" if urgent else "ntu:normal")
    await manager.tap("ntw")
    await manager.tap("ntc")


async def test_notices_reach_everyone_once_in_their_language_with_quiet_hours_mutes_and_limits(fake, notice_bot):
    _bot, url, clock = notice_bot
    _api, client = fake
    db = DatabaseProbe(url)
    circle = "emb-plaza-lavapies"
    pablo = await resident(db, client, 9101, "Pablo", "es", circle,
                           role=(Role.COMMUNITY_MANAGER, ScopeKind.BARRIO, "embajadores"))  # fmt: skip
    delia = await resident(db, client, 9102, "Delia", "es", circle, role=(Role.DELEGATE, ScopeKind.CIRCLE, circle))
    lucia = await resident(db, client, 9111, "Lucía", "es", circle)
    amina = await resident(db, client, 9112, "Amina", "ar", "emb-calle-embajadores")
    john = await resident(db, client, 9113, "John", "en", circle)
    berta = await resident(db, client, 9114, "Berta", "es", circle)
    mario = await resident(db, client, 9115, "Mario", "es", circle)
    olga = await resident(db, client, 9120, "Olga", "es", "sol-puerta-sol")

    # Mario mutes the managers' notices in /settings; Berta blocks the bot.
    await mario.say("/settings")
    await mario.tap("stm:official")
    await client.block(berta.user_id)

    # A barrio notice in Spanish with an Arabic version, written in chat.
    await write_notice(pablo, "Embajadores", WATER_ES, arabic=WATER_AR)
    await lucia.wait_for(WATER_ES)
    await amina.wait_for(WATER_AR)
    english = await john.wait_for(WATER_ES)
    assert plain("en", "Spanish") in english or "Spanish" in english  # marked with its language
    assert WATER_AR not in english
    assert "Written in" not in await lucia.wait_for(WATER_ES)
    await delia.wait_for(WATER_ES)
    final = await pablo.wait_for(plain("es", "Not reachable (blocked the bot): {count}", count=1))
    assert plain("es", "Muted these notices: {count}", count=1) in final
    assert plain("es", "Sent: {sent} of {total}", sent=4, total=6) in final  # Delia, Lucía, Amina, John
    await nothing_more(mario, WATER_ES, seconds=0.2)
    await nothing_more(olga, WATER_ES, seconds=0.2)
    for person in (lucia, amina, john):
        assert sum(WATER_ES in t or WATER_AR in t for t in await person.refresh()) == 1  # once
    statuses = await db.rows("SELECT chat_id, status FROM notice_delivery WHERE notice_id = 1 ORDER BY chat_id")
    assert dict((int(c), s) for c, s in statuses) == {
        delia.user_id: "sent", lucia.user_id: "sent", amina.user_id: "sent", john.user_id: "sent",
        berta.user_id: "unreachable", mario.user_id: "muted",
    }  # fmt: skip

    # The delegate broadcasts to her circle three times; the fourth is refused.
    for n in range(1, 4):
        await delia.say("/notice")
        await delia.say(f"Recordatorio {n}: reunión del círculo el jueves.")
        await delia.tap("ntd")
        await delia.tap("ntm")
        await delia.tap("ntw")
        await delia.tap("ntc")
    marked = await john.wait_for("Recordatorio 3")
    assert "Delia" in marked
    refused = await delia.say("/notice")
    limit_text = CATALOGS.translator("es").ngettext(
        "⛔ You have already sent {n} broadcast to your circle today, the most a delegate can send in one "
        "day. You can write again tomorrow; for something urgent, ask your community managers.",
        "⛔ You have already sent {n} broadcasts to your circle today, the most a delegate can send in one "
        "day. You can write again tomorrow; for something urgent, ask your community managers.",
        3,
    )
    assert any(limit_text in (m.get("text") or "") for m in refused), [m.get("text") for m in refused]
    assert await db.scalar("SELECT count(*) FROM notice WHERE kind = 'delegate'") == 3

    # Night: 23:30 in Madrid. A normal notice waits for the end of quiet hours; an urgent one does not.
    clock.now = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
    await write_notice(pablo, "Plaza de Lavapiés", "Mañana hay mercadillo en la plaza.")
    await wait_until(lambda: db.scalar("SELECT count(*) FROM notice_delivery WHERE notice_id = 5"), 5, what="queued")
    await write_notice(pablo, "Plaza de Lavapiés", "Fuga de gas en la plaza: no encendáis fuego.", urgent=True)
    for person in (lucia, john, mario):  # Mario muted notices, but an urgent one reaches him
        await person.wait_for("Fuga de gas")
    await nothing_more(lucia, "mercadillo")
    await pablo.wait_for(plain("es", "Waiting for their quiet hours to end: {count}", count=3))
    clock.now = datetime(2026, 12, 2, 7, 1, tzinfo=UTC)  # 08:01 in Madrid
    for person in (lucia, john, delia):
        await person.wait_for("mercadillo")
    await nothing_more(mario, "mercadillo", seconds=0.5)
    await db.close()


async def test_an_office_notice_to_a_role_reaches_only_its_holders(fake, notice_bot, tmp_path, cli, monkeypatch):  # type: ignore[no-untyped-def]
    _bot, url, clock = notice_bot
    _api, client = fake
    clock.now = datetime.now(UTC) + timedelta(minutes=1)  # the office computer keeps real time
    db = DatabaseProbe(url)
    delegate = await resident(db, client, 9201, "Dani", "en", "emb-plaza-lavapies",
                              role=(Role.DELEGATE, ScopeKind.CIRCLE, "emb-plaza-lavapies"))  # fmt: skip
    other = await resident(db, client, 9203, "Sara", "es", "sol-puerta-sol",
                           role=(Role.DELEGATE, ScopeKind.CIRCLE, "sol-puerta-sol"))  # fmt: skip
    neighbour = await resident(db, client, 9202, "Nora", "es", "emb-plaza-lavapies")
    async with db.db.unit_of_work() as uow:  # no quiet hours: this test runs on real time, maybe at night
        for person in (delegate, other, neighbour):
            found = await uow.residents.by_telegram_id(person.user_id)
            await uow.residents.set_quiet_hours(found, 0, 0)  # type: ignore[arg-type]
        await uow.commit()
    text_file = tmp_path / "aviso.txt"
    text_file.write_text("Reunión de delegados el lunes a las 19:00.", encoding="utf-8")
    monkeypatch.setenv("VECINOS_DATABASE_URL", url)
    out = await asyncio.to_thread(
        cli.ok, "notices", "send", "--scope", "role:delegate:embajadores", "--text", str(text_file)
    )
    notice_id = int(out.strip().splitlines()[-1])
    english = await delegate.wait_for("Reunión de delegados")
    assert plain("en", "Delegate") in english  # to whom: the delegates of Embajadores
    await nothing_more(neighbour, "Reunión de delegados", seconds=0.5)
    await nothing_more(other, "Reunión de delegados", seconds=0.1)
    report = await asyncio.to_thread(cli.ok, "notices", "follow", str(notice_id), "--json", "--interval", "0.1")
    assert '"sent": 1' in report and '"recipients": 1' in report
    await db.close()
