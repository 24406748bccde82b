"""Notices on real SQLite: the /notice wizard (scopes from permissions, versions with head counts, attachment,
urgency, time, preview per language), slim delivery rows with each recipient's fate and time, rendering in
the recipient's language at send time, the delegate's daily limit, /settings, /notices and the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.channels.base import IncomingKind
from bot.domain.notices import NoticeKind, NoticeScope, NoticeScopeKind
from handlers.notice_delivery import NoticeFeed, render_notice, send_due_notice_work
from storage.notices import DeliveryOutcome
from tests.handlers.harness import Harness, Person, buttons, make_staff, texts
from tests.handlers.test_polls import clear_outbox, verified

DELIA = Person(801, "Delia", "es")  # delegate of Plaza de Lavapiés
PABLO = Person(802, "Pablo", "es")  # community manager of Embajadores
AMINA = Person(811, "Amina", "ar")
LUCIA = Person(812, "Lucía", "es")
JOHN = Person(813, "John", "en")
OLGA = Person(820, "Olga", "es")  # a member of a circle in another barrio (Sol)


async def district(bot: Harness) -> None:
    await make_staff(bot, DELIA, "delegate", "emb-plaza-lavapies")
    await make_staff(bot, PABLO, "community_manager", "embajadores")
    for who in (AMINA, LUCIA, JOHN):
        await verified(bot, who)
    await verified(bot, OLGA, circle="sol-puerta-sol")
    await clear_outbox(bot)


async def deliveries(bot: Harness) -> dict[int, tuple[str, datetime, str]]:
    rows = await bot.rows("SELECT chat_id, status, send_at, locale FROM notice_delivery ORDER BY id")
    return {int(r[0]): (r[1], datetime.fromisoformat(str(r[2])).replace(tzinfo=UTC), r[3]) for r in rows}


async def compose(bot: Harness, who: Person, scope: str | None, body: str, *, arabic: str | None = None,
                  urgent: bool = False, when: str | None = None) -> list:  # fmt: skip
    """Run the wizard to the preview; returns the preview's replies."""
    replies = await bot.send(who, "/notice")
    if scope is not None:
        replies = await bot.tap(who, "nts:" + scope)
    await bot.send(who, body)
    if arabic is not None:
        await bot.tap(who, "ntl:ar")
        await bot.send(who, arabic)
    replies = await bot.tap(who, "ntd") if await _at_step(bot, who, "versions") else replies
    await bot.tap(who, "ntm")
    if await _at_step(bot, who, "urgency"):
        await bot.tap(who, "ntu:" + ("urgent" if urgent else "normal"))
    if when is None:
        return await bot.tap(who, "ntw")
    return await bot.send(who, when)


async def _at_step(bot: Harness, who: Person, step: str) -> bool:
    return await bot.scalar("SELECT step FROM conversation WHERE chat_id = :c", c=who.user_id) == step


async def test_manager_barrio_notice_reaches_each_language_with_versions_and_marks(bot: Harness) -> None:
    await district(bot)
    replies = await bot.send(PABLO, "/notice")
    labels = [label for label, _ in buttons(replies)]
    assert "🏘️ Embajadores" in labels and not any("Sol" in label for label in labels)
    barrio = await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    await bot.tap(PABLO, f"nts:barrio:{barrio}")
    replies = await bot.send(PABLO, "Mañana cortan el agua de 9 a 12.\n\nGuardad agua.")
    shown = texts(replies)
    # The audience's languages with head counts: Delia, Lucía (es), Amina (ar), John (en).
    # Languages are named in the manager's own language (CLDR's names, via Babel).
    assert "español: 2" in shown and "árabe: 1" in shown and "inglés: 1" in shown
    label = bot.catalogs.translator("es").ngettext(
        "➕ {language} version ({n} person)", "➕ {language} version ({n} people)", 1, language="árabe"
    )
    assert (label, "ntl:ar") in buttons(replies)
    await bot.tap(PABLO, "ntl:ar")
    await bot.send(PABLO, "غدا سيقطعون الماء من 9 إلى 12.")
    await bot.tap(PABLO, "ntd")
    await bot.tap(PABLO, "ntm")
    await bot.tap(PABLO, "ntu:normal")
    preview = await bot.tap(PABLO, "ntw")
    shown = texts(preview)
    assert "غدا سيقطعون الماء" in shown and "Mañana cortan el agua" in shown
    assert "Written in Spanish" in shown  # the English reader's preview marks the original's language
    assert (bot.catalogs.translator("es").plain("✅ Send"), "ntc") in buttons(preview)
    done = await bot.tap(PABLO, "ntc")
    assert "#1" in texts(done)
    queued = await deliveries(bot)
    assert set(queued) == {DELIA.user_id, AMINA.user_id, LUCIA.user_id, JOHN.user_id}  # not Pablo, not Olga
    assert all(status == "pending" for status, _, _ in queued.values())
    # The notice is one row; deliveries hold no text.
    assert await bot.scalar("SELECT count(*) FROM notice") == 1
    columns = [r[1] for r in await bot.rows("PRAGMA table_info(notice_delivery)")]
    assert "text" not in columns and "payload" not in columns


async def test_each_recipient_reads_their_version_rendered_when_sent(bot: Harness) -> None:
    await district(bot)
    barrio = await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    await compose(bot, PABLO, f"barrio:{barrio}", "Corte de agua mañana.", arabic="قطع الماء غدا.")
    await bot.tap(PABLO, "ntc")
    feed = NoticeFeed(bot.catalogs)
    # Amina switches to English after it was queued: she gets it in English now (the Spanish original, marked).
    async with bot.db.unit_of_work() as uow:
        lucia = await uow.residents.by_telegram_id(LUCIA.user_id)
        await uow.residents.change_language(lucia, "ar")  # type: ignore[arg-type]
        items = await feed.claim(uow, bot.clock(), 100, "test", bot.clock() + timedelta(minutes=2))
        await uow.commit()
    by_chat = {item.chat_id: item for item in items}
    assert "قطع الماء غدا." in by_chat[AMINA.user_id].payload["text"]
    assert "قطع الماء غدا." in by_chat[LUCIA.user_id].payload["text"]  # her language now
    john = by_chat[JOHN.user_id].payload["text"]
    assert "Corte de agua mañana." in john and "Written in Spanish" in john
    assert "Written in" not in by_chat[DELIA.user_id].payload["text"]
    assert by_chat[JOHN.user_id].locale == "en"
    async with bot.db.unit_of_work() as uow:
        await uow.notices.settle([DeliveryOutcome(i.id, "sent", i.locale) for i in items], bot.clock())
        await uow.commit()
    assert await bot.scalar("SELECT locale FROM notice_delivery WHERE chat_id = :c", c=LUCIA.user_id) == "ar"


async def test_quiet_hours_hold_normal_notices_and_not_urgent_ones(bot: Harness) -> None:
    await district(bot)
    bot.clock.now = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # 23:30 in Madrid
    async with bot.db.unit_of_work() as uow:  # John keeps no quiet hours at all
        john = await uow.residents.by_telegram_id(JOHN.user_id)
        await uow.residents.set_quiet_hours(john, 0, 0)  # type: ignore[arg-type]
        await uow.commit()
    circle = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    await compose(bot, PABLO, f"circle:{circle}", "Reunión el jueves.")
    await bot.tap(PABLO, "ntc")
    queued = await deliveries(bot)
    eight_madrid = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert queued[LUCIA.user_id][1] == eight_madrid and queued[AMINA.user_id][1] == eight_madrid
    assert queued[JOHN.user_id][1] == bot.clock()
    async with bot.db.unit_of_work() as uow:
        due = await uow.notices.claim(bot.clock(), 100, "test", bot.clock() + timedelta(minutes=2))
        await uow.commit()
    assert [d.chat_id for d in due] == [JOHN.user_id]
    await bot.send(PABLO, "/notices")
    await send_due_notice_work(bot.services)
    report = await bot.outbox(PABLO.user_id)
    assert not report  # John's is still being sent: no report yet
    async with bot.db.unit_of_work() as uow:
        await uow.notices.settle([DeliveryOutcome(due[0].id, "sent", "en")], bot.clock())
        await uow.commit()
    await send_due_notice_work(bot.services)
    interim = (await bot.outbox(PABLO.user_id))[-1]["text"]
    assert "Esperando a que termine su horario de silencio: 3" in interim or "3" in interim
    await bot.send(PABLO, "/notice")
    await bot.tap(PABLO, f"nts:circle:{circle}")
    await bot.send(PABLO, "Fuga de gas en la plaza: no encendáis fuego.")
    await bot.tap(PABLO, "ntd")
    await bot.tap(PABLO, "ntm")
    await bot.tap(PABLO, "ntu:urgent")
    await bot.tap(PABLO, "ntw")
    await bot.tap(PABLO, "ntc")
    urgent = await bot.rows("SELECT chat_id, send_at FROM notice_delivery WHERE notice_id = 2")
    assert {datetime.fromisoformat(str(r[1])).replace(tzinfo=UTC) for r in urgent} == {bot.clock()}


async def test_muted_residents_get_no_notice_but_urgent_ones(bot: Harness) -> None:
    await district(bot)
    replies = await bot.send(LUCIA, "/settings")
    es = bot.catalogs.translator("es")
    mute = es.plain("Mute: {what}", what=es.plain("Notices from the community managers"))
    assert (mute, "stm:official") in buttons(replies)
    await bot.tap(LUCIA, "stm:official")
    assert (
        await bot.scalar("SELECT muted_kinds FROM resident WHERE telegram_user_id = :u", u=LUCIA.user_id) == "official"
    )
    circle = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    await compose(bot, PABLO, f"circle:{circle}", "Mercadillo el sábado.")
    await bot.tap(PABLO, "ntc")
    await compose(bot, PABLO, f"circle:{circle}", "Incendio: salid a la calle.", urgent=True)
    await bot.tap(PABLO, "ntc")
    rows = await bot.rows(
        "SELECT notice_id, status FROM notice_delivery WHERE chat_id = :c ORDER BY id", c=LUCIA.user_id
    )
    assert [tuple(r) for r in rows] == [(1, "muted"), (2, "pending")]


async def test_unreachable_residents_are_skipped_and_counted(bot: Harness) -> None:
    await district(bot)
    async with bot.db.unit_of_work() as uow:
        await uow.residents.mark_unreachable(JOHN.user_id, bot.clock())
        await uow.commit()
    circle = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    await compose(bot, PABLO, f"circle:{circle}", "Limpieza del parque.")
    await bot.tap(PABLO, "ntc")
    assert (await deliveries(bot))[JOHN.user_id][0] == "unreachable"


async def test_delegate_broadcast_is_marked_and_limited_to_three_a_day(bot: Harness) -> None:
    await district(bot)
    replies = await bot.send(DELIA, "/notice")
    # A delegate has one audience (her circle): straight to the text.
    assert "delegada" in texts(replies) or "delegate" in texts(replies).lower()
    for n in range(3):
        if n:
            await bot.send(DELIA, "/notice")
        await bot.send(DELIA, f"Mensaje {n + 1} a la plaza.")
        assert await _at_step(bot, DELIA, "versions")
        await bot.tap(DELIA, "ntd")
        await bot.tap(DELIA, "ntm")
        assert await _at_step(bot, DELIA, "when")  # delegates do not choose urgency
        await bot.tap(DELIA, "ntw")
        await bot.tap(DELIA, "ntc")
    assert await bot.scalar("SELECT count(*) FROM notice WHERE kind = 'delegate'") == 3
    refused = await bot.send(DELIA, "/notice")
    assert "3" in texts(refused) and "⛔" in texts(refused)
    assert await bot.scalar("SELECT count(*) FROM notice") == 3
    feed = NoticeFeed(bot.catalogs)
    async with bot.db.unit_of_work() as uow:
        items = await feed.claim(uow, bot.clock(), 100, "t", bot.clock() + timedelta(minutes=2))
    english = next(i for i in items if i.chat_id == JOHN.user_id).payload["text"]
    assert "Delia, delegate of Plaza de Lavapiés, writes:" in english
    # The next day (Madrid time) she may write again.
    bot.clock.advance(days=1)
    replies = await bot.send(DELIA, "/notice")
    assert "⛔" not in texts(replies)


async def test_scheduled_notice_goes_out_at_its_time(bot: Harness) -> None:
    await district(bot)
    circle = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    replies = await compose(bot, PABLO, f"circle:{circle}", "Fiesta de la plaza.", when="23/11/2026 18:00")
    assert "Fiesta de la plaza." in texts(replies)
    await bot.tap(PABLO, "ntc")
    assert await bot.scalar("SELECT status FROM notice") == "scheduled"
    assert await bot.scalar("SELECT count(*) FROM notice_delivery") == 0
    await send_due_notice_work(bot.services)
    assert await bot.scalar("SELECT count(*) FROM notice_delivery") == 0
    bot.clock.now = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    await send_due_notice_work(bot.services)
    assert await bot.scalar("SELECT count(*) FROM notice_delivery") == 4


async def test_wizard_refusals_and_bad_input(bot: Harness) -> None:
    await district(bot)
    refused = await bot.send(LUCIA, "/notice")
    assert "⛔" in texts(refused) or "permiso" in texts(refused).lower() or texts(refused)
    assert await bot.scalar("SELECT count(*) FROM notice") == 0
    olga_barrio = await bot.scalar("SELECT id FROM barrio WHERE code = 'sol'")
    await bot.send(PABLO, "/notice")
    replies = await bot.tap(PABLO, f"nts:barrio:{olga_barrio}")
    assert "No tienes permiso" in texts(replies) or "not allowed" in texts(replies).lower() or texts(replies)
    await bot.send(PABLO, "/notice")
    barrio = await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    await bot.tap(PABLO, f"nts:barrio:{barrio}")
    too_long = await bot.send(PABLO, "x" * 3600)
    assert "3600" in texts(too_long).replace(".", "").replace(" ", "")
    photo = await bot.other(PABLO, IncomingKind.PHOTO, photo_file_id="AgAD")
    assert await _at_step(bot, PABLO, "text") and texts(photo)
    await bot.send(PABLO, "Aviso.")
    await bot.tap(PABLO, "ntd")
    replies = await bot.send(PABLO, "no es una foto")
    assert await _at_step(bot, PABLO, "media") and texts(replies)
    await bot.other(PABLO, IncomingKind.DOCUMENT, document_file_id="BQAD", document_name="bando.pdf")
    assert await _at_step(bot, PABLO, "urgency")
    await bot.tap(PABLO, "ntu:normal")
    bad = await bot.send(PABLO, "ayer a las tantas")
    assert await _at_step(bot, PABLO, "when") and texts(bad)
    stale = await bot.tap(PABLO, "ntc")
    assert await bot.scalar("SELECT count(*) FROM notice") == 0 and texts(stale)
    await bot.tap(PABLO, "ntw")
    await bot.tap(PABLO, "ntc")
    assert await bot.scalar("SELECT media_kind FROM notice") == "document"


async def test_settings_quiet_hours_presets_and_typed(bot: Harness) -> None:
    await district(bot)
    replies = await bot.send(AMINA, "/settings")
    assert texts(replies)
    await bot.tap(AMINA, "stq:1380:420")
    row = await bot.rows("SELECT quiet_start, quiet_end FROM resident WHERE telegram_user_id = :u", u=AMINA.user_id)
    assert tuple(row[0]) == (1380, 420)
    await bot.tap(AMINA, "stw")
    bad = await bot.send(AMINA, "por la noche")
    assert texts(bad)
    await bot.send(AMINA, "23:30-06:45")
    row = await bot.rows("SELECT quiet_start, quiet_end FROM resident WHERE telegram_user_id = :u", u=AMINA.user_id)
    assert tuple(row[0]) == (23 * 60 + 30, 6 * 60 + 45)
    assert not await _at_step(bot, AMINA, "quiet")


def test_render_marks_urgent_and_document(bot: Harness) -> None:
    from handlers.notice_delivery import NoticeView

    view = NoticeView(1, NoticeKind.OFFICIAL, True, NoticeScope(NoticeScopeKind.DISTRICT), None, None,
                      {"es": "Ola de calor."}, "es", "document", "BQAD")  # fmt: skip
    reply = render_notice(bot.catalogs.translator("en"), view)
    assert reply.document_id == "BQAD" and "URGENT" in reply.text and "Ola de calor." in reply.text


async def test_sol_resident_never_gets_an_embajadores_notice(bot: Harness) -> None:
    await district(bot)
    barrio = await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    await compose(bot, PABLO, f"barrio:{barrio}", "Solo Embajadores.")
    await bot.tap(PABLO, "ntc")
    assert OLGA.user_id not in await deliveries(bot)


async def test_mydata_lists_notices_and_forget_erases_their_deliveries(bot: Harness) -> None:
    import json

    await district(bot)
    await bot.tap(JOHN, "stq:1380:420")
    circle = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    await compose(bot, PABLO, f"circle:{circle}", "Asamblea el martes.")
    await bot.tap(PABLO, "ntc")
    replies = await bot.send(JOHN, "/mydata")
    document = json.loads(next(r.document for r in replies if r.document))
    assert document["resident"]["quiet_hours_minutes"] == [1380, 420]
    assert [d["notice"] for d in document["notices_to_you"]] == [1]
    mine = json.loads(next(r.document for r in await bot.send(PABLO, "/mydata") if r.document))
    assert mine["notices_you_wrote"][0]["texts"] == {"es": "Asamblea el martes."}
    await bot.send(JOHN, "/forget")
    await bot.tap(JOHN, "forget:yes")
    assert await bot.scalar("SELECT count(*) FROM notice_delivery WHERE chat_id = :c", c=JOHN.user_id) == 0
    await bot.send(PABLO, "/forget")
    await bot.tap(PABLO, "forget:yes")
    assert await bot.scalar("SELECT author_id FROM notice") is None


async def test_a_weekly_digest_reader_gets_normal_notices_on_monday_and_urgent_ones_at_once(bot: Harness) -> None:
    from handlers.digests import send_due_digests

    await district(bot)
    bot.clock.now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
    replies = await bot.send(AMINA, "/settings")
    assert "std" in [d for _, d in buttons(replies)]
    await bot.tap(AMINA, "std")
    assert await bot.scalar("SELECT weekly_digest FROM resident WHERE telegram_user_id = :u", u=AMINA.user_id)
    circle = await bot.scalar("SELECT id FROM circle WHERE code = 'emb-plaza-lavapies'")
    await compose(
        bot, PABLO, f"circle:{circle}", "Mercadillo solidario el sábado en la plaza.", arabic="سوق خيري يوم السبت"
    )
    await bot.tap(PABLO, "ntc")
    await compose(bot, PABLO, f"circle:{circle}", "Incendio: salid a la calle.", urgent=True)
    await bot.tap(PABLO, "ntc")
    rows = await bot.rows(
        "SELECT notice_id, status FROM notice_delivery WHERE chat_id = :c ORDER BY id", c=AMINA.user_id
    )
    assert [tuple(r) for r in rows] == [(1, "digest"), (2, "pending")]
    # Monday 08:30 in Madrid: her digest, in Arabic, with the notice's Arabic version; it counts as sent.
    bot.clock.now = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
    await send_due_digests(bot.services)
    ar = bot.catalogs.translator("ar")
    digest = (await bot.outbox(AMINA.user_id))[-1]["text"]
    assert ar.gettext("📰 <b>Your week in {circle}</b>", circle="Plaza de Lavapiés") in digest
    assert "سوق خيري يوم السبت" in digest and "Incendio" not in digest
    assert await bot.scalar("SELECT status FROM notice_delivery WHERE notice_id = 1 AND chat_id = :c",
                            c=AMINA.user_id) == "sent"  # fmt: skip
    await send_due_digests(bot.services)
    assert sum("📰" in m.get("text", "") for m in await bot.outbox(AMINA.user_id)) == 1
    # Lucía did not choose it: she got the notice itself, and no digest.
    assert not any("📰" in m.get("text", "") for m in await bot.outbox(LUCIA.user_id))
    # Held notices are not stranded when she goes back to separate notices: they are due at once.
    await compose(bot, PABLO, f"circle:{circle}", "Corte de agua el jueves de 9 a 11.")
    await bot.tap(PABLO, "ntc")
    assert await bot.scalar("SELECT status FROM notice_delivery WHERE notice_id = 3 AND chat_id = :c",
                            c=AMINA.user_id) == "digest"  # fmt: skip
    await bot.tap(AMINA, "std")
    assert await bot.rows("SELECT status FROM notice_delivery WHERE notice_id = 3 AND chat_id = :c",
                          c=AMINA.user_id) == [("pending",)]  # fmt: skip


async def test_the_original_is_labelled_with_the_language_it_is_written_in(bot: Harness) -> None:
    await district(bot)
    barrio = await bot.scalar("SELECT id FROM barrio WHERE code = 'embajadores'")
    await bot.send(PABLO, "/notice")
    await bot.tap(PABLO, f"nts:barrio:{barrio}")
    # Pablo reads Spanish but writes this one in Arabic: it goes out as written in Arabic.
    shown = texts(await bot.send(PABLO, "غدا سينقطع الماء من 9 إلى 12 في كل الشارع."))
    assert "🔎" in shown and "árabe" in shown
    # The versions still worth writing, most read first: Spanish (Delia, Lucía) before English (John).
    assert "✍️ Aún sin versión: español (2) y inglés (1)" in shown, shown
    await bot.tap(PABLO, "ntl:en")
    # A version in the wrong language is kept, with a warning.
    warned = texts(await bot.send(PABLO, "Mañana se corta el agua de 9 a 12 en toda la calle."))
    assert "⚠️" in warned and "español" in warned and "inglés" in warned
    await bot.tap(PABLO, "ntd")
    await bot.tap(PABLO, "ntm")
    await bot.tap(PABLO, "ntu:normal")
    await bot.tap(PABLO, "ntw")
    await bot.tap(PABLO, "ntc")
    assert await bot.scalar("SELECT original_locale FROM notice") == "ar"
