"""The Monday digest over HTTP, on both engines and both databases: residents report in chat during a week; on
Monday at 08:30 Madrid time (the bot's clock, moved by the test) the real scheduler sends the barrio's community
manager the digest in English, with figures equal to counts done in SQL and the chart as a document, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.domain.permissions import Role, ScopeKind
from bot.i18n import Catalogs
from tests.e2e.conftest import ENGINE_DATABASE, DatabaseProbe, InProcessBot, engine_database_id, journey_bot
from tests.e2e.test_notices_journey import BotClock, resident

EN = Catalogs("es").translator("en")
WEEK_END = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 30 November, 08:00 in Madrid


@pytest.fixture(params=ENGINE_DATABASE, ids=engine_database_id)
async def digest_bot(request, fake, tmp_path) -> AsyncIterator[tuple[InProcessBot, str, BotClock]]:  # type: ignore[no-untyped-def]
    """Vecinos with its weekly digests on, on a Tuesday of the week the digest will cover."""
    clock = BotClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    async with journey_bot(request.param, fake, tmp_path, clock=clock, weekly_digests=True) as (bot, url):
        yield bot, url, clock


async def report_in_chat(person, category: str, text: str) -> None:  # type: ignore[no-untyped-def]
    await person.say("/report")
    await person.tap(f"rc:{category}")
    await person.say(text)
    await person.tap("rph")
    await person.tap("rlc")
    if "rnew" in person.buttons():
        await person.tap("rnew")
    await person.tap("ran:no")
    await person.tap("rok")
    await person.wait_for("EMB-")


async def test_the_monday_digest_reaches_the_manager_with_the_weeks_figures(fake, digest_bot):
    _bot, url, clock = digest_bot
    _api, client = fake
    db = DatabaseProbe(url)
    manager = await resident(db, client, 7601, "Pablo", "en", "emb-plaza-lavapies",
                             role=(Role.COMMUNITY_MANAGER, ScopeKind.BARRIO, "embajadores"))  # fmt: skip
    amina = await resident(db, client, 7602, "Amina", "ar", "emb-plaza-lavapies")
    lucia = await resident(db, client, 7603, "Lucía", "es", "emb-plaza-lavapies")
    await report_in_chat(amina, "noise", "الموسيقى عالية جدًا كل ليلة حتى الساعة الرابعة")
    await report_in_chat(lucia, "cleanliness", "Bolsas de basura acumuladas junto al contenedor.")
    await manager.wait_for("EMB-0002")  # the new-report cards
    await asyncio.sleep(1.0)  # a few scheduler ticks in the week: no digest is due yet
    assert not any("📰" in text for text in await manager.refresh())

    clock.now = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
    digest = await manager.wait_for("📰")
    created, overdue = (
        await db.scalar("SELECT count(*) FROM report_case"),
        await db.scalar(
            "SELECT count(*) FROM report_case WHERE status IN ('new','referred') AND acknowledge_by < :u",
            u=WEEK_END,
        ),
    )
    assert (created, overdue) == (2, 2)
    assert EN.plain(
        "<b>Reports</b>: {new} new · {open} open · {overdue} overdue · {resolved} resolved",
        new=created, open=created, overdue=overdue, resolved=0,
    ) in digest  # fmt: skip
    chart = await manager.wait_for("📊")
    assert "Embajadores" in chart
    assert any((m.get("file_name") or "").endswith(".png") for m in manager.log)
    await asyncio.sleep(1.5)  # more ticks: it went once
    assert sum("📰" in text for text in await manager.refresh()) == 1
    assert not any("📰" in text for text in await amina.refresh())
