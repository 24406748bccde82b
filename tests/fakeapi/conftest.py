"""Fixtures: a fake Telegram server on a free port, an aiogram Bot pointed at it, and a control client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot

from bot.fakeapi.client import FakeTelegramClient
from bot.fakeapi.server import FakeTelegram, start_fake_server
from bot.fakeapi.testing import aiogram_bot

TOKEN = "123456:TEST-fakeapi"


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeTelegram, str]]:
    """(state, base URL) of a fresh fake server."""
    fake, runner, url = await start_fake_server()
    try:
        yield fake, url
    finally:
        await runner.cleanup()


@pytest.fixture
def api_url(server: tuple[FakeTelegram, str]) -> str:
    """Base URL of the fake server."""
    return server[1]


@pytest.fixture
def fake(server: tuple[FakeTelegram, str]) -> FakeTelegram:
    """In-process state of the fake server."""
    return server[0]


@pytest.fixture
def token() -> str:
    """The bot token used by these tests."""
    return TOKEN


@pytest.fixture
async def tg(api_url: str) -> AsyncIterator[FakeTelegramClient]:
    """Control-API client playing the users."""
    async with FakeTelegramClient(api_url, TOKEN) as client:
        yield client


@pytest.fixture
async def bot(api_url: str) -> AsyncIterator[Bot]:
    """aiogram Bot against the fake server."""
    bot = aiogram_bot(api_url, TOKEN)
    try:
        yield bot
    finally:
        await bot.session.close()
