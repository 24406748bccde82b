"""The same scenario on aiogram and on python-telegram-bot produces the same transcript."""

from __future__ import annotations

import pytest

from bot.fakeapi.client import FakeTelegramClient
from bot.fakeapi.server import start_fake_server
from tests.conftest import open_seeded
from tests.e2e.conftest import TOKEN, start_in_process
from tests.e2e.people import STICKER, Person, wait_handled


async def scenario(client: FakeTelegramClient) -> dict:
    """A resident registers, looks around, switches language, and sends things the bot cannot read."""
    lucia = Person(client, 7001, "Lucía", "es")
    await lucia.say("/start")
    await lucia.tap("lang:es")
    await lucia.tap("consent:yes")
    await lucia.tap_label("Embajadores")
    await lucia.tap_label("Lavapiés")
    await lucia.tap("nobld")
    await lucia.say("/me")
    await lucia.say("/language")
    await lucia.tap("lang:ar")
    await lucia.say("/help")
    await lucia.say("x" * 5000)
    await lucia.say("/nonsense")
    sticker = await client.send_raw_update(
        {
            "message": {
                "message_id": 90,
                "date": 1_790_000_000,
                "chat": {"id": 7001, "type": "private"},
                "from": {"id": 7001, "is_bot": False, "first_name": "Lucía"},
                "sticker": STICKER,
            }
        }
    )
    await wait_handled(client, sticker["update_id"])
    forged = await client.tap(7001, lucia.seen, "ap:424242")
    await wait_handled(client, forged["update_id"])
    await lucia.say("/mydata")
    messages = await client.messages(7001)
    return {
        "messages": [
            {
                "id": m["message_id"],
                "kind": m["kind"],
                "text": m.get("text"),
                "markup": m.get("reply_markup"),
                "edits": m.get("edits"),
                "history": m.get("history"),
                "file": m.get("file_name"),
            }
            for m in messages
        ],
        "answers": [(a.get("text"), a.get("show_alert")) for a in await client.callback_answers(7001)],
    }


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_aiogram_and_ptb_transcripts_are_equal(tmp_path, mode):
    transcripts = {}
    for engine in ("aiogram", "ptb"):
        _fake, runner, api_url = await start_fake_server("127.0.0.1", 0)
        url = f"sqlite:///{tmp_path}/{engine}.db"
        db = await open_seeded(url.replace("sqlite://", "sqlite+aiosqlite://"))
        await db.dispose()
        async with FakeTelegramClient(api_url, TOKEN) as client:
            bot = await start_in_process(api_url, url, client, engine, mode)
            try:
                transcripts[engine] = await scenario(client)
            finally:
                await bot.close()
        await runner.cleanup()
    assert len(transcripts["aiogram"]["messages"]) >= 8
    assert transcripts["aiogram"] == transcripts["ptb"]
