"""SIGKILL in the middle of a 10,000-recipient notice, then restart: every recipient has it, and the duplicates
are no more than the messages the dead sender held (claimed, not yet recorded) at the kill."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest

from bot.domain.notices import NoticePolicy, QuietHours
from handlers.notice_delivery import queue_notice
from storage.demo import DEMO_FIRST_USER_ID
from tests.conftest import fresh_database_url, open_seeded
from tests.e2e.conftest import DatabaseProbe, start_subprocess_bot

pytestmark = pytest.mark.slow

RECIPIENTS = 10_000
TEXT = "Simulacro de evacuación del distrito el sábado a las 11:00."
# Quiet hours off for this audience: the test must not depend on the hour it runs at.
NO_QUIET_HOURS = NoticePolicy(quiet=QuietHours(clock_time(0, 0), clock_time(0, 0)))


async def queue_district_notice(db) -> int:  # type: ignore[no-untyped-def]
    """10,000 demo residents across the district's circles, and a district notice to them all."""
    now = datetime.now(UTC)
    async with db.db.unit_of_work() as uow:
        circles = [c.id for b in await uow.territory.barrios() for c in await uow.territory.circles_in_barrio(b.id)]
        await uow.demo.populate(RECIPIENTS, circles, ["es", "en", "ar"], now)
        notice = await uow.notices.create(
            author_id=None, kind="official", scope_kind="district", scope_id=None, role=None,
            texts={"es": TEXT}, original_locale="es", urgent=False, media_kind=None, media_file_id=None,
            status="scheduled", send_at=now, created_at=now,
        )  # fmt: skip
        queued = await queue_notice(uow, NO_QUIET_HOURS, ZoneInfo("Europe/Madrid"), notice, now)
        await uow.commit()
    assert queued == RECIPIENTS
    return notice.id


@pytest.fixture
async def sqlite_url(tmp_path):  # type: ignore[no-untyped-def]
    """SQLite, the embedded default (the journeys run notices on PostgreSQL too; 10,000 sends twice cost a
    minute of the suite's two cores)."""
    url = await fresh_database_url("sqlite", tmp_path)
    db = await open_seeded(url)
    await db.dispose()
    return url


async def test_sigkill_mid_notice_resends_at_most_what_was_in_flight(fake, sqlite_url, tmp_path):
    api_url, client = fake
    database_url = sqlite_url
    db = DatabaseProbe(database_url)
    await client.register_users(DEMO_FIRST_USER_ID, RECIPIENTS)
    notice_id = await queue_district_notice(db)
    log = tmp_path / "bot.log"
    fast = {"VECINOS_SEND_RATE_PER_SECOND": "1000"}
    process = await start_subprocess_bot(api_url, database_url, log, "aiogram", **fast)

    async def sent() -> int:
        return int((await client.counters())["sent_count"])

    deadline = time.monotonic() + 120
    while await sent() < RECIPIENTS * 0.4:
        assert process.returncode is None and time.monotonic() < deadline, log.read_text()[-3000:]
        await asyncio.sleep(0.25)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    count = "SELECT count(*) FROM notice_delivery WHERE notice_id = :n AND status = :s"
    in_flight = await db.scalar(count, n=notice_id, s="sending")
    before = await db.scalar(count, n=notice_id, s="sent")

    process = await start_subprocess_bot(api_url, database_url, log, "aiogram", **fast)
    try:
        while await db.scalar(count, n=notice_id, s="sent") < RECIPIENTS:
            assert process.returncode is None and time.monotonic() < deadline + 120, log.read_text()[-3000:]
            await asyncio.sleep(0.25)
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()
    tally = await client.received(DEMO_FIRST_USER_ID, RECIPIENTS, TEXT)
    print(
        f"\nSIGKILL after {before} recorded sends: held by the dead sender (in flight) {in_flight}, "
        f"duplicates {tally['duplicates']}, recipients reached {tally['reached']} of {RECIPIENTS}"
    )
    await db.close()
    assert tally["reached"] == RECIPIENTS, tally["missing"]
    assert tally["duplicates"] <= in_flight
