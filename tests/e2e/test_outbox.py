"""The outbox sender over real aiogram: pacing, 429 pauses, 403 unreachable, 5xx retries, crash recovery."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import build_channel
from bot.channels.base import Reply
from bot.i18n import Catalogs
from bot.outbox import OutboxSender
from storage.db import Database
from tests.e2e.conftest import TOKEN


async def queue(db: Database, chat_ids: list[int], text: str = "Aviso", resident_ids: dict[int, int] | None = None):
    now = datetime.now(UTC)
    async with db.unit_of_work() as uow:
        for chat_id in chat_ids:
            await uow.outbox.add(
                chat_id,
                Reply(f"{text} {chat_id}").to_dict(),
                "test",
                now,
                resident_id=(resident_ids or {}).get(chat_id),
            )
        await uow.commit()


async def statuses(db: Database) -> dict[str, int]:
    async with db.unit_of_work() as uow:
        return await uow.outbox.count_by_status()


@pytest.fixture(params=["aiogram", "ptb"])
def engine(request) -> str:  # type: ignore[no-untyped-def]
    """The outbox sender works through either engine's channel."""
    return request.param


async def make_sender(api_url: str, db: Database, engine: str = "aiogram", **kw) -> tuple[OutboxSender, object]:
    channel = build_channel(engine, TOKEN, api_url, None, Catalogs("es"))
    return OutboxSender(db, channel, **kw), channel


async def drain(sender: OutboxSender, db: Database, timeout: float = 20) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = await statuses(db)
        if not counts.get("pending") and not counts.get("sending"):
            break
        await asyncio.sleep(0.05)
    stop.set()
    sender.wake()
    await asyncio.wait_for(task, 5)


async def know_chats(client, chat_ids: list[int]) -> None:
    """Telegram only lets a bot write to people who wrote to it first."""
    for chat_id in chat_ids:
        await client.send_message(chat_id, "hola", first_name="Vecina")


async def test_paced_delivery_and_429_pause(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    chats = list(range(91_000, 91_030))
    await know_chats(client, chats)
    await queue(db, chats)
    await client.set_rate_limit(global_per_second=10)
    sender, channel = await make_sender(api_url, db, engine, per_second=100)
    started = time.monotonic()
    await drain(sender, db)
    elapsed = time.monotonic() - started
    assert await statuses(db) == {"sent": 30}
    for chat_id in chats:
        assert [m["text"] for m in await client.messages(chat_id)] == [f"Aviso {chat_id}"]
    # The fake server refused the excess with 429; the sender paused and sent everything exactly once.
    assert elapsed >= 1.0
    await channel.close()
    await db.dispose()


async def test_blocked_user_is_marked_unreachable_and_never_retried(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    await know_chats(client, [92_001, 92_002])
    now = datetime.now(UTC)
    async with db.unit_of_work() as uow:
        resident = await uow.residents.register(92_001, 92_001, "Bloqueadora", "es", now)
        await uow.commit()
        resident_id = resident.id
    await client.block(92_001)
    await queue(db, [92_001, 92_001, 92_002], resident_ids={92_001: resident_id})
    sender, channel = await make_sender(api_url, db, engine, per_chat_interval=0.01)
    await drain(sender, db)
    assert await statuses(db) == {"failed": 2, "sent": 1}
    async with db.unit_of_work() as uow:
        assert (await uow.residents.get(resident_id)).status == "unreachable"
    send_calls = [r for r in await client.requests("sendMessage") if str(r["params"].get("chat_id")) == "92001"]
    assert len(send_calls) == 1
    await channel.close()
    await db.dispose()


async def test_server_errors_are_retried_with_backoff(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    await know_chats(client, [93_001])
    await queue(db, [93_001])
    await client.fail("sendMessage", 502, "Bad Gateway", count=1)
    sender, channel = await make_sender(api_url, db, engine)
    await sender.drain_once()
    async with db.unit_of_work() as uow:
        row = (await uow.outbox.for_chat(93_001))[0]
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.send_at > datetime.now(UTC)
        row.send_at = datetime.now(UTC)  # skip the backoff wait
        await uow.commit()
    await drain(sender, db)
    assert await statuses(db) == {"sent": 1}
    await channel.close()
    await db.dispose()


async def test_rows_left_sending_by_a_dead_sender_are_sent_after_restart(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    await know_chats(client, [94_001])
    await queue(db, [94_001])
    async with db.unit_of_work() as uow:
        now = datetime.now(UTC)
        claimed = await uow.outbox.claim(now, 10, "a-sender-that-dies", now + timedelta(minutes=2))
        assert len(claimed) == 1
        await uow.commit()  # ... and the process dies here
    sender, channel = await make_sender(api_url, db, engine)
    await drain(sender, db)
    assert await statuses(db) == {"sent": 1}
    assert len(await client.messages(94_001)) == 1
    await channel.close()
    await db.dispose()
