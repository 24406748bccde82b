"""Send latency and Telegram-style flood control, seen by real aiogram against the fake server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter

from bot.fakeapi.client import FakeTelegramClient, FakeTelegramError
from bot.fakeapi.server import FakeTelegram, parse_latency, start_fake_server
from bot.fakeapi.testing import aiogram_bot

TOKEN = "123456:TEST-fakeapi"


def received(requests: list[dict[str, Any]], text: str) -> float:
    """When the server received the sendMessage call with this text."""
    return next(entry["time"] for entry in requests if entry["params"].get("text") == text)


async def test_send_latency_delays_sends_edits_and_answers_but_not_polls(bot: Bot, tg: FakeTelegramClient) -> None:
    await tg.send_message(1, "hola")
    assert (await tg.state())["send_latency_ms"] == [0.0, 0.0]
    config = await tg.configure(send_latency_ms=(1000, 1000))
    assert config["send_latency_ms"] == [1000.0, 1000.0]
    assert (await tg.state())["send_latency_ms"] == [1000.0, 1000.0]

    sends = {asyncio.create_task(bot.send_message(1, f"m{i}")) for i in range(8)}
    await tg.send_message(1, "otra")
    poll = asyncio.create_task(bot.get_updates(timeout=0))
    # The long poll is answered while every delayed send is still waiting: the server stays concurrent.
    done, _ = await asyncio.wait({poll, *sends}, return_when=asyncio.FIRST_COMPLETED)
    assert done == {poll} and len(poll.result()) == 2
    await asyncio.gather(*sends)

    requests = await tg.requests("sendMessage")
    messages = await tg.messages(1)
    delays = [m["accepted_at"] - received(requests, m["text"]) for m in messages]
    assert len(delays) == 8 and min(delays) >= 0.95
    # Eight one-second sends one after the other would take eight seconds.
    assert max(m["accepted_at"] for m in messages) - min(e["time"] for e in requests) < 6

    sent = await bot.send_message(1, "para editar")
    started = asyncio.get_running_loop().time()
    await bot.edit_message_text("editado", chat_id=1, message_id=sent.message_id)
    assert asyncio.get_running_loop().time() - started >= 0.95
    tap = await tg.tap(1, sent.message_id, "x")
    started = asyncio.get_running_loop().time()
    await bot.answer_callback_query(tap["callback_query_id"])
    assert asyncio.get_running_loop().time() - started >= 0.95

    await tg.configure(send_latency_ms=(0, 0))
    assert (await tg.state())["send_latency_ms"] == [0.0, 0.0]
    for bad in ([250, 30], [-1, 5], [1], "fast"):
        with pytest.raises(FakeTelegramError) as caught:
            await tg.configure(send_latency_ms=bad)  # type: ignore[arg-type]
        assert caught.value.status == 400 and "send_latency_ms" in caught.value.message


async def test_send_latency_is_random_in_the_range_and_a_constructor_default() -> None:
    _fake, runner, url = await start_fake_server(fake=FakeTelegram(send_latency_ms=(100, 300)))
    bot = aiogram_bot(url, TOKEN)
    try:
        async with FakeTelegramClient(url, TOKEN) as tg:
            await tg.send_message(1, "hola")
            assert (await tg.state())["send_latency_ms"] == [100.0, 300.0]
            await asyncio.gather(*(bot.send_message(1, f"m{i}") for i in range(20)))
            requests = await tg.requests("sendMessage")
            delays = [m["accepted_at"] - received(requests, m["text"]) for m in await tg.messages(1)]
        assert min(delays) >= 0.095
        assert len({round(delay, 3) for delay in delays}) > 1  # not one fixed delay
    finally:
        await bot.session.close()
        await runner.cleanup()


def test_parse_latency() -> None:
    assert parse_latency("30-250") == (30.0, 250.0)
    assert parse_latency("100") == (100.0, 100.0)
    assert parse_latency("0-0") == (0.0, 0.0)
    for bad in ("250-30", "fast", "-5", "1-2-3"):
        with pytest.raises(ValueError, match="MIN-MAX"):
            parse_latency(bad)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client."""
    async with aiohttp.ClientSession() as session:
        yield session


async def test_flood_control_refuses_every_send_and_edit_until_the_window_ends(
    bot: Bot, tg: FakeTelegramClient, http: aiohttp.ClientSession, api_url: str
) -> None:
    await tg.send_message(1, "hola")
    before = await bot.send_message(1, "antes")
    flood = await tg.flood(1.5)
    [[start, end]] = flood["flood_windows"]
    assert end - start == pytest.approx(1.5) and flood["flood_until"] == end

    async with http.post(f"{api_url}/bot{TOKEN}/sendMessage", json={"chat_id": 1, "text": "x"}) as resp:
        assert resp.status == 429
        assert await resp.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 2",
            "parameters": {"retry_after": 2},
        }
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.edit_message_text("editado", chat_id=1, message_id=before.message_id)
    assert caught.value.retry_after in (1, 2)
    with pytest.raises(TelegramRetryAfter):
        await bot.send_location(1, 40.4, -3.7)
    # Only sending is refused: the bot can still poll and answer buttons.
    assert len(await bot.get_updates(timeout=0)) == 1
    tap = await tg.tap(1, before.message_id, "x")
    assert await bot.answer_callback_query(tap["callback_query_id"]) is True
    state = await tg.state()
    assert state["flood_windows"] == [[start, end]] and state["flood_until"] == end

    # A client that waits retry_after, as Telegram asks, gets through on its next try.
    attempts = 0
    while True:
        attempts += 1
        try:
            after = await bot.send_message(1, "después")
            break
        except TelegramRetryAfter as exc:
            await asyncio.sleep(exc.retry_after)
    assert attempts == 2
    edited = await bot.edit_message_text("editado", chat_id=1, message_id=before.message_id)
    assert not isinstance(edited, bool) and edited.text == "editado"

    views = {m["message_id"]: m for m in await tg.messages(1)}
    assert [m["text"] for m in views.values()] == ["editado", "después"]
    for view in views.values():
        assert not start <= view["accepted_at"] < end
    assert views[before.message_id]["edited_at"] >= end
    assert views[after.message_id]["accepted_at"] >= end
    assert (await tg.state())["flood_until"] is None


async def test_flood_can_be_extended_and_lifted(tg: FakeTelegramClient, bot: Bot) -> None:
    await tg.send_message(1, "hola")
    first = await tg.flood(30)
    extended = await tg.flood(60)
    assert len(extended["flood_windows"]) == 1
    assert extended["flood_until"] >= first["flood_until"] + 29
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(1, "x")
    assert 55 <= caught.value.retry_after <= 60
    lifted = await tg.flood(0)
    assert lifted["flood_windows"][0][1] == lifted["flood_until"]
    assert (await bot.send_message(1, "ya")).text == "ya"
    for bad in (-1, "x", None):
        with pytest.raises(FakeTelegramError) as error:
            await tg._request("POST", "flood", json={"seconds": bad})
        assert error.value.status == 400
