"""A stored image sent to many through the outbox, on both engines: uploaded to Telegram once, then sent by the
file id Telegram gave it (also after a restart); a missing image fails its message; long captions go through."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.channels.base import Button, Reply
from bot.fakeapi.client import FakeTelegramClient
from storage.db import Database
from tests.e2e.test_outbox import drain, know_chats, make_sender, statuses

KEY = "poll:7:chart"


def png(width: int = 40, height: int = 30) -> bytes:
    """A real (solid-colour) PNG, as a poll's result chart would be."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = (b"\x00" + b"\x20\x80\xc0" * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


CHART = png()


@pytest.fixture(params=["aiogram", "ptb"])
def engine(request) -> str:  # type: ignore[no-untyped-def]
    """Stored images go out through either engine's channel."""
    return request.param


async def store_chart(db: Database, key: str = KEY, content: bytes = CHART) -> None:
    async with db.unit_of_work() as uow:
        await uow.media.store(key, content, "resultados.png", datetime.now(UTC))
        await uow.commit()


async def queue_replies(db: Database, rows: list[tuple[int, Reply]]) -> None:
    now = datetime.now(UTC)
    async with db.unit_of_work() as uow:
        for chat_id, reply in rows:
            await uow.outbox.add(chat_id, reply.to_dict(), "test", now)
        await uow.commit()


async def stored_file_id(db: Database, key: str = KEY) -> str | None:
    async with db.unit_of_work() as uow:
        media = await uow.media.get(key)
        assert media is not None
        return media.file_id


async def photo_sends(client: FakeTelegramClient) -> tuple[list[dict[str, Any]], list[str]]:
    """sendPhoto calls: those that uploaded bytes (the fake logs an upload as its filename and size; aiogram
    names its part with `attach://`), and the file ids of those that sent a photo by id."""
    uploads, by_id = [], []
    for call in await client.requests("sendPhoto"):
        params = call["params"]
        photo = params["photo"]
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params[photo.removeprefix("attach://")]
        if isinstance(photo, dict):
            uploads.append(photo)
        else:
            by_id.append(photo)
    return uploads, by_id


def chart_reply(text: str = "<b>Resultados</b> de la votación") -> Reply:
    return Reply(text, buttons=[[Button("Ver detalle", "poll:7")]], photo_media=KEY)


async def test_a_stored_image_is_uploaded_once_and_then_sent_by_file_id(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    chats = list(range(81_000, 81_050))
    await know_chats(client, [*chats, 81_999])
    await store_chart(db)
    await queue_replies(db, [*((chat, chart_reply()) for chat in chats), (81_999, Reply("Aviso de texto"))])
    # Sends overlap (Telegram answering in 30-120 ms): the first upload is in flight while the others start.
    await client.configure(send_latency_ms=(30, 120))
    sender, channel = await make_sender(api_url, db, engine, per_second=500, per_chat_interval=0.01)
    await drain(sender, db)
    assert await statuses(db) == {"sent": 51}
    uploads, by_id = await photo_sends(client)
    assert [u["filename"] for u in uploads] == ["resultados.png"]
    assert uploads[0]["size"] == len(CHART)
    file_id = await stored_file_id(db)
    assert file_id is not None
    assert by_id == [file_id] * 49
    for chat in chats:
        [message] = [m for m in await client.messages(chat) if m["kind"] == "photo"]
        assert (message["file_id"], message["caption"]) == (file_id, "<b>Resultados</b> de la votación")
        assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "poll:7"
    assert await client.file_bytes(file_id) == CHART
    assert [m["text"] for m in await client.messages(81_999)] == ["Aviso de texto"]
    assert sender.media.uploads == 1
    await channel.close()
    await db.dispose()


async def test_after_a_restart_the_stored_file_id_is_used_without_uploading(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    await know_chats(client, [82_001, 82_002])
    await store_chart(db)
    await queue_replies(db, [(82_001, chart_reply())])
    first, channel = await make_sender(api_url, db, engine)
    await drain(first, db)
    await channel.close()
    file_id = await stored_file_id(db)
    assert file_id is not None

    await queue_replies(db, [(82_002, chart_reply())])
    second, channel = await make_sender(api_url, db, engine)  # a new process: nothing in memory
    await drain(second, db)
    assert await statuses(db) == {"sent": 2}
    uploads, by_id = await photo_sends(client)
    assert (len(uploads), by_id) == (1, [file_id])
    assert [m["file_id"] for m in await client.messages(82_002)] == [file_id]
    assert second.media.uploads == 0
    await channel.close()
    await db.dispose()


async def test_a_missing_image_fails_its_message_and_nothing_else(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    await know_chats(client, [83_001, 83_002])
    await queue_replies(
        db, [(83_001, Reply("Resultados", photo_media="poll:404:chart")), (83_002, Reply("Aviso de texto"))]
    )
    sender, channel = await make_sender(api_url, db, engine)
    await drain(sender, db)
    assert await statuses(db) == {"failed": 1, "sent": 1}
    async with db.unit_of_work() as uow:
        [row] = await uow.outbox.for_chat(83_001)
        assert row.attempts == 1 and row.claimed_by is None
        assert row.last_error == "the stored image 'poll:404:chart' does not exist"
    assert await client.requests("sendPhoto") == []
    assert [m["text"] for m in await client.messages(83_002)] == ["Aviso de texto"]
    await channel.close()
    await db.dispose()


async def test_a_caption_over_1024_characters_is_delivered_whole(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    await know_chats(client, [84_001, 84_002])
    await store_chart(db)
    lines = "\n".join(f"<b>Opción {n}</b>: {n * 3} votos &amp; {n} abstenciones" for n in range(40))
    text = "<b>Resultados</b> de la votación\n" + lines
    assert len(text) > 1024
    # The first send uploads the image, the second sends it by file id: both with the long caption.
    await queue_replies(db, [(84_001, chart_reply(text)), (84_002, chart_reply(text))])
    sender, channel = await make_sender(api_url, db, engine)
    await drain(sender, db)
    assert await statuses(db) == {"sent": 2}
    for chat in (84_001, 84_002):
        photo, after = await client.messages(chat)
        # The image keeps the first line as its caption; the rest follows, under it the buttons.
        assert (photo["kind"], photo["caption"]) == ("photo", "<b>Resultados</b> de la votación")
        assert photo["reply_markup"] is None
        assert (after["kind"], after["text"]) == ("text", lines)
        assert after["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "poll:7"
    await channel.close()
    await db.dispose()


async def test_a_file_id_telegram_refuses_is_replaced_by_a_new_upload(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    await know_chats(client, [85_001, 85_002])
    await store_chart(db)
    async with db.unit_of_work() as uow:
        # Remembered under another bot token: this bot's Telegram does not know it.
        await uow.media.remember_file_id(KEY, "AgACAgQ999999x000001")
        await uow.commit()
    await queue_replies(db, [(85_001, chart_reply()), (85_002, chart_reply())])
    sender, channel = await make_sender(api_url, db, engine)
    await drain(sender, db)
    assert await statuses(db) == {"sent": 2}
    file_id = await stored_file_id(db)
    assert file_id is not None and file_id != "AgACAgQ999999x000001"
    uploads, by_id = await photo_sends(client)
    assert len(uploads) == 1
    # Each send tried the refused id at most once (both may have, being in flight together); one uploaded.
    assert by_id.count(file_id) == 1 and by_id.count("AgACAgQ999999x000001") in (1, 2)
    for chat in (85_001, 85_002):
        assert [m["file_id"] for m in await client.messages(chat)] == [file_id]
    await channel.close()
    await db.dispose()


async def test_when_the_upload_fails_the_next_send_uploads(fake, database_url, engine):
    api_url, client = fake
    db = Database(database_url)
    chats = list(range(86_000, 86_010))
    await know_chats(client, chats)
    await store_chart(db)
    await queue_replies(db, [(chat, chart_reply()) for chat in chats])
    await client.fail("sendPhoto", 400, "Bad Request: chat not found", count=1)
    sender, channel = await make_sender(api_url, db, engine, per_second=500, per_chat_interval=0.01)
    await drain(sender, db)
    assert await statuses(db) == {"failed": 1, "sent": 9}
    uploads, by_id = await photo_sends(client)
    file_id = await stored_file_id(db)
    # The refused upload was not about the file: one more upload, then everyone else by its file id.
    assert (len(uploads), by_id) == (2, [file_id] * 8)
    await channel.close()
    await db.dispose()
