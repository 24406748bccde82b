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
from storage.outbox import PRIORITY_BULK
from tests.e2e.conftest import TOKEN
from tests.e2e.people import wait_until


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


async def queue_rows(db: Database, rows: list[tuple[int, str]], **kw) -> None:  # type: ignore[no-untyped-def]
    """Queue (chat, text) messages in this order, in one transaction."""
    now = datetime.now(UTC)
    async with db.unit_of_work() as uow:
        for chat_id, text in rows:
            await uow.outbox.add(chat_id, Reply(text).to_dict(), "test", now, **kw)
        await uow.commit()


async def sent_at_least(db: Database, count: int) -> bool:
    return (await statuses(db)).get("sent", 0) >= count


def rate(times: list[float]) -> float:
    """Messages per second over a run of accept times."""
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


async def test_a_429_mid_burst_pauses_everything_and_keeps_each_chats_order(fake, database_url, engine):
    """300 messages to 100 chats at 60/s, Telegram answering in 30-250 ms; 3 s of flood control in the middle.
    (bench/outbox.py measures the same at Telegram's 30/s.)"""
    api_url, client = fake
    db = Database(database_url)
    chats = list(range(95_000, 95_100))
    await know_chats(client, chats)
    await client.configure(send_latency_ms=(30, 250))
    await queue_rows(db, [(chat, f"Aviso {round_} para {chat}") for round_ in range(3) for chat in chats])
    configured = 60.0
    sender, channel = await make_sender(api_url, db, engine, per_second=configured, per_chat_interval=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    await wait_until(lambda: sent_at_least(db, 120), True, timeout=30, what="120 sent")
    await client.flood(3)
    await wait_until(lambda: sent_at_least(db, 300), True, timeout=60, what="300 sent")
    stop.set()
    sender.wake()
    await asyncio.wait_for(task, 30)
    assert await statuses(db) == {"sent": 300}  # nothing left 'sending', nothing lost
    [(start, end)] = [tuple(w) for w in (await client.state())["flood_windows"]]
    accepted = []
    for chat in chats:
        messages = await client.messages(chat)
        bot_texts = [m["text"] for m in messages if m["text"].startswith("Aviso")]
        assert bot_texts == [f"Aviso {round_} para {chat}" for round_ in range(3)], "each chat in the order queued"
        accepted += [m["accepted_at"] for m in messages if m["text"].startswith("Aviso")]
    assert not [t for t in accepted if start <= t < end], "nothing is sent during the pause"
    before, after = [t for t in accepted if t < start], [t for t in accepted if t >= end]
    print(
        f"\n{engine}: achieved/configured before the pause {rate(before) / configured:.2f}, "
        f"after it {rate(after) / configured:.2f} ({len(before)} + {len(after)} messages)"
    )
    await channel.close()
    await db.dispose()


async def test_an_unexpected_error_never_strands_a_message(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    await know_chats(client, [96_001, 96_002])
    now = datetime.now(UTC)
    async with db.unit_of_work() as uow:
        # A payload the channel cannot even read: its send raises no delivery error but a ValueError.
        await uow.outbox.add(96_001, {"text": "x", "buttons": [["only a label"]]}, "test", now)
        await uow.commit()
    await queue(db, [96_002])
    sender, channel = await make_sender(api_url, db, engine)
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    await wait_until(lambda: statuses(db), {"pending": 1, "sent": 1}, what="the outbox")
    stop.set()
    sender.wake()
    await asyncio.wait_for(task, 10)
    assert await statuses(db) == {"pending": 1, "sent": 1}
    async with db.unit_of_work() as uow:
        broken = (await uow.outbox.for_chat(96_001))[0]
        assert broken.attempts == 1 and broken.last_error and broken.claimed_by is None
    await channel.close()
    await db.dispose()


async def test_a_message_in_backoff_is_not_overtaken_in_its_chat(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    await know_chats(client, [97_001])
    await queue_rows(db, [(97_001, "primero"), (97_001, "segundo")])
    await client.fail("sendMessage", 502, "Bad Gateway", count=1)
    sender, channel = await make_sender(api_url, db, engine, per_chat_interval=0.01)
    await sender.drain_once()
    await asyncio.sleep(0.3)
    await sender.drain_once()  # "segundo" is due, but "primero" waits in backoff ahead of it
    assert [m["text"] for m in await client.messages(97_001) if m["text"] != "hola"] == []
    async with db.unit_of_work() as uow:
        first = (await uow.outbox.for_chat(97_001))[0]
        assert (first.status, first.attempts) == ("pending", 1)
        first.send_at = datetime.now(UTC)  # skip the backoff wait
        await uow.commit()
    await drain(sender, db)
    assert [m["text"] for m in await client.messages(97_001) if m["text"] != "hola"] == ["primero", "segundo"]
    await channel.close()
    await db.dispose()


async def test_an_expired_lease_is_claimed_again_while_the_sender_runs(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    await know_chats(client, [98_001])
    sender, channel = await make_sender(api_url, db, engine, housekeeping_seconds=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    await asyncio.sleep(0.3)  # past the start-up recovery: what follows is found while running
    await queue(db, [98_001])
    async with db.unit_of_work() as uow:
        now = datetime.now(UTC)
        # Held by a sender that got stuck: its lease ran out a minute ago.
        assert len(await uow.outbox.claim(now, 10, "a-stuck-sender", now - timedelta(minutes=1))) == 1
        await uow.commit()
    await wait_until(lambda: statuses(db), {"sent": 1}, what="the outbox")
    stop.set()
    sender.wake()
    await asyncio.wait_for(task, 10)
    assert await statuses(db) == {"sent": 1}
    assert [m["text"] for m in await client.messages(98_001)] == ["Aviso 98001"]  # once
    await channel.close()
    await db.dispose()


async def test_personal_messages_go_before_bulk_fan_out(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    bulk = list(range(99_000, 99_040))
    await know_chats(client, [*bulk, 99_500])
    await queue_rows(db, [(chat, "boletín") for chat in bulk], priority=PRIORITY_BULK)
    await queue_rows(db, [(99_500, "tu solicitud fue aprobada")])
    sender, channel = await make_sender(api_url, db, engine, per_second=20)
    await drain(sender, db, timeout=30)
    order = []
    for chat in [*bulk, 99_500]:
        order += [(m["accepted_at"], chat) for m in await client.messages(chat)]
    order.sort()
    assert [chat for _, chat in order].index(99_500) == 0
    await channel.close()
    await db.dispose()
