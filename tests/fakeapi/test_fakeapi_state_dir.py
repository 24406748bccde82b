"""With a state dir, update ids keep growing across server restarts (a bot's database remembers old ones)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.fakeapi.client import FakeTelegramClient
from bot.fakeapi.server import UPDATE_ID_BLOCK, FakeTelegram, start_fake_server
from bot.fakeapi.testing import aiogram_bot

TOKEN = "123456:TEST-fakeapi"


async def one_lifetime(state_dir: Path | None, messages: int, raw_update_id: int | None = None) -> list[int]:
    """Starts a server, has a user write `messages` times, returns the update ids aiogram received."""
    _fake, runner, url = await start_fake_server(state_dir=state_dir)
    bot = aiogram_bot(url, TOKEN)
    try:
        async with FakeTelegramClient(url, TOKEN) as tg:
            for i in range(messages):
                await tg.send_message(1001, f"mensaje {i}")
            if raw_update_id is not None:
                await tg.send_raw_update({"update_id": raw_update_id, "message": {"text": "x", "from": {"id": 1001}}})
            updates = await bot.get_updates(timeout=0)
            return [update.update_id for update in updates]
    finally:
        await bot.session.close()
        await runner.cleanup()


async def test_update_ids_grow_across_two_server_lifetimes(tmp_path: Path) -> None:
    first = await one_lifetime(tmp_path, 3, raw_update_id=1500)
    assert first == [1, 2, 3, 1500]
    second = await one_lifetime(tmp_path, 2)
    assert min(second) > max(first)
    assert second == sorted(second) and len(set(second)) == 2
    third = await one_lifetime(tmp_path, 1)
    assert min(third) > max(second)
    data = json.loads((tmp_path / "fake-telegram.json").read_text())
    [key] = data["bots"]
    assert key.startswith("123456:")
    assert TOKEN.split(":")[1] not in json.dumps(data)  # the file never holds the token


async def test_without_a_state_dir_every_server_numbers_from_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert await one_lifetime(None, 2) == [1, 2]
    assert await one_lifetime(None, 2) == [1, 2]
    assert list(tmp_path.iterdir()) == []


def test_ids_are_reserved_in_blocks_and_survive_a_crash(tmp_path: Path) -> None:
    # No clean shutdown: the second instance starts while the first still "runs", as after a kill -9.
    first = FakeTelegram(state_dir=tmp_path)
    ids = [first.inject_message(TOKEN, 1001, "hola")["update_id"] for _ in range(2500)]
    other = first.inject_message("654321:OTHER-bot", 7, "hi")["update_id"]
    assert ids == list(range(1, 2501)) and other == 1
    saved = json.loads((tmp_path / "fake-telegram.json").read_text())["bots"]
    # One write per block: the file says "below 3001", not the id of every update.
    assert sorted(value["next_update_id"] for value in saved.values()) == [1 + UPDATE_ID_BLOCK, 2001 + UPDATE_ID_BLOCK]
    assert not [p for p in tmp_path.iterdir() if p.name != "fake-telegram.json"]  # no temporary files left

    second = FakeTelegram(state_dir=tmp_path)
    assert second.inject_message(TOKEN, 1001, "otra vez")["update_id"] > max(ids)
    assert second.inject_message("654321:OTHER-bot", 7, "hi")["update_id"] > other
    assert second.state(TOKEN)["state_file"] == str(tmp_path / "fake-telegram.json")
    # A reset forgets the bot's chats, not the ids it has handed out.
    second.reset(TOKEN)
    assert second.inject_message(TOKEN, 1001, "después")["update_id"] > max(ids)
